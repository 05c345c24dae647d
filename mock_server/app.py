"""The mock's ASGI application: a Connexion 3 ``FlaskApp`` whose front middleware feeds the predictor.

Layout (outermost first)::

    ServerErrorMiddleware     Starlette's last resort; only reached if this package has a bug
    PredictorMiddleware       /api/...    -> spec.predict.predict -> answer written byte for byte
                              /__mock__/  -> control endpoints (mock_server.service)
                              OPTIONS + Origin + Access-Control-Request-Method -> CORS preflight
                              everything else: adds X-Request-Id + CORS headers and passes on
    SwaggerUIMiddleware       /docs/ and /openapi.json (contract), /__mock__/docs/ and
                              /__mock__/openapi.json (control API)
    Flask                     whatever is left: / redirects to the docs, other paths get a JSON 404

Why the Rocket.Chat routes are answered by an ASGI middleware and not by Flask views behind
Connexion's routing, security and validation middleware:

* One executable contract. ``spec.predict`` routes, authenticates, rate-limits, parses the raw body,
  validates with ajv semantics and renders the exact bytes. Connexion's SecurityMiddleware and
  RequestValidationMiddleware would check the same things a second time, with different rules
  (jsonschema is not ajv: no coercion, other messages, other order) and would answer some requests
  themselves (malformed JSON, missing X-Auth-Token) with bodies Rocket.Chat never sends. So they are
  removed from the stack, together with RoutingMiddleware, ContextMiddleware and
  ResponseValidationMiddleware, which only serve Connexion operations (none is reached) and cost
  time on every request. ``ExceptionMiddleware`` is not needed either: nothing below raises HTTP
  exceptions for the API paths.
* The predictor needs the raw request: the exact path, the raw query string, every header and the
  body bytes, however broken. A Flask view sees them through werkzeug, which decodes, merges and
  may reject; the ASGI scope has them as sent.
* Speed. A Flask view runs in a2wsgi's thread pool (WSGI in a worker thread, a werkzeug request
  and response object, a Flask app/request context per call). Measured on this machine (uvicorn,
  one worker pinned to one core, ``wrk -t1 -c10`` from another core, in-memory store, the same
  ``MockService`` behind both): a Flask view behind Connexion's routing and context middleware
  answered ~1,200 req/s for GET list (10 triggers) and ~1,400 req/s for an invalid POST, with p50
  near 8 ms; this middleware ~4,700 req/s for both, p50 near 2 ms. ``bench/`` measures it properly.
* The 6.13 profile waits 0.5-1 s before a 401/403; here that is an ``asyncio.sleep`` that holds no
  thread, so slow answers never starve other requests.

Connexion still does what it is good at: it loads and serves both OpenAPI documents and their
Swagger UI pages (``add_api`` with a resolver that sends every operation to ``_not_reached``; the
Flask routes it registers are shadowed by the middleware, which answers those paths first).
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import flask
from connexion import FlaskApp
from connexion.middleware import MiddlewarePosition
from connexion.middleware.server_error import ServerErrorMiddleware
from connexion.middleware.swagger_ui import SwaggerUIMiddleware
from connexion.options import SwaggerUIOptions
from connexion.resolver import Resolver

from mock_server.cors import CorsPolicy
from mock_server.service import CONTROL_PREFIX, MockService, Reply
from mock_server.settings import MockSettings, SettingsError
from mock_server.stores import MemoryStore, SqliteStore, Store
from spec.contract import CONTRACT_PATH
from spec.model import Request
from spec.predict import Predictor, predict
from spec.routes import CONFIG_PATH, TRIGGERS_PATH

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CONTROL_SPEC_PATH = Path(__file__).with_name("control.openapi.json")
REQUEST_ID_HEADER = "x-request-id"
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")

logger = logging.getLogger("mock_server")
# Request ids only have to be unique, not secret: no os.urandom syscall per request.
_request_ids = random.Random()


class _BodyTooLarge(Exception):
    pass


class _ClientGone(Exception):
    pass


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _encode_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    # latin-1 is HTTP's own header encoding; the contract only produces ASCII anyway.
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]


@dataclass
class _Exchange:
    """One request on its way through the middleware: what the log line and the journal need."""

    method: str
    path: str
    query: str
    client_address: str
    request_id: str
    started: float
    extra_headers: list[tuple[str, str]]
    """X-Request-Id and CORS headers, added to whatever the answer is."""


class PredictorMiddleware:
    """See the module docstring. One instance per process; it owns the store's lifetime."""

    def __init__(self, app: ASGIApp, *, service: MockService, docs_prefixes: tuple[str, ...]) -> None:
        self.app = app
        self.service = service
        self.settings = service.settings
        self.cors = CorsPolicy(self.settings.cors_origins)
        self.docs_prefixes = docs_prefixes
        """Paths under /__mock__/ that belong to Connexion: the control API's spec and Swagger UI."""
        self.limit = self.settings.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        # The raw path as sent (still percent-encoded): the contract decodes it like Express would.
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
        path = raw_path.decode("latin-1")
        method: str = scope["method"]
        headers = tuple((name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"])
        header = {name.lower(): value for name, value in reversed(headers)}  # first value wins
        client_id = header.get(REQUEST_ID_HEADER)
        request_id = (
            client_id
            if client_id and _CLIENT_REQUEST_ID.fullmatch(client_id)
            else format(_request_ids.getrandbits(64), "016x")
        )
        origin = header.get("origin")
        client = scope.get("client")
        exchange = _Exchange(
            method,
            path,
            scope.get("query_string", b"").decode("latin-1"),
            client[0] if client else "127.0.0.1",
            request_id,
            started,
            [(REQUEST_ID_HEADER, request_id), *self.cors.response_headers(origin)],
        )

        if method == "OPTIONS" and origin is not None and "access-control-request-method" in header:
            await self._preflight(exchange, origin, header.get("access-control-request-headers"), send)
            return
        is_api = path == "/api" or path.startswith("/api/")
        is_control = path.startswith(CONTROL_PREFIX + "/") and not path.startswith(self.docs_prefixes)
        if not is_api and not is_control:
            await self._pass_on(scope, receive, send, exchange)
            return

        try:
            body = await _read_body(receive, self.limit)
        except _ClientGone:
            return
        except _BodyTooLarge:
            reply = Reply.json(
                413,
                {
                    "success": False,
                    "error": f"The mock server buffers at most {self.limit} bytes (--max-body-bytes)",
                    "errorType": "mock-body-too-large",
                },
            )
            # Close the connection: the rest of the body is still on the wire, unread.
            exchange.extra_headers.append(("connection", "close"))
            await self._write(send, exchange, reply.status, reply.headers, reply.body)
            self._finish(exchange, reply.status, "mock-body-too-large", journal=is_api)
            return
        request = Request(
            method=method,
            path=path,
            query=exchange.query,
            headers=headers,
            body=body,
            client_address=exchange.client_address,
        )
        if is_control:
            reply = self.service.control(request)
            await self._write(send, exchange, reply.status, reply.headers, reply.body)
            self._finish(exchange, reply.status, "control", journal=False)
            return
        try:
            outcome = self.service.answer(request)
        except Exception as error:
            # A bug in the contract (or in a mutant predictor): say so plainly, never a traceback.
            logger.error(
                "the predictor failed on %s %s: %r",
                method,
                path,
                error,
                exc_info=logger.isEnabledFor(10),
            )
            reply = Reply.json(
                500,
                {
                    "success": False,
                    "error": f"mock server: the contract raised {type(error).__name__}: {error}",
                    "errorType": "mock-contract-error",
                },
            )
            await self._write(send, exchange, reply.status, reply.headers, reply.body)
            self._finish(exchange, reply.status, "mock-contract-error")
            return
        answer = outcome.answer
        if answer.delay_seconds is not None:
            low, high = answer.delay_seconds
            await asyncio.sleep(random.uniform(low, high))
        await self._write(send, exchange, answer.status, answer.headers, answer.body)
        self._finish(exchange, answer.status, outcome.operation)

    async def _write(
        self, send: Send, exchange: _Exchange, status: int, headers: Iterable[tuple[str, str]], body: bytes
    ) -> None:
        encoded = _encode_headers([*headers, *exchange.extra_headers])
        if not any(name == b"content-length" for name, _ in encoded):
            encoded.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": encoded})
        await send({"type": "http.response.body", "body": body})

    async def _preflight(self, exchange: _Exchange, origin: str, requested: str | None, send: Send) -> None:
        exchange.extra_headers = [(REQUEST_ID_HEADER, exchange.request_id)]
        if not self.cors.allows(origin):
            reply = Reply.json(
                403, {"error": f"origin {origin} is not allowed; start the mock with --cors-origin {origin}"}
            )
            await self._write(send, exchange, reply.status, reply.headers, reply.body)
            self._finish(exchange, reply.status, "cors-preflight", journal=False)
            return
        await self._write(send, exchange, 204, self.cors.preflight_headers(origin, requested), b"")
        self._finish(exchange, 204, "cors-preflight", journal=False)

    async def _pass_on(self, scope: Scope, receive: Receive, send: Send, exchange: _Exchange) -> None:
        """Docs, Swagger UI and Flask: add the correlation and CORS headers, log the line."""
        encoded_extra = _encode_headers(exchange.extra_headers)
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []), *encoded_extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
        self._finish(exchange, status, "docs", journal=False)

    def _finish(self, exchange: _Exchange, status: int, operation: str, *, journal: bool = True) -> None:
        if journal:
            self.service.record(
                exchange.request_id,
                method=exchange.method,
                path=exchange.path,
                query=exchange.query,
                status=status,
                operation=operation,
                started=exchange.started,
            )
        if self.settings.quiet:
            return
        target = exchange.path + ("?" + exchange.query if exchange.query else "")
        logger.info(
            '%s "%s %s" %d %s %.1fms id=%s',
            exchange.client_address,
            exchange.method,
            target,
            status,
            operation,
            (time.perf_counter() - exchange.started) * 1000,
            exchange.request_id,
        )

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.service.store.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _not_reached(*args: Any, **kwargs: Any) -> tuple[dict[str, object], int]:
    """Every operation of both documents resolves here, but PredictorMiddleware answers those paths
    before Flask sees them. If this ever runs, the middleware stack was changed; say so."""
    return {"success": False, "error": "mock server misconfigured: request bypassed the predictor"}, 500


def open_store(settings: MockSettings) -> Store:
    if settings.db_path is None:
        return MemoryStore(settings.users, journal_size=settings.journal_size)
    return SqliteStore(
        settings.db_path,
        settings.users,
        journal_size=settings.journal_size,
        temporary=settings.db_is_temporary,
    )


def configure_logging(settings: MockSettings) -> None:
    if logger.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING if settings.quiet else logging.INFO)
    logger.propagate = False


