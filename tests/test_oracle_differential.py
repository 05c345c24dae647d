"""Differential tests: the Python validator (spec.contract) against the real published one (ajv).

The oracle (tests/oracle/oracle.mjs) runs `@rocket.chat/rest-typings@8.8.1`'s own schemas and ajv
options under ajv 8.20.0. Both sides parse the very same JSON text; for every case the validity, the
joined error message, each error message and the coerced data (`JSON.stringify` on the Node side,
`spec.jsvalues.stringify` on ours) must be equal. Every mismatch is collected, the first few are
shrunk to a minimal input with the oracle's help, and the test fails listing them.

Cases come from seeded generators (tests/oracle/cases.py) and from Hypothesis strategies run
with `derandomize=True`, so every run compares the same inputs.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spec import pointers
from spec.contract import example_post_body
from tests.conftest import ORACLE_REPORT
from tests.oracle import cases
from tests.oracle.cases import Pairs, Raw, to_text
from tests.oracle.client import Answer, Oracle, Request, Schema

pytestmark = pytest.mark.oracle

SEED = 20261125
POST_CASES = 20_000
QUERY_CASES = 3_000
TEXT_CASES = 3_000
BATCH = 2_500
SHRINK_AT_MOST = 8  # mismatches shrunk per test (each shrink costs up to SHRINK_BUDGET round trips)
SHRINK_BUDGET = 1_500
SHOW_AT_MOST = 25


# --------------------------------------------------------------------------------------------------
# The Python side


@dataclass(frozen=True)
class PythonAnswer:
    valid: bool
    messages: tuple[str, ...]
    message: str
    data: str | None
    parse_error: str | None
    crash: str | None = None


def python_answer(schema: Schema, text: str) -> PythonAnswer:
    from spec.contract import (
        validate_list_query,
        validate_post_body,
        validate_webhook_call_body,
        validate_webhook_test_body,
    )
    from spec.jsvalues import JsonSyntaxError, parse_json, stringify

    try:
        try:
            value = parse_json(text)
        except JsonSyntaxError as exc:
            return PythonAnswer(False, (), "", None, parse_error=str(exc) or "JsonSyntaxError")
        if schema == "parse":
            return PythonAnswer(True, (), "", stringify(value), None)
        validate = {
            "post": validate_post_body,
            "query": validate_list_query,
            "webhook-test": validate_webhook_test_body,
            "webhook-call": validate_webhook_call_body,
        }[schema]
        validation = validate(value)
        messages = tuple(error.message for error in validation.errors)
        return PythonAnswer(
            bool(validation.valid), messages, validation.message, stringify(validation.data), None
        )
    except Exception as exc:  # a crash is a mismatch too, reported with the input that caused it
        return PythonAnswer(False, (), "", None, None, crash=f"{type(exc).__name__}: {exc}"[:300])


def differences(oracle_answer: Answer, ours: PythonAnswer) -> list[str]:
    """Names of what differs; empty when the two sides agree."""
    if ours.crash is not None:
        return ["crash"]
    if (oracle_answer.parse_error is None) != (ours.parse_error is None):
        return ["parse"]
    if oracle_answer.parse_error is not None:
        return []
    found = []
    if oracle_answer.valid != ours.valid:
        found.append("valid")
    if oracle_answer.message != ours.message:
        found.append("message")
    elif oracle_answer.messages != ours.messages:
        found.append("errors")
    if oracle_answer.data != ours.data:
        found.append("data")
    return found


@dataclass
class Mismatch:
    schema: Schema
    value: Any  # the case value (None when the case is a raw text)
    text: str
    kinds: list[str]
    oracle: Answer
    ours: PythonAnswer
    shrunk_from: int | None = None  # length of the original text when this one was shrunk


def _clip(text: str | None, limit: int = 400) -> str:
    if text is None:
        return "None"
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


def _nesting_depth(text: str) -> int:
    """How deeply the arrays and objects of a JSON text nest (brackets inside strings ignored)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def describe(mismatch: Mismatch) -> str:
    oracle_side, ours = mismatch.oracle, mismatch.ours
    shrunk = f" (shrunk from {mismatch.shrunk_from} chars)" if mismatch.shrunk_from else ""
    depth = _nesting_depth(mismatch.text)
    lines = [
        f"[{mismatch.schema}] differs in {', '.join(mismatch.kinds)}{shrunk}; nesting depth {depth}",
        f"  input  : {_clip(mismatch.text)}",
        f"  ajv    : valid={oracle_side.valid} message={oracle_side.message!r}"
        f" data={_clip(oracle_side.data, 300)}"
        + (f" parseError={oracle_side.parse_error!r}" if oracle_side.parse_error else ""),
    ]
    if ours.crash:
        lines.append(f"  python : crashed: {ours.crash}")
    else:
        lines.append(
            f"  python : valid={ours.valid} message={ours.message!r} data={_clip(ours.data, 300)}"
            + (f" parseError={ours.parse_error!r}" if ours.parse_error else "")
        )
        if "errors" in mismatch.kinds:
            lines.append(
                f"  ajv errors {list(oracle_side.messages)!r} / python errors {list(ours.messages)!r}"
            )
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# Running a differential and shrinking what it finds


