"""Who may use the control API (``/__mock__/...``): same-origin tools and scripts, never a web page.

The control endpoints can erase or replace everything stored, so a page the developer happens to
visit must not be able to call them. Three browser attacks are closed:

* A simple cross-site request (a form post, ``fetch`` in ``no-cors`` mode) needs no preflight and
  may carry ``text/plain`` or no content type at all: every write must be ``application/json``,
  which a browser only sends cross-origin after a preflight that ``--cors-origin`` controls.
* A cross-site request announced by ``Origin`` or ``Sec-Fetch-Site``: refused unless the origin is
  the mock's own or one ``--cors-origin`` allows.
* DNS rebinding (a hostile name resolving to 127.0.0.1, so the page counts as same-origin): the
  ``Host`` header must be a loopback name or the bound address. This check is on only while the
  mock listens on a loopback address; ``--host`` set to anything else means other machines are
  meant to reach it under names the mock cannot know (use ``--control-token`` then).

The Rocket.Chat routes are never checked here: they answer exactly as the contract says.
"""

from __future__ import annotations

import hmac
import ipaddress

from mock_server.cors import CorsPolicy
from mock_server.service import CONTROL_PREFIX, Reply, mock_error
from mock_server.settings import MockSettings
from spec.headers import CONTENT_TYPE, JSON_CONTENT_TYPE

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
_WRITES = frozenset({"POST", "PUT", "PATCH"})
"""DELETE is never a simple request: a browser preflights it, and --cors-origin decides."""
_TOKEN_FREE = (CONTROL_PREFIX + "/health",)
"""A health probe carries no secret (start-up scripts poll it); it shows no stored data."""


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(host_header: str) -> str:
    """``Host`` without its port: ``127.0.0.1:3000`` -> ``127.0.0.1``, ``[::1]:3000`` -> ``[::1]``."""
    if host_header.startswith("["):
        return host_header[: host_header.find("]") + 1] or host_header
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


def _refusal(status: int, message: str, error_type: str) -> Reply:
    return Reply.json(status, mock_error(message, error_type))


class ControlGuard:
    def __init__(self, settings: MockSettings, cors: CorsPolicy) -> None:
        self.cors = cors
        self.check_host = is_loopback(settings.host)
        self.bound_host = settings.host
        self.token = settings.control_token

    def is_own_host(self, host_header: str) -> bool:
        name = host_name(host_header).lower()
        return is_loopback(name) or name == self.bound_host.lower()

    def check(self, method: str, path: str, header: dict[str, str]) -> Reply | None:
        """``None`` when the request may go on; otherwise the mock's own refusal."""
        host = header.get("host")
        if self.check_host and host is not None and not self.is_own_host(host):
            return _refusal(
                403,
                f"the control API answers only to loopback host names, not Host {host!r} "
                "(start the mock with --host to serve other names)",
                "mock-control-host",
            )
        origin = header.get("origin")
        own_origin = origin is not None and host is not None and origin.lower() == f"http://{host}".lower()
        allowed = own_origin or (origin is not None and self.cors.allows(origin))
        if origin is not None and not allowed:
            return _refusal(
                403,
                f"the control API refuses cross-site requests (Origin {origin}); "
                f"allow the origin with --cors-origin {origin}",
                "mock-control-cross-site",
            )
        site = header.get("sec-fetch-site")
        if site in ("cross-site", "same-site") and not allowed:
            return _refusal(
                403,
                f"the control API refuses cross-site requests (Sec-Fetch-Site: {site})",
                "mock-control-cross-site",
            )
        if method in _WRITES:
            media = header.get(CONTENT_TYPE, "").split(";", 1)[0].strip().lower()
            if media != JSON_CONTENT_TYPE:
                return _refusal(
                    415,
                    f"control writes must be sent as application/json, not {media or 'no content type'}",
                    "mock-control-content-type",
                )
        if self.token is not None and path not in _TOKEN_FREE:
            sent = header.get("authorization", "")
            if not hmac.compare_digest(sent.encode(), f"Bearer {self.token}".encode()):
                return _refusal(
                    401,
                    "the control API needs the header 'Authorization: Bearer TOKEN' (--control-token)",
                    "mock-control-token",
                )
        return None
