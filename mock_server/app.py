"""The mock's ASGI application: the predictor's middleware in front of a Connexion 3 ``FlaskApp``.

Layout (outermost first)::

    PredictorMiddleware       /api/...    -> spec.predict.predict -> answer written byte for byte
                              /__mock__/  -> control endpoints (mock_server.service)
                              OPTIONS + Origin + Access-Control-Request-Method -> CORS preflight
                              docs paths  -> passed on, with X-Request-Id + CORS headers
                              anything else -> the mock's JSON 404 (/ redirects to the docs)
    FlaskApp (Connexion)      reached only by the docs paths (it builds its stack on the first one,
                              ~40 ms once; both documents are loaded and checked at start)
    SwaggerUIMiddleware       /docs/ and /openapi.json (contract), /__mock__/docs/ and
                              /__mock__/openapi.json (control API)
    Flask                     below Connexion, reached by nothing (see "Why nothing reaches Flask")

Why the Rocket.Chat routes are answered by an ASGI middleware and not by Flask views behind
Connexion's routing, security and validation middleware:

* One executable contract. ``spec.predict`` routes, authenticates, rate-limits, parses the raw body,
  validates with ajv semantics and renders the exact bytes. Connexion's SecurityMiddleware and
  RequestValidationMiddleware would check the same things a second time, with different rules
  (jsonschema is not ajv: no coercion, other messages, other order) and would answer some requests
  themselves (malformed JSON, missing X-Auth-Token) with bodies Rocket.Chat never sends. So they are
  removed from the stack, together with RoutingMiddleware, ContextMiddleware and
  ResponseValidationMiddleware, which only serve Connexion operations.
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

Why nothing reaches Flask: Connexion registers a Flask route for every operation of both documents.
Without Connexion's routing and context middleware such a route fails when called ("Working outside
of operation context"), and Flask normalises paths (``//api/...`` matches ``/api/...``), so a path
the predictor does not own could land on one. The middleware therefore passes on only the paths
Swagger UI serves, answers the rest itself, and turns what Starlette raises below it (a 404 of the
static files, a 405, a file name too long for the OS) into the mock's JSON answer.

Connexion still does what it is good at: it loads and serves both OpenAPI documents and their
Swagger UI pages (``add_api`` with a resolver that sends every operation to ``_not_reached``).
"""

from __future__ import annotations

import asyncio
import errno
import gc
import importlib
import logging
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connexion import FlaskApp
from connexion.middleware.swagger_ui import SwaggerUIMiddleware
from connexion.options import SwaggerUIOptions
from connexion.resolver import Resolver
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_server.cors import CorsPolicy
from mock_server.guard import ControlGuard
from mock_server.offload import ChildError, OffloadFailed
from mock_server.service import CONTROL_PREFIX, MockService, Reply, StorageFault, mock_error
from mock_server.settings import MockSettings, SettingsError
from mock_server.stores import MemoryStore, SqliteStore, Store, start_state
from spec.contract import CONTRACT_PATH
from spec.headers import CONTENT_TYPE
from spec.model import Headers, Request, header_lookup
from spec.predict import Outcome, Predictor, predict
from spec.routes import CONFIG_PATH, TRIGGERS_PATH, is_api_path

CONTROL_SPEC_PATH = Path(__file__).with_name("control.openapi.json")
REQUEST_ID_HEADER = "x-request-id"
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_B_CONTENT_LENGTH = b"content-length"
_B_CONNECTION_CLOSE = (b"connection", b"close")
_DOCS_METHODS = frozenset({"GET", "HEAD"})

logger = logging.getLogger("mock_server")
# Request ids only have to be unique, not secret: no os.urandom syscall per request.
_request_ids = random.Random()


@dataclass(slots=True)
class _Exchange:
    """One request on its way through the middleware: what the log line and the journal need."""

    method: str
    path: str
    query: str
    client_address: str
    request_id: str
    started: float
    """``time.time()`` on arrival: the journal's duration ends with its one reading of the same clock."""
    origin: str | None
    headers: Headers
    header: dict[str, str]
    """Lower-case name to value as Node.js gives it (``spec.model.header_lookup``): the middleware's
    own decisions read it, and the request hands it on to the predictor."""
    extra_headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    """X-Request-Id and CORS headers, added to whatever the answer is."""