def create_app(
    settings: MockSettings, *, predictor: Predictor = predict, store: Store | None = None
) -> ASGIApp:
    """The mock as an ASGI app. ``predictor`` is the seam for deliberately broken ("mutant") mocks;
    ``store`` lets a caller share or inspect the state (the CLI passes none: one is opened here)."""
    configure_logging(settings)
    if store is None:
        store = open_store(settings)
        if settings.seed_triggers is not None and settings.db_path is None:
            # A database is seeded once by the CLI before workers start; memory starts empty each time.
            store.load(settings.seed_triggers, replace=False)
    service = MockService(settings, store, predictor)
    docs = settings.docs_path.rstrip("/")
    app = FlaskApp(
        __name__,
        # Measured: each Connexion middleware left out is time saved on every request; the predictor
        # does routing, security and validation, so only the Swagger UI/spec serving is kept.
        middlewares=[ServerErrorMiddleware, SwaggerUIMiddleware],
        resolver=Resolver(function_resolver=lambda operation_id: _not_reached),
        swagger_ui_options=SwaggerUIOptions(swagger_ui_path=docs),
        validate_responses=False,
        strict_validation=False,
    )
    app.add_middleware(
        PredictorMiddleware,
        position=MiddlewarePosition.BEFORE_SWAGGER,
        service=service,
        docs_prefixes=(
            f"{CONTROL_PREFIX}{docs}",
            f"{CONTROL_PREFIX}/openapi.json",
            f"{CONTROL_PREFIX}/openapi.yaml",
        ),
    )
    # The contract's servers entry names 127.0.0.1:3000; base_path="" makes Connexion serve the
    # document with a relative server, so "Try it out" calls whatever address the page came from.
    app.add_api(CONTRACT_PATH, base_path="", name="contract")
    app.add_api(CONTROL_SPEC_PATH, base_path=CONTROL_PREFIX, name="control")
    _add_flask_fallback(app.app, docs)
    asgi_app: ASGIApp = app
    return asgi_app


