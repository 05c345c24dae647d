"""Negative cases derived from a JSON schema: every place a valid instance can be broken, and how.

Walking a valid instance alongside the schema that accepts it gives the *sites* (each value with the
subschema that judges it); each keyword of a site's schema gives the *edits* that violate it:

=====================  ==========================================================================
kind                   edit
=====================  ==========================================================================
missing-required       delete one key that ``required`` lists
additional-property    add a key the schema's ``properties`` do not know (``additionalProperties:
                       false``)
wrong-type             a scalar site gets a value no allowed ``type`` accepts, coercion included
not-an-object          an object site (the body itself, array items, ``params``) gets a non-object
not-an-array           an array site gets a non-array
enum-violation         an ``enum`` site gets a value outside the enum
too-few-items          an array gets fewer items than ``minItems``
one-of-mismatch        a ``oneOf`` site gets the discriminating values of another branch (only where
                       that leaves it matching no branch, or several)
=====================  ==========================================================================

This module is pure and deterministic: ``edits`` lists every edit with a few representative values,
so a caller can cover each one (``contract_tests``) or let Hypothesis draw among them (``fuzz.bodies``).
Whether an edited instance really is invalid, and what the server answers, is for ``spec`` to say.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from spec.ajv import compile_schema
from spec.contract import contract_document, resolve_pointer

__all__ = [
    "KINDS",
    "Edit",
    "Site",
    "accepts",
    "accepts_type",
    "deleted",
    "edits",
    "replaced",
    "resolve",
    "schema_types",
    "sites",
]

Path = tuple[str | int, ...]

KINDS = (
    "missing-required",
    "additional-property",
    "wrong-type",
    "not-an-object",
    "not-an-array",
    "enum-violation",
    "too-few-items",
    "one-of-mismatch",
)

# Values tried where a site needs a value of the wrong type: every JSON type, and the scalars at
# the edges of ajv's coercion ("" and 0 become null, "1" a number, "true" a boolean...).
_PROBES: tuple[Any, ...] = (
    {},
    {"k": 1},
    [],
    [1],
    "abc",
    "",
    "true",
    "1",
    1.5,
    0,
    1,
    True,
    False,
    None,
)


def resolve(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """Follow local ``$ref`` s of the contract document until a schema with content is reached."""
    while "$ref" in schema:
        schema = resolve_pointer(contract_document(), schema["$ref"])
    return schema


def schema_types(schema: Mapping[str, Any]) -> tuple[str, ...]:
    """The JSON types a schema allows (``nullable`` read as OpenAPI 3.0 means it)."""
    raw = schema.get("type")
    types = [raw] if isinstance(raw, str) else list(raw or ())
    if schema.get("nullable") is True and "null" not in types:
        types.append("null")
    return tuple(types)


_SCALAR_TYPES = (str, int, float, bool, type(None))


@cache
def _type_checker(types: tuple[str, ...]) -> Callable[[Any], bool]:
    validator = compile_schema({"type": list(types)}, coerce=True, resolve_ref=lambda ref: {})

    def check(value: Any) -> bool:
        # Coercion replaces a scalar in its holder, never the scalar itself: only containers need a copy.
        working = value if type(value) in _SCALAR_TYPES else copy.deepcopy(value)
        return validator.validate(working, in_place=True).valid

    return check


def accepts_type(value: Any, types: Sequence[str]) -> bool:
    """Whether ``type: types`` accepts ``value`` under ajv's ``coerceTypes: true``, judged by spec.ajv."""
    return _type_checker(tuple(types))(value)


@dataclass(frozen=True)
class Site:
    """One value of a valid instance and the (resolved) subschema that judges it."""

    path: Path
    schema: Mapping[str, Any]
    value: Any


@cache
def _validator(schema_json: str) -> Callable[[Any], bool]:
    document = contract_document()
    validator = compile_schema(
        json.loads(schema_json), coerce=True, resolve_ref=lambda ref: resolve_pointer(document, ref)
    )
    return lambda value: validator.validate(copy.deepcopy(value), in_place=True).valid


_BY_IDENTITY: dict[int, tuple[Mapping[str, Any], Callable[[Any], bool]]] = {}
"""The validator of each schema object seen, so that a subschema is serialised once, not per call (the
entry keeps the object alive, so its id is not reused)."""


