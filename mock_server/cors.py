"""Which browser origins may call the mock (``--cors-origin``), and the headers that say so.

The real server has its own CORS settings (``API_Enable_CORS``); the mock is usually called from a
frontend dev server on another port, so it answers CORS itself and adds these headers on top of the
contract's answer. They never change a status or a body.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

ALLOWED_METHODS = "GET, POST, PUT, DELETE, OPTIONS"
DEFAULT_ALLOWED_HEADERS = "Content-Type, X-User-Id, X-Auth-Token, X-Request-Id"
EXPOSED_HEADERS = "X-Request-Id"
PREFLIGHT_MAX_AGE = "600"
_VARY_ORIGIN = (("vary", "Origin"),)


_ORIGIN_PARTS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://(?P<host>.+?)(?::(?P<port>\d+|\*))?")


def _pattern(origin: str) -> re.Pattern[str]:
    """``http://localhost:*`` → any port (or none); ``https://*.example.com`` → any subdomain."""
    if origin == "*":
        return re.compile(r".+")
    parts = _ORIGIN_PARTS.fullmatch(origin)
    if parts is None:
        return re.compile(re.escape(origin), re.IGNORECASE)
    host = parts["host"]
    host_pattern = re.escape(host)
    if host.startswith("*."):
        host_pattern = r"[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*" + re.escape(host[1:])
    port = parts["port"]
    port_pattern = {None: "", "*": r"(?::\d{1,5})?"}.get(port, ":" + re.escape(port or ""))
    return re.compile(re.escape(parts["scheme"]) + "://" + host_pattern + port_pattern, re.IGNORECASE)


class CorsPolicy:
    def __init__(self, origins: Sequence[str]) -> None:
        self.origins = tuple(origins)
        self._patterns = [_pattern(origin) for origin in origins]

    def allows(self, origin: str) -> bool:
        return any(pattern.fullmatch(origin) for pattern in self._patterns)

    def response_headers(self, origin: str | None) -> tuple[tuple[str, str], ...]:
        """Headers for an actual (non-preflight) response."""
        if origin is None or not self.allows(origin):
            # Vary anyway: a cache must not reuse this answer for an origin that is allowed.
            return _VARY_ORIGIN if origin is not None else ()
        return (
            ("access-control-allow-origin", origin),
            ("access-control-expose-headers", EXPOSED_HEADERS),
            ("vary", "Origin"),
        )

    def preflight_headers(self, origin: str, requested_headers: str | None) -> list[tuple[str, str]]:
        # Echo what the browser asks for: any request header is fine with the mock, and the predictor
        # (not the browser) is the one that decides what a header means.
        return [
            ("access-control-allow-origin", origin),
            ("access-control-allow-methods", ALLOWED_METHODS),
            ("access-control-allow-headers", requested_headers or DEFAULT_ALLOWED_HEADERS),
            ("access-control-max-age", PREFLIGHT_MAX_AGE),
            ("access-control-expose-headers", EXPOSED_HEADERS),
            ("vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"),
        ]
