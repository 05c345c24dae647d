"""Documentation drift: where the published Livechat Triggers page disagrees with the server contract.

``find_drift`` walks the published OpenAPI document (``spec/documents/published.openapi.json``, taken
verbatim from the documentation page) side by side with the contract
(``spec/documents/contract.openapi.json``, what the server really does) and reports every difference it
can see: operations and response codes, schemas keyword by keyword, and every example value checked
against both documents' schemas. Nothing here is a hand-written list of findings, so a corrected page
(or the contract compared with itself) yields no drift.

Run ``rc-triggers-drift --output docs/doc-drift.md`` (or ``python -m spec.drift``) to regenerate the report.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeAlias

import jsonschema
import openapi_spec_validator
from jsonschema.exceptions import ValidationError, best_match
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import schemas as spec_schemas

from spec.ajv import CoerceMode, SchemaError, Validation, coerce_scalar, compile_schema
from spec.contract import resolve_pointer
from spec.jsvalues import stringify

Json: TypeAlias = Any
"""A node of a parsed JSON document; OpenAPI documents are too loosely shaped to type more tightly."""

Direction: TypeAlias = Literal["request", "response"]

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
DEFAULT_PUBLISHED = "spec/documents/published.openapi.json"
DEFAULT_CONTRACT = "spec/documents/contract.openapi.json"
DEFAULT_REPORT = "docs/doc-drift.md"
PROG = "rc-triggers-drift"

# Keys this module adds to merged contract schemas; never present in either document.
_BRANCH_REQUIRED = "x-drift-required-by-branch"
_MAX_TEXT = 140


@dataclass(frozen=True, order=True)
class Drift:
    """One disagreement between the published documentation and the server contract."""

    location: str
    """A JSON pointer into the published document, or an operation such as ``GET /api/v1/...``."""
    kind: str
    published: str
    server: str
    explanation: str


class DocumentError(ValueError):
    """An input document cannot be read, is not JSON, or is not an OpenAPI document at all."""


# --------------------------------------------------------------------------------------------------
# Small helpers on JSON values


def _pointer(*parts: str | int) -> str:
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)


def _compact(value: Json) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _short(text: str) -> str:
    # Keep table cells readable; the full values are in the documents the report names.
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"


def _dotted(path: Sequence[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(body)"


def _is_string_boolean(value: Json) -> bool:
    return value in ("true", "false") and isinstance(value, str)


def _set_at(document: Json, path: Sequence[str | int], value: Json) -> Json:
    if not path:
        return value
    head, *rest = path
    if isinstance(document, list) and isinstance(head, int):
        copy_list = list(document)
        copy_list[head] = _set_at(copy_list[head], rest, value)
        return copy_list
    copy_dict = dict(document)
    copy_dict[head] = _set_at(copy_dict[head], rest, value)
    return copy_dict


def _get_at(document: Json, path: Sequence[str | int]) -> Json:
    for part in path:
        document = document[part]
    return document


# --------------------------------------------------------------------------------------------------
# Resolving $refs


class _Document:
    """One OpenAPI document with local ``$ref`` resolution that remembers where a node really lives."""

    def __init__(self, document: Mapping[str, Json]) -> None:
        self.document = document

    def lookup(self, ref: str) -> tuple[Json, str]:
        if not ref.startswith("#/"):
            raise DocumentError(f"only local $refs are supported, found {ref!r}")
        node: Json = self.document
        for raw in ref[2:].split("/"):
            part = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            elif isinstance(node, Mapping) and part in node:
                node = node[part]
            else:
                raise DocumentError(f"$ref {ref!r} points nowhere")
        return node, ref[1:]

    def resolve(self, node: Json, location: str) -> tuple[Json, str]:
        seen: set[str] = set()
        while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if ref in seen:
                raise DocumentError(f"$ref cycle through {ref!r}")
            seen.add(ref)
            node, location = self.lookup(ref)
        return node, location

    def inline(self, node: Json, trail: tuple[str, ...] = ()) -> Json:
        """The node with every ``$ref`` replaced by its target, so a validator needs no registry."""
        if isinstance(node, Mapping):
            ref = node.get("$ref")
            if isinstance(ref, str):
                if ref in trail:
                    raise DocumentError(f"recursive schema through {ref!r} cannot be inlined")
                target, _ = self.lookup(ref)
                return self.inline(target, (*trail, ref))
            inlined = {key: self.inline(value, trail) for key, value in node.items()}
            if inlined.get("nullable") is True and "type" not in inlined:
                # OAS 3.0 validators apply `nullable` only next to `type`, yet a nullable `allOf`/`$ref`
                # wrapper (the contract's `trigger: null`) plainly means "this shape or null".
                del inlined["nullable"]
                return {"anyOf": [inlined, {"enum": [None]}]}
            return inlined
        if isinstance(node, list):
            return [self.inline(item, trail) for item in node]
        return node

    def schema(self, node: Json, location: str = "") -> tuple[dict[str, Json], str]:
        """A schema with its $ref followed and a plain ``allOf`` folded in, as one flat mapping."""
        node, location = self.resolve(node, location)
        if not isinstance(node, Mapping):
            return {}, location
        flat = {key: value for key, value in node.items() if key != "allOf"}
        for member in node.get("allOf", []) if isinstance(node.get("allOf"), list) else []:
            part, _ = self.schema(member)
            for key, value in part.items():
                if key == "properties":
                    flat["properties"] = {**part["properties"], **flat.get("properties", {})}
                elif key == "required":
                    flat["required"] = [*flat.get("required", []), *value]
                else:
                    flat.setdefault(key, value)
        return flat, location


# --------------------------------------------------------------------------------------------------
# Schema facts


def _type_set(schema: Mapping[str, Json], document: _Document) -> frozenset[str]:
    """The JSON types a schema admits; empty when it does not say (then it is not compared)."""
    declared = schema.get("type")
    types: set[str] = set()
    if isinstance(declared, str):
        types.add(declared)
    elif isinstance(declared, list):
        types.update(str(item) for item in declared)
    else:
        for keyword in ("oneOf", "anyOf"):
            for branch in schema.get(keyword, []) or []:
                branch_schema, _ = document.schema(branch)
                branch_types = _type_set(branch_schema, document)
                if not branch_types:
                    return frozenset()
                types |= branch_types
    if types and schema.get("nullable") is True:
        types.add("null")
    return frozenset(types)


def _describe_types(types: frozenset[str]) -> str:
    ordered = sorted(types - {"null"}) + (["null"] if "null" in types else [])
    return " or ".join(ordered)


def _object_branches(schema: Mapping[str, Json], document: _Document) -> list[dict[str, Json]] | None:
    """The alternatives of a ``oneOf`` whose members are object shapes (not a mere list of types)."""
    branches = schema.get("oneOf")
    if not isinstance(branches, list) or not branches:
        return None
    resolved = [document.schema(branch)[0] for branch in branches]
    if all(branch.get("type") == "object" or "properties" in branch for branch in resolved):
        return resolved
    return None


def _branch_label(branch: Mapping[str, Json], index: int) -> str:
    # A branch is best named by the value that selects it, such as an action's fixed `name`.
    for prop in branch.get("required", []):
        enum = branch.get("properties", {}).get(prop, {}).get("enum")
        if isinstance(enum, list) and len(enum) == 1:
            return str(enum[0])
    return f"alternative {index + 1}"


def _merge_branches(
    branches: Sequence[Mapping[str, Json]], labels: Sequence[str], document: _Document
) -> dict[str, Json]:
    """One schema that admits what any branch admits, so a single published shape can be compared to it.

    Keys required by only some branches are kept per branch label, so that a published shape requiring
    none of them is still reported.
    """
    merged: dict[str, Json] = {}
    types = {branch.get("type") for branch in branches}
    if len(types) == 1 and None not in types:
        merged["type"] = types.pop()
    if any(branch.get("nullable") is True for branch in branches):
        merged["nullable"] = True
    if all(isinstance(branch.get("enum"), list) for branch in branches):
        values = [value for branch in branches for value in branch["enum"]]
        merged["enum"] = [value for index, value in enumerate(values) if value not in values[:index]]
    if all(branch.get("additionalProperties") is False for branch in branches):
        merged["additionalProperties"] = False
    required_sets = [list(branch.get("required", [])) for branch in branches]
    if any(required_sets):
        merged["required"] = [key for key in required_sets[0] if all(key in other for other in required_sets)]
        if any(set(req) != set(merged["required"]) for req in required_sets):
            merged[_BRANCH_REQUIRED] = [
                [label, req] for label, req in zip(labels, required_sets, strict=False)
            ]
    names: list[str] = []
    for branch in branches:
        names.extend(name for name in branch.get("properties", {}) if name not in names)
    if names:
        properties: dict[str, Json] = {}
        for name in names:
            holders = [
                (label, b)
                for label, b in zip(labels, branches, strict=False)
                if name in b.get("properties", {})
            ]
            parts = [document.schema(b["properties"][name])[0] for _, b in holders]
            properties[name] = (
                parts[0] if len(parts) == 1 else _merge_branches(parts, [lab for lab, _ in holders], document)
            )
        merged["properties"] = properties
    return merged


# --------------------------------------------------------------------------------------------------
# Validating example values


def _errors(value: Json, schema: Json) -> list[ValidationError]:
    validator = OAS30Validator(schema)
    return sorted(validator.iter_errors(value), key=lambda error: [str(p) for p in error.absolute_path])


def _walk_errors(errors: Sequence[ValidationError]) -> Iterator[ValidationError]:
    for error in errors:
        yield error
        yield from _walk_errors(list(error.context or []))


def _expected_types(error: ValidationError) -> list[str]:
    value = error.validator_value
    return [value] if isinstance(value, str) else [str(item) for item in value]


def _string_boolean_paths(errors: Sequence[ValidationError]) -> list[tuple[str | int, ...]]:
    """Where a schema wants a boolean and the value is the string "true" or "false"."""
    paths: list[tuple[str | int, ...]] = []
    for error in _walk_errors(errors):
        wants_boolean = (error.validator == "type" and "boolean" in _expected_types(error)) or (
            error.validator == "enum" and any(isinstance(item, bool) for item in error.validator_value)
        )
        path = tuple(error.absolute_path)
        if wants_boolean and _is_string_boolean(error.instance) and path not in paths:
            paths.append(path)
    return paths


def _server_message(validation: Validation, value: Json) -> str:
    """Why the server rejects a value: the first error of its 400 message, and where it points.

    ajv stops at the first failing keyword, except inside ``oneOf`` where the message lists each
    alternative's error before the verdict, so the first error is the most specific one.
    """
    error = validation.errors[0]
    return f"{_dotted(_pointer_path(error.instance_path, value))}: {error.message}"


def _pointer_path(pointer: str, value: Json) -> list[str | int]:
    """An ajv ``instancePath`` as the keys and indexes it names in ``value``."""
    path: list[str | int] = []
    for raw in pointer.split("/")[1:]:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            path.append(int(part))
            value = value[int(part)]
        else:
            path.append(part)
            value = value.get(part) if isinstance(value, Mapping) else None
    return path


def _first_message(errors: Sequence[ValidationError]) -> str:
    error = best_match(errors)
    if error is None:
        return ""
    where = _dotted(list(error.absolute_path))
    return f"{where}: {error.message}"


# --------------------------------------------------------------------------------------------------
# The walk


@dataclass(frozen=True)
class _Target:
    """Where a published node sits, and which way its data flows (the server coerces only requests)."""

    location: str
    direction: Direction
    coerce: CoerceMode = True
    """How the server's ajv coerces request values here: ``"array"`` for the query, ``True`` for bodies."""


