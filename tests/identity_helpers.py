"""Builders for the identity tests: a State with role-based users, and a server that replays requests
through ``spec.predict`` with a fresh login token per request (no rules live here)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from spec.model import Request, State, Trigger, User, apply_changes, default_permissions, password_digest
from spec.predict import Environment, Outcome, predict
from spec.profiles import PROFILES, get_profile

ERAS = tuple(PROFILES)
NOW_MS = 1_764_072_000_000
START_MS = NOW_MS - 3_600_000

ADMIN = User(
    "rc-admin",
    "admin-start-token",
    username="rocketchat.internal.admin.test",
    password_sha256=password_digest("admin-password"),
    roles=("admin",),
    emails=("rocketchat.internal.admin.test@rocket.chat",),
    name="Admin",
)
MANAGER = User(
    "rc-manager",
    "manager-token",
    username="manager",
    password_sha256=password_digest("manager-password"),
    roles=("user", "livechat-manager"),
)
AGENT = User("rc-agent", "agent-token", username="agent", roles=("user", "livechat-agent"))
USERS = (ADMIN, MANAGER, AGENT)


def fresh_state(users: Sequence[User] = USERS) -> State:
    return State(users=tuple(users), permissions=default_permissions(START_MS))


def auth(user: User | None, token: str | None = None) -> tuple[tuple[str, str], ...]:
    if user is None:
        return ()
    return (("X-User-Id", user.user_id), ("X-Auth-Token", token if token is not None else user.token))


def json_request(
    method: str, path: str, body: Any = None, *, headers: tuple[tuple[str, str], ...] = (), query: str = ""
) -> Request:
    if body is None:
        return Request(method, path, query=query, headers=headers)
    payload = json.dumps(body).encode()
    return Request(
        method, path, query=query, headers=(*headers, ("Content-Type", "application/json")), body=payload
    )


class Server:
    """Carries the state forward like a real server; every request gets a new token and trigger id."""

    def __init__(
        self, profile: str = "8.3", state: State | None = None, *, rate_limited: bool = True
    ) -> None:
        chosen = get_profile(profile)
        self.profile = chosen if rate_limited else chosen.in_development_mode()
        self.state = state if state is not None else fresh_state()
        self.clock = NOW_MS
        self.count = 0

    def send(self, request: Request) -> Outcome:
        self.clock += 1000
        self.count += 1
        env = Environment(
            now_ms=self.clock,
            new_trigger_id=f"{self.count:024x}",
            new_login_token=f"login-token-{self.count}",
        )
        outcome = predict(request, self.state, self.profile, env)
        self.state = apply_changes(self.state, outcome.changes)
        return outcome

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        user: User | None = ADMIN,
        token: str | None = None,
        query: str = "",
    ) -> Outcome:
        return self.send(json_request(method, path, body, headers=auth(user, token), query=query))

    def trigger(self, trigger_id: str) -> Trigger | None:
        return self.state.find_trigger(trigger_id)
