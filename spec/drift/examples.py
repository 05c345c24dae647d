"""Example values: where they sit, how they read in a report, and why a schema rejects them.

A published example is checked twice: strictly, as OpenAPI 3.0 tools check it (``jsonschema``), and as
the server checks it (``spec.ajv``, through the walker), because the server coerces types first.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence

import jsonschema
from jsonschema.exceptions import ValidationError, best_match
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import schemas as spec_schemas

from spec import pointers
from spec.ajv import Validation
from spec.drift.documents import Json
from spec.pointers import replaced, value_at


def compact(value: Json) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def dotted(path: Sequence[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(body)"


def is_string_boolean(value: Json) -> bool:
    return value in ("true", "false") and isinstance(value, str)


def errors(value: Json, schema: Json) -> list[ValidationError]:
    validator = OAS30Validator(schema)
    return sorted(validator.iter_errors(value), key=lambda error: [str(p) for p in error.absolute_path])


def walk_errors(found: Sequence[ValidationError]) -> Iterator[ValidationError]:
    for error in found:
        yield error
        yield from walk_errors(list(error.context or []))


def _expected_types(error: ValidationError) -> list[str]:
    value = error.validator_value
    return [value] if isinstance(value, str) else [str(item) for item in value]


def string_boolean_paths(found: Sequence[ValidationError]) -> list[tuple[str | int, ...]]:
    """Where a schema wants a boolean and the value is the string "true" or "false"."""
    paths: list[tuple[str | int, ...]] = []
    for error in walk_errors(found):
        wants_boolean = (error.validator == "type" and "boolean" in _expected_types(error)) or (
            error.validator == "enum" and any(isinstance(item, bool) for item in error.validator_value)
        )
        path = tuple(error.absolute_path)
        if wants_boolean and is_string_boolean(error.instance) and path not in paths:
            paths.append(path)
    return paths


def booleans_fixed(value: Json, schema: Json) -> Json:
    for path in string_boolean_paths(errors(value, schema)):
        value = replaced(value, list(path), value_at(value, path) == "true")
    return value


def server_message(validation: Validation, value: Json) -> str:
    """Why the server rejects a value: the first error of its 400 message, and where it points.

    ajv stops at the first failing keyword, except inside ``oneOf`` where the message lists each
    alternative's error before the verdict, so the first error is the most specific one.
    """
    error = validation.errors[0]
    return f"{dotted(_instance_path(error.instance_path, value))}: {error.message}"


def _instance_path(instance_path: str, value: Json) -> list[str | int]:
    """An ajv ``instancePath`` as the keys and indexes it names in ``value``."""
    path: list[str | int] = []
    for part in pointers.tokens(instance_path):
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            path.append(int(part))
            value = value[int(part)]
        else:
            path.append(part)
            value = value.get(part) if isinstance(value, Mapping) else None
    return path


def first_message(found: Sequence[ValidationError]) -> str:
    error = best_match(found)
    if error is None:
        return ""
    where = dotted(list(error.absolute_path))
    return f"{where}: {error.message}"


def meta_schema_leaves(document: Mapping[str, Json]) -> list[tuple[list[str | int], Json, str]]:
    """The precise offending values behind an OpenAPI validation failure.

    The spec validator reports only the enclosing ``oneOf`` failure; the OpenAPI meta-schema run through
    ``jsonschema`` names the actual keyword and the type it needs.
    """
    version = str(document.get("openapi", ""))
    meta: Json = spec_schemas.schema_v30 if version.startswith("3.0") else None
    if meta is None:
        return []
    validator = jsonschema.validators.validator_for(meta)(meta)
    leaves: list[tuple[list[str | int], Json, str]] = []
    for error in validator.iter_errors(document):
        leaf = best_match([error])
        if leaf is None:
            continue
        expected = f"a {leaf.validator_value}" if leaf.validator == "type" else leaf.message.replace("'", "`")
        leaves.append((list(leaf.absolute_path), leaf.instance, expected))
    return sorted(leaves, key=lambda leaf: pointers.pointer(*leaf[0]))
