"""The outbound call of the external-service routes, as data: what the server sends to a webhook,
the ways that call can end, and the exact answer each ending gives.

``spec.external_service`` plans the call (an ``ExternalCall``); an adapter (the mock's
``mock_server.outbound``) performs ``ExternalCall.request`` and hands the ``WebhookResult`` back to
``render``, a pure function. Nothing here does I/O.

Source: ``ee/app/livechat-enterprise/server/api/lib/triggers.ts`` (``callTriggerExternalService``)
and ``packages/server-fetch`` (6.13.0; the later EE versions read differ only in SSRF options), with
node-fetch 2.3.0 underneath. The error texts of node-fetch and Node.js, the WHATWG URL parser (as
approximated by ``parse_url``) and the headers node-fetch adds by itself are inferred from those
libraries, not read in this repository: every answer rendered here names ``outbound-call``.
See docs/source-notes/external-service.md.
"""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote, unquote

from spec.headers import JSON_HEADERS, LIVECHAT_TOKEN_HEADER
from spec.jsvalues import (
    JsonSyntaxError,
    js_number_to_string,
    js_string_to_number,
    json_parse_message,
    parse_json,
    stringify,
)
from spec.model import Answer, JsonValue

NodeMessages = Literal["node14", "node22"]
OUTBOUND_INFERRED = "outbound-call"

TIMEOUT_MESSAGE = "The user aborted a request."
"""node-fetch's ``AbortError`` text; the one message the server maps to ``error-timeout``."""
TIMEOUT_ERROR = "error-timeout"
BAD_FORMAT_MESSAGE = "External service response does not match expected format"
DEFAULT_TIMEOUT_MS = 1000.0
"""``timeout || 1000``: a zero timeout means one second."""
_TIMER_MAX_MS = 2**31 - 1
"""Node's ``setTimeout`` runs a delay outside 1..2**31-1 ms after 1 ms."""
NODE_FETCH_USER_AGENT = "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)"
_ILLEGAL_HEADER_VALUE = re.compile(r"[^\t\x20-\x7e\x80-\xff]")
"""node-fetch 2's ``invalidHeaderCharRegex``: what a header value may not hold (latin-1 is sent as is)."""


# -- the request ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutboundRequest:
    """One HTTP request to a webhook, as node-fetch sends it (``Content-Length`` and the connection
    headers are the transport's)."""

    method: str
    url: str
    """The URL as ``new URL(url).toString()`` serialises it (fragment included; it is not sent)."""
    host: str
    port: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    timeout_ms: float
    """How long the server waits for the answer's status line and headers (an ``AbortController``)."""
    body_timeout_ms: float
    """node-fetch's own ``timeout``: how long reading the answer's body may take."""


@dataclass(frozen=True)
class ExternalCall:
    """A planned call and everything needed to render its result."""

    trigger_id: str
    fallback_message: JsonValue
    invalid_response_error: str
    node: NodeMessages
    request: OutboundRequest | None
    """``None`` when no request can be made; ``refusal`` is then the error's message."""
    refusal: str = ""
    timeout_text: str = ""
    """``timeout`` as JavaScript prints it, for node-fetch's body-timeout message."""

    def unreachable(self) -> WebhookResult:
        """The result of a call whose connection is refused (what ``--no-outbound`` answers)."""
        if self.request is None:
            return WebhookUnreachable("")
        return WebhookUnreachable(refused_reason(self.request.host, self.request.port))


