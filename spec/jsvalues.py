"""JavaScript value semantics the server applies to requests: numbers, JSON parsing and serialising.

Rocket.Chat runs on Node.js, so a body is parsed by ``JSON.parse`` (every number is a double, keys that
are array indices come first) and answered with ``JSON.stringify``. Python's ``json`` differs in each of
these places, so this module reproduces the JavaScript behaviour on top of the fast C codec.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from spec.model import JsonValue

__all__ = [
    "JsonSyntaxError",
    "JsonText",
    "js_number_to_string",
    "js_parse_int",
    "js_string_to_number",
    "parse_json",
    "stringify",
    "to_js_value",
]

# ECMAScript WhiteSpace and LineTerminator code points, which Number("...") and parseInt() trim.
_JS_WHITESPACE = (
    "\t\n\x0b\x0c\r \xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_DECIMAL_LITERAL = re.compile(r"[+-]?(?:(?:[0-9]+(?:\.[0-9]*)?)|(?:\.[0-9]+))(?:[eE][+-]?[0-9]+)?", re.ASCII)
_RADIX_LITERAL = re.compile(r"0(?:([xX])([0-9a-fA-F]+)|([oO])([0-7]+)|([bB])([01]+))", re.ASCII)
_ARRAY_INDEX_MAX = 2**32 - 2


class JsonSyntaxError(ValueError):
    """The text is not JSON that ``JSON.parse`` accepts."""


def js_number_to_string(number: float) -> str:
    """``String(number)`` as ECMAScript's Number::toString(10) defines it."""
    if math.isnan(number):
        return "NaN"
    if number == 0:
        return "0"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if number < 0:
        return "-" + js_number_to_string(-number)
    # repr() gives the shortest digits that round-trip, the same digits JavaScript chooses.
    _, digit_tuple, exponent = Decimal(repr(float(number))).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0") or "0"
    assert isinstance(exponent, int)
    point = exponent + len("".join(map(str, digit_tuple)))  # the "n" of the spec: value = 0.digits * 10**n
    k = len(digits)
    if k <= point <= 21:
        return digits + "0" * (point - k)
    if 0 < point <= 21:
        return digits[:point] + "." + digits[point:]
    if -6 < point <= 0:
        return "0." + "0" * (-point) + digits
    power = point - 1
    sign = "+" if power >= 0 else "-"
    mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
    return f"{mantissa}e{sign}{abs(power)}"


def js_string_to_number(text: str) -> float:
    """``Number(text)`` (also ``+text``): NaN where JavaScript gives NaN."""
    stripped = text.strip(_JS_WHITESPACE)
    if not stripped:
        return 0.0
    if _DECIMAL_LITERAL.fullmatch(stripped):
        return float(stripped)
    unsigned = stripped.lstrip("+-")
    if unsigned == "Infinity" and len(stripped) - len(unsigned) <= 1:
        return -math.inf if stripped.startswith("-") else math.inf
    radix_match = _RADIX_LITERAL.fullmatch(stripped)
    if radix_match:
        base = {"x": 16, "o": 8, "b": 2}[
            (radix_match.group(1) or radix_match.group(3) or radix_match.group(5)).lower()
        ]
        digits = radix_match.group(2) or radix_match.group(4) or radix_match.group(6)
        return _int_to_double(int(digits, base))
    return math.nan


def js_parse_int(text: str) -> float:
    """``parseInt(text)`` with no radix: the longest integer prefix, NaN when there is none."""
    stripped = text.lstrip(_JS_WHITESPACE)
    sign = -1.0 if stripped.startswith("-") else 1.0
    if stripped[:1] in "+-" and stripped:
        stripped = stripped[1:]
    base = 10
    if stripped[:2] in ("0x", "0X"):
        base, stripped = 16, stripped[2:]
    allowed = "0123456789abcdefABCDEF" if base == 16 else "0123456789"
    end = 0
    while end < len(stripped) and stripped[end] in allowed:
        end += 1
    if end == 0:
        return math.nan
    return sign * _int_to_double(int(stripped[:end], base))


def _int_to_double(value: int) -> float:
    try:
        return float(value)
    except OverflowError:
        return math.inf


def _is_array_index(key: str) -> bool:
    return key.isascii() and key.isdigit() and (key == "0" or key[0] != "0") and int(key) <= _ARRAY_INDEX_MAX


