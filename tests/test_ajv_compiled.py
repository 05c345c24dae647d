"""The compiled validators of spec.ajv against the interpreter they replaced (tests/ajv_interpreter.py).

Both sides get deep copies of the same input and validate in place; the errors (instance path, keyword,
message, in order), the returned data and what coercion left in the input must be identical, types
included (``True`` is not ``1.0``, ``-0.0`` is not ``0.0``). Inputs: the contract's two schemas with
their modes (POST body, ``coerceTypes: true``; list query, ``"array"``) on the oracle's seeded cases
and on Hypothesis strategies, and random schemas of every supported keyword under all three modes,
which reach paths the contract does not (composite type errors before enum, array or object groups,
nested oneOf, type lists). Hypothesis runs derandomized; the seeded generators use fixed seeds.
The interpreter itself was proven against the real ajv (tests/test_oracle_differential.py).
"""

from __future__ import annotations

import ast
import builtins
import math
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spec.ajv import CoerceMode, SchemaError, compile_schema
from spec.contract import (
    LIST_QUERY_SCHEMA,
    POST_BODY_SCHEMA,
    contract_document,
    list_query_validator,
    post_body_validator,
    resolve_pointer,
)
from spec.jsvalues import parse_json, to_js_value
from tests.ajv_interpreter import InterpretedSchema, interpret_schema
from tests.oracle import cases

SEED = 20261201


def typed(value: Any) -> list[Any]:
    """``value`` as a flat token list, every scalar tagged by its type and floats by their repr (so
    -0.0, nan and inf differ); iterative, as the seeded cases nest deeper than the recursion limit."""
    tokens: list[Any] = []
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            tokens.append(("object", len(item)))
            for key, member in reversed(item.items()):
                pending.append(member)
                pending.append(_Key(key))
        elif isinstance(item, list):
            tokens.append(("array", len(item)))
            pending.extend(reversed(item))
        elif isinstance(item, _Key):
            tokens.append(("key", item.name))
        elif isinstance(item, float):
            tokens.append(("float", repr(item)))
        else:
            tokens.append((type(item).__name__, item))
    return tokens


class _Key:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


def _interpreted(reference: str, coerce: CoerceMode) -> InterpretedSchema:
    document = contract_document()
    return interpret_schema(
        resolve_pointer(document, reference),
        coerce=coerce,
        resolve_ref=lambda ref: resolve_pointer(document, ref),
    )


INTERPRETED_POST = _interpreted(POST_BODY_SCHEMA, True)
INTERPRETED_QUERY = _interpreted(LIST_QUERY_SCHEMA, "array")


class Compared(Counter[str]):
    """What the compared inputs exercised, so that a test can insist it meant something."""


def assert_same(
    compiled: Any, interpreted: InterpretedSchema, value: Any, seen: Compared | None = None
) -> None:
    ours, theirs = to_js_value(value), to_js_value(value)  # iterative deep copies
    result = compiled.validate(ours, in_place=True)
    expected = interpreted.validate(theirs, in_place=True)
    assert result.errors == expected.errors, (value, result.errors, expected.errors)
    assert typed(result.data) == typed(expected.data), (value, result.data, expected.data)
    assert typed(ours) == typed(theirs), (value, ours, theirs)  # the same in-place coercion
    assert (result.data is ours) == (expected.data is theirs)
    if seen is not None:
        seen["all"] += 1
        seen["valid" if result.valid else "invalid"] += 1
        if len(result.errors) > 1:
            seen["several errors"] += 1
        if typed(ours) != typed(value) or typed(result.data) != typed(value):
            seen["coerced"] += 1
        for error in result.errors:
            seen[f"keyword {error.keyword}"] += 1


def test_typed_tells_apart_what_javascript_tells_apart() -> None:
    assert typed(True) != typed(1.0)
    assert typed(-0.0) != typed(0.0)
    assert typed({"a": 1.0, "b": 2.0}) != typed({"b": 2.0, "a": 1.0})
    assert typed([None]) != typed([])


# -- the contract's schemas on the oracle's seeded cases ---------------------------------------------------


def test_post_bodies_from_the_oracle_cases() -> None:
    seen = Compared()
    for body in cases.post_bodies(SEED, 6_000):
        assert_same(post_body_validator(), INTERPRETED_POST, parse_json(cases.to_text(body)), seen)
    for text in cases.texts(SEED, 1_500):
        try:
            value = parse_json(text)
        except ValueError:
            continue
        assert_same(post_body_validator(), INTERPRETED_POST, value, seen)
    assert seen["valid"] > 600 and seen["invalid"] > 3_000, seen
    assert seen["coerced"] > 500 and seen["several errors"] > 100, seen
    for keyword in ("type", "required", "enum", "oneOf", "minItems", "additionalProperties"):
        assert seen[f"keyword {keyword}"] > 50, (keyword, seen)


