"""The ajv-exact validator's own rules: what it refuses to compile, and ajv's order-sensitive details.

Agreement with the real ajv on generated inputs is proven in test_oracle_differential.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from spec.ajv import SchemaError, compile_schema
from spec.contract import post_body_validator, validate_list_query, validate_post_body
from tests.contract_helpers import valid_body


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "string", "pattern": "^a"},
        {"type": "object", "properties": {"a": {"format": "email", "type": "string"}}},
        {"anyOf": [{"type": "string"}]},
        {"nullable": True},
        {"type": "object", "additionalProperties": {"type": "string"}},
        {"type": "strin"},
        {"$ref": "#/nowhere"},
    ],
    ids=[
        "pattern",
        "format",
        "anyOf",
        "nullable-without-type",
        "schema-additionalProperties",
        "bad-type",
        "ref",
    ],
)
def test_unsupported_schemas_fail_at_compile_time(schema: dict[str, Any]) -> None:
    with pytest.raises(SchemaError):
        compile_schema(schema, coerce=True)


def test_contract_validators_coerce_as_the_server_configures_them() -> None:
    # POST bodies: coerceTypes true, so scalars are coerced but a one-element array is not unwrapped.
    coerced = validate_post_body(valid_body(enabled="true", runOnce=0))
    assert coerced.valid, coerced.message
    assert (coerced.data["enabled"], coerced.data["runOnce"]) == (True, False)  # type: ignore[index,call-overload]
    assert validate_post_body(valid_body(name=["x"])).message == "must be string"
    # The list query: coerceTypes "array", which does unwrap it.
    assert validate_list_query({"count": ["7"]}).data == {"count": 7.0}
    assert validate_list_query({"count": "7"}).data == {"count": 7.0}


def test_validate_never_changes_its_argument() -> None:
    body = {"name": 1}
    post_body_validator().validate(body)  # type: ignore[arg-type]
    assert body == {"name": 1}


def test_coercion_in_an_earlier_oneof_branch_is_seen_by_later_branches() -> None:
    schema = {
        "oneOf": [
            {
                "type": "object",
                "properties": {"a": {"type": "string"}, "b": {"type": "boolean"}},
                "required": ["b"],
            },
            {"type": "object", "properties": {"a": {"type": "number"}}},
        ]
    }
    # Branch 0 turns a into "5" and then fails on b; branch 1 then sees a string "5", which it coerces back.
    result = compile_schema(schema, coerce=True).validate({"a": 5.0})
    assert result.valid
    assert result.data == {"a": 5.0}


def test_type_error_quotes_a_type_list_with_commas() -> None:
    result = compile_schema({"type": ["string", "number"]}, coerce=False).validate([])
    assert result.message == "must be string,number"


def test_array_mode_unwraps_one_element_arrays() -> None:
    assert validate_list_query({"count": ["7"]}).data == {"count": 7.0}
    # For a nullable type ajv's "element already fits" test never holds (it ANDs the type checks),
    # so a one-element string array is not accepted as a string, while [""] still coerces to null.
    assert validate_list_query({"sort": ["{}"]}).message == "must be string"
    assert validate_list_query({"sort": [""]}).data == {"sort": None}
    assert validate_list_query({"count": ["7", "8"]}).message == "must be number"
    assert validate_list_query({"count": ""}).data == {"count": None}  # "" coerces to null