def _js_property_order(obj: dict[str, Any]) -> dict[str, Any]:
    # JavaScript objects enumerate array-index keys first, ascending, then the rest in insertion order.
    if not any(key[:1].isdigit() and _is_array_index(key) for key in obj):
        return obj
    indices = sorted((key for key in obj if _is_array_index(key)), key=int)
    ordered = {key: obj[key] for key in indices}
    ordered.update((key, value) for key, value in obj.items() if not _is_array_index(key))
    return ordered


def _reject_constant(name: str) -> Any:
    raise JsonSyntaxError(f"Unexpected token {name[0]} in JSON")


_DECODER = json.JSONDecoder(
    object_hook=_js_property_order,
    parse_float=float,
    parse_int=float,  # correctly rounded like JavaScript, and no limit on the number of digits
    parse_constant=_reject_constant,
)
# The same C decoder without the object hook, for texts in which no key can be an array index. Python
# and JavaScript then agree on everything else: a duplicate key keeps its first position and its last
# value, "__proto__" is an ordinary key (JSON.parse defines own properties), strings (lone surrogates
# included) decode alike, and only space, tab, LF and CR are whitespace.
_PLAIN_DECODER = json.JSONDecoder(parse_float=float, parse_int=float, parse_constant=_reject_constant)
# Where a key may start with a digit: a key follows "{" or "," (and whitespace), and its first
# character is a digit, written as it is or as \u0030-\u0039. Matches inside string values, and
# values after ": ", are harmless: they only send the text to the exact decoder. The quote comes
# first so that the regex engine skips from quote to quote at C speed (a class first is slower).
_POSSIBLE_INDEX_KEY = re.compile(r'"(?<=[{, \t\n\r]")(?:[0-9]|\\u003[0-9])')


_Scanner = Callable[[str, int], tuple[Any, int]]
"""A decoder's ``scan_once``: the value at an index and where it ends; StopIteration if none."""
_SCAN: _Scanner = _DECODER.scan_once  # type: ignore[attr-defined]
_PLAIN_SCAN: _Scanner = _PLAIN_DECODER.scan_once  # type: ignore[attr-defined]


def parse_json(text: str) -> JsonValue:
    """``JSON.parse(text)``; raises ``JsonSyntaxError`` where JavaScript throws a SyntaxError."""
    scan = _PLAIN_SCAN if _POSSIBLE_INDEX_KEY.search(text) is None else _SCAN
    return _parse_with(scan, text)


def _parse_exact(text: str) -> JsonValue:
    """``parse_json`` without the fast path: every object goes through ``_js_property_order``."""
    return _parse_with(_SCAN, text)


def _parse_with(scan: _Scanner, text: str) -> JsonValue:
    # The decoder's C scanner itself, as JSONDecoder.raw_decode calls it (one Python frame less),
    # and the whitespace loops only where the text starts or ends with whitespace.
    start = _skip_json_whitespace(text, 0) if text[:1] in _JSON_WHITESPACE else 0
    try:
        value, end = scan(text, start)
    except StopIteration as stop:
        raise JsonSyntaxError(str(json.JSONDecodeError("Expecting value", text, stop.value))) from None
    except json.JSONDecodeError as error:
        raise JsonSyntaxError(str(error)) from None
    except RecursionError:
        # V8 parses arbitrarily deep nesting without recursion; so must we.
        return _parse_deep(text)
    if end != len(text) and _skip_json_whitespace(text, end) != len(text):
        raise JsonSyntaxError("Unexpected non-whitespace character after JSON")
    return value  # type: ignore[no-any-return]


_JSON_WHITESPACE = " \t\n\r"


def _skip_json_whitespace(text: str, index: int) -> int:
    while index < len(text) and text[index] in _JSON_WHITESPACE:
        index += 1
    return index


_TOKEN = re.compile(
    r"""[ \t\n\r]*(?:
        (?P<open>[\[{]) | (?P<close>[\]}]) | (?P<comma>,) | (?P<colon>:) |
        (?P<string>"(?:[^"\\\x00-\x1f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*") |
        (?P<number>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?) |
        (?P<literal>true|false|null)
    )""",
    re.VERBOSE | re.ASCII,
)