def test_list_queries_from_the_oracle_cases() -> None:
    seen = Compared()
    for query in cases.queries(SEED, 4_000):
        assert_same(list_query_validator(), INTERPRETED_QUERY, parse_json(cases.to_text(query)), seen)
    assert seen["valid"] > 400 and seen["invalid"] > 400 and seen["coerced"] > 400, seen


# -- the contract's schemas on Hypothesis strategies --------------------------------------------------

_strings = st.one_of(st.sampled_from(cases.SPECIAL_STRINGS), st.text(max_size=6))
_numbers = st.one_of(
    st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 1e21, 5e-324, math.inf, -math.inf]),
    st.floats(allow_nan=False),
    st.integers(-(10**20), 10**20).map(float),
)
_scalars = st.one_of(st.none(), st.booleans(), _numbers, _strings)
_keys = st.sampled_from(["name", "value", "params", "sender", "msg", "a", "__proto__", "0", "~/x", ""])
_junk = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_keys, inner, max_size=3)),
    max_leaves=10,
)


def _typed(expected: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    # Mostly the expected kind of value, often a coercible or a confusing one, sometimes anything.
    return st.one_of(expected, expected, expected, _scalars, _junk)


def _maybe(key: str, strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(st.just({}), strategy.map(lambda value: {key: value}))


_params = st.builds(
    lambda *parts: {key: value for part in parts for key, value in part.items()},
    _maybe("sender", _typed(st.sampled_from(cases.SENDERS))),
    _maybe("msg", _typed(_strings)),
    _maybe("name", _typed(st.one_of(st.none(), _strings))),
    _maybe("serviceUrl", _typed(_strings)),
    _maybe("serviceTimeout", _typed(st.one_of(_numbers, st.sampled_from(["5", " 12 ", "0x1A", "", "x"])))),
    _maybe("serviceFallbackMessage", _typed(_strings)),
    st.one_of(st.just({}), st.just({}), st.just({}), _maybe("extra", _junk)),
)
_actions = st.lists(
    st.builds(
        lambda name, params: {**name, **params},
        _maybe("name", _typed(st.sampled_from(cases.ACTION_NAMES))),
        _maybe("params", st.one_of(st.none(), _params, st.sampled_from(["", 0.0, False, "0", [], True]))),
    ),
    max_size=3,
)
_conditions = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "name": _typed(st.sampled_from(cases.CONDITION_NAMES)),
            "value": _typed(st.one_of(st.none(), _strings, _numbers)),
            "extra": _junk,
        },
    ),
    max_size=3,
)
_bodies = st.fixed_dictionaries(
    {},
    optional={
        "name": _typed(_strings),
        "description": _typed(_strings),
        "enabled": _typed(st.one_of(st.booleans(), st.sampled_from(["true", "false", 0.0, 1.0, None]))),
        "runOnce": _typed(st.one_of(st.booleans(), st.sampled_from(["true", "false", 0.0, 1.0, None]))),
        "conditions": _typed(_conditions),
        "actions": _typed(_actions),
        "_id": _typed(st.one_of(st.none(), _strings)),
        "foo": _junk,
    },
)


def _settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


@_settings(2_500)
@given(body=st.one_of(_bodies, _bodies, _bodies, _junk))
def test_hypothesis_post_bodies(body: Any) -> None:
    assert_same(post_body_validator(), INTERPRETED_POST, body)


_query_values = st.recursive(
    st.one_of(st.sampled_from(cases.QUERY_STRINGS), st.text(max_size=4)),
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3),
        st.dictionaries(st.sampled_from(("a", "0", "$gt")), inner, min_size=1, max_size=2),
    ),
    max_leaves=4,
)


@_settings(1_500)
@given(
    query=st.dictionaries(
        st.sampled_from(("count", "offset", "sort", "fields", "0")),
        st.one_of(_query_values, _scalars),
        max_size=4,
    )
)
def test_hypothesis_list_queries(query: dict[str, Any]) -> None:
    assert_same(list_query_validator(), INTERPRETED_QUERY, query)


# -- random schemas of every supported keyword, all three coercion modes ----------------------------------

_TYPES = ("string", "number", "integer", "boolean", "null", "array", "object")
_NAMES = ("a", "b", "~/x")
_types = st.one_of(
    st.sampled_from(_TYPES), st.lists(st.sampled_from(_TYPES), min_size=1, max_size=3, unique=True)
)
_enum_values = st.one_of(
    st.sampled_from(["a", "", "1", "true", 0.0, 1.0, -0.0, True, False, None]),
    st.just([1.0]),
    st.just({"a": "a"}),
)


def _schema_extend(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {},
        optional={
            "type": _types,
            "nullable": st.booleans(),
            "enum": st.lists(_enum_values, min_size=1, max_size=3),
            "required": st.lists(st.sampled_from(_NAMES), max_size=2, unique=True),
            "additionalProperties": st.booleans(),
            "properties": st.dictionaries(st.sampled_from(_NAMES), children, max_size=3),
            "minItems": st.integers(0, 2),
            "items": children,
            "oneOf": st.lists(children, min_size=1, max_size=3),
            "description": st.just("annotations are ignored"),
        },
    ).map(lambda schema: schema if "type" in schema else {k: v for k, v in schema.items() if k != "nullable"})


