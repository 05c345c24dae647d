"""The contract documents and the validators built from them.

The request schemas of ``documents/contract.openapi.json`` are the single source of every validation
rule: the mock, the payload generators and the conformance run all validate through this module.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

from spec import pointers
from spec.ajv import CompiledSchema, SchemaError, Validation, compile_schema
from spec.headers import JSON_CONTENT_TYPE
from spec.jsvalues import to_js_value
from spec.routes import TRIGGERS_PATH

DOCUMENTS = Path(__file__).parent / "documents"
CONTRACT_PATH = DOCUMENTS / "contract.openapi.json"
PUBLISHED_PATH = DOCUMENTS / "published.openapi.json"
POST_BODY_SCHEMA = "#/components/schemas/TriggerSaveRequest"
LIST_QUERY_SCHEMA = "#/components/schemas/TriggerListQuery"
WEBHOOK_TEST_SCHEMA = "#/components/schemas/TriggerWebhookTestRequest"
WEBHOOK_CALL_SCHEMA = "#/components/schemas/TriggerWebhookCallRequest"


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
    """The node a local ``$ref`` names, by ``spec.pointers``; a bad reference is a ``SchemaError``."""
    try:
        return pointers.resolve(document, reference)
    except pointers.PointerError as exc:
        raise SchemaError(str(exc)) from None


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


@cache
def webhook_test_validator() -> CompiledSchema:
    """``isLivechatTriggerWebhookTestParams``: the shared ``ajv`` instance (``coerceTypes: true``)."""
    return _compile(WEBHOOK_TEST_SCHEMA, True)


@cache
def webhook_call_validator() -> CompiledSchema:
    """``isLivechatTriggerWebhookCallParams``: the shared ``ajv`` instance (``coerceTypes: true``)."""
    return _compile(WEBHOOK_CALL_SCHEMA, True)


def validate_webhook_test_body(value: Any) -> Validation:
    return webhook_test_validator().validate(to_js_value(value), in_place=True)


def validate_webhook_call_body(value: Any) -> Validation:
    return webhook_call_validator().validate(to_js_value(value), in_place=True)


def validate_post_body(value: Any) -> Validation:
    """Validate a POST body as the server does; ``value`` may hold Python ints (read as JS numbers)."""
    return post_body_validator().validate(to_js_value(value), in_place=True)


def validate_list_query(value: Any) -> Validation:
    """Validate a parsed list query (values are strings, lists or objects, as the query parser makes)."""
    return list_query_validator().validate(to_js_value(value), in_place=True)


def example_post_body(name: str = "Create") -> dict[str, Any]:
    """A fresh copy of one of the contract's POST body examples (valid as the server reads it)."""
    operation = contract_document()["paths"][TRIGGERS_PATH]["post"]
    examples = operation["requestBody"]["content"][JSON_CONTENT_TYPE]["examples"]
    example: dict[str, Any] = examples[name]["value"]
    return copy.deepcopy(example)


def _schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = contract_document()["components"]["schemas"][name]
    return schema


def condition_names() -> tuple[str, ...]:
    """The condition names the server accepts, in the contract's order."""
    return tuple(_schema("TriggerCondition")["properties"]["name"]["enum"])


def action_names() -> tuple[str, ...]:
    """The action names, one per ``oneOf`` branch of an action."""
    branches = _schema("TriggerAction")["oneOf"]
    return tuple(
        name
        for branch in branches
        for name in resolve_pointer(contract_document(), branch["$ref"])["properties"]["name"]["enum"]
    )


def senders() -> tuple[str, ...]:
    """The values of an action's ``params.sender``."""
    return tuple(_schema("SendMessageAction")["properties"]["params"]["properties"]["sender"]["enum"])


def required_body_fields() -> tuple[str, ...]:
    """The POST body's required keys, in the order the server reports them missing."""
    return tuple(_schema("TriggerSaveRequest")["required"])