def _parse_deep(text: str) -> JsonValue:
    """An iterative JSON parser, used only for nesting deeper than Python's recursion limit."""
    literals: dict[str, JsonValue] = {"true": True, "false": False, "null": None}
    # Each open container with the key it will take in its parent (None in an array or at the top).
    stack: list[tuple[list[JsonValue] | dict[str, JsonValue], str | None]] = []
    position = 0
    expecting_value = True
    pending_key: str | None = None

    def fail() -> JsonSyntaxError:
        return JsonSyntaxError(f"Unexpected token in JSON at position {position}")

    while True:
        match = _TOKEN.match(text, position)
        if match is None:
            raise fail()
        position = match.end()
        kind = match.lastgroup
        token = match.group(kind or "")
        container = stack[-1][0] if stack else None
        value: JsonValue
        if kind == "close":
            if container is None or (token == "]") != isinstance(container, list):
                raise fail()
            if expecting_value and (container or pending_key is not None):  # a trailing comma
                raise fail()
            finished, pending_key = stack.pop()
            value = _js_property_order(finished) if isinstance(finished, dict) else finished
        elif kind == "comma":
            if expecting_value or container is None:
                raise fail()
            expecting_value = True
            continue
        elif kind == "colon" or not expecting_value:
            raise fail()
        elif isinstance(container, dict) and pending_key is None:
            colon = _TOKEN.match(text, position)
            if kind != "string" or colon is None or colon.lastgroup != "colon":
                raise fail()
            pending_key = json.loads(token)
            position = colon.end()
            continue
        elif kind == "open":
            stack.append(([] if token == "[" else {}, pending_key))
            pending_key = None
            continue
        elif kind == "string":
            value = json.loads(token)
        elif kind == "number":
            value = float(token)
        else:
            value = literals[token]
        if not stack:
            if _skip_json_whitespace(text, position) != len(text):
                raise fail()
            return value
        parent = stack[-1][0]
        if isinstance(parent, list):
            parent.append(value)
        else:
            assert pending_key is not None
            parent[pending_key] = value
        pending_key = None
        expecting_value = False


_SAFE_INTEGER = 2.0**53


class JsonText:
    """A JSON value that ``stringify`` has already written: ``stringify`` copies ``text`` verbatim.

    For text that ``stringify`` wrote (a store keeps each trigger so), wherever the value stands
    ``stringify`` writes the same bytes as for the value itself, and ``value()`` is that value
    again (``parse_json`` of the text). It saves writing the same stored trigger again for every list.
    """

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def value(self) -> JsonValue:
        return parse_json(self.text)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JsonText) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return f"JsonText({self.text!r})"


class _HasText(Exception):
    """Raised by the C encoder's ``default``: the value holds a ``JsonText``, which only the Python
    paths copy."""


def stringify(value: Any) -> str:
    """``JSON.stringify(value)`` for JSON values (ints are accepted and written as JavaScript would).

    Objects and arrays go through the C encoder of the ``json`` module, whose output differs from
    JavaScript's only in number tokens (``5.0``, ``1e+16``, ``1e-05``, ``-0.0``, ``NaN``, ``Infinity``,
    integers beyond 2**53) and in lone surrogates, which it leaves raw; both are rewritten in its
    output (see ``_c_stringify``). Keys must be strings, as in any JSON value. A ``JsonText`` is
    written as its text.
    """
    kind = type(value)
    # Small objects (the error and success answers) are cheaper to write in Python than to check.
    if (kind is dict and len(value) > 3) or kind is list:
        try:
            return _c_stringify(value)
        except _HasText:
            pass  # the recursive path below copies the text
        except (RecursionError, ValueError):  # deep nesting; an int too long for int.__repr__
            return _stringify_exact(value)
    try:
        return _stringify_recursive(value)
    except RecursionError:
        return _stringify_exact(value)


def _unsupported(value: Any) -> Any:
    if type(value) is JsonText:
        raise _HasText
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def _c_encoder() -> Any:
    make = getattr(json.encoder, "c_make_encoder", None)
    quote = getattr(json.encoder, "c_encode_basestring", None)
    if make is None or quote is None:  # an interpreter without the C accelerator
        return None
    try:
        # markers (no circularity check), default, string encoder, indent, separators, sort_keys,
        # skipkeys, allow_nan (NaN and Infinity are written, then rewritten as null).
        return make(None, _unsupported, quote, None, ":", ",", False, False, True)
    except TypeError:  # another signature: the json module's own encoder below
        return None