def _add_flask_fallback(flask_app: flask.Flask, docs: str) -> None:
    """Paths outside /api, /__mock__ and the docs: a JSON 404 that says where things are."""

    def index() -> Any:
        return flask.redirect(f"{docs}/", code=302)

    def not_found(path: str) -> flask.Response:
        reply = Reply.json(
            404,
            {
                "success": False,
                "error": f"Not found: /{path}. This mock serves {TRIGGERS_PATH}[/{{_id}}] and "
                f"{CONFIG_PATH}; docs at {docs}/, control endpoints under {CONTROL_PREFIX}/",
            },
        )
        return flask.Response(reply.body, status=reply.status, headers=list(reply.headers))

    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    flask_app.add_url_rule("/", "mock_index", index, methods=["GET", "HEAD"])
    flask_app.add_url_rule("/<path:path>", "mock_not_found", not_found, methods=methods)


def load_predictor(reference: str | None) -> Predictor:
    """``spec.predict.predict``, or the function named ``MODULE:NAME`` (``--predictor``)."""
    if reference is None:
        return predict
    module_name, _, name = reference.partition(":")
    if not module_name or not name:
        raise SettingsError(f"--predictor {reference!r}: expected MODULE:NAME")
    try:
        function = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as error:
        raise SettingsError(f"--predictor {reference!r}: {error}") from None
    if not callable(function):
        raise SettingsError(f"--predictor {reference!r} is not callable")
    loaded: Predictor = function
    return loaded


def tune_garbage_collector() -> None:
    """Collect the young generation less often.

    Every stored trigger is a handful of dicts and lists, so a store of tens of thousands of them makes
    the default thresholds run full collections often enough to show as 200 ms spikes at p99 under
    load (bench/README.md); with these thresholds p99 of a valid POST stays near 12 ms.
    """
    gc.set_threshold(50_000, 50, 1000)


def app_from_environment() -> ASGIApp:
    """Factory for ``--workers N``: each spawned worker rebuilds the app from the CLI's settings."""
    tune_garbage_collector()
    settings = MockSettings.from_environment()
    return create_app(settings, predictor=load_predictor(settings.predictor))
