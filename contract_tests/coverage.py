"""Deterministic coverage: the cases every run sends whatever its seed, derived from the contract.

Random exploration finds what nobody thought of; these cases make sure that nothing the contract
states is left to chance. They are walked out of the contract's request schemas (not listed by hand):
at every location of the POST body schema, each ``enum`` value and one value outside it, each
required key left out, an unknown key where ``additionalProperties`` is false, one fewer item than
``minItems``, a value of every other JSON type (the ones ajv coerces and the ones it does not), and
each ``oneOf`` branch, walked in turn to every depth. The list query's keys get the same treatment
in query-string form. From the profiles come the pairs of checks whose order differs between two
releases, each sent as one request that fails both; and the two credential headers in every
combination of right, missing, empty and wrong.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fuzz.mutations import accepts, deleted, replaced, resolve
from spec.ajv import coerce_scalar
from spec.contract import (
    LIST_QUERY_SCHEMA,
    POST_BODY_SCHEMA,
    contract_document,
    example_post_body,
    resolve_pointer,
)
from spec.headers import AUTH_TOKEN_HEADER, USER_ID_HEADER
from spec.model import Headers, User
from spec.profiles import PROFILES, Profile, Step

__all__ = [
    "PROBE_VALUES",
    "Case",
    "credential_variants",
    "list_query_cases",
    "order_pairs",
    "post_body_cases",
]

PROBE_VALUES: tuple[Any, ...] = (
    True,
    False,
    0,
    1,
    2.5,
    "",
    "x",
    "true",
    "false",
    "1",
    None,
    [],
    [1],
    ["x"],
    {},
    {"k": "v"},
)
"""One value of each JSON type and the strings, numbers and arrays ajv's coercion treats specially;
at a location of type T each value that is not natively a T is sent (coerced or not, as ajv decides)."""

UNKNOWN_KEY = "unexpectedKey"
NOT_IN_ENUM = "not-in-the-enum"
Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Case:
    label: str
    value: Any


def _pointer(path: Path) -> str:
    return "$" + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)


def _native(value: Any, json_type: str) -> bool:
    if json_type == "string":
        return isinstance(value, str)
    if json_type == "boolean":
        return isinstance(value, bool)
    if json_type in ("number", "integer"):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if json_type == "array":
        return isinstance(value, list)
    if json_type == "object":
        return isinstance(value, dict)
    return value is None


def minimal_instance(schema: Mapping[str, Any]) -> Any:
    """The smallest value ``schema`` accepts: required keys only, first enum value, first branch."""
    schema = resolve(schema)
    if "oneOf" in schema:
        return minimal_instance(schema["oneOf"][0])
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        return {key: minimal_instance(properties[key]) for key in schema.get("required", ())}
    if kind == "array":
        return [minimal_instance(schema["items"]) for _ in range(max(1, schema.get("minItems", 0)))]
    return {"string": "x", "number": 1, "integer": 1, "boolean": False}.get(str(kind))


def _type_cases(schema: Mapping[str, Any], root: Any, path: Path) -> Iterator[Case]:
    kind = schema.get("type")
    if kind is None:
        return
    where = _pointer(path)
    for probe in PROBE_VALUES:
        if _native(probe, str(kind)):
            continue
        if probe is None and schema.get("nullable"):
            yield Case(f"{where}: null (nullable {kind})", replaced(root, path, probe))
            continue
        coercible, _ = coerce_scalar(probe, str(kind)) if kind not in ("array", "object") else (False, None)
        how = "coerced" if coercible else "not coercible"
        yield Case(f"{where}: {json.dumps(probe)} for {kind} ({how})", replaced(root, path, probe))


def _walk(schema: Mapping[str, Any], instance: Any, root: Any, path: Path, out: list[Case]) -> None:
    schema = resolve(schema)
    where = _pointer(path)
    if "oneOf" in schema:
        for number, branch in enumerate(schema["oneOf"]):
            chosen = instance if accepts(branch, instance) else minimal_instance(branch)
            branch_root = replaced(root, path, chosen)
            out.append(Case(f"{where}: oneOf branch {number}", branch_root))
            _walk(branch, chosen, branch_root, path, out)
        out.append(Case(f"{where}: matches no oneOf branch", replaced(root, path, {})))
        return
    out.extend(_type_cases(schema, root, path))
    if "enum" in schema:
        out += [
            Case(f"{where}: enum value {value!r}", replaced(root, path, value)) for value in schema["enum"]
        ]
        out.append(Case(f"{where}: a value outside the enum", replaced(root, path, NOT_IN_ENUM)))
    if schema.get("type") == "object" and isinstance(instance, dict):
        properties = schema.get("properties", {})
        for key in schema.get("required", ()):
            if key in instance:
                out.append(Case(f"{where}: required {key!r} left out", deleted(root, (*path, key))))
        if schema.get("additionalProperties") is False:
            out.append(Case(f"{where}: unknown key", replaced(root, (*path, UNKNOWN_KEY), "x")))
        for key, subschema in properties.items():
            if key in instance:
                _walk(subschema, instance[key], root, (*path, key), out)
            else:
                # An optional key: sent once with its smallest value, then walked like the others.
                value = minimal_instance(subschema)
                with_key = replaced(root, (*path, key), value)
                out.append(Case(f"{where}: optional {key!r} given", with_key))
                _walk(subschema, value, with_key, (*path, key), out)
    if schema.get("type") == "array" and isinstance(instance, list):
        minimum = schema.get("minItems", 0)
        if minimum > 0:
            fewer = instance[: minimum - 1]
            out.append(Case(f"{where}: {len(fewer)} items, fewer than minItems", replaced(root, path, fewer)))
        if instance:
            _walk(schema["items"], instance[0], root, (*path, 0), out)


def post_body_cases() -> list[Case]:
    """Every case of the POST body schema, built on the contract's example body."""
    base = example_post_body()
    out: list[Case] = []
    _walk(resolve_pointer(contract_document(), POST_BODY_SCHEMA), base, base, (), out)
    # Several rules can make the same body (both branches of a oneOf share the cases of the location,
    # an enum's first value is the example's own): send each body once, under all its labels.
    unique: dict[str, Case] = {}
    for case in out:
        key = json.dumps(case.value)
        known = unique.get(key)
        unique[key] = case if known is None else Case(f"{known.label} | {case.label}", case.value)
    return list(unique.values())


