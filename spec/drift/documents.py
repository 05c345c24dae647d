"""The two documents the drift tool compares: loading them, following ``$ref``, and what they declare.

Only the standard library and ``spec.pointers``: the command line reads documents and reports a missing
``[drift]`` extra before anything imports the validators.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import Any, TypeAlias

from spec import pointers

Json: TypeAlias = Any
"""A node of a parsed JSON document; OpenAPI documents are too loosely shaped to type more tightly."""

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
DEFAULT_PUBLISHED = "spec/documents/published.openapi.json"
DEFAULT_CONTRACT = "spec/documents/contract.openapi.json"


class DocumentError(ValueError):
    """An input document cannot be read, is not JSON, or is not an OpenAPI document at all."""


class Document:
    """One OpenAPI document with local ``$ref`` resolution that remembers where a node really lives."""

    def __init__(self, document: Mapping[str, Json]) -> None:
        self.document = document

    def lookup(self, ref: str) -> tuple[Json, str]:
        try:
            return pointers.resolve(self.document, ref), ref[1:]
        except pointers.PointerError as exc:
            raise DocumentError(str(exc)) from None

    def resolve(self, node: Json, location: str) -> tuple[Json, str]:
        try:
            return pointers.follow(self.document, node, location)
        except pointers.PointerError as exc:
            raise DocumentError(str(exc)) from None

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


AROUND_THE_FEATURE = "x-rc-around-feature"
"""Marks a contract operation a client needs around the feature (log-in, ``me``, permissions,
settings, ``method.call``); the published page is about the trigger routes only."""


def around_the_feature(operation: Json) -> bool:
    return isinstance(operation, Mapping) and operation.get(AROUND_THE_FEATURE) is True


def operations(document: Mapping[str, Json]) -> dict[tuple[str, str], tuple[str, str, Json, Json]]:
    """Operations keyed by method and path template with parameter names blanked out."""
    found: dict[tuple[str, str], tuple[str, str, Json, Json]] = {}
    for path, item in (document.get("paths") or {}).items():
        if not isinstance(item, Mapping):
            continue
        for method in HTTP_METHODS:
            if isinstance(item.get(method), Mapping):
                found[(method, re.sub(r"\{[^}]*\}", "{}", path))] = (path, method, item, item[method])
    return found


def parameters(
    document: Document, item: Json, operation: Json, location: str
) -> dict[tuple[str, str], tuple[Json, str]]:
    found: dict[tuple[str, str], tuple[Json, str]] = {}
    for holder, holder_location in ((item, location.rsplit("/", 1)[0]), (operation, location)):
        for index, raw in enumerate(holder.get("parameters", []) or []):
            param, param_location = document.resolve(
                raw, holder_location + pointers.pointer("parameters", index)
            )
            if isinstance(param, Mapping):
                found[(str(param.get("in")), str(param.get("name")))] = (param, param_location)
    return found


def api_key_headers(document: Mapping[str, Json], operation: Json) -> set[str]:
    schemes = (document.get("components") or {}).get("securitySchemes") or {}
    requirements = operation.get("security", document.get("security")) or []
    names = {name for requirement in requirements for name in requirement}
    return {
        str(scheme.get("name", "")).lower()
        for name, scheme in schemes.items()
        if name in names and scheme.get("type") == "apiKey" and scheme.get("in") == "header"
    }


def media_examples(document: Document, media: Json, location: str) -> Iterator[tuple[str, Json, str]]:
    """Each example of a media type object: its name, value and pointer to the value."""
    if "example" in media:
        yield "example", media["example"], location + "/example"
    for name, example in sorted((media.get("examples") or {}).items()):
        resolved, example_location = document.resolve(example, location + pointers.pointer("examples", name))
        if isinstance(resolved, Mapping) and "value" in resolved:
            yield name, resolved["value"], example_location + "/value"


def first_example(document: Document, holder: Json) -> Json:
    for media in (holder.get("content") or {}).values():
        for _, value, _ in media_examples(document, media, ""):
            return value
    return None


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
