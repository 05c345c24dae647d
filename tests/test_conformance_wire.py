"""The runner's HTTP exchanges (``contract_tests.wire``): the bytes on the wire, answers read whole,
connections kept alive and dropped when the server closed them.

The server here is a raw TCP listener on 127.0.0.1 that records every byte it receives and answers
with canned bytes, so the request is compared as sent, not as some HTTP library parsed it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest

from contract_tests.client import ConnectionFailed, Transport
from spec.model import Request

ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Padded:  spaced  \r\n"
    b"Set-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 2\r\n\r\n{}"
)
CHUNKED = (
    b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n"
    b'3\r\n{"a\r\n3\r\n":1\r\n1\r\n}\r\n0\r\n\r\n'
)
CLOSING = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"


class RawServer:
    """Accepts connections on 127.0.0.1, reads one request at a time, answers ``answer`` to each."""

    def __init__(self, answer: bytes = ANSWER, close_after: bool = False, silent: bool = False) -> None:
        self.answer, self.close_after, self.silent = answer, close_after, silent
        self.requests: list[bytes] = []
        self.accepted = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            self.connections.append(connection)
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        # A connection the test dropped (or closed at the end) ends its thread quietly.
        with contextlib.suppress(OSError), connection:
            self._answer_each(connection)

    def _answer_each(self, connection: socket.socket) -> None:
        buffer = b""
        while True:
            while b"\r\n\r\n" not in buffer:
                chunk = connection.recv(65536)
                if not chunk:
                    return
                buffer += chunk
            head, _, rest = buffer.partition(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                0,
            )
            while len(rest) < length:
                rest += connection.recv(65536)
            self.requests.append(head + b"\r\n\r\n" + rest[:length])
            buffer = rest[length:]
            if self.silent:
                continue
            connection.sendall(self.answer)
            if self.close_after:
                return

    def drop_idle(self) -> None:
        """Close every connection from the server's side, as a server does with idle ones."""
        for connection in self.connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.listener.close()
        self.drop_idle()


@pytest.fixture
def server() -> Iterator[RawServer]:
    raw = RawServer()
    yield raw
    raw.close()


SAMPLES = [
    Request(
        "GET",
        "/api/v1/livechat/triggers",
        'count=2&sort={"name":-1}',
        (("X-User-Id", "u"), ("X-Auth-Token", "t")),
    ),
    Request("GET", "/api/v1/livechat/triggers/no such id", "", (("x-user-id", "u"), ("x-auth-token", ""))),
    Request(
        "POST",
        "/api/v1/livechat/triggers",
        "",
        (("X-User-Id", "u"), ("Content-Type", "application/json")),
        b'{"name":"caf\xc3\xa9"}',
    ),
    Request("POST", "/api/v1/livechat/triggers", "", (("X-User-Id", "u"),)),
    Request("DELETE", "/api/v1/livechat/triggers/abc", "", ()),
    Request("POST", "/api/v1/livechat/triggers", "", (("Content-Type", "text/plain"),), b"\xff\xfe"),
]


def _sent_by_httpx(base_url: str, request: Request) -> None:
    # What the runner sent before (httpx's transport, the drawn headers only): the reference bytes.
    with httpx.HTTPTransport(trust_env=False) as transport:
        url = base_url + request.path + (f"?{request.query}" if request.query else "")
        response = transport.handle_request(
            httpx.Request(request.method, url, headers=list(request.headers), content=request.body)
        )
        response.read()


@pytest.mark.parametrize("request_", SAMPLES, ids=lambda r: f"{r.method} {r.path}?{r.query} {len(r.body)}")
def test_the_request_bytes_are_those_httpx_sends(server: RawServer, request_: Request) -> None:
    _sent_by_httpx(server.base_url, request_)
    transport = Transport(server.base_url)
    transport.send(request_)
    transport.close()
    assert len(server.requests) == 2
    assert server.requests[1] == server.requests[0]


def test_answers_are_read_whole_with_their_headers(server: RawServer) -> None:
    transport = Transport(server.base_url)
    observed = transport.send(SAMPLES[0])
    assert (observed.status, observed.body) == (200, b"{}")
    assert observed.headers == (
        ("content-type", "application/json"),
        ("x-padded", "spaced"),  # surrounding whitespace is not part of an HTTP field value
        ("set-cookie", "a=1"),
        ("set-cookie", "b=2"),
        ("content-length", "2"),
    )
    transport.close()
    chunked = RawServer(CHUNKED)
    try:
        transport = Transport(chunked.base_url)
        observed = transport.send(SAMPLES[2])
        assert (observed.status, observed.body) == (400, b'{"a":1}')
        transport.close()
    finally:
        chunked.close()


def test_connections_are_kept_alive_and_renewed_when_the_server_closed_them(server: RawServer) -> None:
    transport = Transport(server.base_url)
    for request in SAMPLES:
        assert transport.send(request).status == 200
    assert server.accepted == 1
    assert b"cookie" not in server.requests[-1].lower()  # the Set-Cookie answers are not sent back
    server.drop_idle()
    assert transport.send(SAMPLES[0]).status == 200
    assert server.accepted == 2
    transport.close()
    closing = RawServer(CLOSING, close_after=True)  # says so, then closes: never reused
    try:
        transport = Transport(closing.base_url)
        assert [transport.send(SAMPLES[0]).status for _ in range(3)] == [200, 200, 200]
        assert closing.accepted == 3
        transport.close()
    finally:
        closing.close()


def test_a_silent_server_is_a_transport_error_after_the_timeout() -> None:
    silent = RawServer(silent=True)
    try:
        transport = Transport(silent.base_url, timeout_seconds=0.3)
        with pytest.raises(ConnectionFailed, match="timed out"):
            transport.send(SAMPLES[0])
        transport.close()
    finally:
        silent.close()
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there now
    transport = Transport(f"http://127.0.0.1:{port}")
    with pytest.raises(ConnectionFailed, match="refused"):
        transport.send(SAMPLES[0])
    transport.close()