QUERY_FORMS: tuple[tuple[str, str], ...] = (
    ("empty", "{key}="),
    ("a number", "{key}=1"),
    ("zero", "{key}=0"),
    ("a fraction", "{key}=2.5"),
    ("negative", "{key}=-1"),
    ("a word", "{key}=x"),
    ("true", "{key}=true"),
    ("a JSON object", "{key}=" + quote('{"name":1}')),
    ("repeated (an array)", "{key}=1&{key}=2"),
    ("bracketed (an object)", "{key}%5Ba%5D=1"),
)
"""The shapes a query value can take on the wire: the query parser makes strings, arrays and objects."""


def list_query_cases() -> list[tuple[str, str]]:
    """``(label, query)`` for each key of the list query schema in each form, and an unknown key."""
    schema = resolve_pointer(contract_document(), LIST_QUERY_SCHEMA)
    cases = [
        (f"{key}: {label}", form.format(key=key))
        for key in schema.get("properties", {})
        for label, form in QUERY_FORMS
    ]
    if schema.get("additionalProperties") is False:
        cases.append(("unknown key", f"{UNKNOWN_KEY}=1"))
    return cases


def order_pairs(profiles: Sequence[Profile] = tuple(PROFILES.values())) -> list[tuple[Step, Step, str]]:
    """Each pair of checks that two profiles run in different orders, with the profiles it tells apart."""
    pairs: dict[tuple[Step, Step], set[str]] = {}
    for left, right in itertools.combinations(profiles, 2):
        for first, second in itertools.combinations(left.check_order, 2):
            order = right.check_order
            if first in order and second in order and order.index(second) < order.index(first):
                key = (first, second) if first < second else (second, first)
                pairs.setdefault(key, set()).update({left.name, right.name})
    return [(a, b, ", ".join(sorted(names))) for (a, b), names in sorted(pairs.items())]


def credential_variants(user: User) -> list[tuple[str, Headers]]:
    """The two credential headers, each right, missing, empty or wrong, in every combination but both
    right."""
    forms: dict[str, tuple[str | None, str | None]] = {
        "right": (user.user_id, user.token),
        "missing": (None, None),
        "empty": ("", ""),
        "wrong": (user.user_id + "-unknown", user.token + "x"),
    }
    variants = []
    for id_form, token_form in itertools.product(forms, repeat=2):
        if id_form == token_form == "right":
            continue
        headers: list[tuple[str, str]] = []
        user_id, token = forms[id_form][0], forms[token_form][1]
        if user_id is not None:
            headers.append((USER_ID_HEADER, user_id))
        if token is not None:
            headers.append((AUTH_TOKEN_HEADER, token))
        variants.append((f"user id {id_form}, token {token_form}", tuple(headers)))
    return variants