def compare_all(
    oracle: Oracle, schema: Schema, values: Sequence[Any], raw_texts: bool = False
) -> tuple[list[str], list[Answer], list[Mismatch]]:
    """Send every case to both sides; return the texts, the oracle's answers and all mismatches."""
    mismatches: list[Mismatch] = []
    all_texts: list[str] = []
    all_answers: list[Answer] = []
    for start in range(0, len(values), BATCH):
        chunk = values[start : start + BATCH]
        texts = [
            value if raw_texts else to_text(value, (start + offset) % 7 == 6)
            for offset, value in enumerate(chunk)
        ]
        answers = oracle.check([Request(schema, text) for text in texts])
        for value, text, oracle_answer in zip(chunk, texts, answers, strict=True):
            ours = python_answer(schema, text)
            kinds = differences(oracle_answer, ours)
            if kinds:
                mismatches.append(
                    Mismatch(schema, None if raw_texts else value, text, kinds, oracle_answer, ours)
                )
        all_texts.extend(texts)
        all_answers.extend(answers)
    return all_texts, all_answers, mismatches


def _halfway_down(value: Any) -> Any:
    """For a long chain of nested containers, the container halfway down its first-child chain."""
    chain = [value]
    node = value
    while True:
        children = list(node.values()) if isinstance(node, dict) else node if isinstance(node, list) else []
        node = next((child for child in children if isinstance(child, (dict, list)) and child), None)
        if node is None:
            break
        chain.append(node)
    return chain[len(chain) // 2] if len(chain) >= 8 else None


def _shrink_candidates(value: Any) -> Iterator[Any]:
    """Smaller variants of a case value, the most aggressive first."""
    halfway = _halfway_down(value)
    if halfway is not None:
        yield halfway
    if isinstance(value, (dict, list)):
        children = value.values() if isinstance(value, dict) else value
        yield from (child for child in children if isinstance(child, (dict, list, Pairs)))
    if isinstance(value, Pairs):
        items = list(value.items)
        keys = [key for key, _ in items]
        if len(set(keys)) == len(keys):
            yield dict(items)
        for index in range(len(items)):
            yield Pairs(tuple(items[:index] + items[index + 1 :]))
        for index, (key, child) in enumerate(items):
            for smaller in _shrink_candidates(child):
                yield Pairs((*items[:index], (key, smaller), *items[index + 1 :]))
    elif isinstance(value, dict):
        for key in value:
            yield {k: v for k, v in value.items() if k != key}
        for key, child in value.items():
            if isinstance(child, (dict, list, Pairs)) and child:
                yield {**value, key: None}
        for key, child in value.items():
            for smaller in _shrink_candidates(child):
                yield {**value, key: smaller}
    elif isinstance(value, list):
        if len(value) > 1:
            yield value[:1]
        for index in range(len(value)):
            yield value[:index] + value[index + 1 :]
        for index, child in enumerate(value):
            for smaller in _shrink_candidates(child):
                yield [*value[:index], smaller, *value[index + 1 :]]
    elif isinstance(value, str) and value:
        if len(value) > 1:
            yield value[: len(value) // 2]
            yield value[len(value) // 2 :]
        if value != "a" and len(value) == 1 and value.isascii():
            yield "a"
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and value not in (0, 1):
        yield 0
        yield 1


def shrink(oracle: Oracle, mismatch: Mismatch) -> Mismatch:
    """Greedy shrinking of a mismatch's case value while the same kind of difference remains."""
    if mismatch.value is None or len(mismatch.text) > 200_000:
        return mismatch
    try:
        return _shrink(oracle, mismatch)
    except RecursionError:  # candidates of very deep values; keep the unshrunk case
        return mismatch


def _shrink(oracle: Oracle, mismatch: Mismatch) -> Mismatch:
    best = mismatch
    budget = SHRINK_BUDGET
    improved = True
    while improved and budget > 0:
        improved = False
        # Try the candidates in small batches, keep the first that still shows the same difference.
        iterator = _shrink_candidates(best.value)
        while budget > 0:
            batch = [candidate for _, candidate in zip(range(64), iterator, strict=False)]
            if not batch:
                break
            budget -= len(batch)
            texts = [to_text(candidate) for candidate in batch]
            answers = oracle.check([Request(best.schema, text) for text in texts])
            for candidate, text, oracle_answer in zip(batch, texts, answers, strict=True):
                ours = python_answer(best.schema, text)
                kinds = differences(oracle_answer, ours)
                if kinds and kinds[0] == best.kinds[0] and len(text) < len(best.text):
                    best = Mismatch(
                        best.schema, candidate, text, kinds, oracle_answer, ours, len(mismatch.text)
                    )
                    improved = True
                    break
            if improved:
                break
    return best


def report(oracle: Oracle, label: str, compared: int, mismatches: list[Mismatch], seconds: float) -> str:
    line = (
        f"oracle differential: compared {compared} {label} with ajv 8.20.0 "
        f"(rest-typings 8.8.1, seed {SEED}) in {seconds:.1f} s: {len(mismatches)} mismatches"
    )
    ORACLE_REPORT.append(line)
    if not mismatches:
        return line
    shown: list[str] = []
    seen_kinds: set[tuple[str, ...]] = set()
    shrunk = 0
    for mismatch in mismatches:
        if mismatch.ours.crash is not None:  # one entry per kind of crash, whatever the input
            signature: tuple[str, ...] = ("crash", mismatch.schema, mismatch.ours.crash.split(":")[0])
        else:
            signature = (*mismatch.kinds, mismatch.oracle.message, mismatch.ours.message)
        if signature in seen_kinds:
            continue
        seen_kinds.add(signature)
        if shrunk < SHRINK_AT_MOST:
            shown.append(describe(shrink(oracle, mismatch)))
            shrunk += 1
        else:
            shown.append(describe(mismatch))
        if len(shown) >= SHOW_AT_MOST:
            break
    for entry in shown[:3]:
        ORACLE_REPORT.append("  " + entry.replace("\n", "\n  "))
    return line + f" ({len(seen_kinds)}+ distinct; first {len(shown)} below)\n\n" + "\n\n".join(shown)


def run(
    *,
    oracle: Oracle,
    record_property: Callable[[str, object], None],
    schema: Schema,
    label: str,
    values: Sequence[Any],
    raw_texts: bool = False,
    coverage: Callable[[Oracle, list[str], list[Answer]], list[str]] | None = None,
) -> None:
    started = time.monotonic()
    texts, answers, mismatches = compare_all(oracle, schema, values, raw_texts)
    compared = len(answers)
    summary = report(oracle, label, compared, mismatches, time.monotonic() - started)
    record_property(f"oracle_compared_{label.replace(' ', '_')}", compared)
    record_property(f"oracle_mismatches_{label.replace(' ', '_')}", len(mismatches))
    assert compared == len(values)
    # The generators must keep reaching every kind of outcome, or the comparison proves little.
    gaps = coverage(oracle, texts, answers) if coverage else []
    gap_text = "the generated cases no longer cover:\n  " + "\n  ".join(gaps) + "\n\n" if gaps else ""
    assert not gaps and not mismatches, gap_text + summary


def _counted(found: Counter[Any], wanted: Sequence[Any], at_least: int, what: str) -> list[str]:
    return [
        f"{what} {item!r}: {found[item]} cases, want {at_least}" for item in wanted if found[item] < at_least
    ]


def _share(count: int, total: int, low: float, high: float, what: str) -> list[str]:
    share = count / max(total, 1)
    if low <= share <= high:
        return []
    return [f"{what}: {share:.0%} of the cases, want {low:.0%} to {high:.0%}"]


def _coerced(oracle: Oracle, texts: list[str], answers: list[Answer]) -> int:
    """How many valid cases ajv changed while validating (coercion happened)."""
    valid_texts = [text for text, answer in zip(texts, answers, strict=True) if answer.valid]
    parsed = oracle.check([Request("parse", text) for text in valid_texts])
    valid_data = [answer.data for answer in answers if answer.valid]
    return sum(before.data != after for before, after in zip(parsed, valid_data, strict=True))


POST_MESSAGE_KINDS = (
    "must have required property",
    "must NOT have additional properties",
    "must be string",
    "must be boolean",
    "must be number",
    "must be array",
    "must be object",
    "must NOT have fewer than 1 items",
    "must be equal to one of the allowed values",
    "must match exactly one schema in oneOf",
)


def post_coverage(oracle: Oracle, texts: list[str], answers: list[Answer]) -> list[str]:
    total = len(answers)
    valid = [json.loads(answer.data or "null") for answer in answers if answer.valid]
    kinds = Counter(message.split(" '")[0] for answer in answers for message in answer.messages)
    depths = Counter(error["instancePath"].count("/") for answer in answers for error in answer.errors)
    conditions = Counter(condition["name"] for body in valid for condition in body["conditions"])
    actions = Counter(
        (
            action["name"],
            "absent" if "params" not in action else "null" if action["params"] is None else "object",
        )
        for body in valid
        for action in body["actions"]
    )
    action_shapes = [(name, params) for name in cases.ACTION_NAMES for params in ("absent", "null", "object")]
    return [
        *_share(len(valid), total, 0.15, 0.7, "valid bodies"),
        *_share(_coerced(oracle, texts, answers), total, 0.1, 0.7, "valid bodies that ajv coerced"),
        *_counted(kinds, POST_MESSAGE_KINDS, 40, "error"),
        *_counted(depths, range(5), 200, "errors at depth"),
        *_counted(conditions, cases.CONDITION_NAMES, 200, "valid condition"),
        *_counted(actions, action_shapes, 200, "valid action with params"),
    ]


def query_coverage(oracle: Oracle, texts: list[str], answers: list[Answer]) -> list[str]:
    total = len(answers)
    kinds = Counter(message for answer in answers for message in answer.messages)
    wanted = ("must be number", "must be string", "must NOT have additional properties")
    return [
        *_share(sum(answer.valid for answer in answers), total, 0.15, 0.8, "valid queries"),
        *_share(_coerced(oracle, texts, answers), total, 0.05, 0.7, "valid queries that ajv coerced"),
        *_counted(kinds, wanted, 40, "error"),
    ]


# --------------------------------------------------------------------------------------------------
# The oracle itself reproduces what the reference sheet observed on the real server


OBSERVED_POST = [
    ({}, "must have required property 'name'"),
    ({"name": "x"}, "must have required property 'description'"),
    ([], "must be object"),
    ({"conditions": []}, "must have required property 'name'"),
]


def _with(**changes: Any) -> dict[str, Any]:
    body = example_post_body()
    body.update(changes)
    return body


ONE_OF = "\n must match exactly one schema in oneOf"
SHEET_CASES: list[tuple[Any, bool, str, Any]] = [
    # (body, valid, message, expected coerced data or None to skip)
    ({}, False, "must have required property 'name'", None),
    ({"name": "x"}, False, "must have required property 'description'", None),
    ({**example_post_body(), "foo": 1}, False, "must NOT have additional properties", None),
    (_with(name={}), False, "must be string", None),
    (_with(enabled="yes"), False, "must be boolean", None),
    (_with(conditions=[]), False, "must NOT have fewer than 1 items", None),
    (_with(conditions=1), False, "must be array", None),
    (_with(conditions=[1]), False, "must be object", None),
    (_with(conditions=[{"name": "invalid"}]), False, "must have required property 'value'", None),
    (_with(actions=[1]), False, "must be object\n must be object" + ONE_OF, None),
    (
        _with(actions=[{"name": "invalid"}]),
        False,
        "must be equal to one of the allowed values\n must be equal to one of the allowed values" + ONE_OF,
        None,
    ),
    (
        _with(actions=[{"name": "send-message", "params": {"sender": "invalid"}}]),
        False,
        "must have required property 'msg'\n must be equal to one of the allowed values" + ONE_OF,
        None,
    ),
    (
        _with(
            actions=[
                {
                    "name": "use-external-service",
                    "params": {"serviceTimeout": 1, "serviceFallbackMessage": "f"},
                }
            ]
        ),
        False,
        "must be equal to one of the allowed values\n must have required property 'serviceUrl'" + ONE_OF,
        None,
    ),
    ([example_post_body()], False, "must be object", None),
    (_with(name=1, description=True), True, "", _with(name="1", description="true")),
    (_with(name=1.5), True, "", _with(name="1.5")),
    (_with(enabled="true", runOnce="false"), True, "", _with(enabled=True, runOnce=False)),
    (_with(enabled=1, runOnce=0), True, "", _with(enabled=True, runOnce=False)),
    (_with(enabled=None), True, "", _with(enabled=False)),
    (
        _with(conditions=[{"name": "page-url", "value": 5}, {"name": "time-on-site", "value": None}]),
        True,
        "",
        _with(conditions=[{"name": "page-url", "value": "5"}, {"name": "time-on-site", "value": None}]),
    ),
    (
        _with(
            actions=[
                {
                    "name": "use-external-service",
                    "params": {"serviceUrl": "u", "serviceTimeout": "5000", "serviceFallbackMessage": "f"},
                }
            ]
        ),
        True,
        "",
        _with(
            actions=[
                {
                    "name": "use-external-service",
                    "params": {"serviceUrl": "u", "serviceTimeout": 5000, "serviceFallbackMessage": "f"},
                }
            ]
        ),
    ),
    ({**example_post_body(), "_id": 0}, True, "", {**example_post_body(), "_id": "0"}),
    ({**example_post_body(), "_id": False}, True, "", {**example_post_body(), "_id": "false"}),
    ({**example_post_body(), "_id": None}, True, "", {**example_post_body(), "_id": None}),
    ({**example_post_body(), "_id": ""}, True, "", {**example_post_body(), "_id": ""}),
    (_with(actions=[{"name": "send-message"}]), True, "", _with(actions=[{"name": "send-message"}])),
    (
        _with(actions=[{"name": "send-message", "params": None}]),
        True,
        "",
        _with(actions=[{"name": "send-message", "params": None}]),
    ),
]


@pytest.mark.parametrize(("body", "valid", "message", "data"), SHEET_CASES)
def test_oracle_reproduces_the_observed_server(
    oracle: Oracle, body: Any, valid: bool, message: str, data: Any
) -> None:
    (answer,) = oracle.check([Request("post", json.dumps(body))])
    assert (answer.valid, answer.message) == (valid, message)
    if data is not None:
        assert json.loads(answer.data or "null") == data


def test_oracle_query_matches_the_observed_server(oracle: Oracle) -> None:
    answers = oracle.check(
        [
            Request("query", json.dumps({"count": "abc"})),
            Request("query", json.dumps({"foo": "1"})),
            Request("query", json.dumps({"count": "50", "offset": "0", "sort": '{"name":1}'})),
        ]
    )
    assert [(answer.valid, answer.message) for answer in answers] == [
        (False, "must be number"),
        (False, "must NOT have additional properties"),
        (True, ""),
    ]
    assert json.loads(answers[2].data or "null") == {"count": 50, "offset": 0, "sort": '{"name":1}'}


def test_oracle_reads_the_published_package(oracle: Oracle) -> None:
    dumped = oracle.dump()
    assert dumped["versions"] == {
        "@rocket.chat/rest-typings": "8.8.1",
        "ajv": "8.20.0",
        "ajv-formats": "3.0.1",
    }
    assert dumped["instances"] == {
        "post": "ajv",
        "query": "ajvQuery",
        "webhook-test": "ajv",
        "webhook-call": "ajv",
    }
    assert dumped["options"]["post"]["coerceTypes"] is True
    assert dumped["options"]["query"]["coerceTypes"] == "array"
    for options in dumped["options"].values():
        assert options["allowUnionTypes"] is True
        assert options["discriminator"] is True
        assert "allErrors" not in options


# --------------------------------------------------------------------------------------------------
# The contract document's request schemas are the package's schemas


def _inline(node: Any, document: dict[str, Any]) -> Any:
    """Resolve local $refs inline and drop descriptions."""
    if isinstance(node, list):
        return [_inline(item, document) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        assert set(node) <= {"$ref", "description"}, f"$ref with siblings: {node}"
        return _inline(pointers.resolve(document, node["$ref"]), document)
    inlined = {key: _inline(value, document) for key, value in node.items() if key != "description"}
    if isinstance(node.get("properties"), dict):  # property names are not keywords: keep `description`
        inlined["properties"] = {name: _inline(sub, document) for name, sub in node["properties"].items()}
    return inlined


def _property_orders(node: Any, path: str = "#") -> dict[str, list[str]]:
    """The order of the keys of every `properties` object (ajv reports errors in this order)."""
    found: dict[str, list[str]] = {}
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                found[f"{path}/properties"] = list(value)
            found.update(_property_orders(value, f"{path}/{key}"))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.update(_property_orders(value, f"{path}/{index}"))
    return found


def test_contract_request_schemas_equal_the_published_ones(oracle: Oracle) -> None:
    from pathlib import Path

    document_path = Path(__file__).resolve().parents[1] / "spec" / "documents" / "contract.openapi.json"
    document = json.loads(document_path.read_text("utf-8"))
    schemas = document["components"]["schemas"]
    published = oracle.dump()["schemas"]
    for ours, theirs in (
        (_inline(schemas["TriggerSaveRequest"], document), published["post"]),
        (_inline(schemas["TriggerListQuery"], document), published["query"]),
    ):
        assert ours == theirs
        assert _property_orders(ours) == _property_orders(theirs)


# --------------------------------------------------------------------------------------------------
# The differentials


def test_post_bodies_match_ajv(oracle: Oracle, record_property: Callable[[str, object], None]) -> None:
    run(
        oracle=oracle,
        record_property=record_property,
        schema="post",
        label="POST bodies",
        values=cases.post_bodies(SEED, POST_CASES),
        coverage=post_coverage,
    )


def test_list_queries_match_ajv(oracle: Oracle, record_property: Callable[[str, object], None]) -> None:
    run(
        oracle=oracle,
        record_property=record_property,
        schema="query",
        label="list queries",
        values=cases.queries(SEED, QUERY_CASES),
        coverage=query_coverage,
    )


def test_json_parsing_matches_javascript(
    oracle: Oracle, record_property: Callable[[str, object], None]
) -> None:
    run(
        oracle=oracle,
        record_property=record_property,
        schema="parse",
        label="JSON texts (parse)",
        values=cases.texts(SEED, TEXT_CASES),
        raw_texts=True,
    )


def test_odd_texts_as_post_bodies_match_ajv(
    oracle: Oracle, record_property: Callable[[str, object], None]
) -> None:
    run(
        oracle=oracle,
        record_property=record_property,
        schema="post",
        label="JSON texts (POST)",
        values=cases.texts(SEED + 1, TEXT_CASES),
        raw_texts=True,
    )


# Hypothesis: the same comparison one case at a time, so that a failure shrinks to a minimal input.

_strings = st.one_of(st.sampled_from(cases.SPECIAL_STRINGS), st.text(max_size=8))
_numbers = st.one_of(
    st.integers(-(10**25), 10**25),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(cases.RAW_NUMBERS).map(Raw),
)
_scalars = st.one_of(st.none(), st.booleans(), _numbers, _strings)
_junk = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_strings, inner, max_size=3)),
    max_leaves=8,
)


def _maybe(key: str, strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(st.just({}), strategy.map(lambda value: {key: value}))


def _typed(expected: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    # Mostly the expected kind of value, often a confusing one, sometimes anything.
    return st.one_of(expected, expected, expected, expected, expected, _scalars, _junk)


_conditions = st.lists(
    st.fixed_dictionaries(
        {
            "name": _typed(st.sampled_from(cases.CONDITION_NAMES)),
            "value": _typed(st.one_of(st.none(), _strings)),
        }
    ),
    min_size=0,
    max_size=2,
)
_send_params = st.builds(
    lambda base, name: {**base, **name},
    st.fixed_dictionaries({"sender": _typed(st.sampled_from(cases.SENDERS)), "msg": _typed(_strings)}),
    _maybe("name", _typed(st.one_of(st.none(), _strings))),
)
_service_params = st.builds(
    lambda base, sender, name: {**sender, **name, **base},
    st.fixed_dictionaries(
        {
            "serviceUrl": _typed(_strings),
            "serviceTimeout": _typed(st.one_of(_numbers, st.sampled_from(cases.NUMBER_CONFUSIONS))),
            "serviceFallbackMessage": _typed(_strings),
        }
    ),
    _maybe("sender", _typed(st.sampled_from(cases.SENDERS))),
    _maybe("name", _typed(st.one_of(st.none(), _strings))),
)
_actions = st.lists(
    st.one_of(
        st.builds(
            lambda name, params: {"name": name, **params},
            _typed(st.sampled_from(cases.ACTION_NAMES)),
            _maybe(
                "params",
                st.one_of(st.none(), _send_params, st.sampled_from(cases.NULLABLE_OBJECT_CONFUSIONS)),
            ),
        ),
        st.builds(
            lambda name, params: {"name": name, **params},
            _typed(st.sampled_from(cases.ACTION_NAMES)),
            _maybe("params", st.one_of(st.none(), _service_params)),
        ),
    ),
    min_size=0,
    max_size=2,
)
_bodies = st.builds(
    lambda base, identifier, extra: {**base, **identifier, **extra},
    st.fixed_dictionaries(
        {
            "name": _typed(_strings),
            "description": _typed(_strings),
            "enabled": _typed(st.one_of(st.booleans(), st.sampled_from(cases.BOOLEAN_CONFUSIONS))),
            "runOnce": _typed(st.one_of(st.booleans(), st.sampled_from(cases.BOOLEAN_CONFUSIONS))),
            "conditions": _typed(_conditions),
            "actions": _typed(_actions),
        }
    ),
    _maybe("_id", _typed(st.one_of(st.none(), _strings))),
    st.one_of(
        st.just({}),
        st.just({}),
        st.dictionaries(st.sampled_from(("foo", "__proto__", "0")), _junk, max_size=1),
    ),
).flatmap(
    lambda body: st.lists(st.sampled_from(cases.REQUIRED), max_size=2).map(
        lambda dropped: {key: value for key, value in body.items() if key not in dropped}
    )
)


@settings(
    derandomize=True,
    max_examples=1_500,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(body=_bodies)
def test_hypothesis_post_bodies_match_ajv(oracle: Oracle, body: Any) -> None:
    text = to_text(body)
    (oracle_answer,) = oracle.check([Request("post", text)])
    ours = python_answer("post", text)
    kinds = differences(oracle_answer, ours)
    assert not kinds, describe(Mismatch("post", body, text, kinds, oracle_answer, ours))


_query_strings = st.one_of(st.sampled_from(cases.QUERY_STRINGS), st.text(max_size=6))
_query_values = st.recursive(
    _query_strings,
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3),
        st.dictionaries(st.sampled_from(("a", "name", "0", "$gt")), inner, min_size=1, max_size=2),
    ),
    max_leaves=4,
)
_queries = st.dictionaries(
    st.one_of(st.sampled_from(("count", "offset", "sort")), st.sampled_from(cases.QUERY_KEYS)),
    _query_values,
    max_size=4,
)


@settings(
    derandomize=True,
    max_examples=500,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(query=_queries)
def test_hypothesis_list_queries_match_ajv(oracle: Oracle, query: Any) -> None:
    text = to_text(query)
    (oracle_answer,) = oracle.check([Request("query", text)])
    ours = python_answer("query", text)
    kinds = differences(oracle_answer, ours)
    assert not kinds, describe(Mismatch("query", query, text, kinds, oracle_answer, ours))