class _Finder:
    def __init__(self, published: Mapping[str, Json], contract: Mapping[str, Json]) -> None:
        self.pub = _Document(published)
        self.con = _Document(contract)
        self.found: dict[tuple[str, str, str, str], tuple[int, Drift]] = {}
        self.direction: Direction = "request"

    def add(self, location: str, kind: str, published: str, server: str, explanation: str) -> None:
        drift = Drift(location, kind, _short(published), _short(server), explanation)
        key = (drift.location, drift.kind, drift.published, drift.server)
        # A component shared by requests and responses is one finding; the request wording wins because
        # that is where the server rejects what the page allows.
        rank = 0 if self.direction == "request" else 1
        if key not in self.found or rank < self.found[key][0]:
            self.found[key] = (rank, drift)

    # ---- the document as a whole

    def run(self) -> list[Drift]:
        self.check_openapi_validity()
        self.compare_operations()
        return sorted(drift for _, drift in self.found.values())

    def check_openapi_validity(self) -> None:
        document = self.pub.document
        try:
            openapi_spec_validator.validate(document)
        except Exception as exc:  # the validator raises several unrelated types for a broken document
            leaves = _meta_schema_leaves(document)
            if not leaves:
                first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                path = list(getattr(exc, "absolute_path", []) or [])
                self.add(
                    _pointer(*path),
                    "invalid-openapi",
                    first_line,
                    "a valid OpenAPI document",
                    "Tools that load OpenAPI (validators, code and mock generators) refuse the published "
                    "document.",
                )
            for path, value, expected in leaves:
                key = path[-1] if path else "(document)"
                self.add(
                    _pointer(*path),
                    "invalid-openapi",
                    f"{key}: {_compact(value)}",
                    f"n/a (OpenAPI {document.get('openapi', '?')} requires {expected})",
                    f"`{key}` is {_compact(value)} where OpenAPI requires {expected}, so the published "
                    "document is invalid and tools that validate it first (code generators, mock servers) "
                    "refuse to load it.",
                )

    def compare_operations(self) -> None:
        pub_ops = _operations(self.pub.document)
        con_ops = _operations(self.con.document)
        for key, (path, method, con_item, con_op) in con_ops.items():
            name = f"{method.upper()} {path}"
            if key not in pub_ops:
                codes = ", ".join(sorted(str(code) for code in con_op.get("responses", {})))
                summary = con_op.get("summary", "") or con_op.get("operationId", "")
                self.add(
                    name,
                    "missing-operation",
                    "not documented",
                    f"{summary} (answers {codes})",
                    "The server routes this operation, but the published page does not document it, so "
                    "clients and generated SDKs do not know it exists.",
                )
                continue
            pub_path, _, pub_item, pub_op = pub_ops[key]
            location = _pointer("paths", pub_path, method)
            self.compare_operation(location, pub_item, pub_op, con_item, con_op)
        for key, (path, method, _, _) in pub_ops.items():
            if key not in con_ops:
                self.add(
                    f"{method.upper()} {path}",
                    "extra-operation",
                    "documented",
                    "no such route",
                    "The page documents an operation the server does not route; calls to it fail.",
                )

    def compare_operation(
        self, location: str, pub_item: Json, pub_op: Json, con_item: Json, con_op: Json
    ) -> None:
        self.compare_parameters(location, pub_item, pub_op, con_item, con_op)
        self.compare_request_body(location, pub_op, con_op)
        self.compare_responses(location, pub_op, con_op)

    def compare_parameters(
        self, location: str, pub_item: Json, pub_op: Json, con_item: Json, con_op: Json
    ) -> None:
        self.direction = "request"
        pub_params = _parameters(self.pub, pub_item, pub_op, location)
        con_params = _parameters(self.con, con_item, con_op, "")
        # The contract models the auth headers as security schemes; a page listing them as header
        # parameters says the same thing, so they are not drift.
        security = _api_key_headers(self.con.document, con_op)
        for key, (param, param_location) in pub_params.items():
            if key in con_params:
                con_param = con_params[key][0]
                if con_param.get("required") is True and param.get("required") is False:
                    self.add(
                        param_location + "/required",
                        "parameter-optional",
                        "required: false",
                        "required",
                        f"The server needs the {key[0]} parameter `{key[1]}` but the page marks it optional.",
                    )
                if "schema" in param and "schema" in con_param:
                    self.compare_schema(
                        param["schema"],
                        _Target(
                            param_location + "/schema", "request", "array" if key[0] == "query" else True
                        ),
                        con_param["schema"],
                    )
            elif not (key[0] == "header" and key[1].lower() in security):
                self.add(
                    param_location,
                    "extra-parameter",
                    f"{key[0]} parameter `{key[1]}`",
                    "not read",
                    "The page documents a parameter the server does not take.",
                )
        for key in con_params:
            if key not in pub_params:
                self.add(
                    location + "/parameters",
                    "missing-parameter",
                    "not documented",
                    f"{key[0]} parameter `{key[1]}`",
                    f"The server reads the {key[0]} parameter `{key[1]}`, but the page does not document it.",
                )

    def compare_request_body(self, location: str, pub_op: Json, con_op: Json) -> None:
        if "requestBody" not in con_op:
            if "requestBody" in pub_op:
                self.add(
                    location + "/requestBody",
                    "extra-request-body",
                    "a request body",
                    "no body read",
                    "The page documents a body that the server ignores.",
                )
            return
        con_body, _ = self.con.resolve(con_op["requestBody"], "")
        if "requestBody" not in pub_op:
            self.add(
                location,
                "missing-request-body",
                "no request body",
                "a JSON body",
                "The server validates a request body the page does not document.",
            )
            return
        pub_body, body_location = self.pub.resolve(pub_op["requestBody"], location + "/requestBody")
        if con_body.get("required") is True and pub_body.get("required") is not True:
            self.add(
                body_location,
                "request-body-optional",
                "body optional (no `required: true`)",
                "body required",
                "The page leaves the body optional, but without one the server answers 400 "
                "`must have required property 'name'`.",
            )
        self.compare_content(body_location, pub_body, con_body, "request")

    def compare_responses(self, location: str, pub_op: Json, con_op: Json) -> None:
        pub_responses = pub_op.get("responses", {})
        con_responses = con_op.get("responses", {})
        for code in sorted(con_responses, key=str):
            con_response, _ = self.con.resolve(con_responses[code], "")
            if code not in pub_responses:
                sample = _first_example(self.con, con_response)
                sent = f"{code} {_compact(sample)}" if sample is not None else str(code)
                self.add(
                    location + "/responses",
                    "missing-response",
                    f"no {code} response",
                    sent,
                    f"The server can answer {code} ({con_response.get('description', '').split('.')[0]}), "
                    "but the page does not say so, so clients are not prepared for it.",
                )
                continue
            pub_response, response_location = self.pub.resolve(
                pub_responses[code], location + _pointer("responses", code)
            )
            self.compare_content(response_location, pub_response, con_response, "response")
        for code in sorted(pub_responses, key=str):
            if code not in con_responses:
                self.add(
                    location + _pointer("responses", code),
                    "extra-response",
                    f"{code} response",
                    f"never answers {code}",
                    f"The page documents a {code} answer the server never sends.",
                )

    def compare_content(
        self, location: str, pub_holder: Json, con_holder: Json, direction: Direction
    ) -> None:
        self.direction = direction
        pub_content = pub_holder.get("content", {}) or {}
        con_content = con_holder.get("content", {}) or {}
        for media in sorted(con_content):
            if media not in pub_content:
                self.add(
                    location + "/content",
                    "missing-media-type",
                    "not documented",
                    media,
                    f"The server sends or takes `{media}`, which the page does not document.",
                )
                continue
            media_location = location + _pointer("content", media)
            pub_media, con_media = pub_content[media], con_content[media]
            if "schema" in pub_media and "schema" in con_media:
                self.compare_schema(
                    pub_media["schema"], _Target(media_location + "/schema", direction), con_media["schema"]
                )
            self.check_media_examples(media_location, pub_media, con_media, direction)

    # ---- schemas, keyword by keyword

    def compare_schema(self, pub_node: Json, target: _Target, con_node: Json) -> None:
        pub, location = self.pub.schema(pub_node, target.location)
        con, _ = self.con.schema(con_node)
        here = replace(target, location=location)
        self.check_schema_values(pub, here, con, con_node)

        pub_branches = _object_branches(pub, self.pub)
        con_branches = _object_branches(con, self.con)
        if con_branches is not None and pub_branches is None:
            if self.is_outdated_shape(pub, con_branches, here):
                return
            labels = [_branch_label(branch, index) for index, branch in enumerate(con_branches)]
            self.add(
                location,
                "missing-oneof",
                f"one object with the properties {', '.join(pub.get('properties', {})) or '(none)'}",
                "exactly one of: " + ", ".join(labels),
                "The server accepts exactly one of several shapes, each with its own required keys; "
                "a single merged shape lets clients mix them and get 400 "
                "`must match exactly one schema in oneOf`.",
            )
            con = _merge_branches(con_branches, labels, self.con)
        elif con_branches is not None and pub_branches is not None:
            if len(con_branches) != len(pub_branches):
                self.add(
                    location + "/oneOf",
                    "oneof-mismatch",
                    f"{len(pub_branches)} alternatives",
                    f"{len(con_branches)} alternatives",
                    "The page and the server disagree on how many shapes this value can take.",
                )
                return
            for index, branch in enumerate(pub["oneOf"]):
                self.compare_schema(
                    branch, replace(here, location=location + _pointer("oneOf", index)), con["oneOf"][index]
                )
            return
        elif pub_branches is not None:
            self.add(
                location + "/oneOf",
                "extra-oneof",
                f"one of {len(pub_branches)} shapes",
                "a single shape",
                "The page offers alternatives the server does not accept.",
            )
            return

        if not self.compare_types(pub, con, here):
            return
        self.compare_enum(pub, con, here)
        if "properties" in con or "required" in con or con.get("type") == "object":
            self.compare_object(pub, con, here)
        if con.get("type") == "array" or "items" in con:
            self.compare_array(pub, con, here)

    def is_outdated_shape(
        self, pub: Mapping[str, Json], con_branches: Sequence[Mapping[str, Json]], target: _Target
    ) -> bool:
        # The contract lists the shape the current release sends first; a published shape that matches
        # only a later (older) alternative documents a past release.
        keys = set(pub.get("properties", {}))
        if not keys or keys == set(con_branches[0].get("properties", {})):
            return False
        if not any(keys == set(branch.get("properties", {})) for branch in con_branches[1:]):
            return False
        current = con_branches[0]
        missing = [key for key in current.get("properties", {}) if key not in keys]
        self.add(
            target.location,
            "outdated-schema",
            "properties " + ", ".join(pub.get("properties", {})),
            "properties " + ", ".join(current.get("properties", {})),
            "The page describes the body of an older release; the current server also sends "
            + ", ".join(f"`{key}`" for key in missing)
            + ".",
        )
        return True

    def compare_types(self, pub: Mapping[str, Json], con: Mapping[str, Json], target: _Target) -> bool:
        """Reports a type difference; False when the types are unrelated, so comparing deeper is noise."""
        pub_types = _type_set(pub, self.pub)
        con_types = _type_set(con, self.con)
        if not pub_types or not con_types or pub_types == con_types:
            return True
        if pub_types - {"null"} == con_types - {"null"}:
            if "null" in con_types:
                self.add(
                    target.location,
                    "not-nullable",
                    _describe_types(pub_types),
                    _describe_types(con_types),
                    "The server accepts and may hold `null` here, but the page does not allow it.",
                )
            else:
                self.add(
                    target.location,
                    "extra-nullable",
                    _describe_types(pub_types),
                    _describe_types(con_types),
                    "The page allows `null`, which the server rejects here.",
                )
            return True
        only_published = sorted(pub_types - con_types)
        coercible = target.direction == "request" and all(
            any(coerce_scalar(_sample_of(kind), wanted, target.coerce)[0] for wanted in con_types)
            for kind in only_published
        )
        tail = (
            f"the server takes {_describe_types(con_types)}: it coerces {' and '.join(only_published)} "
            "values before validating and stores the coerced value, so a client reads back another type"
            if coercible
            else f"the server rejects {' and '.join(only_published)} values with 400"
        )
        server = _describe_types(con_types) + (" (coerced)" if coercible else "")
        self.add(
            target.location,
            "type-mismatch",
            _describe_types(pub_types) + (" (oneOf)" if "oneOf" in pub else ""),
            server,
            f"The page declares {_describe_types(pub_types)} but {tail}.",
        )
        return pub_types & con_types != frozenset()

    def compare_enum(self, pub: Mapping[str, Json], con: Mapping[str, Json], target: _Target) -> None:
        con_enum = con.get("enum")
        if not isinstance(con_enum, list):
            return
        pub_enum = pub.get("enum")
        allowed = ", ".join(_compact(value) if not isinstance(value, str) else value for value in con_enum)
        if not isinstance(pub_enum, list):
            consequence = (
                "clients built from it send other values, which the server rejects with 400 "
                "`must be equal to one of the allowed values`"
                if target.direction == "request"
                else "clients cannot rely on the only values the server sends"
            )
            self.add(
                target.location,
                "missing-enum",
                f"any {_describe_types(_type_set(pub, self.pub)) or 'value'}",
                f"one of: {allowed}",
                f"The page does not restrict the value to the allowed set, so {consequence}.",
            )
        elif sorted(map(_compact, pub_enum)) != sorted(map(_compact, con_enum)):
            self.add(
                target.location + "/enum",
                "enum-mismatch",
                "one of: " + ", ".join(map(_compact, pub_enum)),
                f"one of: {allowed}",
                "The page and the server disagree on the allowed values.",
            )

    def compare_object(self, pub: Mapping[str, Json], con: Mapping[str, Json], target: _Target) -> None:
        location, direction = target.location, target.direction
        pub_required = list(pub.get("required", []) or [])
        con_required = list(con.get("required", []) or [])
        missing = [key for key in con_required if key not in pub_required]
        if missing:
            self.add(
                location,
                "missing-required",
                "required: " + (", ".join(pub_required) or "(none)"),
                "required: " + ", ".join(con_required),
                (
                    "Clients built from the page may leave out "
                    + ", ".join(f"`{key}`" for key in missing)
                    + f", which the server rejects with 400 `must have required property '{missing[0]}'`."
                    if direction == "request"
                    else "The server always sends "
                    + ", ".join(f"`{key}`" for key in missing)
                    + ", but the page marks "
                    + ("it" if len(missing) == 1 else "them")
                    + " optional."
                ),
            )
        by_branch = con.get(_BRANCH_REQUIRED)
        if isinstance(by_branch, list):
            gaps = [(label, [k for k in keys if k not in pub_required]) for label, keys in by_branch]
            if any(keys for _, keys in gaps):
                self.add(
                    location,
                    "missing-required",
                    "required: " + (", ".join(pub_required) or "(none)"),
                    "; ".join(f"{label}: {', '.join(keys)}" for label, keys in by_branch),
                    "Each alternative requires its own keys, which the page does not say, so clients may "
                    "leave them out and get 400 from the server.",
                )
        extra_required = [key for key in pub_required if key not in con_required and not by_branch]
        if extra_required:
            self.add(
                location,
                "extra-required",
                "required: " + ", ".join(pub_required),
                "required: " + (", ".join(con_required) or "(none)"),
                "The page requires keys the server does not insist on.",
            )
        if con.get("additionalProperties") is False and pub.get("additionalProperties") is not False:
            self.add(
                location,
                "missing-additional-properties",
                "other keys allowed",
                "no other keys (additionalProperties: false)",
                (
                    "Clients built from the page may send unknown keys, which the server rejects with 400 "
                    "`must NOT have additional properties`."
                    if direction == "request"
                    else "The server sends no other keys, which the page does not say."
                ),
            )
        pub_properties: Mapping[str, Json] = pub.get("properties", {}) or {}
        con_properties: Mapping[str, Json] = con.get("properties", {}) or {}
        for name in con_properties:
            if name in pub_properties:
                self.compare_schema(
                    pub_properties[name],
                    replace(target, location=location + _pointer("properties", name)),
                    con_properties[name],
                )
            elif direction == "request" or name in con_required:
                # An optional response key may belong to another operation sharing the schema, so only
                # keys the server always sends count as missing from a response.
                self.add(
                    location + "/properties",
                    "missing-property",
                    f"no `{name}`",
                    f"`{name}`: {self.con_types(con_properties[name])}",
                    f"The server {'accepts' if direction == 'request' else 'sends'} `{name}`, which the page "
                    "does not document.",
                )
        for name in pub_properties:
            if name not in con_properties and con_properties:
                self.add(
                    location + _pointer("properties", name),
                    "extra-property",
                    f"`{name}`",
                    "rejected" if con.get("additionalProperties") is False else "ignored",
                    f"The page documents `{name}`, which the server does not know.",
                )

    def con_types(self, node: Json) -> str:
        return _describe_types(_type_set(self.con.schema(node)[0], self.con))

    def compare_array(self, pub: Mapping[str, Json], con: Mapping[str, Json], target: _Target) -> None:
        con_min = con.get("minItems")
        pub_min = pub.get("minItems")
        if isinstance(con_min, int) and con_min != pub_min:
            self.add(
                target.location,
                "missing-min-items" if pub_min is None else "min-items-mismatch",
                "any length" if pub_min is None else f"minItems: {pub_min}",
                f"minItems: {con_min}",
                (
                    "Clients built from the page may send "
                    + ("an empty list" if con_min == 1 else "fewer items")
                    + f", which the server rejects with 400 `must NOT have fewer than {con_min} items`."
                    if target.direction == "request"
                    else "The page and the server disagree on the smallest list."
                ),
            )
        if "items" in con and "items" in pub:
            self.compare_schema(
                pub["items"], replace(target, location=target.location + "/items"), con["items"]
            )

    # ---- example values

    def server_validation(self, con_node: Json, value: Json, target: _Target) -> Validation | None:
        """``value`` validated against a contract schema by the server's validator (``spec.ajv``).

        The result's ``data`` is the value after the server's type coercion and its ``errors`` are what
        remains after it. Requests are validated by the server, so a request schema the validator cannot
        reproduce is a ``DocumentError``; responses are not validated by the server, and their schemas
        may use keywords it does not compile (``allOf``, ``format``, ``minimum``): then the answer is
        None.
        """
        contract = dict(self.con.document)
        try:
            compiled = compile_schema(
                _without_drift_keys(con_node),
                coerce=target.coerce,
                resolve_ref=lambda ref: resolve_pointer(contract, ref),
            )
        except SchemaError as exc:
            if target.direction == "response":
                return None
            raise DocumentError(
                f"the contract's request schema for {target.location} cannot be checked the way the "
                f"server checks it: {exc}"
            ) from None
        return compiled.validate(value)

    def check_schema_values(
        self, pub: Mapping[str, Json], target: _Target, con: Mapping[str, Json], con_node: Json
    ) -> None:
        """``default`` and ``example`` of a published schema, against that schema and the contract's.

        ``con`` is the contract schema flattened for comparing, ``con_node`` the node as the contract has
        it, which is what the server's validator compiles.
        """
        own_schema = self.pub.inline({k: v for k, v in pub.items() if k not in ("default", "example")})
        con_schema = self.con.inline(con)
        for keyword in ("default", "example"):
            if keyword not in pub:
                continue
            value = pub[keyword]
            location = f"{target.location}/{keyword}"
            own = _errors(value, own_schema)
            theirs = _errors(value, con_schema) if con_schema else []
            if _string_boolean_paths([*own, *theirs]):
                self.add(
                    location,
                    "string-boolean",
                    f"{keyword}: {_compact(value)}",
                    f"{keyword}: {value}",
                    f"The {keyword} is the string {_compact(value)}, not the JSON boolean {value}, so it "
                    "contradicts the declared boolean type and misleads anyone copying it.",
                )
            elif own:
                checked = self.server_validation(con_node, value, target)
                if checked is None:
                    # A response schema the server's validator does not compile: show the value coerced
                    # to the contract's type alone.
                    only_type = {key: con[key] for key in ("type", "nullable") if key in con}
                    checked = self.server_validation(only_type, value, target)
                coerced = value if checked is None else checked.data
                accepted = target.direction == "request" and checked is not None and checked.valid
                self.add(
                    location,
                    "example-type-mismatch",
                    f"{keyword}: {_compact(value)}",
                    f"{stringify(coerced)} ({_describe_types(_type_set(con, self.con))})"
                    + (", the string is coerced" if accepted else ""),
                    f"The {keyword} has the wrong JSON type for its own schema ({own[0].message})"
                    + (
                        "; the server happens to coerce it, but a strict client or validator rejects it."
                        if accepted
                        else "."
                    ),
                )
            elif theirs:
                self.add(
                    location,
                    "example-rejected-by-server",
                    f"{keyword}: {_compact(value)}",
                    _first_message(theirs),
                    f"The server would not accept this {keyword}.",
                )

    def check_media_examples(
        self, location: str, pub_media: Json, con_media: Json, direction: Direction
    ) -> None:
        examples = list(_media_examples(self.pub, pub_media, location))
        if not examples or "schema" not in pub_media:
            return
        own_schema = self.pub.inline(pub_media["schema"])
        con_schema = self.con.inline(con_media.get("schema", {}))
        con_examples = [(name, value) for name, value, _ in _media_examples(self.con, con_media, "")]
        branches = _object_branches(self.con.schema(con_media.get("schema", {}))[0], self.con)
        inline_branches = [self.con.inline(branch) for branch in branches or []]

        def current_shape(value: Json) -> bool:
            return not inline_branches or not _errors(value, inline_branches[0])

        shows_current = any(current_shape(_booleans_fixed(value, own_schema)) for _, value, _ in examples)
        for name, value, value_location in examples:
            own = _errors(value, own_schema)
            theirs = _errors(value, con_schema)
            if direction == "request":
                self.check_request_example(
                    location=value_location,
                    name=name,
                    value=value,
                    own=own,
                    theirs=theirs,
                    con_node=con_media.get("schema", {}),
                )
                continue
            fixed_paths = _string_boolean_paths([*own, *theirs])
            for path in fixed_paths:
                self.add(
                    value_location + _pointer(*path),
                    "string-boolean",
                    f"{_dotted(path)}: {_compact(_get_at(value, path))}",
                    f"{_dotted(path)}: {_get_at(value, path)}",
                    f"The example shows the string {_compact(_get_at(value, path))} where the server sends "
                    "a JSON boolean, so code written from the example tests for a string and never matches.",
                )
            fixed = _booleans_fixed(value, own_schema)
            for path in fixed_paths:
                fixed = _set_at(fixed, list(path), _get_at(value, path) == "true")
            remaining = _errors(fixed, con_schema)
            if (
                inline_branches
                and not current_shape(fixed)
                and not shows_current
                and any(not _errors(fixed, branch) for branch in inline_branches[1:])
            ):
                current_name, current_value = next(
                    ((n, v) for n, v in con_examples if current_shape(v)), ("", None)
                )
                older = next((n for n, v in con_examples if v == fixed), "")
                self.add(
                    value_location,
                    "outdated-example",
                    _compact(value) + (f" (the {older} body)" if older else ""),
                    _compact(current_value) + (f" ({current_name})" if current_name else ""),
                    "The example is the body an older release sent; current servers send another shape, "
                    "so clients written against the page miss keys the server now sends.",
                )
                continue
            if remaining:
                self.add(
                    value_location,
                    "example-rejected-by-server",
                    _compact(value),
                    _first_message(remaining),
                    "The server never sends a body of this shape.",
                )
                continue
            fixed_bodies = {_compact(v) for _, v in con_examples}
            if len(fixed_bodies) == 1 and _compact(fixed) not in fixed_bodies:
                # The contract documents a single body for this answer: the server always sends exactly it.
                self.add(
                    value_location,
                    "example-never-sent",
                    _compact(value),
                    fixed_bodies.pop(),
                    f'The example "{name}" shows a body the server never sends for this status.',
                )

    def check_request_example(
        self,
        *,
        location: str,
        name: str,
        value: Json,
        own: Sequence[ValidationError],
        theirs: Sequence[ValidationError],
        con_node: Json,
    ) -> None:
        if not own and not theirs:
            return
        checked = self.server_validation(con_node, value, _Target(location, "request"))
        if checked is None:  # only a response schema may be one the server's validator does not compile
            raise DocumentError(f"no server validation for the request example at {location}")
        coerced = checked.data
        left = not checked.valid
        offending = [tuple(error.absolute_path) for error in _walk_errors(list(own or theirs))]
        paths = [path for index, path in enumerate(offending) if path not in offending[:index]]
        shown = "; ".join(f"{_dotted(path)}: {_compact(_get_at(value, path))}" for path in paths if path)
        if left:
            server = "rejected: 400 " + _server_message(checked, value)
        else:
            changed = [
                path
                for path in paths
                if path and stringify(_get_at(coerced, path)) != stringify(_get_at(value, path))
            ]
            server = "accepted after coercion" + (
                " to "
                + "; ".join(f"{_dotted(path)}: {stringify(_get_at(coerced, path))}" for path in changed)
                if changed
                else ""
            )
        if own:
            self.add(
                location,
                "example-rejected-by-own-schema",
                shown or _compact(value),
                server,
                f'The example "{name}" fails the page\'s own schema'
                + " under strict validation"
                + (
                    ", yet the real server accepts it because it coerces types before validating, so "
                    "the page contradicts itself and hides that coercion happens."
                    if not left
                    else ", and the server rejects it too."
                ),
            )
        else:
            self.add(
                location,
                "example-rejected-by-server",
                shown or _compact(value),
                server,
                f'The example "{name}" matches the page\'s schema, but the server does not accept it.',
            )


