"""What the HTTP server in front of Rocket.Chat's REST API allows a client, per version profile.

Rocket.Chat's API is served by Meteor's ``webapp`` package on Node.js's ``http`` server, with both
at their defaults (no setting of these was found in Rocket.Chat's sources). Sources:

* Node.js ``http`` documentation and changelogs (from knowledge of them; not re-read here):
  ``--max-http-header-size`` defaults to 16 KiB since v13.13.0/v12.19.0 (8 KiB from v10.14 before);
  past it the parser fails with HPE_HEADER_OVERFLOW and the server answers ``431 Request Header
  Fields Too Large`` with ``Connection: close`` and no body.
  ``server.headersTimeout`` is 60 s (v11.3+). ``server.requestTimeout`` is 0 (off) up to v17 and
  300 s from v18; when either fires the server answers ``408 Request Timeout`` and closes.
  ``server.keepAliveTimeout`` is 5 s.
* Meteor's ``webapp`` package (``webapp_server.js``; its constants and their comment seen in several
  published copies through the code search): the HTTP server's
  socket timeout is ``SHORT_SOCKET_TIMEOUT`` (5 s of inactivity) while no request is pending and
  ``LONG_SOCKET_TIMEOUT`` (120 s) from the moment a request's headers arrive until its response is
  finished; an expired socket is destroyed without an answer.
* Which Node.js each era runs (inferred from the Meteor release each era builds with: Meteor 2.x ships
  Node 14, Meteor 3.x Node 20 and later 22): 6.13 runs Node 14.21; the 7.x and 8.x releases run
  Node 20 or 22, whose defaults above are the same. The 6.13 profile also covers 7.0-7.3 (Node 20);
  its figures are those of 6.13 itself (no request timeout), marked inferred for the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

REQUEST_HEADER_FIELDS_TOO_LARGE = b"HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n"
"""Node.js's exact bytes for a header section past the limit."""
REQUEST_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n"
"""Node.js's exact bytes when ``headersTimeout`` or ``requestTimeout`` fires."""


@dataclass(frozen=True)
class HttpLimits:
    node: str
    """The Node.js line the era runs."""
    max_header_bytes: int = 16 * 1024
    """Request line and header fields together; a section larger than this is a 431."""
    headers_timeout_seconds: float = 60.0
    """From the first byte of a request until its header section is complete; then a 408."""
    request_timeout_seconds: float | None = 300.0
    """From the first byte of a request until its body is complete; then a 408 (``None``: off)."""
    idle_timeout_seconds: float = 5.0
    """Socket inactivity while no request is pending (before headers, between requests): closed."""
    pending_idle_timeout_seconds: float = 120.0
    """Socket inactivity while a request is pending (headers received, response unfinished): closed."""


_CURRENT = HttpLimits(node="20/22")
HTTP_LIMITS: dict[str, HttpLimits] = {
    "8.3": _CURRENT,
    "7.5": _CURRENT,
    "7.4": _CURRENT,
    "6.13": HttpLimits(node="14", request_timeout_seconds=None),
}


def http_limits(profile_name: str) -> HttpLimits:
    return HTTP_LIMITS[profile_name]
