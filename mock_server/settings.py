"""Everything one mock server process needs to know, as plain data.

The settings travel from the command line to every worker process: ``--workers N`` starts fresh
interpreters (uvicorn spawns them), so they are serialised to JSON in an environment variable and
read back by ``mock_server.app.app_from_environment``.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from spec.http_limits import HttpLimits, http_limits
from spec.model import User

SETTINGS_ENVIRONMENT_VARIABLE = "RC_TRIGGERS_MOCK_SETTINGS"

DEFAULT_CORS_ORIGINS = ("http://localhost:*", "http://127.0.0.1:*")
"""Any port on the loopback names: where a frontend dev server or a Playwright run usually lives."""

DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024
"""The mock refuses to buffer more than this. It sits above the 50 MB limit of the 6.13 profile so
that the contract, not the mock, answers every body a real server would have to look at."""


DEFAULT_OFFLOAD_MEMORY_BYTES = 2 * 1024 * 1024 * 1024
"""Enough for the worst body measured under the default --max-body-bytes shapes (20 MB nested ten
million deep needs ~1.6 GB as Python objects); past it the mock answers mock-body-too-complex."""


class SettingsError(ValueError):
    """A bad option: the command line prints the message and exits with status 2."""


@dataclass(frozen=True)
class Clock:
    """Where ``Environment.now_ms`` comes from.

    ``real``: the wall clock. ``step``: the n-th predicted request (n = 0, 1, ... since start or reset)
    sees ``start_ms + n * step_ms``, so tests can compute ``_updatedAt`` and rate-limit windows.
    """

    kind: Literal["real", "step"] = "real"
    start_ms: int = 0
    step_ms: int = 0

    @classmethod
    def parse(cls, text: str) -> Clock:
        if text == "real":
            return cls()
        match = re.fullmatch(r"(fixed|step):(-?\d+)(?::(\d+))?", text)
        if match is None:
            raise SettingsError(
                f"--clock {text!r}: expected 'real', 'fixed:EPOCH_MS' or 'step:EPOCH_MS:STEP_MS'"
            )
        kind, start, step = match.groups()
        if kind == "fixed" and step is not None:
            raise SettingsError(f"--clock {text!r}: 'fixed' takes one number (epoch milliseconds)")
        return cls(kind="step", start_ms=int(start), step_ms=int(step or 0))

    def describe(self) -> str:
        if self.kind == "real":
            return "real time"
        if self.step_ms == 0:
            return f"fixed at {self.start_ms} ms"
        return f"starts at {self.start_ms} ms, +{self.step_ms} ms per request"


@dataclass(frozen=True)
class IdSource:
    """Where ``Environment.new_trigger_id`` comes from.

    ``random``: 24 random hex digits, like a MongoDB ObjectId. ``sequential``: the n-th predicted
    request (n = 0, 1, ... since start or reset) is offered ``format(start + n, "024x")``.
    """

    kind: Literal["random", "sequential"] = "random"
    start: int = 1

    @classmethod
    def parse(cls, text: str) -> IdSource:
        if text == "random":
            return cls()
        match = re.fullmatch(r"sequential(?::(\d+))?", text)
        if match is None:
            raise SettingsError(f"--ids {text!r}: expected 'random' or 'sequential[:START]'")
        return cls(kind="sequential", start=int(match.group(1) or 1))

    def describe(self) -> str:
        return "random" if self.kind == "random" else f"sequential from {self.start:024x}"


def parse_user(text: str) -> User:
    """``ID:TOKEN[:PERM[,PERM...]]`` as given to ``--user``."""
    parts = text.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise SettingsError(f"--user {text!r}: expected ID:TOKEN or ID:TOKEN:PERMISSION[,PERMISSION...]")
    permissions = frozenset(p.strip() for p in parts[2].split(",") if p.strip()) if len(parts) == 3 else ()
    return User(user_id=parts[0], token=parts[1], permissions=frozenset(permissions))


# A host is a name, an IPv6 literal in brackets (the only place a ':' may stand) or '*.' and a domain.
_ORIGIN = re.compile(
    r"\*|null|(https?)://([A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\]|\*\.[A-Za-z0-9.\-]+)(:(\d+|\*))?"
)


def check_cors_origin(origin: str) -> str:
    if _ORIGIN.fullmatch(origin) is None:
        raise SettingsError(
            f"--cors-origin {origin!r}: expected '*', 'null' (pages opened from file://) or "
            "SCHEME://HOST[:PORT], where PORT may be '*' (e.g. http://localhost:5173 or http://localhost:*)"
        )
    return origin


@dataclass(frozen=True)
class MockSettings:
    host: str = "127.0.0.1"
    port: int = 3000
    profile: str = "8.3"
    users: tuple[User, ...] = ()
    seed_triggers: tuple[dict[str, Any], ...] | None = None
    """Already validated by ``spec.triggers.load_seed_triggers``; loaded into an empty store."""
    seed_source: str | None = None
    db_path: str | None = None
    db_is_temporary: bool = False
    workers: int = 1
    cors_origins: tuple[str, ...] = DEFAULT_CORS_ORIGINS
    quiet: bool = False
    rate_limit: bool = True
    clock: Clock = field(default_factory=Clock)
    ids: IdSource = field(default_factory=IdSource)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    journal_size: int = 10_000
    docs_path: str = "/docs"
    predictor: str | None = None
    """``MODULE:NAME`` of a function to use instead of ``spec.predict.predict`` (mutation testing)."""
    offload_memory_bytes: int = DEFAULT_OFFLOAD_MEMORY_BYTES
    """Address space a forked child may add while it answers one large body (``mock_server.offload``)."""
    offload_timeout_seconds: float = 300.0
    max_header_bytes: int | None = None
    headers_timeout_seconds: float | None = None
    request_timeout_seconds: float | None = None
    """0 turns the request timeout off."""
    idle_timeout_seconds: float | None = None
    """Overrides of the profile's ``spec.http_limits`` (``None``: the profile's figure)."""
    control_token: str | None = None
    """When set, the control API wants ``Authorization: Bearer TOKEN`` (health excepted)."""

    def http_limits(self) -> HttpLimits:
        """The start profile's Node.js limits with the command line's overrides (a later profile
        switch keeps them: they belong to the listening server, not to a request)."""
        limits = http_limits(self.profile)
        overrides: dict[str, Any] = {}
        if self.max_header_bytes is not None:
            overrides["max_header_bytes"] = self.max_header_bytes
        if self.headers_timeout_seconds is not None:
            overrides["headers_timeout_seconds"] = self.headers_timeout_seconds
        if self.request_timeout_seconds is not None:
            overrides["request_timeout_seconds"] = self.request_timeout_seconds or None
        if self.idle_timeout_seconds is not None:
            overrides["idle_timeout_seconds"] = self.idle_timeout_seconds
        return replace(limits, **overrides)

    def to_json(self) -> str:
        data = asdict(self)
        data["users"] = [
            {"user_id": u.user_id, "token": u.token, "permissions": sorted(u.permissions)} for u in self.users
        ]
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> MockSettings:
        data = json.loads(text)
        data["users"] = tuple(
            User(user_id=u["user_id"], token=u["token"], permissions=frozenset(u["permissions"]))
            for u in data["users"]
        )
        if data["seed_triggers"] is not None:
            data["seed_triggers"] = tuple(data["seed_triggers"])
        data["cors_origins"] = tuple(data["cors_origins"])
        data["clock"] = Clock(**data["clock"])
        data["ids"] = IdSource(**data["ids"])
        return cls(**data)

    @classmethod
    def from_environment(cls) -> MockSettings:
        text = os.environ.get(SETTINGS_ENVIRONMENT_VARIABLE)
        if text is None:
            raise SettingsError(f"{SETTINGS_ENVIRONMENT_VARIABLE} is not set; start the mock with its CLI")
        return cls.from_json(text)