def _without_drift_keys(node: Json) -> Json:
    # Merged oneOf alternatives carry this module's own bookkeeping, which is no schema keyword.
    if isinstance(node, Mapping):
        return {key: _without_drift_keys(value) for key, value in node.items() if key != _BRANCH_REQUIRED}
    if isinstance(node, list):
        return [_without_drift_keys(item) for item in node]
    return node


def _sample_of(json_type: str) -> Json:
    # A representative value of a JSON type, to ask whether the server's coercion maps that type.
    return {"number": 5, "integer": 5, "string": "x", "boolean": True, "null": None}.get(json_type, {})


def _booleans_fixed(value: Json, schema: Json) -> Json:
    for path in _string_boolean_paths(_errors(value, schema)):
        value = _set_at(value, list(path), _get_at(value, path) == "true")
    return value


def _media_examples(document: _Document, media: Json, location: str) -> Iterator[tuple[str, Json, str]]:
    """Each example of a media type object: its name, value and pointer to the value."""
    if "example" in media:
        yield "example", media["example"], location + "/example"
    for name, example in sorted((media.get("examples") or {}).items()):
        resolved, example_location = document.resolve(example, location + _pointer("examples", name))
        if isinstance(resolved, Mapping) and "value" in resolved:
            yield name, resolved["value"], example_location + "/value"


