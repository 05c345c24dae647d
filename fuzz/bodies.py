"""Hypothesis strategies for the JSON values of trigger POST bodies, derived from the contract's schemas.

Valid bodies are drawn from ``TriggerSaveRequest`` keyword by keyword. A scalar is any value the
schema's ``type`` accepts *after* ajv's coercion (``coerceTypes: true``), as ``spec.ajv`` judges it, so
numbers turn up where strings are expected, ``"true"`` and ``0`` where booleans are, and so on.
Invalid bodies are valid ones broken by one edit of ``fuzz.mutations`` (a deleted required key, an
unknown key, a value of the wrong type, an enum miss, too few items, a ``oneOf`` mismatch), at any depth;
``INVALID_BODY_KINDS`` names the kinds so reports and corpora can say which one failed.

Every strategy here draws plain Python JSON values; the expected answer always comes from
``spec.predict``, never from this module.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from functools import cache
from typing import Any

from hypothesis import strategies as st

from fuzz import mutations
from spec import contract

__all__ = [
    "ACTION_NAMES",
    "CONDITION_NAMES",
    "INVALID_BODY_KINDS",
    "POST_BODY_SCHEMA",
    "SENDERS",
    "action_lists_with_params",
    "actions",
    "coercible",
    "conditions",
    "from_schema",
    "invalid_bodies",
    "json_values",
    "texts",
    "trigger_bodies",
]

# Read from the contract document, so the generators follow it when it changes.
CONDITION_NAMES = contract.condition_names()
ACTION_NAMES = contract.action_names()
SENDERS = contract.senders()
POST_BODY_SCHEMA = mutations.resolve({"$ref": contract.POST_BODY_SCHEMA})
_CONDITION_SCHEMA = mutations.resolve(POST_BODY_SCHEMA["properties"]["conditions"]["items"])
_ACTION_SCHEMA = mutations.resolve(POST_BODY_SCHEMA["properties"]["actions"]["items"])

INVALID_BODY_KINDS: tuple[str, ...] = mutations.KINDS
"""The kinds of invalid body ``invalid_bodies`` draws, by name (see ``fuzz.mutations``)."""

Overrides = Mapping[mutations.Path, st.SearchStrategy[Any]]

# Strings at the edges of ajv's coercion: to boolean, number and null, and the near misses.
_EDGE_STRINGS = ("true", "false", "1", "0", "", "null", " 42 ", "-7", "1.5", "1e3", "0x10", "Infinity", "abc")


def texts(max_size: int = 24, min_size: int = 0) -> st.SearchStrategy[str]:
    """Short strings of any Unicode text, the empty string included (the schema has no ``minLength``)."""
    return st.text(min_size=min_size, max_size=max_size)


def _finite_numbers() -> st.SearchStrategy[int | float]:
    # JS has one number type; ints and floats both arrive as doubles, but their JSON text differs.
    return st.one_of(
        st.integers(min_value=-(2**53), max_value=2**53),
        st.floats(allow_nan=False, allow_infinity=False),
    )


def _scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        texts(),
        st.sampled_from(_EDGE_STRINGS),
        st.integers(min_value=-(10**6), max_value=10**6).map(str),
        _finite_numbers(),
        st.sampled_from([0, 1]),
        st.booleans(),
        st.none(),
    )


@cache
def json_values(max_leaves: int = 6) -> st.SearchStrategy[Any]:
    """Any small JSON value: scalars, arrays and objects, nested."""
    # One instance per size: a recursive strategy is costly to validate, and callers draw from it often.
    return st.recursive(
        _scalars(),
        lambda children: st.one_of(
            st.lists(children, max_size=3), st.dictionaries(texts(6), children, max_size=3)
        ),
        max_leaves=max_leaves,
    )


_NATIVE: dict[str, st.SearchStrategy[Any]] = {
    "string": texts(),
    "number": _finite_numbers(),
    "integer": st.integers(min_value=-(2**53), max_value=2**53),
    "boolean": st.booleans(),
    "null": st.none(),
}
# Other sources of scalars, each with values it always draws alike: a source joins ``coercible`` only
# when ajv coerces all of its probes, so nothing it draws has to be filtered away often.
_SOURCES: tuple[tuple[st.SearchStrategy[Any], tuple[Any, ...]], ...] = (
    (texts(), ("abc", "x y", "")),
    (st.integers(min_value=-(10**6), max_value=10**6).map(str), ("5", "-12")),
    (_finite_numbers(), (1.5, -7, 0, 3)),
    (st.booleans(), (True, False)),
    (st.none(), (None,)),
)


@cache
def coercible(types: tuple[str, ...]) -> st.SearchStrategy[Any]:
    """Scalars that ``type: types`` accepts under ajv's coercion, as ``spec.ajv`` judges it: values of
    the types themselves, every edge string and number it coerces, and whole sources it always coerces."""
    # One instance per tuple of types: its filters are analysed and validated once, not once per body
    # strategy that uses them.

    def accepted(value: Any) -> bool:
        return mutations.accepts_type(value, types)

    options = [_NATIVE[name] for name in types if name in _NATIVE]
    options += [source.filter(accepted) for source, probes in _SOURCES if all(map(accepted, probes))]
    edges = [value for value in (*_EDGE_STRINGS, 0, 1, 2, -1, 0.5, True, False, None) if accepted(value)]
    if edges:
        options.append(st.sampled_from(edges))
    return st.one_of(options)


def from_schema(
    schema: Mapping[str, Any], overrides: Overrides | None = None, path: mutations.Path = ()
) -> st.SearchStrategy[Any]:
    """Values ``schema`` accepts; ``overrides`` replaces the strategy at given paths (keys of objects)."""
    overrides = overrides or {}
    if path in overrides:
        return overrides[path]
    schema = mutations.resolve(schema)
    if "oneOf" in schema:
        return st.one_of([from_schema(branch, overrides, path) for branch in schema["oneOf"]])
    types = mutations.schema_types(schema)
    if "enum" in schema:
        return st.sampled_from(tuple(schema["enum"]))
    options: list[st.SearchStrategy[Any]] = []
    if "object" in types:
        properties = schema.get("properties", {})
        required = set(schema.get("required", ()))
        # fixed_dictionaries(optional=...) leaves keys out: the "absent" case of every optional key.
        drawn = {key: from_schema(child, overrides, (*path, key)) for key, child in properties.items()}
        options.append(
            st.fixed_dictionaries(
                {key: value for key, value in drawn.items() if key in required},
                optional={key: value for key, value in drawn.items() if key not in required},
            )
        )
    if "array" in types:
        least = schema.get("minItems", 0)
        items = from_schema(schema["items"], overrides, (*path, "items"))
        options.append(st.lists(items, min_size=least, max_size=least + 2))
    scalar_types = tuple(t for t in types if t not in ("object", "array"))
    if scalar_types:
        options.append(coercible(scalar_types))
    return st.one_of(options)


def conditions() -> st.SearchStrategy[dict[str, Any]]:
    """One valid condition object ``{name, value}``."""
    return from_schema(_CONDITION_SCHEMA)


def actions(name: str | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """A valid action: of the ``oneOf`` branch whose ``name`` enum holds ``name``, or of any branch."""
    if name is None:
        return from_schema(_ACTION_SCHEMA)
    for branch in _ACTION_SCHEMA["oneOf"]:
        if name in mutations.resolve(branch)["properties"]["name"]["enum"]:
            return from_schema(branch)
    raise ValueError(f"no action named {name!r} in the contract; known: {ACTION_NAMES}")


def _with_params(branch: Mapping[str, Any]) -> Mapping[str, Any]:
    branch = mutations.resolve(branch)
    params = {**mutations.resolve(branch["properties"]["params"]), "nullable": False}
    return {
        **branch,
        "properties": {**branch["properties"], "params": params},
        "required": [*branch.get("required", ()), "params"],
    }


def action_lists_with_params() -> st.SearchStrategy[list[Any]]:
    """Valid action lists in which at least one action (of any branch) carries a ``params`` object.

    Only such an action can be broken by giving it another branch's ``name``: without params every
    branch accepts it. Bodies with these lists are where ``one-of-mismatch`` edits exist, so that kind
    need not throw away most of the bodies it draws.
    """
    schema = POST_BODY_SCHEMA["properties"]["actions"]
    least = schema.get("minItems", 0)
    with_params = st.one_of([from_schema(_with_params(branch)) for branch in _ACTION_SCHEMA["oneOf"]])
    others = st.lists(actions(), max_size=max(0, least + 1))
    return st.builds(
        lambda first, rest, at: [*rest[:at], first, *rest[at:]], with_params, others, st.integers(0, 2)
    )


def trigger_bodies(
    *,
    name: st.SearchStrategy[Any] | None = None,
    description: st.SearchStrategy[Any] | None = None,
    enabled: st.SearchStrategy[Any] | None = None,
    run_once: st.SearchStrategy[Any] | None = None,
    condition_lists: st.SearchStrategy[list[Any]] | None = None,
    action_lists: st.SearchStrategy[list[Any]] | None = None,
    trigger_id: st.SearchStrategy[Any] | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    """A valid POST body; each argument replaces the strategy of one property.

    ``trigger_id`` draws the ``_id`` value; by default ``_id`` is absent, ``null`` or ``""`` (all three
    insert); pass a strategy to always send ``_id`` with its values (e.g. ids of stored triggers).
    """
    given = {
        "name": name,
        "description": description,
        "enabled": enabled,
        "runOnce": run_once,
        "conditions": condition_lists,
        "actions": action_lists,
    }
    overrides: dict[mutations.Path, st.SearchStrategy[Any]] = {
        (key,): strategy for key, strategy in given.items() if strategy is not None
    }
    # An _id the server knows updates, an unknown one is a no-op: by default every body inserts.
    overrides[("_id",)] = st.sampled_from([None, ""])
    body = from_schema(POST_BODY_SCHEMA, overrides)
    if trigger_id is None:
        return body
    return st.tuples(body, trigger_id).map(lambda drawn: {**drawn[0], "_id": drawn[1]})


_SHAPE_PROBES: tuple[Any, ...] = ([1], {"k": 1}, "abc", 1.5)
"""One value of each shape ``_shapes`` can draw (array, object, text, number), in its order."""


@cache
def _shapes(wanted: tuple[bool, ...]) -> st.SearchStrategy[Any]:
    shapes = (
        st.lists(json_values(3), max_size=3),
        st.dictionaries(texts(6), json_values(3), max_size=3),
        texts(),
        _finite_numbers(),
    )
    return st.one_of([strategy for strategy, keep in zip(shapes, wanted, strict=True) if keep])


_ADDITIONAL = st.tuples(texts(8, min_size=1), _scalars())
_ENUM_MISSES = texts(12)


def _free_values(edit: mutations.Edit) -> st.SearchStrategy[Any]:
    # Built once per kind of site and reused: strategies made per draw are validated per draw.
    if edit.kind == "additional-property":
        return _ADDITIONAL
    if edit.kind == "enum-violation":
        return _ENUM_MISSES
    # Only the shapes of value that can miss the site's type: the filter then rarely throws one away.
    assert edit.wanted is not None
    return _shapes(tuple(bool(edit.wanted(probe)) for probe in _SHAPE_PROBES))


_EDIT_VALUES: dict[tuple[str, Any], tuple[tuple[Any, ...], st.SearchStrategy[Any]]] = {}
"""``_edit_values`` by the edit's kind and predicate (``fuzz.mutations`` shares one per schema): a new
filtered strategy costs a validation and an analysis of its predicate at its first draw."""


def _edit_values(edit: mutations.Edit) -> st.SearchStrategy[Any]:
    if edit.wanted is None:
        return st.sampled_from(edit.examples)
    key = (edit.kind, edit.wanted)
    cached = _EDIT_VALUES.get(key)
    if cached is not None and cached[0] is edit.examples:
        return cached[1]
    drawn = _free_values(edit).filter(edit.wanted)
    strategy = st.one_of(st.sampled_from(edit.examples), drawn) if edit.examples else drawn
    if len(_EDIT_VALUES) < 1024:  # the key holds the predicate alive: bounded for callers' own edits
        _EDIT_VALUES[key] = (edit.examples, strategy)
    return strategy


@st.composite
def _broken(draw: st.DrawFn, base: st.SearchStrategy[dict[str, Any]], kind: str | None) -> Any:
    # Start from a valid body, then apply one edit: the error the server reports is then that edit's.
    body = draw(base)
    available = mutations.edits(body, POST_BODY_SCHEMA, None if kind is None else (kind,))
    if kind is None and available:
        # Each kind equally often, whatever the number of places it can happen in.
        chosen_kind = draw(st.sampled_from(sorted({edit.kind for edit in available})))
        available = [edit for edit in available if edit.kind == chosen_kind]
    if not available:
        return draw(st.nothing())
    edit = draw(st.sampled_from(available))
    return edit.apply(body, draw(_edit_values(edit)))


def _invalid(body: Any) -> bool:
    return not contract.validate_post_body(copy.deepcopy(body)).valid


def invalid_bodies(
    kind: str | None = None, base: st.SearchStrategy[dict[str, Any]] | None = None
) -> st.SearchStrategy[Any]:
    """Bodies the server rejects with 400: one kind from ``INVALID_BODY_KINDS``, or any kind when ``None``.

    Each takes a valid body from ``base`` (default ``trigger_bodies()``) and breaks it in one place, so
    callers can keep their own conventions (names, ``enabled``) in the rest. An edit that happens to
    leave the body valid (a coercion the edit did not foresee) is never drawn.
    """
    if kind is not None and kind not in INVALID_BODY_KINDS:
        raise ValueError(f"unknown invalid body kind {kind!r}; known: {INVALID_BODY_KINDS}")
    return _broken(base if base is not None else trigger_bodies(), kind).filter(_invalid)
