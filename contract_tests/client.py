"""Sending ``spec.model.Request`` values to a live server byte for byte, and reproducing them with curl.

Rate limiting is handled here: a 429 the prediction did not expect is waited out (bounded, using the
server's reset header when present) and the request sent again; every wait is reported.
"""

from __future__ import annotations

import shlex
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from contract_tests.checks import Observed
from contract_tests.wire import Connections, WireError
from spec.headers import RATE_LIMIT_RESET
from spec.model import Request
from spec.permissions import BYPASS_RATE_LIMIT
from spec.profiles import RateLimit

__all__ = [
    "TRANSPORT_ERROR_LIMIT",
    "ConnectionFailed",
    "OutOfTime",
    "RateLimitExhausted",
    "RateLimitWait",
    "Stopped",
    "Transport",
    "TransportGaveUp",
    "curl_command",
    "reproducer",
]

TRANSPORT_ERROR_LIMIT = 3
"""Consecutive transport errors (refused, reset, timeout) after which the run stops: a server that is
gone stays gone, and each further try costs up to ``--timeout``."""


class ConnectionFailed(Exception):
    """One request could not be sent or answered (refused, DNS, TLS, reset, timeout)."""


class Stopped(BaseException):
    """The run must stop now (not an ``Exception``, so that Hypothesis does not replay or shrink)."""

    def __init__(self, reason: str, kind: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind
        """``connection``, ``time`` or ``interrupted``."""


class TransportGaveUp(Stopped):
    def __init__(self, reason: str) -> None:
        super().__init__(reason, "connection")


class OutOfTime(Stopped):
    def __init__(self, reason: str) -> None:
        super().__init__(reason, "time")


class RateLimitExhausted(Exception):
    """The server kept answering 429 beyond the waiting budget."""


@dataclass(frozen=True)
class RateLimitWait:
    method: str
    path: str
    seconds: float


@dataclass
class Transport:
    """An HTTP client bound to one base URL; thread-safe."""

    base_url: str
    timeout_seconds: float = 30.0
    verify_tls: bool = True
    rate_limit_budget_seconds: float = 180.0
    """The most the whole run may spend waiting for rate limits before it gives up."""
    on_wait: Callable[[RateLimitWait], None] = lambda wait: None
    sleep: Callable[[float], None] = time.sleep
    waited_seconds: float = 0.0
    sent: int = 0
    deadline: float | None = None
    """``time.monotonic()`` value after which no request is sent (``--max-time``)."""
    deadline_reason: str = "--max-time reached"
    consecutive_errors: int = 0
    error_limit: int = TRANSPORT_ERROR_LIMIT
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        # Kept-alive http.client connections (contract_tests.wire): no redirects, no cookie jar, no
        # default headers (Accept, Accept-Encoding, User-Agent...), so the request reaches the server as
        # drawn, with only Host and Content-Length added, as the curl reproducer sends it.
        self._connections = Connections(self.base_url, verify_tls=self.verify_tls)

    def close(self) -> None:
        self._connections.close()

    def url(self, request: Request) -> str:
        return self.base_url.rstrip("/") + request.path + (f"?{request.query}" if request.query else "")

    def send(self, request: Request, *, expect_rate_limit: bool = False) -> Observed:
        """Send ``request``; an unexpected 429 is waited out and the request sent again."""
        while True:
            observed = self._send_once(request)
            if observed.status != 429 or expect_rate_limit:
                return observed
            self._wait(request, observed)

    def _send_once(self, request: Request) -> Observed:
        started = time.monotonic()
        timeout = self.timeout_seconds
        if self.deadline is not None:
            left = self.deadline - started
            if left <= 0:
                raise OutOfTime(self.deadline_reason)
            timeout = min(timeout, left)
        try:
            response = self._connections.send(
                request.method, self.url(request), list(request.headers), request.body, timeout
            )
        except WireError as error:
            message = f"{request.method} {self.url(request)}: {error}".strip()
            with self._lock:
                self.consecutive_errors += 1
                errors = self.consecutive_errors
            if errors >= self.error_limit:
                raise TransportGaveUp(
                    f"stopped after {errors} transport errors in a row (last: {message}); "
                    f"the server is unreachable or hangs (--timeout {self.timeout_seconds:g} s)"
                ) from error
            raise ConnectionFailed(message) from error
        with self._lock:
            self.sent += 1
            self.consecutive_errors = 0
        return Observed(
            status=response.status,
            body=response.body,
            headers=response.headers,
            elapsed_seconds=time.monotonic() - started,
        )

    def _wait(self, request: Request, observed: Observed) -> None:
        seconds = _retry_after(observed)
        with self._lock:
            if self.waited_seconds + seconds > self.rate_limit_budget_seconds:
                raise RateLimitExhausted(
                    f"the server rate-limited {request.method} {request.path} and the waiting budget of "
                    f"{self.rate_limit_budget_seconds:.0f} s is spent; run with an account that holds "
                    f"{BYPASS_RATE_LIMIT} (admins do), or lower --max-examples"
                )
            self.waited_seconds += seconds
        self.on_wait(RateLimitWait(request.method, request.path, seconds))
        self.sleep(seconds)


WINDOW_SECONDS = RateLimit().window_ms / 1000
"""A whole rate-limit window: the wait when the server says nothing about when it resets."""
LONGEST_WAIT_SECONDS = WINDOW_SECONDS + 5
"""No single wait is longer than a window and a little slack, whatever the server's header says."""


def _retry_after(observed: Observed) -> float:
    # Rocket.Chat sends x-ratelimit-reset as epoch milliseconds; others send Retry-After in seconds.
    reset = observed.header(RATE_LIMIT_RESET)
    if reset is not None and reset.isdigit():
        return min(max(int(reset) / 1000 - time.time(), 0.0) + 0.5, LONGEST_WAIT_SECONDS)
    retry_after = observed.header("retry-after")
    if retry_after is not None and retry_after.isdigit():
        return min(float(retry_after), LONGEST_WAIT_SECONDS)
    return WINDOW_SECONDS


def curl_command(base_url: str, request: Request, secrets: Mapping[str, str] | None = None) -> str:
    """A POSIX ``sh`` command that sends exactly ``request`` with curl (one line, or two with a body).

    ``secrets`` maps header values (real tokens and ids) to shell variable names, so that reports
    can be published without credentials; the reader exports the variables before running it. The
    body goes through ``printf`` into curl's standard input: readable JSON, with octal escapes (which
    every POSIX ``printf`` knows, unlike ``\\x``) only for bytes that are not printable text.
    """
    secrets = secrets or {}
    parts = ["curl", "-g", "-sS", "-i", "-X", request.method]
    for name, value in request.headers:
        variable = secrets.get(value)
        header = f"{name}: ${{{variable}}}" if variable else f"{name}: {value}"
        parts += ["-H", f'"{_double_quoted(header)}"' if variable else shlex.quote(header)]
    url = base_url.rstrip("/") + request.path + (f"?{request.query}" if request.query else "")
    if request.body or request.method == "POST":
        parts += ["--data-binary", "@-", shlex.quote(url)]
        return f"printf '{_printf_format(request.body)}' | " + " ".join(parts)
    parts.append(shlex.quote(url))
    return " ".join(parts)


def reproducer(base_url: str, requests: Sequence[Request], secrets: Mapping[str, str] | None = None) -> str:
    """A POSIX ``sh`` script sending ``requests`` in order (a write, then the GET that shows it)."""
    lines = [curl_command(base_url, request, secrets) for request in requests]
    if len(lines) == 1:
        return lines[0]
    # A blank line between the answers, so that each one's status line is easy to find.
    return "\necho\n".join(lines)


def _printf_format(body: bytes) -> str:
    """``body`` as the inside of a single-quoted ``printf`` format that writes exactly these bytes."""
    # Invalid UTF-8 decodes to lone surrogates, which are not printable and encode back to the byte.
    text = body.decode("utf-8", "surrogateescape")
    out: list[str] = []
    for char in text:
        if char == "\\":
            out.append("\\\\")
        elif char == "%":
            out.append("%%")
        elif char == "'":
            out.append("'\\''")
        elif char.isprintable() or char == "\n":
            out.append(char)
        else:
            out.extend(f"\\{byte:03o}" for byte in char.encode("utf-8", "surrogateescape"))
    return "".join(out)


def _double_quoted(text: str) -> str:
    # Inside double quotes only the variable reference must expand; escape everything else that would.
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`")
    return escaped.replace("$", "\\$").replace("\\${", "${")
