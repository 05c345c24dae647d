"""The mock's request handling, free of any web framework: a ``Request`` in, a ``Reply`` out.

Rocket.Chat requests (``/api`` and below) go to the predictor from ``spec.predict`` and nothing else
decides their answer: this module only supplies the state (the store), the profile, the clock and
the id source, and applies the changes the predictor returns. The control endpoints
(``/__mock__/...``) are the mock's own API and are answered here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import random
import secrets
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, TypeVar
from urllib.parse import parse_qs

from mock_server import identity_control as control
from mock_server.agents import AgentError, agent_from_json, agent_to_json, agents_of, all_users, replaced_set
from mock_server.offload import ChildError, Offloader, OffloadFailed
from mock_server.outbound import OutboundFailure, perform
from mock_server.settings import MockSettings
from mock_server.stores import LOAD_STEP, JournalEntry, Overtaken, Store
from spec.headers import CONTENT_TYPE, JSON_CONTENT_TYPE, NO_CACHE_HEADERS
from spec.jsvalues import JsonSyntaxError, parse_json, stringify
from spec.model import Answer, Change, IdentityView, JsonValue, Request, StateView, Trigger, User
from spec.outbound import render
from spec.parsing import parse_query
from spec.predict import Environment, Outcome, Predictor, pagination
from spec.profiles import PROFILES, Profile, UnknownProfileError, get_profile
from spec.routes import CONFIG_PATH, TRIGGERS_PATH
from spec.triggers import SeedError, load_seed_triggers

CONTROL_PREFIX = "/__mock__"
OFF_LOOP_BYTES = 32 * 1024
"""API and control bodies above this size are parsed off the loop (in a forked child)."""
HEAVY_STORE_SIZE = 2_000
"""Reads that render more than about this many stored triggers are answered off the loop too."""


def _login_token() -> str:
    return secrets.token_urlsafe(32)


_ids = random.Random()  # seeded from os.urandom once, per process (workers never share a sequence)
logger = logging.getLogger("mock_server")
T = TypeVar("T")

WORKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mock-heavy")
"""Where large bodies are parsed, validated and answered, and large dumps rendered. One thread: at
most one such request is in memory at a time, whatever the number of clients (the memory bound)."""


def mock_error(message: str, error_type: str = "mock-error") -> dict[str, Any]:
    """The body of an answer the mock gives for itself (never one Rocket.Chat gives)."""
    return {"success": False, "error": message, "errorType": error_type}


STORE_ERRORS = (sqlite3.Error, OSError)


class StorageFault(Exception):
    """The store failed (disk full, file removed or corrupted, read-only): the mock answers for itself."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        logger.error("mock server: store failure: %s", error)
        self.reply = Reply.json(
            503,
            mock_error(f"mock server: its store failed, nothing was changed: {error}", "mock-storage-error"),
        )


JSON_HEADERS = ((CONTENT_TYPE, JSON_CONTENT_TYPE), *NO_CACHE_HEADERS)
"""The control API's own answers are never cached either."""