_C_ENCODE = _c_encoder()
_PY_ENCODER = json.JSONEncoder(
    ensure_ascii=False, check_circular=False, allow_nan=True, separators=(",", ":"), default=_unsupported
)
# The json module writes number tokens otherwise than JavaScript in these cases only: integral floats
# ("5.0", "-0.0"), exponents ("1e+16", "1e-05", where JavaScript writes 10000000000000000 and
# 0.00001), NaN and Infinity (null in JSON.stringify), and integers beyond 2**53 (JavaScript rounds
# them to a double). Non-integral floats between 1e-4 and 1e16 it writes alike: the shortest
# round-trip digits, positional. A number token follows "[", "," or ":" and ends before ",", "]", "}".
# Cheap checks on a copy with every digit made "0" and "-" made "+" find exponents and runs of 16
# digits; integral floats are rewritten in place; the rare rest goes to the exact encoder.
_DIGIT_SHAPES = bytes.maketrans(b"0123456789-", b"0000000000+")
# A literal first: the regex engine then skips to each ".0" at C speed.
_INTEGRAL_FLOAT = re.compile(r"\.0(?=[,\]}])")
_INTEGER_TOKEN = re.compile(r"-?[0-9]+")


def _c_stringify(value: dict[str, Any] | list[Any]) -> str:
    text: str = "".join(_C_ENCODE(value, 0)) if _C_ENCODE is not None else _PY_ENCODER.encode(value)
    shapes = text.encode("utf-8", "surrogatepass").translate(_DIGIT_SHAPES)
    if (
        b"0e+0" in shapes
        or b"0000000000000000" in shapes
        or (("N" in text or "I" in text) and ("NaN" in text or "Infinity" in text))
    ):
        return _stringify_recursive(value)
    first = _INTEGRAL_FLOAT.search(text)  # never ".000Z" of a timestamp: a whole number token
    if first is not None:
        rewritten = _rewrite_integral_floats(text, first)
        if rewritten is None:
            return _stringify_recursive(value)
        text = rewritten
    if not text.isascii() and _SURROGATE.search(text):
        # A raw lone surrogate can only stand inside a string: JSON.stringify escapes it.
        text = _SURROGATE.sub(_escape_surrogate, text)
    return text


def _rewrite_integral_floats(text: str, first: re.Match[str]) -> str | None:
    """``text`` with every integral float token ("5.0") outside strings written as JavaScript does
    ("5"); ``first`` is the first candidate. ``None`` when strings cannot be told apart cheaply
    (there is an escaped quote)."""
    if "\\" in text and '\\"' in text:
        # Without escaped quotes every '"' opens or closes a string, so their parity says whether
        # a match stands in one; with them, the exact encoder is simpler than a string scanner.
        return None
    parts: list[str] = []
    done = 0
    quotes = 0
    counted = 0
    match: re.Match[str] | None = first
    while match is not None:
        point = match.start()
        # The token starts after the nearest "[", "," or ":"; it is a number if all of it is digits.
        start = max(text.rfind(",", 0, point), text.rfind(":", 0, point), text.rfind("[", 0, point)) + 1
        if start and _INTEGER_TOKEN.fullmatch(text, start, point) is not None:
            quotes += text.count('"', counted, start)
            counted = start
            if quotes % 2 == 0:  # outside any string
                parts.append(text[done:start])
                # Python wrote the integer's digits and ".0" (positional below 1e16, and the shortest
                # round-trip digits, which JavaScript chooses too); JavaScript writes the digits, and -0 as 0.
                digits = text[start:point]
                parts.append("0" if digits == "-0" else digits)
                done = match.end()
        match = _INTEGRAL_FLOAT.search(text, match.end())
    if not parts:
        return text
    parts.append(text[done:])
    return "".join(parts)


