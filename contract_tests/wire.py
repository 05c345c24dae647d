"""One HTTP/1.1 exchange on a kept-alive connection to one origin, byte for byte as drawn.

The standard library's ``http.client`` (which urllib3, hence requests and Schemathesis, build on)
sends and parses; this module only keeps idle connections for reuse and decides what goes on the
wire. That is what httpx sent before, without its per-request machinery (bench/README.md, "The
conformance run's own cost", has the figures):

- the request target is the URL as ``httpx.URL`` normalises it (percent-encoding included);
- the headers are the drawn ones, with ``Host`` first and ``Content-Length`` added as httpx adds
  them (``0`` for a POST, PUT or PATCH without body, else the body's length), and nothing else: no
  ``Accept``, ``Accept-Encoding``, ``User-Agent`` or cookies, just as the curl reproducer sends it;
- header values come back stripped of surrounding whitespace (not part of an HTTP field value), and
  the body as the server sent it (no ``Accept-Encoding`` is sent, so it is not compressed).

A connection idle for ``KEEPALIVE_SECONDS`` or found readable while idle (the server closed it) is
not reused; one that failed or was interrupted is closed, never reused.
"""

from __future__ import annotations

import contextlib
import http.client
import select
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field

import httpx

__all__ = ["KEEPALIVE_SECONDS", "Connections", "WireError", "WireResponse"]

KEEPALIVE_SECONDS = 2.0
"""Idle connections older than this are closed, not reused: well within Node's default keep-alive
timeout of 5 s (Rocket.Chat's, and the mock's), so that a request does not race the server closing
its end. The run sends without pause, so a reconnection is rare."""

_BODY_METHODS = ("POST", "PUT", "PATCH")


class WireError(Exception):
    """The request could not be sent or its answer not read (refused, reset, timeout, TLS, protocol)."""


@dataclass(frozen=True)
class WireResponse:
    status: int
    headers: tuple[tuple[str, str], ...]
    """Lower-case names, in the order received."""
    body: bytes


@dataclass
class Connections:
    """Kept-alive connections to the origin of ``base_url``; thread-safe (each request takes one)."""

    base_url: str
    verify_tls: bool = True
    _idle: list[tuple[float, http.client.HTTPConnection]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        origin = httpx.URL(self.base_url)
        self._https = origin.scheme == "https"
        self._host, self._port = origin.host, origin.port
        # The same trust store as httpx (certifi), and no proxy or SSL_CERT_FILE from the environment.
        self._tls = httpx.create_ssl_context(verify=self.verify_tls, trust_env=False) if self._https else None

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for _, connection in idle:
            connection.close()

    def send(
        self, method: str, url: str, headers: list[tuple[str, str]], body: bytes, timeout: float
    ) -> WireResponse:
        parsed = httpx.URL(url)  # raises httpx.InvalidURL, as the request itself would have
        lines = wire_headers(method, parsed, headers, body)
        connection = self._take(timeout)
        try:
            connection.putrequest(
                method, parsed.raw_path.decode("ascii"), skip_host=True, skip_accept_encoding=True
            )
            for name, value in lines:
                connection.putheader(name, value)
            connection.endheaders(body or None)  # headers and body in one send
            response = connection.getresponse()
            content = response.read()
        except (OSError, http.client.HTTPException, ValueError) as error:
            connection.close()
            raise WireError(f"{type(error).__name__} {error}".strip()) from error
        except BaseException:  # interrupted half-way: the connection's state is unknown
            connection.close()
            raise
        if response.will_close:
            connection.close()
        else:
            with self._lock:
                self._idle.append((time.monotonic(), connection))
        return WireResponse(response.status, _headers(response.getheaders()), content)

    def _take(self, timeout: float) -> http.client.HTTPConnection:
        now = time.monotonic()
        while True:
            with self._lock:
                if not self._idle:
                    break
                since, connection = self._idle.pop()
            if (
                now - since < KEEPALIVE_SECONDS
                and connection.sock is not None
                and not _readable(connection.sock)
            ):
                connection.timeout = timeout
                connection.sock.settimeout(timeout)
                return connection
            connection.close()
        if self._tls is not None:
            return http.client.HTTPSConnection(self._host, self._port, timeout=timeout, context=self._tls)
        return http.client.HTTPConnection(self._host, self._port, timeout=timeout)


def wire_headers(
    method: str, url: httpx.URL, headers: list[tuple[str, str]], body: bytes
) -> list[tuple[bytes, bytes]]:
    """The header lines of the request, as httpx writes them for these drawn headers."""
    names = {name.lower() for name, _ in headers}
    lines: list[tuple[bytes, bytes]] = []
    if "host" not in names:
        lines.append((b"Host", url.netloc))
    sized = "content-length" in names or "transfer-encoding" in names
    if not sized and not body and method in _BODY_METHODS:
        lines.append((b"Content-Length", b"0"))
    # ASCII, as httpx encodes header names and values (anything else raises UnicodeEncodeError).
    lines += [(name.encode("ascii"), value.encode("ascii")) for name, value in headers]
    if not sized and body:
        lines.append((b"Content-Length", str(len(body)).encode()))
    return lines


def _readable(sock: socket.socket) -> bool:
    # An idle keep-alive connection has nothing to read unless the server closed it (EOF) or sent junk.
    try:
        ready, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):  # closed, or a descriptor select cannot watch
        return True
    if ready:
        return True
    return isinstance(sock, ssl.SSLSocket) and sock.pending() > 0


def _headers(raw: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    # http.client decodes header bytes as ISO-8859-1; like httpx, take them as UTF-8 where all are.
    values = [value for _, value in raw]
    if not all(value.isascii() for value in values):
        with contextlib.suppress(UnicodeDecodeError):
            values = [value.encode("iso-8859-1").decode("utf-8") for value in values]
    return tuple((name.lower(), value.strip(" \t")) for (name, _), value in zip(raw, values, strict=True))
