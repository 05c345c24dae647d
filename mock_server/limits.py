"""uvicorn's httptools protocol with Node.js's limits (``spec.http_limits``): a header size limit
answered with 431, and the header, request and socket-inactivity timeouts of the profile's era.

uvicorn has none of these (its only timer is the keep-alive one, armed after a response), so a
client could send 10 MB of headers, or one byte a minute, and keep a connection for as long as it
liked. The hooks used are the parser callbacks ``HttpToolsProtocol`` already implements.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from spec.http_limits import REQUEST_HEADER_FIELDS_TOO_LARGE, REQUEST_TIMEOUT, HttpLimits, http_limits

_limits: HttpLimits = http_limits("8.3")


def configure(limits: HttpLimits) -> None:
    """Set before the server accepts connections (each worker process calls it for itself)."""
    global _limits  # noqa: PLW0603 - one setting per process, read by every connection
    _limits = limits


class _HeaderOverflow(Exception):
    pass


class NodeLimitsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limits = _limits
        self._header_bytes = 0
        self._overflow = False
        self._pending = False
        """Headers received, response not finished: Meteor's long socket timeout applies."""
        self._deadline: asyncio.TimerHandle | None = None
        self._idle: asyncio.TimerHandle | None = None

    # timers ------------------------------------------------------------------------------------

    def _arm_deadline(self, seconds: float | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = None if seconds is None else self.loop.call_later(seconds, self._timed_out)

    def _arm_idle(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
        limits = self._limits
        seconds = limits.pending_idle_timeout_seconds if self._pending else limits.idle_timeout_seconds
        self._idle = self.loop.call_later(seconds, self._went_idle)

    def _timed_out(self) -> None:
        self._deadline = None
        if self.transport.is_closing() or (self.cycle is not None and self.cycle.response_started):
            return
        self.transport.write(REQUEST_TIMEOUT)
        self.transport.close()

    def _went_idle(self) -> None:
        self._idle = None
        if not self.transport.is_closing():
            self.transport.close()  # as Node's socket timeout under Meteor: destroyed, no answer

    def _cancel_timers(self) -> None:
        for timer in (self._deadline, self._idle):
            if timer is not None:
                timer.cancel()
        self._deadline = self._idle = None

    # connection and parser callbacks -------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_deadline(self._limits.headers_timeout_seconds)
        self._arm_idle()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._arm_idle()
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = 0
        self._arm_deadline(self._limits.headers_timeout_seconds)

    def _count(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > self._limits.max_header_bytes:
            self._overflow = True
            raise _HeaderOverflow  # the parser stops; uvicorn then calls send_400_response

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)  # ": " and CRLF, as Node counts the raw section
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._pending = True
        self._arm_idle()
        limits = self._limits
        if limits.request_timeout_seconds is None:
            self._arm_deadline(None)
        else:  # Node measures the request timeout from the request's start; close enough here
            self._arm_deadline(limits.request_timeout_seconds)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._arm_deadline(None)
        super().on_message_complete()

    def on_response_complete(self) -> None:
        self._pending = False
        if self._idle is not None:  # uvicorn's keep-alive timer (5 s, as Meteor's) takes over
            self._idle.cancel()
            self._idle = None
        super().on_response_complete()

    def send_400_response(self, msg: str) -> None:
        if not self._overflow:
            super().send_400_response(msg)
            return
        self._cancel_timers()
        self.transport.write(REQUEST_HEADER_FIELDS_TOO_LARGE)
        self.transport.close()
