"""Deterministic generators of POST bodies, list queries and JSON texts for the oracle differential.

Cases are built as Python values and serialised by `to_text` into the JSON text that both sides parse.
Two wrappers reach what plain Python values cannot express in JSON text:

* `Raw("1e999")`: a number written verbatim (overflow to Infinity, `-0`, exponents, long digit runs);
* `Pairs([(key, value), ...])`: an object whose keys may repeat (JSON.parse keeps the last one).

Strings are written with `json.dumps(..., ensure_ascii=True)`, so lone surrogates survive as `\\udXXX`.
Everything is driven by a seeded `random.Random`, so the same seed always gives the same cases.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Union

from spec.pointers import replaced, value_at

CONDITION_NAMES = ("time-on-site", "page-url", "chat-opened-by-visitor", "after-guest-registration")
ACTION_NAMES = ("send-message", "use-external-service")
SENDERS = ("queue", "custom")
REQUIRED = ("name", "description", "enabled", "runOnce", "conditions", "actions")


@dataclass(frozen=True)
class Raw:
    """A JSON number written exactly as given."""

    text: str


@dataclass(frozen=True)
class Pairs:
    """A JSON object written key by key, duplicates allowed."""

    items: tuple[tuple[str, Any], ...]


Value = Union[None, bool, int, float, str, Raw, Pairs, list[Any], dict[str, Any]]  # noqa: UP007 (a runtime alias on 3.10)


# --------------------------------------------------------------------------------------------------
# Serialising


def to_text(value: Any, style: int = 0) -> str:
    """The JSON text of a case value; `style` picks the whitespace (0 compact, 1 spaced, 2 odd)."""
    separators = ((",", ":"), (", ", ": "), ("\n\t,\r", " :\n "))[style % 3]
    parts: list[str] = []
    stack: list[Any] = [value]
    # Iterative, so that deeply nested junk does not hit Python's recursion limit.
    while stack:
        item = stack.pop()
        if isinstance(item, (_Token, Raw)):
            parts.append(item.text)
        elif item is None or isinstance(item, (bool, int, float, str)):
            parts.append(json.dumps(item, ensure_ascii=True))
        elif isinstance(item, (dict, Pairs)):
            pairs = list(item.items()) if isinstance(item, dict) else list(item.items)
            pending: list[Any] = [_Token("{")]
            for index, (key, child) in enumerate(pairs):
                if index:
                    pending.append(_Token(separators[0]))
                pending.append(_Token(json.dumps(key, ensure_ascii=True) + separators[1]))
                pending.append(child)
            pending.append(_Token("}"))
            stack.extend(reversed(pending))
        elif isinstance(item, list):
            pending = [_Token("[")]
            for index, child in enumerate(item):
                if index:
                    pending.append(_Token(separators[0]))
                pending.append(child)
            pending.append(_Token("]"))
            stack.extend(reversed(pending))
        else:
            raise TypeError(f"not a case value: {type(item).__name__}")
    return "".join(parts)


@dataclass(frozen=True)
class _Token:
    text: str


# --------------------------------------------------------------------------------------------------
# Leaves

_PLAIN_CHARS = "abcxyz ABC019-_./:?&=#%+~"
_ODD_CHARS = (
    "é",
    "ß",
    "中",
    "ー",
    "😀",
    "𝄞",
    "\U0010ffff",
    "\ud800",
    "\udbff",
    "\udc00",
    "\udfff",
    "\x00",
    "\x1f",
    "\x7f",
    "\n",
    "\t",
    "\r",
    '"',
    "\\",
    "/",
    "\u2028",
    "\u2029",
    "\ufeff",
    "\ufffe",
    "\xa0",
    "\u200b",
    "<",
    "'",
)
SPECIAL_STRINGS = (
    "",
    " ",
    "  ",
    "\t",
    "\n",
    "\xa0",
    "\ufeff",
    "null",
    "undefined",
    "true",
    "false",
    "True",
    "TRUE",
    "0",
    "1",
    "-1",
    "-0",
    "12",
    " 12 ",
    "\n12\t",
    "\xa012\xa0",
    "\ufeff7",
    "\u20037",
    "1.5",
    "1.",
    ".5",
    "+5",
    "-5.25",
    "1e3",
    "1E3",
    "1e-7",
    "1e21",
    "1e999",
    "-1e999",
    "5e-324",
    "2e-324",
    "0x1A",
    "0X1a",
    "-0x1A",
    "0b101",
    "0o17",
    "017",
    "0xG",
    "12abc",
    "1_000",
    "1,5",
    "Infinity",
    "-Infinity",
    "+Infinity",
    "infinity",
    "NaN",
    "[]",
    "{}",
    "[1]",
    "9007199254740993",
    "123456789012345678901234567890",
    "send-message",
    "use-external-service",
    "page-url",
    "queue",
    "custom",
    "\ud800",
    "a\udfffb",
    "😀",
)
RAW_NUMBERS = (
    "0",
    "-0",
    "0.0",
    "-0.0",
    "0e5",
    "-0E-0",
    "1",
    "1.0",
    "1.50",
    "1E+2",
    "1e21",
    "1e20",
    "123456789012345678901",
    "1e-7",
    "1e-6",
    "0.000001",
    "0.0000001",
    "1e999",
    "-1e999",
    "1e309",
    "1.7976931348623157e308",
    "1.7976931348623159e308",
    "5e-324",
    "2e-324",
    "1e-400",
    "9007199254740993",
    "18446744073709551616",
    "1" + "0" * 400,
    "0.1",
    "0.30000000000000004",
    "123.456e-2",
    "-7",
    "2",
    "100",
    "5000",
    "4294967295",
)


def random_string(rng: random.Random, max_length: int = 12) -> str:
    roll = rng.random()
    if roll < 0.25:
        return rng.choice(SPECIAL_STRINGS)
    length = rng.randint(0, max_length)
    if roll < 0.7:
        return "".join(rng.choice(_PLAIN_CHARS) for _ in range(length))
    return "".join(
        rng.choice(_ODD_CHARS) if rng.random() < 0.5 else rng.choice(_PLAIN_CHARS) for _ in range(length)
    )


def random_number(rng: random.Random) -> Value:
    roll = rng.random()
    if roll < 0.35:
        return Raw(rng.choice(RAW_NUMBERS))
    if roll < 0.6:
        return rng.randint(-5, 100_000)
    if roll < 0.8:
        return rng.choice((0.5, -1.25, 1e21, 1e-7, 1e-6, 1e300, 2.5e-308, 0.1 + 0.2, 123456.789, -0.0))
    if roll < 0.9:
        return rng.choice((10**21, 10**30, -(10**25), 2**53 + 1, 2**64, 10**400))
    return rng.uniform(-1e6, 1e6)


def random_key(rng: random.Random) -> str:
    return rng.choice(
        (
            "foo",
            "extra",
            "_id",
            "name",
            "params",
            "value",
            "msg",
            "sender",
            "type",
            "__proto__",
            "constructor",
            "toString",
            "hasOwnProperty",
            "0",
            "1",
            "10",
            "01",
            "-1",
            "4294967294",
            "4294967295",
            "",
            " ",
            "Name",
            "name ",
            "é",
            "\ud800",
            "😀",
            "serviceTimeout",
        )
    )


def junk(rng: random.Random, depth: int = 3) -> Value:
    """Any JSON value, nested up to `depth`."""
    roll = rng.random()
    if depth <= 0 or roll < 0.55:
        kind = rng.randrange(5)
        if kind == 0:
            return None
        if kind == 1:
            return rng.random() < 0.5
        if kind == 2:
            return random_number(rng)
        return random_string(rng)
    if roll < 0.78:
        return [junk(rng, depth - 1) for _ in range(rng.randint(0, 3))]
    return {
        random_key(rng) if rng.random() < 0.5 else random_string(rng, 6): junk(rng, depth - 1)
        for _ in range(rng.randint(0, 3))
    }


def deep_junk(rng: random.Random) -> Value:
    """A long chain of nested arrays/objects (JSON.parse is iterative; recursive code is not)."""
    depth = rng.choice((50, 200, 999, 1000, 1001, 1500, 2500))
    value: Value = junk(rng, 1)
    for _ in range(depth):
        value = [value] if rng.random() < 0.5 else {random_key(rng): value}
    return value


# --------------------------------------------------------------------------------------------------
# POST bodies


def valid_condition(rng: random.Random) -> dict[str, Any]:
    condition: dict[str, Any] = {
        "name": rng.choice(CONDITION_NAMES),
        "value": None
        if rng.random() < 0.15
        else rng.choice((str(rng.randint(0, 600)), "https://example.org/*", random_string(rng))),
    }
    return _shuffled(rng, condition) if rng.random() < 0.2 else condition


def valid_params(rng: random.Random, action: str) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if action == "send-message":
        params["sender"] = rng.choice(SENDERS)
        params["msg"] = random_string(rng, 30)
        if rng.random() < 0.5:
            params["name"] = None if rng.random() < 0.3 else random_string(rng)
    else:
        if rng.random() < 0.6:
            params["sender"] = rng.choice(SENDERS)
        if rng.random() < 0.5:
            params["name"] = None if rng.random() < 0.3 else random_string(rng)
        params["serviceUrl"] = rng.choice(("https://hooks.example.org/t", "", random_string(rng)))
        params["serviceTimeout"] = rng.choice((0, 5000, 1.5, -1, Raw("1e3"), Raw("-0"), 10**21, 1e-7))
        params["serviceFallbackMessage"] = random_string(rng, 20)
    return _shuffled(rng, params) if rng.random() < 0.3 else params


def valid_action(rng: random.Random) -> dict[str, Any]:
    name = rng.choice(ACTION_NAMES)
    action: dict[str, Any] = {"name": name}
    roll = rng.random()
    if roll < 0.2:
        pass  # params absent
    elif roll < 0.35:
        action["params"] = None
    else:
        action["params"] = valid_params(rng, name)
    return _shuffled(rng, action) if rng.random() < 0.2 else action


def valid_body(rng: random.Random) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": random_string(rng, 20),
        "description": random_string(rng, 30),
        "enabled": rng.random() < 0.5,
        "runOnce": rng.random() < 0.5,
        "conditions": [valid_condition(rng) for _ in range(rng.choice((1, 1, 1, 2, 4)))],
        "actions": [valid_action(rng) for _ in range(rng.choice((1, 1, 1, 2, 3)))],
    }
    roll = rng.random()
    if roll < 0.15:
        body["_id"] = None
    elif roll < 0.35:
        body["_id"] = rng.choice(("", "abc123", "0123456789abcdef01234567", random_string(rng)))
    return _shuffled(rng, body) if rng.random() < 0.3 else body


def _shuffled(rng: random.Random, mapping: dict[str, Any]) -> dict[str, Any]:
    keys = list(mapping)
    rng.shuffle(keys)
    return {key: mapping[key] for key in keys}


# Values that a schema type may coerce (or refuse to), by the type the schema wants there.
STRING_CONFUSIONS: tuple[Value, ...] = (
    0,
    1,
    -1,
    1.5,
    Raw("-0"),
    Raw("1e21"),
    Raw("1e-7"),
    Raw("1e999"),
    Raw("-1e999"),
    Raw("0.1"),
    Raw("1" + "0" * 30),
    Raw("5e-324"),
    10**21,
    True,
    False,
    None,
    [],
    ["a"],
    [1],
    {},
    {"a": 1},
    "",
)
BOOLEAN_CONFUSIONS: tuple[Value, ...] = (
    "true",
    "false",
    "True",
    "FALSE",
    "1",
    "0",
    "",
    " ",
    "yes",
    1,
    0,
    2,
    -1,
    Raw("1.0"),
    Raw("0.0"),
    Raw("-0"),
    Raw("1e0"),
    Raw("0e5"),
    0.5,
    None,
    [],
    [True],
    ["true"],
    {},
)
NUMBER_CONFUSIONS: tuple[Value, ...] = (
    " 12 ",
    "12",
    "0x1A",
    "0X1a",
    "-0x1A",
    "0b101",
    "0o17",
    "017",
    "1e3",
    "1E3",
    "1e-7",
    "1e21",
    "1e999",
    "-1e999",
    "Infinity",
    "-Infinity",
    "+Infinity",
    "NaN",
    "",
    " ",
    "\n",
    "\xa0",
    "\ufeff7",
    "\xa012\xa0",
    "\u20035",
    "12abc",
    "1_000",
    "+5",
    "-5",
    ".5",
    "5.",
    "-0",
    "0",
    "9007199254740993",
    "1" + "0" * 400,
    True,
    False,
    None,
    Raw("1e999"),
    Raw("-1e999"),
    Raw("-0"),
    Raw("5e-324"),
    Raw("2e-324"),
    Raw("1.7976931348623159e308"),
    [],
    [5],
    ["5"],
    {},
    {"a": 1},
)
NULLABLE_OBJECT_CONFUSIONS: tuple[Value, ...] = (
    "",
    0,
    False,
    Raw("-0"),
    Raw("0.0"),
    Raw("0e10"),
    "0",
    "null",
    " ",
    True,
    1,
    [],
    [None],
    {},
    "{}",
)
ENUM_CONFUSIONS: tuple[Value, ...] = (
    "",
    "Send-Message",
    "send-message ",
    " send-message",
    "send_message",
    "send-message\x00",
    "sendmessage",
    "use-external-service",
    "send-message",
    "time-on-site",
    "page-url",
    "queue",
    "custom",
    "Queue",
    "agent",
    "invalid",
    None,
    0,
    True,
    [],
    ["queue"],
    {},
)

# The type the schema wants at each key (keys of different levels share names; a sample is enough).
_CONFUSIONS_BY_KEY: dict[str, tuple[tuple[Value, ...], ...]] = {
    "name": (STRING_CONFUSIONS, ENUM_CONFUSIONS),
    "description": (STRING_CONFUSIONS,),
    "msg": (STRING_CONFUSIONS,),
    "serviceUrl": (STRING_CONFUSIONS,),
    "serviceFallbackMessage": (STRING_CONFUSIONS,),
    "value": (STRING_CONFUSIONS,),
    "_id": (STRING_CONFUSIONS,),
    "enabled": (BOOLEAN_CONFUSIONS,),
    "runOnce": (BOOLEAN_CONFUSIONS,),
    "serviceTimeout": (NUMBER_CONFUSIONS,),
    "params": (NULLABLE_OBJECT_CONFUSIONS,),
    "sender": (ENUM_CONFUSIONS,),
    "conditions": (STRING_CONFUSIONS, NULLABLE_OBJECT_CONFUSIONS),
    "actions": (STRING_CONFUSIONS, NULLABLE_OBJECT_CONFUSIONS),
}


def _locations(value: Any, limit: int = 12) -> list[tuple[Any, ...]]:
    """Paths into a case value (the root included) through dicts and lists, at most `limit` deep."""
    found: list[tuple[Any, ...]] = []
    stack: list[tuple[tuple[Any, ...], Any]] = [((), value)]
    while stack:
        path, node = stack.pop()
        found.append(path)
        if len(path) >= limit:
            continue
        if isinstance(node, dict):
            stack.extend(((*path, key), child) for key, child in reversed(node.items()))
        elif isinstance(node, list):
            stack.extend(((*path, index), child) for index, child in reversed(list(enumerate(node))))
    return found


def mutate_node(rng: random.Random, node: Any, key: Any) -> Any:
    """One near-valid change of `node`, found under `key` in its parent."""
    roll = rng.random()
    if isinstance(node, dict) and roll < 0.6:
        choice = rng.randrange(6)
        if choice == 0 and node:
            dropped = rng.choice(list(node))
            return {k: v for k, v in node.items() if k != dropped}
        if choice == 1:
            extra = dict(node)
            extra[random_key(rng)] = junk(rng, 1)
            return extra
        if choice == 2 and node:
            repeated = rng.choice(list(node))
            items = list(node.items())
            items.insert(rng.randrange(len(items) + 1), (repeated, junk(rng, 1)))
            return Pairs(tuple(items))
        if choice == 3:
            return {}
        if choice == 4:
            return _shuffled(rng, node)
        return [node]
    if isinstance(node, list) and roll < 0.6:
        choice = rng.randrange(5)
        if choice == 0:
            return []
        if choice == 1:
            return [*node, junk(rng, 2)]
        if choice == 2 and node:
            return node[:-1]
        if choice == 3 and node:
            return [*node, node[0]]
        return node[0] if node else None
    if isinstance(key, str) and key in _CONFUSIONS_BY_KEY and roll < 0.85:
        return rng.choice(rng.choice(_CONFUSIONS_BY_KEY[key]))
    if roll < 0.93:
        # A value of another JSON type.
        return rng.choice((None, True, False, 0, 1, "", "x", [], {}, [None], {"a": "b"}, junk(rng, 2)))
    return deep_junk(rng) if rng.random() < 0.1 else junk(rng, 3)


def mutated_body(rng: random.Random, mutations: int | None = None) -> Any:
    body: Any = valid_body(rng)
    for _ in range(mutations if mutations is not None else rng.choice((1, 1, 1, 2, 3))):
        if isinstance(body, Pairs):
            break
        path = rng.choice(_locations(body))
        node = value_at(body, path)
        new = mutate_node(rng, node, path[-1] if path else None)
        body = replaced(body, path, new)
    return body


def confused_body(rng: random.Random) -> Any:
    """A valid body where one or two typed leaves got a value that ajv may coerce or refuse."""
    body: Any = valid_body(rng)
    for _ in range(rng.choice((1, 1, 2))):
        paths = [
            path
            for path in _locations(body)
            if path and isinstance(path[-1], str) and path[-1] in _CONFUSIONS_BY_KEY
        ]
        path = rng.choice(paths)
        body = replaced(body, path, rng.choice(rng.choice(_CONFUSIONS_BY_KEY[path[-1]])))
    return body


def non_object_body(rng: random.Random) -> Any:
    return rng.choice(
        (
            lambda: [valid_body(rng)],
            list,
            lambda: [junk(rng, 2) for _ in range(rng.randint(1, 3))],
            lambda: random_string(rng),
            lambda: random_number(rng),
            lambda: None,
            lambda: rng.random() < 0.5,
            lambda: to_text(valid_body(rng)),
        )
    )()


def junk_body(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.4:
        return {random_key(rng): junk(rng, 3) for _ in range(rng.randint(0, 4))}
    if roll < 0.6:
        body = valid_body(rng)
        path = rng.choice(_locations(body)[1:])
        return replaced(body, path, deep_junk(rng) if rng.random() < 0.3 else junk(rng, 4))
    if roll < 0.8:
        body = valid_body(rng)
        items = list(body.items())
        for _ in range(rng.randint(1, 3)):
            key = rng.choice(REQUIRED)
            items.insert(rng.randrange(len(items) + 1), (key, rng.choice((junk(rng, 1), body[key]))))
        return Pairs(tuple(items))
    return deep_junk(rng) if rng.random() < 0.3 else junk(rng, 5)


POST_GENERATORS: tuple[tuple[float, Callable[[random.Random], Any]], ...] = (
    (0.22, valid_body),
    (0.33, mutated_body),
    (0.27, confused_body),
    (0.06, non_object_body),
    (0.12, junk_body),
)


def _pick(rng: random.Random, generators: tuple[tuple[float, Callable[[random.Random], Any]], ...]) -> Any:
    roll = rng.random()
    for weight, generator in generators:
        roll -= weight
        if roll < 0:
            return generator(rng)
    return generators[-1][1](rng)


def post_bodies(seed: int, count: int) -> list[Any]:
    rng = random.Random(seed)
    return [_pick(rng, POST_GENERATORS) for _ in range(count)]


# --------------------------------------------------------------------------------------------------
# List queries (what the query-string parser hands over: strings, repeated keys, bracket objects)

QUERY_KEYS = (
    "count",
    "offset",
    "sort",
    "fields",
    "query",
    "Count",
    "count ",
    "sort[]",
    "__proto__",
    "0",
    "",
)
QUERY_STRINGS = (
    "50",
    "0",
    "100",
    "101",
    "-1",
    "2.5",
    " 12 ",
    "0x1A",
    "1e3",
    "1e999",
    "Infinity",
    "-Infinity",
    "NaN",
    "",
    " ",
    "abc",
    "12abc",
    "true",
    "false",
    "null",
    '{"name":1}',
    '{"name":-1}',
    '{"name":2}',
    "{bad",
    "[1]",
    "\ud800",
    "😀",
    "9007199254740993",
)


def _query_string(rng: random.Random) -> str:
    return rng.choice(QUERY_STRINGS) if rng.random() < 0.8 else random_string(rng)


def _query_value(rng: random.Random, depth: int = 2) -> Any:
    roll = rng.random()
    if roll < 0.6 or depth <= 0:
        return _query_string(rng)
    if roll < 0.85:
        return [
            _query_string(rng) if rng.random() < 0.85 or depth <= 1 else _query_value(rng, depth - 1)
            for _ in range(rng.choice((1, 1, 2, 3)))
        ]
    return {
        rng.choice(("a", "name", "0", "1", "$gt")): _query_value(rng, depth - 1)
        for _ in range(rng.randint(1, 2))
    }


def query(rng: random.Random) -> Any:
    keys = rng.sample(("count", "offset", "sort"), rng.randint(0, 3))
    if rng.random() < 0.25:
        keys.append(rng.choice(QUERY_KEYS))
    return {key: _query_value(rng) for key in keys}


def queries(seed: int, count: int) -> list[Any]:
    rng = random.Random(seed)
    return [query(rng) for _ in range(count)]


# --------------------------------------------------------------------------------------------------
# JSON texts for the parser differential (valid, exotic and broken)

FIXED_TEXTS = (
    "",
    " ",
    "{}",
    " {} ",
    "\t{}\n",
    "\r\n[]\r\n",
    "\ufeff{}",
    "\xa0{}",
    "{}\x00",
    "{} {}",
    "{},",
    "{,}",
    "[,]",
    "[1,]",
    '{"a":1,}',
    "[1 2]",
    '{"a" 1}',
    '{"a":}',
    "{a:1}",
    "{'a':1}",
    "'a'",
    '"a',
    '"\\x41"',
    '"\\u00e9"',
    '"\\u00E9"',
    '"\\u12"',
    '"\\ud800"',
    '"\\ud83d\\ude00"',
    '"\\ude00\\ud83d"',
    '"\\ud83d\\u0041"',
    '"\t"',
    '"\n"',
    '"\x1f"',
    '"\x7f"',
    '"\u2028"',
    '"\\/"',
    '"\\a"',
    '"\\0"',
    "01",
    "-01",
    "00",
    "1.",
    ".5",
    "+1",
    "-",
    "--1",
    "1e",
    "1e+",
    "1E-0",
    "-0",
    "0.0e0",
    "1e999",
    "-1e999",
    "1" + "0" * 500,
    "0." + "0" * 400 + "1",
    "NaN",
    "Infinity",
    "-Infinity",
    "nul",
    "null",
    "nulll",
    "true",
    "True",
    "truex",
    "[true false]",
    "[]]",
    "[[]",
    "{}}",
    '{"__proto__":1}',
    '{"__proto__":{"name":"x"}}',
    '{"a":1,"a":2}',
    '{"b":1,"2":2,"1":3,"a":4}',
    '{"4294967295":1,"4294967294":2,"01":3}',
    "[" * 3000 + "]" * 3000,
    "[" * 3000 + "]" * 2999,
    '{"a":' * 1200 + "1" + "}" * 1200,
    "1 2",
    "[1]\n\n",
    "[1]\x0b",
    "[1]\x0c",
    "[\u20281]",
)


def texts(seed: int, count: int) -> list[str]:
    """The fixed tricky texts plus random byte-level damage of valid bodies and junk."""
    rng = random.Random(seed)
    found = list(FIXED_TEXTS)
    alphabet = '{}[],:"\\ \t\n0123456789-+.eEtrufalsn\x00\xa0\ufeffuxd'
    while len(found) < count:
        text = to_text(valid_body(rng) if rng.random() < 0.5 else junk(rng, 3), rng.randrange(3))
        for _ in range(rng.choice((0, 1, 1, 2))):
            where = rng.randrange(len(text) + 1)
            action = rng.randrange(3)
            if action == 0:
                text = text[:where] + rng.choice(alphabet) + text[where:]
            elif action == 1:
                text = text[:where] + text[where + 1 :]
            else:
                text = text[:where] + rng.choice(alphabet) + text[where + 1 :]
        found.append(text)
    return found
