"""How the server turns raw request bytes into the values it validates: bodies and query strings."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from spec.jsvalues import JsonSyntaxError, _js_property_order, parse_json
from spec.model import JsonValue
from spec.profiles import Profile

# Keys qs drops because plain JavaScript objects inherit them (``allowPrototypes`` is off).
_PROTOTYPE_KEYS = frozenset(
    {
        "__proto__", "constructor", "hasOwnProperty", "isPrototypeOf", "propertyIsEnumerable",
        "toLocaleString", "toString", "valueOf", "__defineGetter__", "__defineSetter__",
        "__lookupGetter__", "__lookupSetter__",
    }
)  # fmt: skip
_QS_ARRAY_LIMIT = 20


@dataclass(frozen=True)
class ParsedBody:
    """The body as the route sees it, or the reason the body parser refused it."""

    value: JsonValue
    rejected_status: int | None = None


def decode_utf8(raw: bytes) -> str:
    """Node's ``buffer.toString('utf8')``: invalid sequences become U+FFFD."""
    return raw.decode("utf-8", errors="replace")


def parse_body(content_type: str | None, raw: bytes, profile: Profile) -> ParsedBody:
    """The route's ``bodyParams``.

    7.5 and later parse JSON when the content type contains ``application/json`` and swallow a failure
    (the body becomes ``{}``); a JSON array passes through and other JSON values become ``{}``.
    6.13-7.4 used a strict body parser that answered malformed JSON and non-container JSON with 400.
    """
    media = content_type or ""
    parsed_types = ("application/json", "application/x-www-form-urlencoded")
    too_large = profile.body_limit_bytes is not None and len(raw) > profile.body_limit_bytes
    if too_large and any(parsed_type in media for parsed_type in parsed_types):
        # Only the parsers enforce the limit; a body nobody parses is never read.
        return ParsedBody(value={}, rejected_status=413)
    if "application/json" in media:
        if profile.body_parser == "strict" and not raw.strip(b" \t\n\r"):
            return ParsedBody(value={})
        try:
            value = parse_json(decode_utf8(raw))
        except JsonSyntaxError:
            return ParsedBody(value={}, rejected_status=400 if profile.body_parser == "strict" else None)
        if isinstance(value, (dict, list)):
            return ParsedBody(value=value)
        return ParsedBody(value={}, rejected_status=400 if profile.body_parser == "strict" else None)
    if "application/x-www-form-urlencoded" in media:
        fields: dict[str, JsonValue] = {}
        for key, value in _split_pairs(decode_utf8(raw)):
            fields[key] = value
        return ParsedBody(value=_js_property_order(fields))
    return ParsedBody(value={})


def _decode_component(text: str) -> str:
    # decodeURIComponent after '+' becomes a space; qs keeps the text as it is when decoding fails.
    text = text.replace("+", " ")
    if "%" not in text:
        return text
    try:
        return unquote_to_bytes(text).decode("utf-8")
    except UnicodeDecodeError:
        return text


def _split_pairs(query: str) -> list[tuple[str, str]]:
    pairs = []
    for part in query.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        pairs.append((_decode_component(key), _decode_component(value)))
    return pairs


def _merge(existing: JsonValue, value: JsonValue) -> JsonValue:
    # qs combines repeated keys into an array.
    if isinstance(existing, list):
        return [*existing, *(value if isinstance(value, list) else [value])]
    if isinstance(existing, dict) and isinstance(value, dict):
        merged = dict(existing)
        for key, item in value.items():
            merged[key] = _merge(merged[key], item) if key in merged else item
        return merged
    return [existing, *(value if isinstance(value, list) else [value])]


def parse_query(query: str) -> dict[str, JsonValue]:
    """A query string as the ``qs`` parser reads it, one bracket level deep.

    ``a=1&a=2`` gives ``["1", "2"]``, ``a[]=1`` gives ``["1"]``, ``a[b]=1`` gives ``{"b": "1"}``.
    """
    result: dict[str, JsonValue] = {}
    for raw_key, value in _split_pairs(query):
        key, nested = raw_key, None
        opening = raw_key.find("[")
        if opening > 0 and raw_key.endswith("]"):
            key, nested = raw_key[:opening], raw_key[opening + 1 : -1]
        if key in _PROTOTYPE_KEYS or (nested is not None and nested in _PROTOTYPE_KEYS):
            continue
        item: JsonValue
        if nested is None:
            item = value
        elif nested == "" or (nested.isdigit() and int(nested) <= _QS_ARRAY_LIMIT):
            item = [value]
        else:
            item = {nested: value}
        result[key] = _merge(result[key], item) if key in result else item
    return _js_property_order(result)