def _escape_surrogate(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def _stringify_recursive(value: Any) -> str:
    # The common case, about twice as fast as the explicit stack of _stringify_exact.
    kind = type(value)
    if kind is JsonText:  # first: a list answer holds many
        text: str = value.text
        return text
    if kind is str:
        return _quote(value)
    if kind is dict:
        return (
            "{"
            + ",".join([_quote(key) + ":" + _stringify_recursive(item) for key, item in value.items()])
            + "}"
        )
    if kind is list:
        return "[" + ",".join([_stringify_recursive(item) for item in value]) + "]"
    if kind is float:
        if value.is_integer() and -_SAFE_INTEGER < value < _SAFE_INTEGER:
            return str(int(value))
        return js_number_to_string(value) if math.isfinite(value) else "null"
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    return _stringify_exact(value)


def _stringify_exact(value: Any) -> str:
    """``stringify`` without the C encoder: JavaScript number formatting, no recursion."""
    parts: list[str] = []
    emit = parts.append
    # An explicit stack instead of recursion: a parsed body may nest deeper than Python's stack.
    pending: list[Any] = [value]
    while pending:
        item = pending.pop()
        if type(item) is _Token or type(item) is JsonText:
            emit(item.text)
        elif item is None:
            emit("null")
        elif item is True:
            emit("true")
        elif item is False:
            emit("false")
        elif isinstance(item, str):
            emit(_quote(item))
        elif isinstance(item, float):
            emit(js_number_to_string(item) if math.isfinite(item) else "null")
        elif isinstance(item, int):
            number = _int_to_double(item)
            emit(js_number_to_string(number) if math.isfinite(number) else "null")
        elif isinstance(item, dict):
            pending.append(_CLOSE_OBJECT)
            for position, (key, member) in enumerate(reversed(item.items())):
                pending.append(member)
                pending.append(_Token(("," if position < len(item) - 1 else "") + _quote(key) + ":"))
            emit("{")
        elif isinstance(item, (list, tuple)):
            pending.append(_CLOSE_ARRAY)
            for position, member in enumerate(reversed(item)):
                pending.append(member)
                if position < len(item) - 1:
                    pending.append(_COMMA)
            emit("[")
        else:
            raise TypeError(f"not a JSON value: {type(item).__name__}")
    return "".join(parts)


class _Token:
    """Literal output text queued between values by ``stringify``."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


_CLOSE_OBJECT, _CLOSE_ARRAY, _COMMA = _Token("}"), _Token("]"), _Token(",")
_encode_string = json.encoder.encode_basestring
_SURROGATE = re.compile("[\ud800-\udfff]")


def _quote(text: str) -> str:
    quoted: str = _encode_string(text)
    if not quoted.isascii() and _SURROGATE.search(quoted):
        # JSON.stringify escapes lone surrogates (a pair is one character, and Python never holds one
        # split in two after decoding text).
        quoted = _SURROGATE.sub(_escape_surrogate, quoted)
    return quoted


def to_js_value(value: Any) -> JsonValue:
    """A fresh copy of a Python JSON-like value as JavaScript holds it: ints become doubles, tuples
    arrays, array-index keys come first. Works without recursion."""
    if not isinstance(value, (dict, list, tuple)):
        return _js_scalar(value)
    root: Any = {} if isinstance(value, dict) else []
    pending: list[tuple[Any, Any]] = [(value, root)]
    while pending:
        source, target = pending.pop()
        items = source.items() if isinstance(source, dict) else enumerate(source)
        for key, item in items:
            if isinstance(item, (dict, list, tuple)):
                child: Any = {} if isinstance(item, dict) else []
                pending.append((item, child))
                converted = child
            else:
                converted = _js_scalar(item)
            if isinstance(target, dict):
                target[str(key)] = converted
            else:
                target.append(converted)
    reordered: JsonValue = _reorder_all(root)
    return reordered


def _js_scalar(value: Any) -> JsonValue:
    if value is None or isinstance(value, (bool, str, float)):
        scalar: JsonValue = value
        return scalar
    if isinstance(value, int):
        return _int_to_double(value)
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def _reorder_all(root: Any) -> Any:
    # Reorders objects in place of their parents, so array-index keys come first everywhere.
    pending: list[Any] = [root]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            reordered = _js_property_order(node)
            if reordered is not node:
                node.clear()
                node.update(reordered)
            pending.extend(child for child in node.values() if isinstance(child, (dict, list)))
        elif isinstance(node, list):
            pending.extend(child for child in node if isinstance(child, (dict, list)))
    return root


def json_parse_message(text: str, node: str) -> str:
    """What ``JSON.parse`` says about ``text`` under Node 14 (``node14``) or Node 22 (``node22``).
    Inferred: only the first offending character is placed, and V8's newer specific messages
    (``Expected property name...``) are not reproduced."""
    position = _error_position(text) if len(text) <= _SMALL_TEXT else _decoder_position(text)
    if position >= len(text):
        return "Unexpected end of JSON input"
    char = text[position]
    if node == "node14":
        return f"Unexpected token {char} in JSON at position {position}"
    if len(text) <= 10:
        return f"Unexpected token '{char}', \"{text}\" is not valid JSON"
    return f"Unexpected token '{char}', \"{text[:10]}\"... is not valid JSON"


_SMALL_TEXT = 2048
"""Longer texts (a webhook's HTML error page) are placed by Python's decoder: linear, not quadratic."""


def _decoder_position(text: str) -> int:
    try:
        json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        return error.pos
    except ValueError:
        return 0
    return len(text)


def _error_position(text: str) -> int:
    # The longest prefix that still parses as the start of JSON: try growing prefixes (texts are small).
    for end in range(len(text), -1, -1):
        try:
            parse_json(text[:end])
        except JsonSyntaxError:
            continue
        return end
    return 0