def accepts(schema: Mapping[str, Any], value: Any) -> bool:
    """Whether ``schema`` (a subschema of the contract) accepts ``value`` as the server's ajv would,
    coercion included; ``value`` itself is left as it is."""
    entry = _BY_IDENTITY.get(id(schema))
    if entry is None or entry[0] is not schema:
        if len(_BY_IDENTITY) > 4096:  # callers passing fresh schemas each time: stay bounded
            _BY_IDENTITY.clear()
        entry = (schema, _validator(json.dumps(schema, sort_keys=True)))
        _BY_IDENTITY[id(schema)] = entry
    return entry[1](value)


def replaced(root: Any, path: Path, value: Any) -> Any:
    """A deep copy of ``root`` with (a copy of) ``value`` under ``path``; a missing last key is added."""
    if not path:
        return copy.deepcopy(value)
    edited = copy.deepcopy(root)
    _at(edited, path[:-1])[path[-1]] = copy.deepcopy(value)
    return edited


def deleted(root: Any, path: Path) -> Any:
    """A deep copy of ``root`` without the node under ``path``."""
    edited = copy.deepcopy(root)
    del _at(edited, path[:-1])[path[-1]]
    return edited


def sites(instance: Any, schema: Mapping[str, Any], path: Path = ()) -> Iterator[Site]:
    """Every site of a valid ``instance``, outermost first; a ``oneOf`` site is followed by the sites of
    the branch the instance matches."""
    schema = resolve(schema)
    yield Site(path, schema, instance)
    if "oneOf" in schema:
        for branch in schema["oneOf"]:
            if accepts(branch, instance):
                yield from sites(instance, branch, path)
                break
        return
    if isinstance(instance, dict):
        for key, child in schema.get("properties", {}).items():
            if key in instance:
                yield from sites(instance[key], child, (*path, key))
    elif isinstance(instance, list) and "items" in schema:
        for index, item in enumerate(instance):
            yield from sites(item, schema["items"], (*path, index))


@dataclass(frozen=True)
class Edit:
    """One way to break a valid instance at ``path``.

    ``apply(instance, value)`` returns an edited deep copy; ``examples`` are representative values for
    ``value`` (a single ``None`` where the edit takes none), and ``wanted`` tells whether any other
    value fits this edit, so a generator can draw more of them.
    """

    kind: str
    path: Path
    detail: str
    apply: Callable[[Any, Any], Any]
    examples: tuple[Any, ...]
    wanted: Callable[[Any], bool] | None = None


def _at(instance: Any, path: Path) -> Any:
    for part in path:
        instance = instance[part]
    return instance


def _setter(path: Path) -> Callable[[Any, Any], Any]:
    return lambda instance, value: replaced(instance, path, value)


def _deleter(path: Path, key: str) -> Callable[[Any, Any], Any]:
    return lambda instance, value: deleted(instance, (*path, key))


def _adder(path: Path) -> Callable[[Any, Any], Any]:
    return lambda instance, value: replaced(instance, (*path, value[0]), value[1])


def _truncater(path: Path, size: int) -> Callable[[Any, Any], Any]:
    def apply(instance: Any, value: Any) -> Any:
        edited = copy.deepcopy(instance)
        del _at(edited, path)[size:]
        return edited

    return apply


@cache
def _wrong_type(types: tuple[str, ...]) -> tuple[tuple[Any, ...], Callable[[Any], bool], str]:
    # The same for every site of these types: probed once, not for every site of every drawn body.
    def wrong(value: Any) -> bool:
        return not accepts_type(value, types)

    examples = tuple(probe for probe in _PROBES if wrong(probe))
    return examples, wrong, f"a value no type of {list(types)} accepts"


def _type_edits(site: Site) -> Iterator[Edit]:
    types = schema_types(site.schema)
    if not types:
        return
    kind = "not-an-object" if "object" in types else "not-an-array" if "array" in types else "wrong-type"
    examples, wrong, detail = _wrong_type(types)
    yield Edit(kind, site.path, detail, _setter(site.path), examples, wrong)