@dataclass(slots=True)  # not frozen: one is made per request, and a frozen __init__ costs twice
class _Reply:
    """What the dispatcher decided to answer; ``_respond`` writes it, logs it and journals it."""

    status: int
    headers: Headers
    body: bytes
    operation: str
    journal: bool = False
    delay: tuple[float, float] | None = None
    close: bool = False


_PASSED_ON = _Reply(0, (), b"", "docs")
"""Marker: the app below has answered (status and log line are handled by ``_pass_on``)."""


def _answered(outcome: Outcome) -> _Reply:
    answer = outcome.answer
    return _Reply(answer.status, answer.headers, answer.body, outcome.operation, True, answer.delay_seconds)


def _from_reply(reply: Reply, operation: str, *, journal: bool = False, close: bool = False) -> _Reply:
    return _Reply(reply.status, reply.headers, reply.body, operation, journal, None, close)


class _BodyTooLarge(Exception):
    pass


class _ClientGone(Exception):
    pass


class _Refused(Exception):
    """Raised while reading a request that the mock answers itself before the body is complete."""

    def __init__(self, reply: _Reply) -> None:
        super().__init__()
        self.reply = reply


async def _read_rest(receive: Receive, body: bytes, limit: int) -> bytes:
    """The whole body of a request whose first message (``body``) said more was coming."""
    chunks = [body]
    size = len(body)
    if size > limit:
        raise _BodyTooLarge
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


class _EncodedHeaders:
    """Answer headers as bytes. Most answers share a handful of header tuples; encoding each once
    saves work on every request (the cache is bounded: rate-limit headers carry a timestamp)."""

    def __init__(self, size: int = 256) -> None:
        self._cache: dict[Headers, tuple[list[tuple[bytes, bytes]], bool]] = {}
        self._size = size
        self._last: tuple[Headers, tuple[list[tuple[bytes, bytes]], bool]] = ((), ([], False))
        """The headers tuple met last, by identity: answers made once (the contract's constants)
        hand the same tuple over and over, and a tuple's hash is computed anew on every lookup."""

    def __call__(self, headers: Headers) -> list[tuple[bytes, bytes]]:
        return self.with_length(headers)[0]

    def with_length(self, headers: Headers) -> tuple[list[tuple[bytes, bytes]], bool]:
        """The encoded headers, and whether they include ``content-length``."""
        last_headers, last_found = self._last
        if headers is last_headers:
            return last_found
        found = self._cache.get(headers)
        if found is None:
            # latin-1 is HTTP's own header encoding; the contract only produces ASCII anyway.
            encoded = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]
            found = encoded, any(name == _B_CONTENT_LENGTH for name, _ in encoded)
            if len(self._cache) >= self._size:
                self._cache.clear()
            self._cache[headers] = found
        self._last = (headers, found)
        return found


