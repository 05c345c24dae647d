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
    JsonText,
    _c_stringify,
    _parse_exact,
    _stringify_exact,
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


# -- the fast paths against the exact ones ------------------------------------------------------------------
# stringify uses the C encoder of the json module and rewrites what it writes otherwise than JavaScript;
# parse_json skips the key-order hook when no key can be an array index. Both must give exactly what the
# exact paths give (which tests/test_oracle_differential.py compares with Node).

_tricky_strings = st.sampled_from(
    [
        "", '"', "\\", '\\"', 'a"b', "a\\", ":5.0,", ",1.0]", '"x":2.0}', "[1e+21,", ":NaN,", ",Infinity]",
        "1234567890123456789", "\ud800", "a\udfffb", "\ud83d\ude00", "😀", "\u2028\u2029", "\x7f", "\x00\x1f",
        "é", "0", "10", "__proto__", "2026-11-01T12:00:00.000Z", "e+5", "-0.0",
    ]
)  # fmt: skip
_any_strings = st.one_of(_tricky_strings, st.text(st.characters(codec=None), max_size=8))
_special_floats = st.sampled_from(
    [0.0, -0.0, 1.0, -1.0, 5000.0, 1e15, 1e16, 1e21, 1e-4, 1e-5, 1e-6, 1e-7, 0.1, 1.5e-5, 2.0**53,
     2.0**53 + 2, 9007199254740991.0, 1.7976931348623157e308, 5e-324, math.inf, -math.inf, math.nan,
     0.30000000000000004, 123456789012345.67, -12.0]
)  # fmt: skip
_numbers = st.one_of(
    _special_floats,
    st.floats(),
    st.integers(-(2**70), 2**70),
    st.integers(-(10**400), 10**400),
    st.integers(-(2**60), 2**60).map(float),
)
_stringify_values = st.recursive(
    st.one_of(st.none(), st.booleans(), _numbers, _any_strings),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.tuples(children, children),
        st.dictionaries(_any_strings, children, max_size=4),
    ),
    max_leaves=25,
)


@settings(max_examples=3_000, derandomize=True, database=None, deadline=None)
@given(_stringify_values)
def test_stringify_fast_path_equals_the_exact_encoder(value: Any) -> None:
    exact = _stringify_exact(value)
    assert stringify(value) == exact
    if isinstance(value, (dict, list)):  # stringify writes small objects without the C encoder
        assert _c_stringify(value) == exact


@pytest.mark.parametrize(
    "value",
    [
        {"a": 5.0, "b": [-0.0, 1e21, 1e-7, math.nan, 2**60, 10**5000]},
        ["\\", 1.0],  # an escaped backslash ends the string: no escaped quote, yet '\\"' appears
        ['a"', 2.0, ':3.0,'],  # an escaped quote: the parity of quotes cannot be used
        {"x:1.0,": "y,2.0]", "n": 3.0},
        [[[[1.0]]]],
    ],
)  # fmt: skip
def test_stringify_fast_path_on_the_cases_it_rewrites(value: Any) -> None:
    assert stringify(value) == _stringify_exact(value)


_WRAPPERS = (
    lambda v: v,
    lambda v: [v, 1.0],
    lambda v: {"a": v, "b": 2.0, "c": None, "d": "x:1.0,", "e": [v, v]},  # large: the C encoder first
    lambda v: {"triggers": [v, v, v], "count": 3.0},
)


@settings(max_examples=1_500, derandomize=True, database=None, deadline=None)
@given(_stringify_values, st.sampled_from(range(len(_WRAPPERS))))
def test_json_text_is_written_as_the_value_it_was_written_from(value: Any, where: int) -> None:
    wrap = _WRAPPERS[where]
    text = JsonText(stringify(value))
    expected = stringify(wrap(value))
    assert stringify(wrap(text)) == expected
    assert _stringify_exact(wrap(text)) == expected
    # Its value is JSON.parse of the text: for a value as JSON.parse gives it (a store's trigger),
    # that value again.
    parsed = parse_json(stringify(value))
    stored = JsonText(stringify(parsed))
    assert stored.value() == parsed
    assert stringify(stored.value()) == stored.text


def test_json_text_deeper_than_the_recursion_limit() -> None:
    text = JsonText('{"a":[1,"\\ud800"]}')
    nested: Any = text
    for _ in range(5_000):
        nested = [nested]
    assert stringify(nested) == "[" * 5_000 + text.text + "]" * 5_000
    assert stringify({"x": text, "y": [nested]}) == '{"x":' + text.text + ',"y":[' + stringify(nested) + "]}"


def test_stringify_rejects_what_is_not_json() -> None:
    for value in ({"a": {1, 2}}, [object()], {"a": b"x"}):
        with pytest.raises(TypeError):
            stringify(value)


def _json_text(value: Any, draw_style: int) -> str:
    separators = ((",", ":"), (", ", ": "), (" ,\n", " :\t"))[draw_style % 3]
    return json.dumps(value, ensure_ascii=draw_style % 2 == 0, separators=separators, allow_nan=False)


_keys = st.one_of(
    _any_strings,
    st.sampled_from(["0", "1", "10", "01", "4294967294", "4294967295", "-1", "1.5", " 1", "__proto__"]),
    st.integers(0, 2**33).map(str),
)
_parse_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.floats(allow_nan=False, allow_infinity=False), _any_strings),
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(_keys, children, max_size=4)),
    max_leaves=25,
)


def _tokens(value: Any) -> Any:
    # Order-, type- and sign-sensitive comparison of parsed values.
    if isinstance(value, dict):
        return ("object", [(key, _tokens(item)) for key, item in value.items()])
    if isinstance(value, list):
        return ("array", [_tokens(item) for item in value])
    return (type(value).__name__, repr(value))


@settings(max_examples=3_000, derandomize=True, database=None, deadline=None)
@given(_parse_values, st.integers(0, 5), st.booleans())
def test_parse_fast_path_equals_the_exact_decoder(value: Any, style: int, escape_keys: bool) -> None:
    text = _json_text(value, style)
    if escape_keys:
        # Keys whose first character is a digit written as an escape ("\u0031") must be seen too.
        text = text.replace('"1', '"\\u0031').replace('"0', '"\\u0030')
    assert _tokens(parse_json(text)) == _tokens(_parse_exact(text))


@pytest.mark.parametrize(
    "text",
    [
        '{"b":1,"\\u0031":2}', '{"b":1, \n"2":2}', '{"a":1,"a":2,"0":3}', '{"__proto__":{"1":1,"a":2}}',
        '[{"x":"{\\"1\\":2}"}]', '{"a":[{"b":{"3":0,"c":1}}]}', '{"4294967295":1,"4294967294":2}',
    ],
)  # fmt: skip
def test_parse_orders_index_keys_wherever_they_are(text: str) -> None:
    assert _tokens(parse_json(text)) == _tokens(_parse_exact(text))


def test_parse_fast_path_still_orders_index_keys_first() -> None:
    assert list(parse_json('{"b":1,"\\u0031":2}')) == ["1", "b"]  # type: ignore[arg-type]
    assert list(parse_json('{"b":1, \n"2":2,"a":{"c":1,"3":2}}')) == ["2", "b", "a"]  # type: ignore[arg-type]
    assert list(parse_json('{"a":1,"a":2,"0":3}')) == ["0", "a"]  # type: ignore[arg-type]