def plan_request(
    *,
    url: str,
    timeout: JsonValue,
    token: JsonValue,
    body: dict[str, JsonValue],
    trigger_id: str,
    fallback_message: JsonValue,
    invalid_response_error: str,
    node: NodeMessages,
) -> ExternalCall:
    """``callTriggerExternalService({url, timeout, fallbackMessage, body, headers})``."""
    effective: JsonValue = timeout if js_truthy(timeout) else DEFAULT_TIMEOUT_MS
    call = ExternalCall(
        trigger_id=trigger_id,
        fallback_message=fallback_message,
        invalid_response_error=invalid_response_error,
        node=node,
        request=None,
        timeout_text=js_string(effective),
    )
    parsed = parse_url(url)
    if isinstance(parsed, str):
        message = "Invalid URL" if node == "node22" else f"Invalid URL: {url}"
        return _replace_refusal(call, message)
    token_text = js_string(token)
    if _ILLEGAL_HEADER_VALUE.search(token_text):  # new Request() refuses it, before the URL checks
        return _replace_refusal(call, f"{token_text} is not a legal HTTP header value")
    if parsed.scheme not in ("http", "https"):
        # node-fetch 2's own checks, after the URL parsed.
        message = (
            "Only HTTP(S) protocols are supported" if parsed.host else "Only absolute URLs are supported"
        )
        return _replace_refusal(call, message)
    headers = (
        ("Accept", "application/json"),
        ("Content-Type", "application/json"),
        (LIVECHAT_TOKEN_HEADER, token_text),
        ("User-Agent", NODE_FETCH_USER_AGENT),
        ("Accept-Encoding", "gzip,deflate"),
    )
    delay = timer_delay_ms(effective)
    request = OutboundRequest(
        method="POST",
        url=parsed.serialized,
        host=parsed.host,
        port=parsed.port,
        headers=headers,
        body=stringify(body).encode("utf-8"),
        timeout_ms=delay,
        body_timeout_ms=delay,
    )
    return ExternalCall(
        trigger_id=trigger_id,
        fallback_message=fallback_message,
        invalid_response_error=invalid_response_error,
        node=node,
        request=request,
        timeout_text=call.timeout_text,
    )


def _replace_refusal(call: ExternalCall, message: str) -> ExternalCall:
    return ExternalCall(
        trigger_id=call.trigger_id,
        fallback_message=call.fallback_message,
        invalid_response_error=call.invalid_response_error,
        node=call.node,
        request=None,
        refusal=message,
        timeout_text=call.timeout_text,
    )


def timer_delay_ms(value: JsonValue) -> float:
    """The delay Node's ``setTimeout(fn, value)`` really waits (``value`` is converted to a number)."""
    number = _js_to_number(value)
    if math.isnan(number) or not 1 <= number <= _TIMER_MAX_MS:
        return 1.0
    return float(math.trunc(number))


def refused_reason(host: str, port: int) -> str:
    """Node's text for a refused TCP connection (the address as the host names it)."""
    address = host[1:-1] if host.startswith("[") else host
    return f"connect ECONNREFUSED {address}:{port}"


# -- the results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookResponse:
    """The webhook answered: its status and the complete body."""

    status: int
    body: bytes


@dataclass(frozen=True)
class WebhookTimeout:
    """No status line and headers within ``timeout_ms``."""


@dataclass(frozen=True)
class WebhookBodyTimeout:
    """Headers came in time, the body did not come within ``body_timeout_ms``."""


@dataclass(frozen=True)
class WebhookUnreachable:
    """No answer at all: ``reason`` is Node's text (``connect ECONNREFUSED 127.0.0.1:9``,
    ``getaddrinfo ENOTFOUND host``, ``socket hang up``...)."""

    reason: str


WebhookResult = WebhookResponse | WebhookTimeout | WebhookBodyTimeout | WebhookUnreachable


def render(call: ExternalCall, result: WebhookResult) -> Answer:
    """The route's answer once the call ended with ``result`` (the ``refusal`` of an unsendable
    request wins over any result). Answers whose text is Node's or node-fetch's own (not read in
    this repository) name ``outbound-call`` as inferred; the rest are the route's code as read."""
    if call.request is None:
        return _failure(call, call.invalid_response_error, call.refusal, inferred=True)
    url = call.request.url
    if isinstance(result, WebhookTimeout):
        return _failure(call, TIMEOUT_ERROR, TIMEOUT_MESSAGE)
    if isinstance(result, WebhookBodyTimeout):
        message = f"Response timeout while trying to fetch {url} (over {call.timeout_text}ms)"
        return _failure(call, call.invalid_response_error, message, inferred=True)
    if isinstance(result, WebhookUnreachable):
        message = f"request to {url} failed, reason: {result.reason}"
        return _failure(call, call.invalid_response_error, message, inferred=True)
    text = result.body.decode("utf-8", errors="replace")  # Buffer#toString
    if result.status != 200:  # !response.ok || status !== 200: the body's text is the message
        return _failure(call, call.invalid_response_error, text)
    try:
        data = parse_json(text)
    except JsonSyntaxError:
        reason = json_parse_message(text, call.node)
        message = f"invalid json response body at {url} reason: {reason}"
        return _failure(call, call.invalid_response_error, message, inferred=True)
    problem = _contents_problem(data)
    if problem is not None:
        return _failure(call, call.invalid_response_error, problem, inferred=problem != BAD_FORMAT_MESSAGE)
    assert isinstance(data, dict)
    response: dict[str, JsonValue] = {"statusCode": float(result.status), "contents": data["contents"]}
    body: dict[str, JsonValue] = {"triggerId": call.trigger_id, "response": response, "success": True}
    return _answer(200, body, inferred=False)