class PredictorMiddleware:
    """See the module docstring. One instance per process; it owns the store's lifetime.

    ``__call__`` only dispatches: each kind of request has a small function that returns a ``_Reply``
    (as Starlette's ``CORSMiddleware`` dispatches to ``preflight_response``/``simple_response``), and
    ``_respond`` is the one place that writes, logs and journals an answer.
    """

    def __init__(self, app: ASGIApp, *, service: MockService, docs_prefixes: tuple[str, ...]) -> None:
        self.app = app
        self.service = service
        self.settings = service.settings
        self.cors = CorsPolicy(self.settings.cors_origins)
        self.guard = ControlGuard(self.settings, self.cors)
        self.docs_prefixes = docs_prefixes
        """Paths that belong to Connexion: the documents and the Swagger UI pages."""
        self.limit = self.settings.max_body_bytes
        self.encode = _EncodedHeaders()
        self._health_path = CONTROL_PREFIX + "/health"
        self._too_large = Reply.json(
            413,
            mock_error(
                f"The mock server buffers at most {self.limit} bytes (--max-body-bytes)",
                "mock-body-too-large",
            ),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            exchange = self._exchange(scope)
            try:
                reply = await self._dispatch(scope, receive, send, exchange)
            except _Refused as refused:
                reply = refused.reply
            except _ClientGone:
                return
            except Exception as error:  # the mock's own bug: a JSON answer that says so, one log line
                logger.error("mock server error on %s %s: %r", exchange.method, exchange.path, error)
                reply = _from_reply(Reply.json(500, mock_error(f"internal error: {error!r}")), "mock-error")
            if reply is not _PASSED_ON:
                await self._respond(send, exchange, reply)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        else:
            await self.app(scope, receive, send)

    def _exchange(self, scope: Scope) -> _Exchange:
        # The raw path as sent (still percent-encoded): the contract decodes it like Express would.
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
        raw_headers = scope["headers"]
        headers = tuple([(name.decode("latin-1"), value.decode("latin-1")) for name, value in raw_headers])
        header = header_lookup(headers)
        client_id = header.get(REQUEST_ID_HEADER)
        request_id = (
            client_id
            if client_id and _CLIENT_REQUEST_ID.fullmatch(client_id)
            else _request_ids.getrandbits(64).to_bytes(8, "big").hex()
        )
        origin = header.get("origin")
        client = scope.get("client")
        exchange = _Exchange(
            scope["method"],
            raw_path.decode("latin-1"),
            scope.get("query_string", b"").decode("latin-1"),
            client[0] if client else "127.0.0.1",
            request_id,
            time.time(),
            origin,
            headers,
            header,
            [(b"x-request-id", request_id.encode("latin-1"))],
        )
        if origin is not None:
            exchange.extra_headers += self.encode(self.cors.response_headers(origin))
        return exchange

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send, exchange: _Exchange) -> _Reply:
        path, method = exchange.path, exchange.method
        if (
            method == "OPTIONS"
            and exchange.origin is not None
            and "access-control-request-method" in exchange.header
        ):
            return self._preflight(exchange)
        if is_api_path(path):
            request = await self._request(receive, exchange, journal=True)
            service = self.service
            try:
                on_loop = service.gate.is_set() and not service.is_heavy(request)
            except Exception as error:  # is_heavy reads the store's size
                return self._failed(request, error)
            if on_loop:
                # The common case, predicted right here with no coroutine of its own; an outcome
                # that still has its webhook call to make comes back for the awaiting path.
                answered = self._api_on_loop(request)
                if isinstance(answered, _Reply):
                    return answered
                return await self._api(request, answered)
            return await self._api(request)
        if path.startswith(self.docs_prefixes):
            return await self._docs(scope, receive, send, exchange)
        if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
            refusal = self.guard.check(exchange.method, path, exchange.header)
            if refusal is not None:
                return _from_reply(refusal, "control-refused")
            return await self._control(await self._request(receive, exchange, journal=False))
        return self._elsewhere(exchange)

    async def _request(self, receive: Receive, exchange: _Exchange, *, journal: bool) -> Request:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone
        body: bytes = message.get("body", b"")
        try:
            # The common case, the whole body in one message, without a coroutine of its own.
            if message.get("more_body", False):
                body = await _read_rest(receive, body, self.limit)
            elif len(body) > self.limit:
                raise _BodyTooLarge
        except _BodyTooLarge:
            # Close the connection: the rest of the body is still on the wire, unread.
            reply = _from_reply(self._too_large, "mock-body-too-large", journal=journal, close=True)
            raise _Refused(reply) from None
        return Request(
            method=exchange.method,
            path=exchange.path,
            query=exchange.query,
            headers=exchange.headers,
            body=body,
            client_address=exchange.client_address,
        ).with_header_lookup(exchange.header)

    def _api_on_loop(self, request: Request) -> _Reply | Outcome:
        """The answer predicted on the loop, or the outcome whose webhook call is still to make."""
        try:
            outcome = self.service.answer(request)
        except Exception as error:
            return self._failed(request, error)
        if outcome.external is not None:
            return outcome
        return _answered(outcome)

    async def _api(self, request: Request, predicted: Outcome | None = None) -> _Reply:
        """The answer when it needs an await: the gate is closed, the body is predicted off the loop,
        or ``predicted`` (an outcome from ``_api_on_loop``) has its webhook call to make."""
        try:
            if predicted is None:
                await self.service.through_gate()
                if self.service.is_heavy(request):
                    predicted = await self.service.answer_offloaded(request)
                else:
                    predicted = self.service.answer(request)
            outcome = predicted
            if outcome.external is not None:  # the webhook call: performed with no lock held
                outcome = await self.service.complete(outcome)
        except Exception as error:
            return self._failed(request, error)
        return _answered(outcome)

    def _failed(self, request: Request, error: Exception) -> _Reply:
        """The mock's own answer when answering failed: a JSON error naming the mock, never a traceback."""
        if isinstance(error, StorageFault):
            return _from_reply(error.reply, "mock-storage-error", journal=True)
        if isinstance(error, OffloadFailed):
            logger.error("mock server: a large body was not answered: %s", error)
            if error.memory:
                message = f"answering this body needs more than {self.settings.offload_memory_bytes} bytes"
                reply = Reply.json(413, mock_error(f"mock server: {message}", "mock-body-too-complex"))
            else:
                reply = Reply.json(503, mock_error(f"mock server: {error}", "mock-offload-failed"))
            return _from_reply(reply, "mock-offload-failed", journal=True)
        # A bug in the contract (or in a mutant predictor): say so plainly.
        logger.error("the predictor failed on %s %s: %r", request.method, request.path, error)
        kind = error.kind if isinstance(error, ChildError) else type(error).__name__
        text = error.text if isinstance(error, ChildError) else str(error)
        message = f"mock server: the contract raised {kind}: {text}"
        reply = Reply.json(500, mock_error(message, "mock-contract-error"))
        return _from_reply(reply, "mock-contract-error", journal=True)

    async def _control(self, request: Request) -> _Reply:
        if request.path != self._health_path:  # a health probe reads nothing another request holds
            await self.service.through_gate()
        try:
            reply = await self.service.control(request)
        except StorageFault as fault:
            reply = fault.reply
        return _from_reply(reply, "control")

    def _preflight(self, exchange: _Exchange) -> _Reply:
        origin = exchange.origin
        assert origin is not None
        exchange.extra_headers = exchange.extra_headers[:1]  # the request id; CORS comes from the reply
        if not self.cors.allows(origin):
            message = f"origin {origin} is not allowed; start the mock with --cors-origin {origin}"
            return _from_reply(Reply.json(403, {"error": message}), "cors-preflight")
        requested = exchange.header.get("access-control-request-headers")
        return _Reply(204, tuple(self.cors.preflight_headers(origin, requested)), b"", "cors-preflight")

    def _elsewhere(self, exchange: _Exchange) -> _Reply:
        """Paths outside /api, /__mock__ and the docs: the index redirects, the rest is a JSON 404."""
        docs = self.settings.docs_path.rstrip("/")
        if exchange.path == "/" and exchange.method in _DOCS_METHODS:
            return _Reply(302, (("location", f"{docs}/"), (CONTENT_TYPE, "text/plain")), b"", "docs")
        message = (
            f"Not found: {exchange.method} {exchange.path}. This mock serves {TRIGGERS_PATH}[/{{_id}}] and "
            f"{CONFIG_PATH}; docs at {docs}/, control endpoints under {CONTROL_PREFIX}/"
        )
        return _from_reply(Reply.json(404, mock_error(message, "mock-not-found")), "docs")

    async def _docs(self, scope: Scope, receive: Receive, send: Send, exchange: _Exchange) -> _Reply:
        """Swagger UI and the documents: passed on; what Starlette raises below becomes JSON."""
        if exchange.method not in _DOCS_METHODS:
            reply = Reply.json(405, mock_error(f"{exchange.method} is not allowed on {exchange.path}"))
            return _Reply(405, (*reply.headers, ("allow", "GET, HEAD")), reply.body, "docs")
        host = exchange.header.get("host")
        if host is not None and self.guard.is_own_host(host):
            # Swagger UI's Servers list: the address this page was loaded from (Connexion reads it here).
            base = CONTROL_PREFIX if exchange.path.startswith(CONTROL_PREFIX) else ""
            scope = {**scope, "route_root_path": f"http://{host}{base}"}
        started = False
        status = 500
        extra = exchange.extra_headers

        async def send_with_headers(message: Message) -> None:
            nonlocal started, status
            if message["type"] == "http.response.start":
                started, status = True, message["status"]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except HTTPException as error:  # 404 of the static files, 405 of Starlette's router
            if started:
                raise
            return _from_reply(
                Reply.json(error.status_code, mock_error(f"{error.detail}: {exchange.path}")), "docs"
            )
        except OSError as error:
            if started or error.errno != errno.ENAMETOOLONG:
                raise
            return _from_reply(Reply.json(404, mock_error(f"Not Found: {exchange.path}")), "docs")
        self._log(exchange, status, "docs")
        return _PASSED_ON

    async def _respond(self, send: Send, exchange: _Exchange, reply: _Reply) -> None:
        if reply.delay is not None:
            low, high = reply.delay
            await asyncio.sleep(random.uniform(low, high))
        encoded, has_length = self.encode.with_length(reply.headers)
        headers = [*encoded, *exchange.extra_headers]  # the request id and CORS: never a length
        if not has_length:
            headers.append((_B_CONTENT_LENGTH, str(len(reply.body)).encode()))
        if reply.close:
            headers.append(_B_CONNECTION_CLOSE)
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": reply.body})
        if reply.journal:
            self.service.record(
                exchange.request_id,
                method=exchange.method,
                path=exchange.path,
                query=exchange.query,
                status=reply.status,
                operation=reply.operation,
                started=exchange.started,
            )
        self._log(exchange, reply.status, reply.operation)

    def _log(self, exchange: _Exchange, status: int, operation: str) -> None:
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
            (time.time() - exchange.started) * 1000,
            exchange.request_id,
        )

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.service.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _not_reached(*args: Any, **kwargs: Any) -> tuple[dict[str, object], int]:
    """Every operation of both documents resolves here, but PredictorMiddleware answers those paths
    before Flask sees them. If this ever runs, the middleware stack was changed; say so."""
    return mock_error("mock server misconfigured: request bypassed the predictor"), 500


