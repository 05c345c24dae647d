"""Sending ``spec.model.Request`` values to a live server byte for byte, and reproducing them with curl.

Rate limiting is handled here: a 429 the prediction did not expect is waited out (bounded, using the
server's reset header when present) and the request sent again; every wait is reported.
"""

from __future__ import annotations

import shlex
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import httpx

from contract_tests.checks import Observed
from spec.headers import RATE_LIMIT_RESET
from spec.model import Request
from spec.permissions import BYPASS_RATE_LIMIT

__all__ = ["ConnectionFailed", "RateLimitExhausted", "RateLimitWait", "Transport", "curl_command"]


class ConnectionFailed(Exception):
    """The server could not be reached (refused, DNS, TLS, timeout)."""


class RateLimitExhausted(Exception):
    """The server kept answering 429 beyond the waiting budget."""


@dataclass(frozen=True)
class RateLimitWait:
    method: str
    path: str
    seconds: float


@dataclass
class Transport:
    """An HTTP client bound to one base URL; thread-safe (httpx.Client is)."""

    base_url: str
    timeout_seconds: float = 30.0
    verify_tls: bool = True
    rate_limit_budget_seconds: float = 180.0
    """The most the whole run may spend waiting for rate limits before it gives up."""
    on_wait: Callable[[RateLimitWait], None] = lambda wait: None
    sleep: Callable[[float], None] = time.sleep
    waited_seconds: float = 0.0
    sent: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        # No redirects, no cookies and no default content type: the request must reach the server as drawn.
        self._client = httpx.Client(
            timeout=self.timeout_seconds, follow_redirects=False, trust_env=False, verify=self.verify_tls
        )

    def close(self) -> None:
        self._client.close()

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
        try:
            response = self._client.request(
                request.method, self.url(request), headers=list(request.headers), content=request.body
            )
        except httpx.HTTPError as error:
            raise ConnectionFailed(f"{request.method} {self.url(request)}: {error}") from error
        with self._lock:
            self.sent += 1
        return Observed(
            status=response.status_code,
            body=response.content,
            headers=tuple((key.lower(), value) for key, value in response.headers.multi_items()),
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


def _retry_after(observed: Observed) -> float:
    # Rocket.Chat sends x-ratelimit-reset as epoch milliseconds; others send Retry-After in seconds.
    reset = observed.header(RATE_LIMIT_RESET)
    if reset is not None and reset.isdigit():
        return min(max(int(reset) / 1000 - time.time(), 0.0) + 0.5, 65.0)
    retry_after = observed.header("retry-after")
    if retry_after is not None and retry_after.isdigit():
        return min(float(retry_after), 65.0)
    return 60.0


def curl_command(base_url: str, request: Request, secrets: Mapping[str, str] | None = None) -> str:
    """A copy-paste curl command that sends exactly ``request``.

    ``secrets`` maps header values (real tokens and ids) to shell variable names, so that reports
    can be published without credentials; the reader exports the variables before pasting.
    """
    secrets = secrets or {}
    parts = ["curl", "-sS", "-i", "-X", request.method]
    for name, value in request.headers:
        variable = secrets.get(value)
        header = f"{name}: ${{{variable}}}" if variable else f"{name}: {value}"
        parts += ["-H", f'"{_double_quoted(header)}"' if variable else shlex.quote(header)]
    if request.body or request.method == "POST":
        try:
            text = request.body.decode("utf-8")
            printable = text.isprintable() or all(ch.isprintable() or ch in "\n\t" for ch in text)
        except UnicodeDecodeError:
            printable = False
        if printable:
            parts += ["--data-binary", shlex.quote(text)]
        else:
            # Bytes a shell string cannot carry (invalid UTF-8, control characters) go through printf.
            escaped = "".join(f"\\x{byte:02x}" for byte in request.body)
            parts = ["printf", shlex.quote(escaped), "|", *parts, "--data-binary", "@-"]
    url = base_url.rstrip("/") + request.path + (f"?{request.query}" if request.query else "")
    parts.append(shlex.quote(url))
    return " ".join(parts)


def _double_quoted(text: str) -> str:
    # Inside double quotes only the variable reference must expand; escape everything else that would.
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`")
    return escaped.replace("$", "\\$").replace("\\${", "${")
