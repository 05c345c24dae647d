"""A bounded hostile-input run over raw sockets: every profile, both stores.

Three hundred generated requests per server (a fixed seed): malformed and truncated JSON, deep
nesting (on the loop and in the forked child), odd numbers and strings, invalid UTF-8 and lone
surrogates, duplicate and ``__proto__`` keys, odd content types, chunked and Content-Length tricks,
header tricks, odd methods, path and query tricks, and the control endpoints. Whatever the mock
answers must be below 500, nothing may print a traceback, and the health endpoint must answer
between the requests.
"""

from __future__ import annotations

import contextlib
import random
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from spec.profiles import PROFILES
from spec.routes import CONFIG_PATH, TRIGGERS_PATH
from tests.mockserver import DEFAULT_USERS, MockServer, running_mock

pytestmark = pytest.mark.http

SEED = 20261201
REQUESTS_PER_SERVER = 300
ADMIN_ID, ADMIN_TOKEN, _ = DEFAULT_USERS["admin"]

_BODIES = [
    b"",
    b"{",
    b'{"name":',
    b'{"name": "x", "description": "y", "enabled": tru',
    b"[" * 5_000 + b"]" * 5_000,
    b'{"a":' * 3_000 + b"1" + b"}" * 3_000,
    b"[" * 150_000 + b"]" * 150_000,  # above the offload threshold: answered by a forked child
    b'{"name": 1e999, "description": -0, "enabled": 1e-400, "runOnce": 123456789012345678901234567890}',
    b'{"name": "\\ud800", "description": "\\udfff\\ud800", "enabled": "true", "runOnce": "0"}',
    b'{"name": "a", "name": "b", "__proto__": {"x": 1}, "constructor": {"prototype": 1}}',
    b"\xff\xfe\x00\x80\xc0\xaf",
    b"\xed\xa0\x80",
    b'{"_id": "\\ud800", "name": "n", "description": "d", "enabled": true, "runOnce": false,'
    b' "conditions": [{"name": "page-url", "value": "x"}],'
    b' "actions": [{"name": "send-message", "params": {"sender": "queue", "msg": "m"}}]}',
    b'{"_id": {"$ne": null}}',
    b'{"_id": ["a", "b"], "name": []}',
    b"null",
    b"1",
    b'"string"',
    b"a=1&a=2&b[c]=3&__proto__[x]=1&d[]=1&d[]=2",
    b"x" * 70_000,
]
_CONTENT_TYPES = [
    "application/json",
    "application/json; charset=latin1",
    "APPLICATION/JSON",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/json, text/plain",
    "",
]
_PATHS = [
    TRIGGERS_PATH,
    CONFIG_PATH,
    TRIGGERS_PATH + "/%ff%fe",
    TRIGGERS_PATH + "/%",
    TRIGGERS_PATH + "/%00",
    TRIGGERS_PATH + "/..%2F..%2F",
    TRIGGERS_PATH + "/" + "a" * 3_000,
    "/" + TRIGGERS_PATH,
    TRIGGERS_PATH + "/",
    "/api",
    "/api/v1/../v1/livechat/triggers",
    "/",
    "/docs/",
    "/docs/" + "z" * 300,
    "/openapi.json",
    "/__mock__/",
    "/__mock__/health",
    "/__mock__/nope",
    "/__mock__/journal?limit=99999999999999999999",
    "/__mock__/journal?limit=-5",
    "/__mock__/docs/" + "q" * 300,
    "*",
    "http://example.com/api/v1/livechat/triggers",
]
_QUERIES = [
    "",
    "?count=1e999",
    "?count=-1&offset=-1",
    "?offset=NaN&count=Infinity",
    "?sort=" + "%7B" * 2_000,
    '?sort={"name":1}&sort={"name":-1}',
    "?sort=%7B%22name%22%3A2%7D",
    "?count[]=1&count[]=2",
    "?query=%7B%22%24where%22%3A1%7D",
    "?%ff=%fe",
]
_METHODS = ["GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS", "PROPFIND", "TRACE"]
_CONTROL_WRITES = ["/__mock__/profile", "/__mock__/triggers", "/__mock__/reset"]