def _first_example(document: _Document, holder: Json) -> Json:
    for media in (holder.get("content") or {}).values():
        for _, value, _ in _media_examples(document, media, ""):
            return value
    return None


def _operations(document: Mapping[str, Json]) -> dict[tuple[str, str], tuple[str, str, Json, Json]]:
    """Operations keyed by method and path template with parameter names blanked out."""
    found: dict[tuple[str, str], tuple[str, str, Json, Json]] = {}
    for path, item in (document.get("paths") or {}).items():
        if not isinstance(item, Mapping):
            continue
        for method in HTTP_METHODS:
            if isinstance(item.get(method), Mapping):
                found[(method, re.sub(r"\{[^}]*\}", "{}", path))] = (path, method, item, item[method])
    return found


def _parameters(
    document: _Document, item: Json, operation: Json, location: str
) -> dict[tuple[str, str], tuple[Json, str]]:
    found: dict[tuple[str, str], tuple[Json, str]] = {}
    for holder, holder_location in ((item, location.rsplit("/", 1)[0]), (operation, location)):
        for index, raw in enumerate(holder.get("parameters", []) or []):
            param, param_location = document.resolve(raw, holder_location + _pointer("parameters", index))
            if isinstance(param, Mapping):
                found[(str(param.get("in")), str(param.get("name")))] = (param, param_location)
    return found


