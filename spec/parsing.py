"""How the server turns raw request bytes into the values it validates: bodies and query strings."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

from spec.jsvalues import JsonSyntaxError, _js_property_order, parse_json
from spec.model import JsonValue
from spec.profiles import Profile
from spec.records import quick_init

# Keys qs drops because plain JavaScript objects inherit them (``allowPrototypes`` is off).
_PROTOTYPE_KEYS = frozenset(
    {
        "__proto__", "constructor", "hasOwnProperty", "isPrototypeOf", "propertyIsEnumerable",
        "toLocaleString", "toString", "valueOf", "__defineGetter__", "__defineSetter__",
        "__lookupGetter__", "__lookupSetter__",
    }
)  # fmt: skip
_QS_ARRAY_LIMIT = 20
_QS_PARAMETER_LIMIT = 1000
_ENCODED_OPEN = re.compile("%5b", re.IGNORECASE)
_ENCODED_CLOSE = re.compile("%5d", re.IGNORECASE)


@quick_init
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


# -- qs.parse with its defaults (depth 5, arrayLimit 20, allowPrototypes off) -------------------------


class _Hole:
    """A missing index of a sparse JavaScript array; qs compacts them away at the end."""


_HOLE = _Hole()
_QS_DEPTH = 5
_BRACKET_SEGMENT = re.compile(r"\[[^[\]]*\]")


def _split_key(key: str) -> list[str] | None:
    """qs's parseKeys: the parent name, then up to five ``[...]`` segments, then the rest as one
    segment; ``None`` when a part is a name plain objects inherit (the pair is dropped)."""
    first = _BRACKET_SEGMENT.search(key)
    parent = key[: first.start()] if first else key
    chain: list[str] = []
    if parent:
        if parent in _PROTOTYPE_KEYS:
            return None
        chain.append(parent)
    position = first.start() if first else len(key)
    for _ in range(_QS_DEPTH):
        segment = _BRACKET_SEGMENT.search(key, position)
        if segment is None:
            break
        if segment.group()[1:-1] in _PROTOTYPE_KEYS:
            return None
        chain.append(segment.group())
        position = segment.end()
    else:
        # Past the depth the rest, from the next segment on, is one more key.
        rest = _BRACKET_SEGMENT.search(key, position)
        if rest is not None:
            chain.append("[" + key[rest.start() :] + "]")
    return chain


def _nest(chain: list[str], leaf: Any) -> Any:
    """qs's parseObject: the value ``leaf`` under the keys of ``chain``, innermost first."""
    for root in reversed(chain):
        if root == "[]":
            leaf = list(leaf) if isinstance(leaf, list) else [leaf]
            continue
        name = root[1:-1] if root.startswith("[") and root.endswith("]") else root
        if name != root and name.isdigit() and str(int(name)) == name and int(name) <= _QS_ARRAY_LIMIT:
            leaf = [*([_HOLE] * int(name)), leaf]
        elif name == "__proto__":
            leaf = {}
        else:
            leaf = {name: leaf}
    return leaf


def _as_object(items: list[Any]) -> dict[str, Any]:
    return {str(index): item for index, item in enumerate(items) if item is not _HOLE}


def _qs_merge(target: Any, source: Any) -> Any:
    """qs's utils.merge, on the values a query can hold (strings, lists and objects)."""
    if source is None or source == "":
        return target  # a falsy source leaves the target as it is
    if not isinstance(source, (dict, list)):
        if isinstance(target, list):
            target.append(source)
        elif isinstance(target, dict):
            if source not in _PROTOTYPE_KEYS:
                target[source] = True
        else:
            return [target, source]
        return target
    if not isinstance(target, (dict, list)):
        return [target, *source] if isinstance(source, list) else [target, source]
    if isinstance(target, list) and isinstance(source, list):
        for index, item in enumerate(source):
            if item is _HOLE:
                continue  # forEach skips the holes of a sparse array
            if index < len(target) and target[index] is not _HOLE:
                if isinstance(target[index], (dict, list)) and isinstance(item, (dict, list)):
                    target[index] = _qs_merge(target[index], item)
                else:
                    target.append(item)
            else:
                target.extend([_HOLE] * (index + 1 - len(target)))
                target[index] = item
        return target
    merged = _as_object(target) if isinstance(target, list) else target
    entries = _as_object(source).items() if isinstance(source, list) else source.items()
    for key, value in entries:
        merged[key] = _qs_merge(merged[key], value) if key in merged else value
    return merged


def _compact(value: Any) -> JsonValue:
    if isinstance(value, list):
        return [_compact(item) for item in value if item is not _HOLE]
    if isinstance(value, dict):
        return _js_property_order({key: _compact(item) for key, item in value.items()})
    result: JsonValue = value
    return result


def parse_query(query: str) -> dict[str, JsonValue]:
    """A query string as ``qs.parse`` reads it with its default options (``allowPrototypes`` off).

    ``a=1&a=2`` gives ``["1", "2"]``, ``a[]=1`` gives ``["1"]``, ``a[b][c]=1`` gives
    ``{"a": {"b": {"c": "1"}}}``, ``[a]=1`` gives ``{"a": "1"}``; indexes above 20 are object keys.
    """
    if not query:  # every GET without a query: what the loop below gives for it, without the work
        return {}
    text = _ENCODED_CLOSE.sub("]", _ENCODED_OPEN.sub("[", query))
    values: dict[str, Any] = {}
    for part in text.split("&")[:_QS_PARAMETER_LIMIT]:
        if not part:
            continue
        closing = part.find("]=")
        split_at = part.find("=") if closing == -1 else closing + 1
        if split_at == -1:
            key, value = _decode_component(part), ""
        else:
            key, value = _decode_component(part[:split_at]), _decode_component(part[split_at + 1 :])
        if key in values:
            existing = values[key]
            values[key] = [*(existing if isinstance(existing, list) else [existing]), value]
        else:
            values[key] = value
    result: Any = {}
    # The pairs are read in JavaScript property order: qs keeps them in a plain object first.
    for key, value in _js_property_order(values).items():
        chain = _split_key(key) if key else None
        if chain:
            result = _qs_merge(result, _nest(chain, value))
    compacted = _compact(result)
    assert isinstance(compacted, dict)
    return compacted
