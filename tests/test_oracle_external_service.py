"""Differential tests of the two external-service bodies: spec.contract's validators against the real
published ones (``LivechatTriggerWebhookTestParamsSchema`` and ``LivechatTriggerWebhookCallParamsSchema``
of ``@rocket.chat/rest-typings`` 8.8.1 under ajv 8.20.0, run by tests/oracle/oracle.mjs).

The comparison machinery is tests/test_oracle_differential.py's (validity, every message, the coerced
data); this module adds seeded generators for these bodies and their coverage checks."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spec.contract import WEBHOOK_CALL_SCHEMA, WEBHOOK_TEST_SCHEMA
from tests.oracle import cases
from tests.oracle.cases import Raw
from tests.oracle.client import Answer, Oracle, Request, Schema
from tests.test_oracle_differential import (
    SEED,
    _coerced,
    _counted,
    _inline,
    _property_orders,
    _share,
    differences,
    python_answer,
    run,
)

pytestmark = pytest.mark.oracle

CASES_PER_SCHEMA = 8_000
TEST_KEYS = ("webhookUrl", "timeout", "fallbackMessage", "extraData")
CALL_KEYS = ("token", "extraData")


def _string_like(rng: random.Random) -> Any:
    """A value ajv accepts (after coercion) as a string, most of the time."""
    roll = rng.random()
    if roll < 0.7:
        return cases.random_string(rng)
    if roll < 0.85:
        return cases.random_number(rng)  # coerced to its string form
    return rng.random() < 0.5  # "true" / "false"


def _number_like(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.55:
        return cases.random_number(rng)
    if roll < 0.8:
        return rng.choice(("1000", "0", "-5", "1e3", " 12 ", "", "0x10", "abc", "Infinity", "5000.5"))
    if roll < 0.9:
        return rng.random() < 0.5 or None  # true -> 1, null -> 0 (ajv coerces both)
    return cases.junk(rng, 1)


def _extra_item(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.7:
        item: dict[str, Any] = {"key": _string_like(rng), "value": _string_like(rng)}
        if rng.random() < 0.3:
            item = dict(reversed(list(item.items())))
        return item
    if roll < 0.8:
        return {rng.choice(("key", "value")): _string_like(rng)}
    if roll < 0.9:
        return {"key": "k", "value": "v", cases.random_key(rng): cases.junk(rng, 1)}
    return cases.junk(rng, 2)


def _extra_data(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.15:
        return None
    if roll < 0.85:
        return [_extra_item(rng) for _ in range(rng.randint(0, 3))]
    return cases.junk(rng, 2)


def _body(rng: random.Random, keys: tuple[str, ...]) -> dict[str, Any]:
    makers: dict[str, Callable[[random.Random], Any]] = {
        "webhookUrl": lambda r: (
            r.choice(("http://127.0.0.1:3000/hook", "test", "")) if r.random() < 0.5 else _string_like(r)
        ),
        "timeout": _number_like,
        "fallbackMessage": _string_like,
        "token": _string_like,
        "extraData": _extra_data,
    }
    body: dict[str, Any] = {}
    for key in keys:
        if key == "extraData" and rng.random() < 0.35:
            continue
        body[key] = makers[key](rng)
    return body


def _mutated(rng: random.Random, keys: tuple[str, ...]) -> Any:
    body = _body(rng, keys)
    for _ in range(rng.randint(1, 2)):
        roll = rng.random()
        if roll < 0.3 and body:
            body.pop(rng.choice(list(body)))
        elif roll < 0.55:
            body[cases.random_key(rng)] = cases.junk(rng, 1)
        elif roll < 0.85 and body:
            body[rng.choice(list(body))] = rng.choice(({}, [], [1], None, {"a": 1}, Raw("1e400"), "x"))
        else:
            items = list(body.items())
            rng.shuffle(items)
            body = dict(items)
    return body


def webhook_bodies(seed: int, count: int, keys: tuple[str, ...]) -> list[Any]:
    rng = random.Random(seed)
    values: list[Any] = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.5:
            values.append(_body(rng, keys))
        elif roll < 0.9:
            values.append(_mutated(rng, keys))
        elif roll < 0.96:
            values.append(rng.choice(([], "x", 1, None, True, [_body(rng, keys)])))
        else:
            values.append(cases.junk(rng, 3))
    return values


MESSAGE_KINDS = (
    "must have required property",
    "must NOT have additional properties",
    "must be string",
    "must be number",
    "must be array",
    "must be object",
)


def _coverage(keys: tuple[str, ...]) -> Callable[[Oracle, list[str], list[Answer]], list[str]]:
    def coverage(oracle: Oracle, texts: list[str], answers: list[Answer]) -> list[str]:
        total = len(answers)
        valid = [json.loads(answer.data or "null") for answer in answers if answer.valid]
        kinds = Counter(message.split(" '")[0] for answer in answers for message in answer.messages)
        shapes = Counter(
            "absent" if "extraData" not in body else "null" if body["extraData"] is None else "array"
            for body in valid
        )
        return [
            *_share(len(valid), total, 0.15, 0.75, "valid bodies"),
            *_share(_coerced(oracle, texts, answers), total, 0.05, 0.7, "valid bodies that ajv coerced"),
            *_counted(
                kinds, [k for k in MESSAGE_KINDS if k != "must be number" or "timeout" in keys], 40, "error"
            ),
            *_counted(shapes, ("absent", "null", "array"), 100, "valid extraData"),
            *_counted(Counter(key for body in valid for key in body), keys, 100, "valid key"),
        ]

    return coverage


def test_the_contract_schemas_equal_the_published_ones(oracle: Oracle) -> None:
    document_path = Path(__file__).resolve().parents[1] / "spec" / "documents" / "contract.openapi.json"
    document = json.loads(document_path.read_text("utf-8"))
    published = oracle.dump()["schemas"]
    for reference, key in ((WEBHOOK_TEST_SCHEMA, "webhook-test"), (WEBHOOK_CALL_SCHEMA, "webhook-call")):
        ours = _inline(document["components"]["schemas"][reference.rsplit("/", 1)[1]], document)
        assert ours == published[key]
        assert _property_orders(ours) == _property_orders(published[key])


def test_webhook_test_bodies_match_ajv(
    oracle: Oracle, record_property: Callable[[str, object], None]
) -> None:
    run(
        oracle=oracle,
        record_property=record_property,
        schema="webhook-test",
        label="external-service test bodies",
        values=webhook_bodies(SEED + 12, CASES_PER_SCHEMA, TEST_KEYS),
        coverage=_coverage(TEST_KEYS),
    )


def test_webhook_call_bodies_match_ajv(
    oracle: Oracle, record_property: Callable[[str, object], None]
) -> None:
    run(
        oracle=oracle,
        record_property=record_property,
        schema="webhook-call",
        label="external-service call bodies",
        values=webhook_bodies(SEED + 13, CASES_PER_SCHEMA, CALL_KEYS),
        coverage=_coverage(CALL_KEYS),
    )


def test_odd_texts_as_webhook_bodies_match_ajv(
    oracle: Oracle, record_property: Callable[[str, object], None]
) -> None:
    run(
        oracle=oracle,
        record_property=record_property,
        schema="webhook-test",
        label="JSON texts (external-service test)",
        values=cases.texts(SEED + 14, 1_000),
        raw_texts=True,
    )


_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(cases.SPECIAL_STRINGS),
    st.text(max_size=6),
    st.just([]),
    st.just({}),
)
_item = st.one_of(
    st.fixed_dictionaries({"key": _values, "value": _values}),
    st.dictionaries(st.sampled_from(("key", "value", "other")), _values, max_size=3),
    _values,
)
_extra = st.one_of(st.none(), st.lists(_item, max_size=3), _values)


def _bodies(keys: tuple[str, ...]) -> st.SearchStrategy[Any]:
    required = {key: _values for key in keys if key != "extraData"}
    return st.one_of(
        st.fixed_dictionaries(required, optional={"extraData": _extra, "other": _values}),
        st.dictionaries(st.sampled_from((*keys, "other")), _values, max_size=4),
        _values,
    )


def _compare(oracle: Oracle, schema: Schema, value: Any) -> None:
    text = cases.to_text(value)
    (answer,) = oracle.check([Request(schema, text)])
    ours = python_answer(schema, text)
    assert not differences(answer, ours), (text, answer, ours)


@settings(
    max_examples=300,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(body=_bodies(TEST_KEYS))
def test_hypothesis_webhook_test_bodies_match_ajv(oracle: Oracle, body: Any) -> None:
    _compare(oracle, "webhook-test", body)


@settings(
    max_examples=300,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(body=_bodies(CALL_KEYS))
def test_hypothesis_webhook_call_bodies_match_ajv(oracle: Oracle, body: Any) -> None:
    _compare(oracle, "webhook-call", body)