def _api_key_headers(document: Mapping[str, Json], operation: Json) -> set[str]:
    schemes = (document.get("components") or {}).get("securitySchemes") or {}
    requirements = operation.get("security", document.get("security")) or []
    names = {name for requirement in requirements for name in requirement}
    return {
        str(scheme.get("name", "")).lower()
        for name, scheme in schemes.items()
        if name in names and scheme.get("type") == "apiKey" and scheme.get("in") == "header"
    }


def _meta_schema_leaves(document: Mapping[str, Json]) -> list[tuple[list[str | int], Json, str]]:
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
    return sorted(leaves, key=lambda leaf: _pointer(*leaf[0]))


def find_drift(published: Mapping[str, Json], contract: Mapping[str, Json]) -> list[Drift]:
    """Every disagreement between the published document and the contract, sorted by location."""
    return _Finder(published, contract).run()


# --------------------------------------------------------------------------------------------------
# Rendering


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _code(text: str) -> str:
    # A code span must be fenced by more backticks than it contains.
    fence = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def render_markdown(
    drifts: Sequence[Drift], *, published_name: str = DEFAULT_PUBLISHED, contract_name: str = DEFAULT_CONTRACT
) -> str:
    """The drift report as Markdown: title, intro, counts by kind, then the findings grouped by kind."""
    counts = Counter(drift.kind for drift in drifts)
    lines = [
        "# Documentation drift: Rocket.Chat Livechat Triggers API",
        "",
        f"This report compares the OpenAPI document published on the documentation page (`{published_name}`, "
        f"extracted verbatim) with the server contract (`{contract_name}`, what a real Rocket.Chat server "
        "does). Where they disagree the server wins, so every row below is a place where the documentation "
        "is wrong or silent. It is generated by walking both documents, not written by hand: regenerate it "
        f"with `{PROG} --output {DEFAULT_REPORT}` (or `python -m spec.drift --output {DEFAULT_REPORT}`); "
        "the test suite fails when it is stale.",
        "",
        "## Summary",
        "",
        "| Kind | Findings |",
        "|---|---:|",
    ]
    lines += [f"| {kind} | {counts[kind]} |" for kind in sorted(counts)]
    lines += [f"| **total** | **{len(drifts)}** |", ""]
    if not drifts:
        lines += ["No drift: the published document agrees with the contract.", ""]
    for kind in sorted(counts):
        lines += [
            f"## {kind} ({counts[kind]})",
            "",
            "| Location | The doc says | The server does | Why it matters |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {_cell(_code(drift.location))} | {_cell(_code(drift.published))} | "
            f"{_cell(_code(drift.server))} | {_cell(drift.explanation)} |"
            for drift in drifts
            if drift.kind == kind
        ]
        lines.append("")
    return "\n".join(lines)


