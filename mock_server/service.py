"""The mock's request handling, free of any web framework: a ``Request`` in, a ``Reply`` out.

Rocket.Chat requests (``/api`` and below) go to the predictor from ``spec.predict`` and nothing else
decides their answer: this module only supplies the state (the store), the profile, the clock and
the id source, and applies the changes the predictor returns. The control endpoints
(``/__mock__/...``) are the mock's own API and are answered here.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from mock_server.settings import MockSettings
from mock_server.stores import JournalEntry, Store
from spec.headers import CONTENT_TYPE, JSON_CONTENT_TYPE, NO_CACHE_HEADERS
from spec.jsvalues import JsonSyntaxError, parse_json, stringify
from spec.model import Change, Request, StateView, Trigger
from spec.predict import Environment, Outcome, Predictor
from spec.profiles import PROFILES, Profile, UnknownProfileError, get_profile
from spec.triggers import SeedError, load_seed_triggers

CONTROL_PREFIX = "/__mock__"
_ids = random.Random()  # seeded from os.urandom once, per process (workers never share a sequence)
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

    # -- the Rocket.Chat API -------------------------------------------------------------------------

    def profile(self) -> Profile:
        profile = get_profile(self.store.profile_name(self.settings.profile))
        return profile if self.settings.rate_limit else profile.in_development_mode()

    def environment(self) -> Environment:
        """The clock reading and the fresh id this request may use, per --clock and --ids."""
        n = self._predicted
        self._predicted += 1
        clock, ids = self.settings.clock, self.settings.ids
        now_ms = time.time_ns() // 1_000_000 if clock.kind == "real" else clock.start_ms + n * clock.step_ms
        # Not cryptographic on purpose: an id only has to be unique, and os.urandom costs a syscall
        # on every request (the id is offered even to requests that create nothing).
        new_id = (
            format(_ids.getrandbits(96), "024x") if ids.kind == "random" else format(ids.start + n, "024x")
        )
        return Environment(now_ms=now_ms, new_trigger_id=new_id)

    def answer(self, request: Request) -> Outcome:
        profile = self.profile()
        environment = self.environment()

        def predict(view: StateView) -> tuple[Outcome, Sequence[Change]]:
            outcome = self._predictor(request, view, profile, environment)
            return outcome, outcome.changes

        return self.store.transact(predict)

    # -- control endpoints ---------------------------------------------------------------------------

    def control(self, request: Request) -> Reply:
        route = request.path[len(CONTROL_PREFIX) :].rstrip("/") or "/"
        handlers = {
            "/health": {"GET": self._health},
            "/reset": {"POST": self._reset},
            "/triggers": {"GET": self._get_triggers, "POST": self._load_triggers},
            "/journal": {"GET": self._journal},
            "/profile": {"GET": self._get_profile, "PUT": self._set_profile, "POST": self._set_profile},
        }
        methods = handlers.get(route)
        if methods is None:
            return Reply.json(
                404,
                {
                    "error": f"no control endpoint {request.path}",
                    "endpoints": [f"{m} {CONTROL_PREFIX}{path}" for path, ms in handlers.items() for m in ms],
                    "docs": f"{CONTROL_PREFIX}{self.settings.docs_path}/",
                },
            )
        handler = methods.get(request.method)
        if handler is None:
            return Reply(
                405,
                json.dumps({"error": f"{request.method} is not allowed on {request.path}"}).encode(),
                (*JSON_HEADERS, ("allow", ", ".join(methods))),
            )
        return handler(request)

    def _health(self, request: Request) -> Reply:
        return Reply.json(
            200,
            {
                "status": "ok",
                "profile": self.store.profile_name(self.settings.profile),
                "triggers": len(self.store.triggers()),
                "state": self.store.description,
                "pid": os.getpid(),
            },
        )

    def _reset(self, request: Request) -> Reply:
        self.store.reset()
        self._predicted = 0
        return Reply.json(200, {"reset": True})

    def _get_triggers(self, request: Request) -> Reply:
        return Reply.json(200, {"triggers": self.store.triggers()})

    def _load_triggers(self, request: Request) -> Reply:
        query = parse_qs(request.query)
        replace = query.get("replace", ["false"])[-1].lower() in ("1", "true", "yes")
        try:
            triggers = parse_seed(request.body)
        except SeedError as error:
            return Reply.json(400, {"error": str(error)})
        self.store.load(triggers, replace=replace)
        return Reply.json(200, {"loaded": len(triggers), "total": len(self.store.triggers())})

    def _journal(self, request: Request) -> Reply:
        query = parse_qs(request.query)
        try:
            limit = int(query.get("limit", ["0"])[-1])
        except ValueError:
            return Reply.json(400, {"error": "limit must be an integer"})
        return Reply.json(200, {"entries": [e.to_json() for e in self.store.journal(max(limit, 0))]})

    def _get_profile(self, request: Request) -> Reply:
        return Reply.json(
            200, {"profile": self.store.profile_name(self.settings.profile), "profiles": list(PROFILES)}
        )

    def _set_profile(self, request: Request) -> Reply:
        try:
            body = json.loads(request.body or b"null")
        except (ValueError, UnicodeDecodeError):
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
        entry = JournalEntry(
            request_id=request_id,
            at=time.time(),
            method=method,
            path=path,
            query=query,
            status=status,
            operation=operation,
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
        )
        self.store.record(entry)
        return entry


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
