"""Plain data that flows through the contract: requests, answers, users, triggers and state changes.

Everything here is immutable and free of I/O so that the prediction (``spec.predict``) stays a pure
function that the mock server, the payload generators and the conformance runner can all call.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeAlias

JsonValue: TypeAlias = bool | float | str | list["JsonValue"] | dict[str, "JsonValue"] | None
"""A value as JavaScript sees it after ``JSON.parse``: every number is a float (a JS double)."""

Trigger: TypeAlias = dict[str, JsonValue]
"""A stored trigger; its keys are kept in the server's order (see ``spec.triggers.TRIGGER_KEYS``)."""

Headers: TypeAlias = tuple[tuple[str, str], ...]


# Node.js keeps only the first of these when a request repeats them; it joins other repeats with ", ".
_SINGLE_VALUE_HEADERS = frozenset(
    {
        "age", "authorization", "content-length", "content-type", "etag", "expires", "from", "host",
        "if-modified-since", "if-unmodified-since", "last-modified", "location", "max-forwards",
        "proxy-authorization", "referer", "retry-after", "server", "user-agent",
    }
)  # fmt: skip


def header_value(headers: Headers, name: str) -> str | None:
    """A header as Node.js hands it to the server: looked up case-insensitively, repeats joined."""
    wanted = name.lower()
    values = [value for key, value in headers if key.lower() == wanted]
    if not values:
        return None
    if wanted in _SINGLE_VALUE_HEADERS:
        return values[0]
    return ", ".join(values)


@dataclass(frozen=True)
class Request:
    """An HTTP request as it reaches the server, before any parsing."""

    method: str
    path: str
    query: str = ""
    headers: Headers = ()
    body: bytes = b""
    client_address: str = "127.0.0.1"

    def header(self, name: str) -> str | None:
        return header_value(self.headers, name)


@dataclass(frozen=True)
class Answer:
    """What the server sends back: status, headers and the exact body bytes."""

    status: int
    body: bytes
    headers: Headers = ()
    delay_seconds: tuple[float, float] | None = None
    """The server waits a random time in this range before answering (6.13-7.3 on 401/403)."""
    inferred: tuple[str, ...] = ()
    """Names of profile settings marked (inferred) that this answer rests on; empty when observed."""

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return header_value(self.headers, name)


@dataclass(frozen=True)
class User:
    """A user the server knows, identified by id and authenticated by token."""

    user_id: str
    token: str
    permissions: frozenset[str] = frozenset()

    def can(self, permission: str) -> bool:
        return permission in self.permissions


@dataclass(frozen=True)
class InsertTrigger:
    trigger: Trigger


@dataclass(frozen=True)
class UpdateTrigger:
    trigger_id: str
    fields: Trigger
    """The six saved fields and ``_updatedAt``; other keys of the stored trigger stay as they are."""


@dataclass(frozen=True)
class DeleteTrigger:
    trigger_id: str


@dataclass(frozen=True)
class CountCall:
    """One call counted by the rate limiter for ``key`` (client address, route and method), in a fixed
    window of ``window_ms`` that opens with its first call."""

    key: str
    at_ms: int
    window_ms: int


Change: TypeAlias = InsertTrigger | UpdateTrigger | DeleteTrigger | CountCall


@dataclass(frozen=True)
class RateWindow:
    started_ms: int
    calls: int


class StateView(Protocol):
    """Read access to what the server has stored; the mock's stores and ``State`` implement it."""

    def find_user(self, user_id: str) -> User | None: ...

    def all_triggers(self) -> Sequence[Trigger]:
        """Every stored trigger in natural (insertion) order."""
        ...

    def find_trigger(self, trigger_id: str) -> Trigger | None: ...

    def rate_window(self, key: str) -> RateWindow | None: ...


@dataclass(frozen=True)
class State:
    """An immutable in-memory ``StateView``; ``apply_changes`` returns the next one."""

    users: tuple[User, ...] = ()
    triggers: tuple[Trigger, ...] = ()
    rate_windows: Mapping[str, RateWindow] = field(default_factory=dict)

    def find_user(self, user_id: str) -> User | None:
        return next((user for user in self.users if user.user_id == user_id), None)

    def all_triggers(self) -> Sequence[Trigger]:
        return self.triggers

    def find_trigger(self, trigger_id: str) -> Trigger | None:
        return next((trigger for trigger in self.triggers if trigger["_id"] == trigger_id), None)

    def rate_window(self, key: str) -> RateWindow | None:
        return self.rate_windows.get(key)


def next_rate_window(current: RateWindow | None, at_ms: int, window_ms: int) -> RateWindow:
    """The limiter's window after one more call: a fixed window that opens with its first call."""
    if current is None or at_ms >= current.started_ms + window_ms:
        return RateWindow(started_ms=at_ms, calls=1)
    return RateWindow(started_ms=current.started_ms, calls=current.calls + 1)


def apply_change(state: State, change: Change) -> State:
    if isinstance(change, InsertTrigger):
        return replace(state, triggers=(*state.triggers, change.trigger))
    if isinstance(change, UpdateTrigger):
        return replace(
            state,
            triggers=tuple(
                {**trigger, **change.fields} if trigger["_id"] == change.trigger_id else trigger
                for trigger in state.triggers
            ),
        )
    if isinstance(change, DeleteTrigger):
        return replace(
            state,
            triggers=tuple(trigger for trigger in state.triggers if trigger["_id"] != change.trigger_id),
        )
    windows = dict(state.rate_windows)
    windows[change.key] = next_rate_window(windows.get(change.key), change.at_ms, change.window_ms)
    return replace(state, rate_windows=windows)


def apply_changes(state: State, changes: Sequence[Change]) -> State:
    for change in changes:
        state = apply_change(state, change)
    return state