def _contents_problem(data: JsonValue) -> str | None:
    """Why ``data.contents`` is not a non-empty array of ``{msg: string, order: number}``."""
    if data is None:  # const { contents } = data
        return "Cannot destructure property 'contents' of 'data' as it is null."
    contents = data.get("contents") if isinstance(data, dict) else None
    if not isinstance(contents, list) or not contents:
        return BAD_FORMAT_MESSAGE
    for item in contents:  # every(({ msg, order }) => ...) stops at the first failure
        if item is None:
            return "Cannot destructure property 'msg' of 'object null' as it is null."
        if not isinstance(item, dict):
            return BAD_FORMAT_MESSAGE
        order = item.get("order")
        if not isinstance(item.get("msg"), str) or not isinstance(order, float) or isinstance(order, bool):
            return BAD_FORMAT_MESSAGE
    return None


def _failure(call: ExternalCall, error: str, message: str, *, inferred: bool = False) -> Answer:
    # failure({triggerId, ...{error, response, fallbackMessage}}): success last; undefined dropped.
    body: dict[str, JsonValue] = {"triggerId": call.trigger_id, "error": error, "response": message}
    body["fallbackMessage"] = call.fallback_message
    body["success"] = False
    return _answer(400, body, inferred=inferred)


def _answer(status: int, body: dict[str, JsonValue], *, inferred: bool) -> Answer:
    marks = (OUTBOUND_INFERRED,) if inferred else ()
    return Answer(status, stringify(body).encode("utf-8"), JSON_HEADERS, inferred=marks)


# -- JavaScript conversions ------------------------------------------------------------------------


def js_truthy(value: JsonValue) -> bool:
    if value is None or value is False or value == "":
        return False
    return not (isinstance(value, float) and (value == 0 or math.isnan(value)))


def _js_to_number(value: JsonValue) -> float:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value)
    if value is None:
        return 0.0
    if isinstance(value, str):
        return js_string_to_number(value)
    if isinstance(value, list):  # [] -> "" -> 0, [x] -> String(x), longer -> NaN
        return _js_to_number(js_string(value)) if len(value) <= 1 else math.nan
    return math.nan


def js_string(value: JsonValue) -> str:
    """``String(value)`` (how Node writes a header value or a template literal)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return js_number_to_string(float(value))
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ",".join("" if item is None else js_string(item) for item in value)
    return "[object Object]"


# -- the WHATWG URL parser, for the URLs a webhook is given ------------------------------------------


@dataclass(frozen=True)
class ParsedUrl:
    scheme: str
    host: str
    port: int
    serialized: str


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_SPECIAL_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21}
_FORBIDDEN_HOST = set(" #%/:<>?@[\\]^|") | {chr(c) for c in range(0x20)} | {"\x7f"}
_PATH_SAFE = "!$&'()*+,-./:;=@[]^_|~"  # what the path percent-encode set leaves alone (plus %)
_QUERY_SAFE = "!$%&()*+,-./:;=?@[\\]^_`{|}~"
_FRAGMENT_SAFE = "!#$%&'()*+,-./:;=?@[\\]^_{|}~"
_USERINFO_SAFE = "!$%&'()*+,-._~"


def parse_url(text: str) -> ParsedUrl | str:
    """``new URL(text)`` for an absolute URL: the parsed URL, or ``"Invalid URL"``. Special-scheme
    URLs (http, https, ws, wss, ftp, file) are parsed as the WHATWG standard says, with IDNA
    approximated by Python's codec; other schemes only by their scheme and ``//host``."""
    text = text.strip("".join(chr(c) for c in range(0x21)))
    text = re.sub("[\t\n\r]", "", text)
    match = _SCHEME.match(text)
    if match is None:
        return "Invalid URL"
    scheme = match.group(0)[:-1].lower()
    rest = text[match.end() :]
    if scheme not in _SPECIAL_PORTS and scheme != "file":
        host = ""
        if rest.startswith("//"):
            host = re.split(r"[/?#]", rest[2:], maxsplit=1)[0].rpartition("@")[2].lower()
        return ParsedUrl(scheme, host, 0, f"{scheme}:{rest}")
    if scheme == "file":
        return ParsedUrl(scheme, "", 0, "file://" + re.sub(r"^[/\\]*", "/", rest))
    rest = rest.replace("\\", "/")
    rest = rest.lstrip("/")
    authority, separator, tail = _split_authority(rest)
    userinfo, _, host_port = authority.rpartition("@")
    host_text, port_text = _split_port(host_port)
    if host_text is None:
        return "Invalid URL"
    parsed_host = _parse_host(host_text)
    if not parsed_host:
        return "Invalid URL"
    host = parsed_host
    default = _SPECIAL_PORTS[scheme]
    port = default
    if port_text:
        if not port_text.isdigit() or int(port_text) > 65535:
            return "Invalid URL"
        port = int(port_text)
    serialized = f"{scheme}://"
    if userinfo:
        user, colon, password = userinfo.partition(":")
        serialized += quote(user, safe=_USERINFO_SAFE)
        if colon and password:
            serialized += ":" + quote(password, safe=_USERINFO_SAFE)
        serialized += "@"
    serialized += host + ("" if port == default else f":{port}")
    serialized += _path_query_fragment(separator + tail)
    return ParsedUrl(scheme, host, port, serialized)


