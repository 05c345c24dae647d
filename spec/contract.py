"""The contract documents and the validators built from them.

The request schemas of ``documents/contract.openapi.json`` are the single source of every validation
rule: the mock, the payload generators and the conformance run all validate through this module.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from spec.ajv import CompiledSchema, SchemaError, Validation, compile_schema
from spec.jsvalues import to_js_value

DOCUMENTS = Path(__file__).parent / "documents"
CONTRACT_PATH = DOCUMENTS / "contract.openapi.json"
PUBLISHED_PATH = DOCUMENTS / "published.openapi.json"
POST_BODY_SCHEMA = "#/components/schemas/TriggerSaveRequest"
LIST_QUERY_SCHEMA = "#/components/schemas/TriggerListQuery"


@cache
def contract_document() -> dict[str, Any]:
    """The contract OpenAPI document (parsed once; treat it as read-only)."""
    document: dict[str, Any] = json.loads(CONTRACT_PATH.read_text(encoding="utf-8"))
    return document


@cache
def published_document() -> dict[str, Any]:
    """The OpenAPI document published on the documentation page, extracted verbatim."""
    document: dict[str, Any] = json.loads(PUBLISHED_PATH.read_text(encoding="utf-8"))
    return document


def resolve_pointer(document: dict[str, Any], reference: str) -> Any:
    if not reference.startswith("#/"):
        raise SchemaError(f"only local references are supported, got {reference!r}")
    node: Any = document
    for escaped in reference[2:].split("/"):
        part = escaped.replace("~1", "/").replace("~0", "~")
        try:
            node = node[part]
        except (KeyError, TypeError):
            raise SchemaError(f"unresolvable reference {reference!r}") from None
    return node


def _compile(reference: str, coerce: Any) -> CompiledSchema:
    document = contract_document()
    return compile_schema(
        resolve_pointer(document, reference),
        coerce=coerce,
        resolve_ref=lambda ref: resolve_pointer(document, ref),
    )


@cache
def post_body_validator() -> CompiledSchema:
    """``isPOSTLivechatTriggersParams``: ajv with ``coerceTypes: true``."""
    return _compile(POST_BODY_SCHEMA, True)


@cache
def list_query_validator() -> CompiledSchema:
    """``isGETLivechatTriggersParams``: ajv with ``coerceTypes: "array"``."""
    return _compile(LIST_QUERY_SCHEMA, "array")


def validate_post_body(value: Any) -> Validation:
    """Validate a POST body as the server does; ``value`` may hold Python ints (read as JS numbers)."""
    return post_body_validator().validate(to_js_value(value), in_place=True)


def validate_list_query(value: Any) -> Validation:
    """Validate a parsed list query (values are strings, lists or objects, as the query parser makes)."""
    return list_query_validator().validate(to_js_value(value), in_place=True)