@dataclass(frozen=True)
class Reply:
    """A control endpoint's answer (the Rocket.Chat routes answer with ``spec.model.Answer``)."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = JSON_HEADERS

    @classmethod
    def json(cls, status: int, value: Any) -> Reply:
        # JSON.stringify, so stored numbers read the way the Rocket.Chat API shows them (5000, not 5000.0).
        return cls(status, stringify(value).encode())


class MockService:
    def __init__(self, settings: MockSettings, store: Store, predictor: Predictor) -> None:
        self.settings = settings
        self.store = store
        self._predictor = predictor
        self._predicted = 0
        """How many requests the predictor has seen since start or reset (drives --clock/--ids)."""
        self.offloader = Offloader(
            budget_bytes=settings.offload_memory_bytes, timeout_seconds=settings.offload_timeout_seconds
        )
        self.gate = asyncio.Event()
        """Cleared while one request needs the state to itself; other requests wait (not the loop)."""
        self.gate.set()
        self._exclusive = asyncio.Lock()
        self._profiles: dict[str, Profile] = {}
        self._journal_texts: dict[str, str] = {}
        self._real_clock = settings.clock.kind == "real"
        self._random_ids = settings.ids.kind == "random"

    # -- the Rocket.Chat API -------------------------------------------------------------------------

    def profile(self) -> Profile:
        # Read per request: another worker may have switched it. Built once per name, not per request.
        name = self.store.profile_name(self.settings.profile)
        profile = self._profiles.get(name)
        if profile is None:
            profile = get_profile(name)
            profile = profile if self.settings.rate_limit else profile.in_development_mode()
            self._profiles[name] = profile
        return profile

    def environment(self) -> Environment:
        """The clock reading and the fresh id this request may use, per --clock and --ids."""
        n = self._predicted
        self._predicted += 1
        if self._real_clock:
            now_ms = time.time_ns() // 1_000_000
        else:
            clock = self.settings.clock
            now_ms = clock.start_ms + n * clock.step_ms
        if self._random_ids:
            # Not cryptographic on purpose: an id only has to be unique, and os.urandom costs a
            # syscall on every request (the id is offered even to requests that create nothing).
            # to_bytes().hex() writes format(n, "024x") in half the time.
            new_id = _ids.getrandbits(96).to_bytes(12, "big").hex()
            # A login token authenticates: from the OS's CSPRNG (Meteor's Random.secret(), 43
            # characters), drawn only when a log-in issues one.
            return Environment(now_ms, new_id, "", _login_token)
        # Sequential ids make the run reproducible: spec.identity derives the token from the id and
        # the clock.
        return Environment(now_ms, format(self.settings.ids.start + n, "024x"))

    def _prediction(self, request: Request) -> Callable[[StateView], tuple[Outcome, Sequence[Change]]]:
        profile = self.profile()
        environment = self.environment()
        predictor = self._predictor

        def predict(view: StateView) -> tuple[Outcome, Sequence[Change]]:
            outcome = predictor(request, view, profile, environment)
            return outcome, outcome.changes

        return predict

    def is_heavy(self, request: Request) -> bool:
        """Whether answering may take long enough to hold the event loop: a large body, or a read
        whose answer renders a large part of a large store (a list without a page limit, the public
        config of many enabled triggers). Only where the answer is computed depends on this."""
        if len(request.body) > OFF_LOOP_BYTES:
            return True
        if request.method != "GET" or self.store.count() <= HEAVY_STORE_SIZE:
            return False
        if request.path == CONFIG_PATH:
            return self.store.public_count() > HEAVY_STORE_SIZE
        if request.path != TRIGGERS_PATH or "count" not in request.query:
            return False
        try:
            _, count, _ = pagination(parse_query(request.query))
        except Exception:  # a query the contract refuses is answered quickly anyway
            return False
        return math.isnan(count) or count == 0

    def answer(self, request: Request) -> Outcome:
        predict = self._prediction(request)
        try:
            return self.store.transact(predict)
        except STORE_ERRORS as error:
            raise StorageFault(error) from None

    async def answer_offloaded(self, request: Request) -> Outcome:
        """The same answer as ``answer``, predicted in a forked child (for large bodies)."""
        predict = self._prediction(request)
        try:
            for _ in range(3):
                await self.through_gate()
                try:
                    return await self.store.transact_offloaded(predict, self.offloader.run, exclusive=False)
                except Overtaken:
                    continue
            # Overtaken three times: hold every other state access back (they await the gate, the
            # loop stays free) and predict once more with nothing to interleave.
            async with self.exclusively():
                for _ in range(3):  # only another worker process can still overtake it now
                    try:
                        return await self.store.transact_offloaded(
                            predict, self.offloader.run, exclusive=True
                        )
                    except Overtaken:
                        continue
            raise OffloadFailed("other workers kept changing what this request reads; try again")
        except STORE_ERRORS as error:
            raise StorageFault(error) from None

    async def complete(self, outcome: Outcome) -> Outcome:
        """The outcome once its webhook call (if it plans one) has ended: performed here, after the
        store transaction, so the wait holds no lock; with ``--no-outbound`` the webhook is taken as
        unreachable without any network access."""
        call = outcome.external
        if call is None:
            return outcome
        if not self.settings.outbound or call.request is None:
            return replace(outcome, answer=render(call, call.unreachable()))
        result = await perform(call.request)
        if isinstance(result, OutboundFailure):
            logger.error("mock server: webhook call not completed: %s", result.message)
            reply = Reply.json(502, mock_error(f"mock server: {result.message}", result.error_type))
            return replace(outcome, answer=Answer(reply.status, reply.body, reply.headers))
        return replace(outcome, answer=render(call, result))

    @contextlib.asynccontextmanager
    async def exclusively(self) -> AsyncIterator[None]:
        async with self._exclusive:
            self.gate.clear()
            try:
                yield
            finally:
                self.gate.set()

    async def through_gate(self) -> None:
        """Wait while an offloaded prediction runs exclusively (rare; see ``answer_offloaded``)."""
        if not self.gate.is_set():
            await self.gate.wait()

    def close(self) -> None:
        self.store.close()

    # -- control endpoints ---------------------------------------------------------------------------

    async def control(self, request: Request) -> Reply:
        try:
            return await self._control(request)
        except STORE_ERRORS as error:
            raise StorageFault(error) from None

    async def _control(self, request: Request) -> Reply:
        route = request.path[len(CONTROL_PREFIX) :].rstrip("/") or "/"
        handlers: dict[str, dict[str, Callable[[Request], Any]]] = {
            "/": {"GET": self._index},
            "/health": {"GET": self._health},
            "/reset": {"POST": self._reset},
            "/triggers": {"GET": self._get_triggers, "POST": self._load_triggers},
            "/journal": {"GET": self._journal},
            "/profile": {"GET": self._get_profile, "PUT": self._set_profile, "POST": self._set_profile},
            "/agents": {"GET": self._get_agents, "POST": self._put_agent, "PUT": self._replace_agents},
            "/users": {"GET": self._get_users, "POST": self._put_user},
            "/permissions": {"GET": self._get_permissions, "POST": self._set_permissions},
            "/settings": {"GET": self._get_settings, "POST": self._set_settings},
        }
        methods = handlers.get(route)
        if methods is None:
            return Reply.json(
                404,
                {
                    "error": f"no control endpoint {request.path}",
                    "endpoints": self._endpoints(),
                    "docs": f"{CONTROL_PREFIX}{self.settings.docs_path}/",
                },
            )
        handler = methods.get(request.method)
        if handler is None:
            return Reply(
                405,
                stringify({"error": f"{request.method} is not allowed on {request.path}"}).encode(),
                (*JSON_HEADERS, ("allow", ", ".join(methods))),
            )
        reply = handler(request)
        answered: Reply = await reply if asyncio.iscoroutine(reply) else reply
        return answered

    def _endpoints(self) -> list[str]:
        return [
            f"GET {CONTROL_PREFIX}/",
            f"GET {CONTROL_PREFIX}/health",
            f"POST {CONTROL_PREFIX}/reset",
            f"GET {CONTROL_PREFIX}/triggers",
            f"POST {CONTROL_PREFIX}/triggers",
            f"GET {CONTROL_PREFIX}/journal",
            f"GET {CONTROL_PREFIX}/profile",
            f"PUT {CONTROL_PREFIX}/profile",
            f"POST {CONTROL_PREFIX}/profile",
            f"GET {CONTROL_PREFIX}/agents",
            f"POST {CONTROL_PREFIX}/agents",
            f"PUT {CONTROL_PREFIX}/agents",
            f"GET {CONTROL_PREFIX}/users",
            f"POST {CONTROL_PREFIX}/users",
            f"GET {CONTROL_PREFIX}/permissions",
            f"POST {CONTROL_PREFIX}/permissions",
            f"GET {CONTROL_PREFIX}/settings",
            f"POST {CONTROL_PREFIX}/settings",
        ]

    def _index(self, request: Request) -> Reply:
        return Reply.json(
            200,
            {
                "endpoints": self._endpoints(),
                "docs": f"{CONTROL_PREFIX}{self.settings.docs_path}/",
                "openapi": f"{CONTROL_PREFIX}/openapi.json",
                "profiles": list(PROFILES),
            },
        )

    def _health(self, request: Request) -> Reply:
        return Reply.json(
            200,
            {
                "status": "ok",
                "profile": self.store.profile_name(self.settings.profile),
                "triggers": self.store.count(),
                "state": self.store.description,
                "pid": os.getpid(),
            },
        )

    def _reset(self, request: Request) -> Reply:
        self.store.reset()
        self._predicted = 0
        return Reply.json(200, {"reset": True})

    async def _get_triggers(self, request: Request) -> Reply:
        # Reading may be cheap (memory) but rendering every stored trigger is not: off the loop.
        read = self.store.snapshot()
        return await _in_worker(lambda: Reply.json(200, {"triggers": read()}))

    async def _load_triggers(self, request: Request) -> Reply:
        query = parse_qs(request.query)
        replace = query.get("replace", ["false"])[-1].lower() in ("1", "true", "yes")
        try:
            if len(request.body) > OFF_LOOP_BYTES:  # parsed in a forked child, like a large API body
                triggers = await self.offloader.run(lambda: parse_seed(request.body))
            else:
                triggers = parse_seed(request.body)
        except SeedError as error:
            return Reply.json(400, {"error": str(error)})
        except ChildError as error:
            if error.kind != SeedError.__name__:
                raise
            return Reply.json(400, {"error": error.text})
        except OffloadFailed as failure:
            return Reply.json(413, mock_error(f"mock server: {failure}", "mock-body-too-complex"))
        if len(triggers) > LOAD_STEP:
            async with self.exclusively():  # nobody sees a half-loaded store; the loop goes on
                await self.store.load_in_steps(triggers, replace=replace)
        else:
            self.store.load(triggers, replace=replace)
        return Reply.json(200, {"loaded": len(triggers), "total": self.store.count()})

    def _journal(self, request: Request) -> Reply:
        query = parse_qs(request.query)
        try:
            limit = int(query.get("limit", ["0"])[-1])
        except ValueError:
            return Reply.json(400, {"error": "limit must be an integer"})
        # The journal holds at most journal_size entries: a larger limit asks for all of them.
        limit = min(max(limit, 0), self.settings.journal_size)
        return Reply.json(200, {"entries": [e.to_json() for e in self.store.journal(limit)]})

    def _get_profile(self, request: Request) -> Reply:
        return Reply.json(
            200, {"profile": self.store.profile_name(self.settings.profile), "profiles": list(PROFILES)}
        )

    def _set_profile(self, request: Request) -> Reply:
        try:
            # spec's parser: iterative, so deep nesting is a 400 like any other bad body.
            body = parse_json(request.body.decode("utf-8")) if request.body else None
        except (JsonSyntaxError, UnicodeDecodeError):
            body = None
        name = body.get("profile") if isinstance(body, dict) else None
        if not isinstance(name, str):
            return Reply.json(400, {"error": 'send {"profile": NAME}', "profiles": list(PROFILES)})
        try:
            get_profile(name)
        except UnknownProfileError as error:
            return Reply.json(400, {"error": str(error), "profiles": list(PROFILES)})
        self.store.set_profile_name(name)
        return Reply.json(200, {"profile": name})

    # -- livechat agents (users the widget's routes read; mock_server.agents) -------------------------

    def _users(self) -> list[User]:
        users: list[User] = self.store.transact(lambda view: (all_users(view), ()))
        return users

    def _agents_reply(self, status: int = 200) -> Reply:
        return Reply.json(status, {"agents": [agent_to_json(user) for user in agents_of(self._users())]})

    def _get_agents(self, request: Request) -> Reply:
        return self._agents_reply()

    def _agent_body(self, request: Request) -> Any:
        try:
            return parse_json(request.body.decode("utf-8")) if request.body else None
        except (JsonSyntaxError, UnicodeDecodeError):
            return None

    def _put_agent(self, request: Request) -> Reply:
        try:
            agent = agent_from_json(self._agent_body(request), self._users())
        except AgentError as error:
            return Reply.json(400, {"error": str(error)})
        self.store.put_user(agent)
        return Reply.json(200, {"agent": agent_to_json(agent)})

    def _replace_agents(self, request: Request) -> Reply:
        try:
            users = replaced_set(self._agent_body(request), self._users())
        except AgentError as error:
            return Reply.json(400, {"error": str(error)})
        for user in users:
            self.store.put_user(user)
        return self._agents_reply()

    # -- users, permissions and settings at run time (mock_server.identity_control) ----------------

    def _read(self, read: Callable[[IdentityView], T]) -> T:
        def view_of(view: StateView) -> tuple[T, Sequence[Change]]:
            assert isinstance(view, IdentityView)
            return read(view), ()

        return self.store.transact(view_of)

    def _change(self, decide: Callable[[IdentityView], tuple[Reply, Sequence[Change]]]) -> Reply:
        """``decide`` reads the store and returns the reply and the changes, applied atomically."""

        def transaction(view: StateView) -> tuple[Reply, Sequence[Change]]:
            assert isinstance(view, IdentityView)
            return decide(view)

        return self.store.transact(transaction)

    def _get_users(self, request: Request) -> Reply:
        return Reply.json(200, {"users": [control.user_json(u) for u in self._read(control.users)]})

    def _put_user(self, request: Request) -> Reply:
        body = _json_body(request)
        if body is None:
            return Reply.json(400, {"error": "send a JSON object", "fields": control.USER_FIELDS})
        try:
            user, created = self._read(lambda view: control.user_from_request(body, view))
        except control.ControlError as error:
            return Reply.json(400, {"error": str(error), "fields": control.USER_FIELDS})
        self.store.put_user(user)
        return Reply.json(201 if created else 200, {"user": control.user_json(user), "created": created})

    def _get_permissions(self, request: Request) -> Reply:
        return Reply.json(200, {"permissions": self._read(control.permissions)})

    def _set_permissions(self, request: Request) -> Reply:
        body = _json_body(request)
        now_ms = self._next_now_ms()

        def decide(view: IdentityView) -> tuple[Reply, Sequence[Change]]:
            try:
                changes = control.permission_changes(body, view, now_ms)
            except control.ControlError as error:
                return Reply.json(400, {"error": str(error), "roles": list(view.known_roles())}), ()
            after = [control.permission_json(p) for p in control.applied_permissions(view, changes)]
            return Reply.json(200, {"permissions": after}), changes

        return self._change(decide)

    def _get_settings(self, request: Request) -> Reply:
        return Reply.json(200, {"settings": self._read(control.settings)})

    def _set_settings(self, request: Request) -> Reply:
        body = _json_body(request)

        def decide(view: IdentityView) -> tuple[Reply, Sequence[Change]]:
            try:
                changes = control.setting_changes(body, view)
            except control.ControlError as error:
                return Reply.json(400, {"error": str(error)}), ()
            return Reply.json(200, {"settings": {c.setting_id: c.value for c in changes}}), changes

        return self._change(decide)

    def _next_now_ms(self) -> int:
        """The time the next request would see, without using up a step of --clock."""
        clock = self.settings.clock
        if clock.kind == "real":
            return time.time_ns() // 1_000_000
        return clock.start_ms + self._predicted * clock.step_ms

    def record(
        self,
        request_id: str,
        *,
        method: str,
        path: str,
        query: str,
        status: int,
        operation: str,
        started: float,
    ) -> JournalEntry:
        """Journal an answered request; ``started`` is ``time.time()`` when it arrived."""
        now = time.time()  # one clock reading: the entry's time and the end of its duration
        duration_ms = max(now - started, 0.0) * 1000  # a wall clock may step back; rounded when shown
        # The journal keeps thousands of entries: one text per method and path rather than one per
        # entry (bounded: paths with trigger ids are many).
        shared = self._journal_texts
        if len(shared) > _SHARED_JOURNAL_TEXTS:
            shared.clear()
        method = shared.setdefault(method, method)
        path = shared.setdefault(path, path)
        # tuple.__new__ is the NamedTuple without its Python-level __new__ (one entry per request).
        fields = (request_id, now, method, path, query, status, operation, duration_ms)
        entry: JournalEntry = tuple.__new__(JournalEntry, fields)
        try:
            self.store.record(entry)
        except (sqlite3.Error, OSError) as error:  # the journal is a diagnostic: the answer stands
            logger.error("mock server: journal write failed: %s", error)
        return entry


_SHARED_JOURNAL_TEXTS = 1024


def _json_body(request: Request) -> JsonValue:
    """The control body as a JS value, or ``None`` when it is not a JSON object."""
    try:
        body = parse_json(request.body.decode("utf-8")) if request.body else None
    except (JsonSyntaxError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def parse_seed(data: bytes) -> list[Trigger]:
    """A seed document (the bytes of ``--seed-file`` or of ``POST /__mock__/triggers``), validated by spec.

    Accepts a JSON array of triggers, or ``{"triggers": [...]}`` (what ``GET /__mock__/triggers``
    returns, so a dump can be loaded back). Raises ``SeedError`` naming the bad entry.
    """
    try:
        raw = parse_json(data.decode("utf-8"))
    except (UnicodeDecodeError, JsonSyntaxError) as error:
        raise SeedError(f"not JSON: {error}") from None
    if isinstance(raw, dict) and set(raw) == {"triggers"}:
        raw = raw["triggers"]
    return load_seed_triggers(raw, default_updated_ms=time.time_ns() // 1_000_000)


async def _in_worker(work: Callable[[], T]) -> T:
    return await asyncio.get_running_loop().run_in_executor(WORKER, work)