def open_store(settings: MockSettings) -> Store:
    if settings.db_path is None:
        return MemoryStore(settings.users, journal_size=settings.journal_size, start=start_state(settings))
    return SqliteStore(
        settings.db_path,
        settings.users,
        journal_size=settings.journal_size,
        temporary=settings.db_is_temporary,
        start=start_state(settings),
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
        middlewares=[SwaggerUIMiddleware],
        resolver=Resolver(function_resolver=lambda operation_id: _not_reached),
        swagger_ui_options=SwaggerUIOptions(swagger_ui_path=docs),
        validate_responses=False,
        strict_validation=False,
    )
    # The contract's servers entry names 127.0.0.1:3000; base_path="" makes Connexion serve the
    # document with the server the page came from (PredictorMiddleware._docs sets it).
    app.add_api(CONTRACT_PATH, base_path="", name="contract")
    app.add_api(CONTROL_SPEC_PATH, base_path=CONTROL_PREFIX, name="control")
    # In front of Connexion rather than inside its middleware stack: an API request, which the
    # predictor answers alone, then passes through no wrapper of Connexion's on its way.
    return PredictorMiddleware(
        app,
        service=service,
        docs_prefixes=(
            docs + "/",
            docs,
            "/openapi.json",
            "/openapi.yaml",
            f"{CONTROL_PREFIX}{docs}",
            f"{CONTROL_PREFIX}/openapi.json",
            f"{CONTROL_PREFIX}/openapi.yaml",
        ),
    )


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
    from mock_server.lifeline import exit_with_parent
    from mock_server.limits import configure

    exit_with_parent()
    tune_garbage_collector()
    settings = MockSettings.from_environment()
    configure(settings.http_limits())
    return create_app(settings, predictor=load_predictor(settings.predictor))
