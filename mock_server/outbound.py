"""The one place the mock talks to the network: the webhook call of the external-service routes.

spec plans the call (``spec.outbound.ExternalCall``) and renders its result; this adapter only
performs ``ExternalCall.request`` with httpx and reports how it ended. It is async and runs after the
prediction's store transaction, so a slow webhook holds neither the event loop nor the store.

What it does not do, on purpose (docs/source-notes/external-service.md): follow redirects or use a
proxy from the environment — it contacts exactly the URL the request names — and read an unbounded
body.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass

import httpx

from spec.outbound import (
    OutboundRequest,
    WebhookBodyTimeout,
    WebhookResponse,
    WebhookResult,
    WebhookTimeout,
    WebhookUnreachable,
    refused_reason,
)

MAX_WEBHOOK_BODY_BYTES = 4 * 1024 * 1024
"""The most of a webhook's answer the mock reads (the server has no bound; the mock keeps memory)."""


@dataclass(frozen=True)
class OutboundFailure:
    """The mock could not complete the call for a reason of its own (not something the server does)."""

    message: str
    error_type: str = "mock-outbound-failed"


class _TooLarge(Exception):
    pass


async def perform(
    request: OutboundRequest, *, max_body_bytes: int = MAX_WEBHOOK_BODY_BYTES
) -> WebhookResult | OutboundFailure:
    """Send ``request`` and report how it ended."""
    # One client per call: calls are rate limited to a few per minute, and nothing is shared.
    async with httpx.AsyncClient(follow_redirects=False, trust_env=False, timeout=None) as client:
        # Values as bytes: Node sends latin-1 header values as they are (spec refused the rest).
        headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in request.headers]
        try:
            built = client.build_request(
                request.method,
                request.url,
                # node-fetch sends Connection: close when no agent is given.
                headers=[*headers, (b"Connection", b"close")],
                content=request.body,
            )
        except (httpx.InvalidURL, ValueError) as error:  # a URL Node sends and httpx does not
            return OutboundFailure(f"the webhook URL {request.url} cannot be sent by the mock: {error}")
        try:
            response = await asyncio.wait_for(client.send(built, stream=True), request.timeout_ms / 1000)
        except asyncio.TimeoutError:
            return WebhookTimeout()
        except (httpx.HTTPError, OSError) as error:
            return WebhookUnreachable(network_reason(error, request))
        try:
            body = await asyncio.wait_for(_read(response, max_body_bytes), request.body_timeout_ms / 1000)
        except asyncio.TimeoutError:
            return WebhookBodyTimeout()
        except _TooLarge:
            return OutboundFailure(
                f"the webhook at {request.url} answered more than {max_body_bytes} bytes; "
                "the mock reads no more than that",
                "mock-outbound-too-large",
            )
        except httpx.HTTPError as error:
            return WebhookUnreachable(network_reason(error, request))
        finally:
            await response.aclose()
        return WebhookResponse(response.status_code, body)


async def _read(response: httpx.Response, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():  # decoded, as node-fetch decodes gzip and deflate
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def network_reason(error: BaseException, request: OutboundRequest) -> str:
    """Node's wording for the failures it has a fixed text for; otherwise the exception's own text."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return refused_reason(request.host, request.port)
        if isinstance(cause, socket.gaierror):
            return f"getaddrinfo ENOTFOUND {request.host}"
        cause = cause.__cause__ or cause.__context__
    if isinstance(error, httpx.RemoteProtocolError):
        return "socket hang up"
    return str(error) or type(error).__name__