def render_json(drifts: Sequence[Drift]) -> str:
    counts = Counter(drift.kind for drift in drifts)
    payload = {
        "summary": {"total": len(drifts), "by_kind": dict(sorted(counts.items()))},
        "drifts": [asdict(drift) for drift in drifts],
    }
    return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------------------------------
# Command line


def load_document(path: str | None, default_name: str, label: str) -> dict[str, Json]:
    """Reads a JSON OpenAPI document from ``path``, or the packaged copy of ``default_name``."""
    where = path or f"packaged {default_name}"
    try:
        if path is None:
            text = (resources.files("spec") / "documents" / default_name).read_text(encoding="utf-8")
        else:
            text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise DocumentError(f"cannot read the {label} document {where}: {reason}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DocumentError(f"the {label} document {where} is not valid JSON: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("openapi"), str):
        raise DocumentError(f"the {label} document {where} is not an OpenAPI document (no `openapi` version)")
    if not isinstance(document.get("paths"), dict):
        raise DocumentError(f"the {label} document {where} has no `paths` object")
    return document


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Report where the published Livechat Triggers documentation disagrees with the server.",
    )
    parser.add_argument(
        "--format", choices=("markdown", "json"), default="markdown", help="default: markdown"
    )
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--output", metavar="FILE", help="write the report to FILE instead of stdout")
    target.add_argument(
        "--check", metavar="FILE", help="exit 1 if FILE differs from the report that would be generated"
    )
    parser.add_argument(
        "--published", metavar="PATH", help=f"published document (default: {DEFAULT_PUBLISHED})"
    )
    parser.add_argument("--contract", metavar="PATH", help=f"contract document (default: {DEFAULT_CONTRACT})")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    try:
        published = load_document(args.published, "published.openapi.json", "published")
        contract = load_document(args.contract, "contract.openapi.json", "contract")
        try:
            openapi_spec_validator.validate(contract)
        except Exception as exc:  # the validator raises several unrelated types for a broken document
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DocumentError(f"the contract document is not valid OpenAPI: {first}") from None
        drifts = find_drift(published, contract)
    except DocumentError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2

    if args.format == "json":
        text = render_json(drifts)
    else:
        text = render_markdown(
            drifts,
            published_name=args.published or DEFAULT_PUBLISHED,
            contract_name=args.contract or DEFAULT_CONTRACT,
        )

    if args.check:
        regenerate = [PROG, "--format", args.format, "--output", args.check]
        for option, value in (("--published", args.published), ("--contract", args.contract)):
            if value:
                regenerate += [option, value]
        try:
            current = Path(args.check).read_text(encoding="utf-8")
        except OSError as exc:
            print(
                f"{PROG}: cannot read {args.check} ({exc.strerror}); "
                f"generate it with: {shlex.join(regenerate)}",
                file=sys.stderr,
            )
            return 1
        if current != text:
            print(
                f"{PROG}: {args.check} is out of date with the documents ({len(drifts)} findings now); "
                f"regenerate it with: {shlex.join(regenerate)}",
                file=sys.stderr,
            )
            return 1
        print(f"{args.check} is up to date ({len(drifts)} findings)")
        return 0

    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            print(f"{PROG}: cannot write {args.output}: {exc.strerror}", file=sys.stderr)
            return 2
        print(f"wrote {len(drifts)} findings to {args.output}", file=sys.stderr)
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
