"""The deterministic coverage is derived from the contract: every location, rule and branch of the
schemas gets its cases, checked here by walking the schema independently."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from contract_tests.coverage import (
    NOT_IN_ENUM,
    PROBE_VALUES,
    credential_variants,
    list_query_cases,
    minimal_instance,
    order_pairs,
    post_body_cases,
)
from spec.contract import (
    POST_BODY_SCHEMA,
    contract_document,
    resolve_pointer,
    validate_list_query,
    validate_post_body,
)
from spec.headers import AUTH_TOKEN_HEADER, USER_ID_HEADER
from spec.model import User
from spec.parsing import parse_query
from spec.profiles import PROFILES


def _schema(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = resolve_pointer(contract_document(), node["$ref"])
    return node


def _rules(node: dict[str, Any], path: str, out: list[tuple[str, str, Any]]) -> None:
    """Every (location, rule, detail) of the schema, found without the module under test."""
    node = _schema(node)
    if "oneOf" in node:
        for number, branch in enumerate(node["oneOf"]):
            out.append((path, "oneOf", number))
            _rules(branch, path, out)
        return
    for value in node.get("enum", ()):
        out.append((path, "enum", value))
    for key in node.get("required", ()):
        out.append((path, "required", key))
    if node.get("additionalProperties") is False:
        out.append((path, "additionalProperties", None))
    if node.get("minItems"):
        out.append((path, "minItems", node["minItems"]))
    for key, child in node.get("properties", {}).items():
        _rules(child, f"{path}.{key}", out)
    if "items" in node:
        _rules(node["items"], f"{path}[0]", out)


def test_every_rule_at_every_depth_has_its_case() -> None:
    rules: list[tuple[str, str, Any]] = []
    _rules(resolve_pointer(contract_document(), POST_BODY_SCHEMA), "$", rules)
    labels = {label for case in post_body_cases() for label in case.label.split(" | ")}
    wanted: dict[str, Callable[[str, Any], str]] = {
        "enum": lambda path, value: f"{path}: enum value {value!r}",
        "required": lambda path, key: f"{path}: required {key!r} left out",
        "additionalProperties": lambda path, _: f"{path}: unknown key",
        "minItems": lambda path, n: f"{path}: {n - 1} items, fewer than minItems",
        "oneOf": lambda path, number: f"{path}: oneOf branch {number}",
    }
    missing = []
    for path, rule, detail in rules:
        label = wanted[rule](path, detail)
        if label not in labels:
            missing.append(label)
    assert not missing, missing
    # Both oneOf branches of an action are walked: their own keys appear as locations.
    assert any(label.startswith("$.actions[0].params.serviceUrl:") for label in labels)
    assert any(label.startswith("$.actions[0].params.sender:") for label in labels)
    # Outside the enum at the condition's name, the action's name, and the sender of each branch.
    assert sum(1 for case in post_body_cases() if "a value outside the enum" in case.label) >= 4


def test_each_type_location_gets_every_other_type_coerced_or_not() -> None:
    cases = {label: case.value for case in post_body_cases() for label in case.label.split(" | ")}
    runs_once = [label for label in cases if label.startswith("$.runOnce: ")]
    assert len(runs_once) == len(PROBE_VALUES) - 2  # true and false are native booleans
    assert '$.runOnce: "true" for boolean (coerced)' in cases
    assert '$.runOnce: "x" for boolean (not coercible)' in cases
    assert validate_post_body(cases['$.runOnce: "true" for boolean (coerced)']).valid
    assert not validate_post_body(cases['$.runOnce: "x" for boolean (not coercible)']).valid
    assert "$.conditions[0].value: null (nullable string)" in cases
    assert cases["$.conditions[0].name: a value outside the enum"]["conditions"][0]["name"] == NOT_IN_ENUM


def test_cases_are_distinct_and_mix_valid_and_invalid_bodies() -> None:
    cases = post_body_cases()
    assert len({json.dumps(case.value) for case in cases}) == len(cases)
    valid = [case for case in cases if validate_post_body(case.value).valid]
    assert 0 < len(valid) < len(cases)
    assert validate_post_body(minimal_instance(resolve_pointer(contract_document(), POST_BODY_SCHEMA))).valid


def test_every_list_query_key_in_every_wire_form() -> None:
    cases = list_query_cases()
    keys = {label.split(":")[0] for label, _ in cases}
    assert {"count", "offset", "sort", "unknown key"} <= keys
    outcomes = {validate_list_query(parse_query(query)).valid for _, query in cases}
    assert outcomes == {True, False}


def test_check_order_pairs_come_from_the_profiles() -> None:
    pairs = {(first, second) for first, second, _ in order_pairs()}
    assert pairs == {("permission", "rate-limit"), ("permission", "validation")}
    # A profile that orders validation first would add the pairs with authentication too.
    import dataclasses

    odd = dataclasses.replace(PROFILES["8.3"], check_order=("validation", "authentication", "permission"))
    more = {(a, b) for a, b, _ in order_pairs([PROFILES["8.3"], odd])}
    assert ("authentication", "validation") in more


def test_credential_variants_are_every_combination_but_the_right_one() -> None:
    user = User("u", "t")
    variants = credential_variants(user)
    assert len(variants) == 15
    assert len({headers for _, headers in variants}) == 15
    assert ((USER_ID_HEADER, "u"), (AUTH_TOKEN_HEADER, "t")) not in [headers for _, headers in variants]
    assert ((USER_ID_HEADER, "u"), (AUTH_TOKEN_HEADER, "tx")) in [headers for _, headers in variants]