def _split_authority(rest: str) -> tuple[str, str, str]:
    for index, char in enumerate(rest):
        if char in "/?#":
            return rest[:index], char, rest[index + 1 :]
    return rest, "", ""


def _split_port(host_port: str) -> tuple[str | None, str]:
    if host_port.startswith("["):
        end = host_port.find("]")
        if end == -1:
            return None, ""
        after = host_port[end + 1 :]
        if after and not after.startswith(":"):
            return None, ""
        return host_port[: end + 1], after[1:]
    host, _, port = host_port.partition(":")
    return host, port


def _parse_host(text: str) -> str | None:
    if text.startswith("["):
        try:
            return f"[{ipaddress.IPv6Address(text[1:-1]).compressed}]"
        except ValueError:
            return None
    decoded = unquote(text)
    try:
        ascii_host = decoded.lower() if decoded.isascii() else decoded.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None
    if any(char in _FORBIDDEN_HOST for char in ascii_host):
        return None
    return _ipv4(ascii_host)


def _ipv4(host: str) -> str | None:
    """The host itself, or its dotted IPv4 form when its last label is a number (``127.1``)."""
    labels = host.split(".")
    if labels and labels[-1] == "" and len(labels) > 1:
        labels = labels[:-1]
    if not labels or not _ipv4_number(labels[-1])[1]:
        return host
    numbers: list[int] = []
    for label in labels:
        value, ok = _ipv4_number(label)
        if not ok:
            return None
        numbers.append(value)
    if len(numbers) > 4 or any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        return None
    address = numbers[-1] + sum(n * 256 ** (3 - i) for i, n in enumerate(numbers[:-1]))
    return str(ipaddress.IPv4Address(address))


def _ipv4_number(label: str) -> tuple[int, bool]:
    if label == "":
        return 0, False
    base, digits = 10, label
    if label[:2].lower() == "0x":
        base, digits = 16, label[2:]
    elif len(label) > 1 and label[0] == "0":
        base, digits = 8, label[1:]
    if digits == "":
        return 0, True
    allowed = {10: "0123456789", 16: "0123456789abcdefABCDEF", 8: "01234567"}[base]
    if any(char not in allowed for char in digits):
        return 0, False
    return int(digits, base), True


def _path_query_fragment(tail: str) -> str:
    path, fragment = tail, None
    if "#" in path:
        path, fragment = path.split("#", 1)
    query = None
    if "?" in path:
        path, query = path.split("?", 1)
    segments: list[str] = []
    raw_segments = path.split("/")[1:] if path.startswith("/") else ([path] if path else [])
    for index, segment in enumerate(raw_segments):
        last = index == len(raw_segments) - 1
        lowered = segment.lower()
        if lowered in ("..", ".%2e", "%2e.", "%2e%2e"):
            if segments:
                segments.pop()
            if last:
                segments.append("")
        elif lowered in (".", "%2e"):
            if last:
                segments.append("")
        else:
            segments.append(quote(segment, safe=_PATH_SAFE + "%"))
    serialized = "/" + "/".join(segments)
    if query is not None:
        serialized += "?" + quote(query, safe=_QUERY_SAFE)
    if fragment is not None:
        serialized += "#" + quote(fragment, safe=_FRAGMENT_SAFE)
    return serialized
