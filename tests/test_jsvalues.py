"""JavaScript value semantics: JSON.parse/JSON.stringify and number conversions."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spec.jsvalues import (
    JsonSyntaxError,
    js_number_to_string,
    js_parse_int,
    js_string_to_number,
    parse_json,
    stringify,
    to_js_value,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, derandomize=True)
@given(json_values)
def test_stringify_then_parse_round_trips(value: Any) -> None:
    # JavaScript puts array-index keys first, so compare with the value as JavaScript holds it.
    text = stringify(to_js_value(value))
    assert stringify(parse_json(stringify(value))) == text


@settings(max_examples=300, derandomize=True)
@given(json_values)
def test_parse_agrees_with_python_json_on_values(value: Any) -> None:
    text = json.dumps(value)
    assert stringify(parse_json(text)) == stringify(to_js_value(json.loads(text)))


@pytest.mark.parametrize(
    ("number", "text"),
    [(1.0, "1"), (-0.0, "0"), (1.5, "1.5"), (1e21, "1e+21"), (1e20, "100000000000000000000"), (5e-7, "5e-7"),
     (1e-6, "0.000001"), (0.1 + 0.2, "0.30000000000000004"), (math.inf, "Infinity"), (-math.inf, "-Infinity"),
     (math.nan, "NaN"), (123e-20, "1.23e-18"), (2.5e25, "2.5e+25")],
)  # fmt: skip
def test_number_to_string(number: float, text: str) -> None:
    assert js_number_to_string(number) == text


@pytest.mark.parametrize(
    ("text", "number"),
    [("", 0.0), (" \n", 0.0), (" 12 ", 12.0), ("0x1A", 26.0), ("0b101", 5.0), ("0o17", 15.0),
     ("1e3", 1000.0), ("+5", 5.0), (".5", 0.5), ("5.", 5.0), ("Infinity", math.inf),
     ("-Infinity", -math.inf), ("\u00a012", 12.0)],
)  # fmt: skip
def test_string_to_number(text: str, number: float) -> None:
    assert js_string_to_number(text) == number


@pytest.mark.parametrize("text", ["1_000", "-0x10", "inf", "nan", "١", "1e", "--1", "0x", "abc"])
def test_string_to_number_nan(text: str) -> None:
    assert math.isnan(js_string_to_number(text))


@pytest.mark.parametrize(
    ("text", "number"), [("1e+21", 1.0), ("5e-7", 5.0), (" -12abc", -12.0), ("0x1f", 31.0)]
)
def test_parse_int(text: str, number: float) -> None:
    assert js_parse_int(text) == number


@pytest.mark.parametrize(
    "text", ["", "NaN", "Infinity", "[1,]", '{"a":1,}', "[1 2]", "{'a':1}", "01", "\ufeff{}", "1 2"]
)
def test_parse_rejects_what_json_parse_rejects(text: str) -> None:
    with pytest.raises(JsonSyntaxError):
        parse_json(text)


def test_parse_orders_array_index_keys_first_like_javascript() -> None:
    assert list(parse_json('{"b":1,"10":2,"2":3,"01":4}')) == ["2", "10", "b", "01"]  # type: ignore[arg-type]


def test_parse_keeps_last_duplicate_at_first_position() -> None:
    assert stringify(parse_json('{"a":1,"b":2,"a":3}')) == '{"a":3,"b":2}'


@pytest.mark.parametrize("depth", [5_000, 100_000])
def test_parse_handles_nesting_deeper_than_the_recursion_limit(depth: int) -> None:
    nested = parse_json('{"a":' * depth + "[1]" + "}" * depth)
    for _ in range(depth):
        assert isinstance(nested, dict)
        nested = nested["a"]
    assert nested == [1.0]


@pytest.mark.parametrize(
    "text",
    ["[" * 5000 + "]" * 4999, "[" * 5000 + "1,]" + "]" * 4999, '{"a":' * 5000 + "}"],
    ids=["unclosed", "trailing-comma", "missing-value"],
)
def test_deep_parser_rejects_malformed(text: str) -> None:
    with pytest.raises(JsonSyntaxError):
        parse_json(text)


def test_stringify_escapes_like_javascript() -> None:
    assert stringify('\ud800\n\x01\u2028é"\\/') == '"\\ud800\\n\\u0001\u2028é\\"\\\\/"'
    assert stringify({"n": [1, 2.0, math.inf, -0.0]}) == '{"n":[1,2,null,0]}'


def test_huge_numbers_become_infinity() -> None:
    assert parse_json("1e999") == math.inf
    assert parse_json("9" * 5000) == math.inf