def _headers(chooser: random.Random, body: bytes, content_type: str) -> list[bytes]:
    headers = [b"Host: 127.0.0.1", b"Connection: close"]
    if chooser.random() < 0.85:
        headers += [f"X-User-Id: {ADMIN_ID}".encode(), f"X-Auth-Token: {ADMIN_TOKEN}".encode()]
    if content_type:
        headers.append(f"Content-Type: {content_type}".encode())
    trick = chooser.randrange(10)
    if trick == 0:
        headers.append(b"X-User-Id: someone-else")  # a repeated credential header
    elif trick == 1:
        headers.append(b"X-Pad: " + b"p" * 20_000)  # past Node's 16 KiB: a 431
    elif trick == 2:
        headers.append(b"Origin: https://evil.example")
    elif trick == 3:
        headers.append(b"X-Folded: a\r\n b")  # obsolete line folding
    elif trick == 4:
        headers.append(b"Bad Header: x")
    elif trick == 5:
        headers.append(b"X-Request-Id: " + b"\xff" * 40)
    return headers


def _request(chooser: random.Random) -> bytes:
    method = chooser.choice(_METHODS)
    body = chooser.choice(_BODIES) if method in ("POST", "PUT", "PATCH", "DELETE") else b""
    path = chooser.choice(_PATHS + _CONTROL_WRITES if method != "GET" else _PATHS)
    if "?" not in path and path.startswith("/"):
        path += chooser.choice(_QUERIES)
    content_type = chooser.choice(_CONTENT_TYPES)
    headers = _headers(chooser, body, content_type)
    framing = chooser.randrange(6)
    if framing == 0 and body:  # chunked, with a wrong chunk size half the time
        size = len(body) if chooser.random() < 0.5 else len(body) + 7
        payload = f"{size:x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
        headers.append(b"Transfer-Encoding: chunked")
    elif framing == 1 and body:  # Content-Length shorter than the body: the rest is a second request
        payload = body
        headers.append(f"Content-Length: {max(len(body) // 2, 0)}".encode())
    elif framing == 2:  # both framings at once
        payload = b"0\r\n\r\n"
        headers += [b"Transfer-Encoding: chunked", b"Content-Length: 5"]
    else:
        payload = body
        headers.append(f"Content-Length: {len(body)}".encode())
    return f"{method} {path} HTTP/1.1\r\n".encode() + b"\r\n".join(headers) + b"\r\n\r\n" + payload


def _exchange(port: int, data: bytes, timeout: float = 30.0) -> bytes:
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
        with contextlib.suppress(OSError):  # the server may answer and close before all is written
            connection.sendall(data)
        with contextlib.suppress(ConnectionResetError, socket.timeout):
            while chunk := connection.recv(65_536):
                received += chunk
    return received


def _statuses(answer: bytes) -> list[int]:
    """Status codes of every response in the bytes (pipelined leftovers may produce a second one)."""
    codes = []
    for line in answer.split(b"\r\n"):
        if line.startswith(b"HTTP/1.1 ") and line[9:12].isdigit():
            codes.append(int(line[9:12]))
    return codes


def _health_ms(port: int) -> float:
    started = time.perf_counter()
    answer = _exchange(port, b"GET /__mock__/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    assert _statuses(answer)[:1] == [200], answer[:200]
    return (time.perf_counter() - started) * 1000


@pytest.fixture(params=[(profile, store) for profile in PROFILES for store in ("memory", "db")], ids=str)
def hostile_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MockServer]:
    profile, store = request.param
    arguments = ["--profile", profile, "--quiet"]
    if store == "db":
        arguments += ["--db", str(tmp_path / "state.sqlite")]
    with running_mock(*arguments) as server:
        yield server


def test_hostile_corpus_no_5xx_no_traceback_health_throughout(hostile_server: MockServer) -> None:
    port = int(hostile_server.base_url.rsplit(":", 1)[1])
    chooser = random.Random(SEED)
    requests = [_request(chooser) for _ in range(REQUESTS_PER_SERVER)]
    failures: list[tuple[list[int], bytes]] = []
    slowest_health = 0.0
    with ThreadPoolExecutor(max_workers=8) as pool:  # 6.13's delayed 401s overlap instead of adding up
        for start in range(0, len(requests), 30):
            batch = requests[start : start + 30]
            # 5 s: a body announced longer than sent is awaited by the server (as by Node); the
            # client gives up first, and the next batch shows that nothing else waited for it.
            for data, answer in zip(batch, pool.map(lambda d: _exchange(port, d, 5.0), batch), strict=True):
                codes = _statuses(answer)
                if any(code >= 500 for code in codes):
                    failures.append((codes, data[:200]))
            slowest_health = max(slowest_health, _health_ms(port))
    assert not failures, failures[:5]
    assert slowest_health < 5_000, slowest_health
    log = hostile_server.log()
    assert "Traceback" not in log, log[-3_000:]
    assert _health_ms(port) < 5_000