def _object_edits(site: Site) -> Iterator[Edit]:
    if not isinstance(site.value, dict):
        return
    for key in site.schema.get("required", ()):
        if key in site.value:
            yield Edit("missing-required", site.path, f"without {key!r}", _deleter(site.path, key), (None,))
    if site.schema.get("additionalProperties") is False:
        examples, unknown = _unknown_key(frozenset(site.schema.get("properties", {})))
        yield Edit("additional-property", site.path, "an unknown key", _adder(site.path), examples, unknown)


# The predicates and examples below depend on the schema alone: made once per schema, so that every
# site of that schema shares them (and a generator can reuse what it builds from them).


@cache
def _unknown_key(known: frozenset[str]) -> tuple[tuple[Any, ...], Callable[[Any], bool]]:
    def unknown(value: Any) -> bool:
        return isinstance(value, tuple) and value[0] not in known

    examples = tuple(
        (key, item) for key, item in (("unexpected", 1), ("x", None), ("extra", "")) if key not in known
    )
    return examples, unknown


@cache
def _outside_enum(
    types: tuple[str, ...], allowed: tuple[Any, ...]
) -> tuple[tuple[Any, ...], Callable[[Any], bool]]:
    def outside(value: Any) -> bool:
        # A value of an allowed type that the enum refuses, so the edit violates ``enum`` and not ``type``.
        return accepts_type(value, types) and value not in allowed

    return tuple(value for value in ("invalid", f"{allowed[0]}-x", "") if outside(value)), outside


def _enum_edits(site: Site) -> Iterator[Edit]:
    allowed = site.schema.get("enum")
    if allowed is None:
        return
    try:
        examples, outside = _outside_enum(schema_types(site.schema), tuple(allowed))
    except TypeError:  # an enum of objects or arrays is not hashable: no sharing then
        examples, outside = _outside_enum.__wrapped__(schema_types(site.schema), tuple(allowed))
    yield Edit("enum-violation", site.path, f"outside {list(allowed)}", _setter(site.path), examples, outside)


def _array_edits(site: Site) -> Iterator[Edit]:
    minimum = site.schema.get("minItems")
    if minimum and isinstance(site.value, list):
        size = minimum - 1
        yield Edit("too-few-items", site.path, f"{size} item(s)", _truncater(site.path, size), (None,))


def _discriminators(branch: Mapping[str, Any]) -> dict[str, tuple[Any, ...]]:
    properties = resolve(branch).get("properties", {})
    return {key: tuple(child["enum"]) for key, child in properties.items() if "enum" in resolve(child)}


def _one_of_edits(site: Site) -> Iterator[Edit]:
    branches = site.schema.get("oneOf")
    if not branches or not isinstance(site.value, dict):
        return
    matched = next((branch for branch in branches if accepts(branch, site.value)), None)
    if matched is None:
        return
    own = _discriminators(matched)
    for other in branches:
        if other is matched:
            continue
        theirs = _discriminators(other)
        swaps = {key: values[0] for key, values in theirs.items() if key in own and own[key] != values}
        if not swaps or accepts(site.schema, {**site.value, **swaps}):
            # Still exactly one branch matches (e.g. an action without params): not a way to break it.
            continue

        def swap(instance: Any, value: Any, swaps: dict[str, Any] = swaps) -> Any:
            edited = copy.deepcopy(instance)
            _at(edited, site.path).update(swaps)
            return edited

        yield Edit("one-of-mismatch", site.path, f"with {swaps}", swap, (None,))


_DERIVERS: tuple[tuple[Callable[[Site], Iterator[Edit]], frozenset[str]], ...] = (
    (_type_edits, frozenset({"wrong-type", "not-an-object", "not-an-array"})),
    (_object_edits, frozenset({"missing-required", "additional-property"})),
    (_enum_edits, frozenset({"enum-violation"})),
    (_array_edits, frozenset({"too-few-items"})),
    (_one_of_edits, frozenset({"one-of-mismatch"})),
)


def edits(instance: Any, schema: Mapping[str, Any], kinds: Sequence[str] | None = None) -> list[Edit]:
    """Every edit of every site of the valid ``instance``, outermost site first; only those of
    ``kinds`` when given (the others are not derived at all)."""
    derivers = [derive for derive, made in _DERIVERS if kinds is None or not made.isdisjoint(kinds)]
    found: list[Edit] = []
    for site in sites(instance, schema):
        for derive in derivers:
            found.extend(edit for edit in derive(site) if kinds is None or edit.kind in kinds)
    return found