_schemas = st.recursive(
    st.fixed_dictionaries(
        {}, optional={"type": _types, "enum": st.lists(_enum_values, min_size=1, max_size=2)}
    ),
    _schema_extend,
    max_leaves=8,
)
_data_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from([0.0, -0.0, 1.0, 2.5, 1e21, math.inf]),
    st.sampled_from(["", "a", "0", "1", "2.5", "true", "false", "null", " 12 ", "x1", "~"]),
)
_data = st.recursive(
    _data_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from((*_NAMES, "z")), inner, max_size=3),
    ),
    max_leaves=10,
)


@_settings(4_000)
@given(
    schema=_schemas,
    mode=st.sampled_from([False, True, "array"]),
    data=st.lists(_data, min_size=1, max_size=4),
)
def test_random_schemas(schema: dict[str, Any], mode: CoerceMode, data: list[Any]) -> None:
    compiled = compile_schema(schema, coerce=mode)
    interpreted = interpret_schema(schema, coerce=mode)
    for value in data:
        assert_same(compiled, interpreted, value)


def test_deep_schemas_compile_into_several_functions() -> None:
    # Deeper than CPython's limits on indentation and nested loops if it were all one function.
    schema: dict[str, Any] = {"type": "string"}
    for depth in range(60):
        schema = (
            {"type": "array", "items": schema}
            if depth % 2
            else {"type": "object", "properties": {"a": schema}}
        )
    value: Any = 5.0
    for depth in range(60):
        value = [value] if depth % 2 else {"a": value}
    for mode in (False, True, "array"):
        compiled = compile_schema(schema, coerce=mode)
        assert compiled.source.count("\ndef ") > 1
        assert_same(compiled, interpret_schema(schema, coerce=mode), value)


# The names generated code may call: the validator's own helpers and a few builtins; anything else in
# the source (an import, eval, a call on data) would mean schema text escaped its quotes.
_ALLOWED_CALLS = frozenset(
    {"_new_error", "frozenset", "tuple", "isinstance", "len", "range", "str", "type", "float", "_isfinite"}
    | {"_enum_match", "_json_loads"}
    | {f"_coerce_{json_type}" for json_type in _TYPES}
)
_ALLOWED_METHODS = frozenset({"append", "keys", "is_integer"})


def _assert_only_expected_calls(source: str) -> None:
    tree = ast.parse(source)
    defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    for node in ast.walk(tree):
        assert not isinstance(node, (ast.Import, ast.ImportFrom, ast.Lambda, ast.ClassDef)), ast.dump(node)
        if isinstance(node, ast.Call):
            function = node.func
            if isinstance(function, ast.Name):
                assert function.id in _ALLOWED_CALLS | defined, ast.unparse(node)
            else:
                assert isinstance(function, ast.Attribute) and function.attr in _ALLOWED_METHODS, ast.unparse(
                    node
                )


def test_schema_strings_are_quoted_into_the_generated_code() -> None:
    # Property names, enum values and required names reach the source only through repr().
    hostile = [
        "x'); __import__('builtins').HACKED = 1; ('",
        '"\n__import__("builtins").HACKED = 1\n"',
        "\n\\",
    ]
    schema = {
        "type": "object",
        "properties": {name: {"type": "string", "enum": [*hostile, 1.0]} for name in hostile},
        "required": hostile,
        "additionalProperties": False,
    }
    compiled = compile_schema(schema, coerce=True)
    _assert_only_expected_calls(compiled.source)
    assert not hasattr(builtins, "HACKED")
    interpreted = interpret_schema(schema, coerce=True)
    full = dict.fromkeys(hostile, hostile[0])
    for value in ({}, full, {**full, hostile[1]: 1.0}, {**full, hostile[2]: True}, {**full, "z": 1.0}):
        assert_same(compiled, interpreted, value)


def test_the_contract_code_calls_only_its_helpers() -> None:
    _assert_only_expected_calls(post_body_validator().source)
    _assert_only_expected_calls(list_query_validator().source)


@pytest.mark.parametrize(
    "schema",
    [{"minItems": 1.5}, {"minItems": -1}, {"required": "a"}, {"enum": "a"}, {"type": 5}, {"oneOf": {}}],
)
def test_malformed_keywords_are_refused(schema: dict[str, Any]) -> None:
    with pytest.raises(SchemaError):
        compile_schema(schema, coerce=True)


def test_the_same_schema_compiles_once() -> None:
    first = compile_schema({"type": "string"}, coerce=True)
    second = compile_schema({"type": "string"}, coerce=True)
    assert first.function is second.function
    assert compile_schema({"type": "string"}, coerce=False).function is not first.function


def test_validate_without_in_place_reads_python_ints_as_numbers() -> None:
    result = post_body_validator().validate({"name": 1})
    expected = INTERPRETED_POST.validate(to_js_value({"name": 1}), in_place=True)
    assert result.errors == expected.errors
