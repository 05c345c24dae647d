"""Small builders shared by the tests of the executable contract (no rules live here)."""

from __future__ import annotations

import json
from typing import Any

from spec.contract import example_post_body
from spec.model import Request, State, User, apply_changes
from spec.predict import Environment, Outcome, predict
from spec.profiles import get_profile

ADMIN = User("admin-id", "admin-token", frozenset({"view-livechat-manager", "api-bypass-rate-limit"}))
MANAGER = User("manager-id", "manager-token", frozenset({"view-livechat-manager"}))
AGENT = User("agent-id", "agent-token", frozenset())
USERS = (ADMIN, MANAGER, AGENT)
TRIGGERS = "/api/v1/livechat/triggers"
NOW_MS = 1_764_072_000_123
NEW_ID = "6565d2c1f0e1a2b3c4d5e6f7"


def valid_body(**changes: Any) -> dict[str, Any]:
    """The contract's own example body, with ``changes`` applied."""
    return {**example_post_body(), **changes}


def credentials(user: User | None) -> tuple[tuple[str, str], ...]:
    if user is None:
        return ()
    return (("X-User-Id", user.user_id), ("X-Auth-Token", user.token))


def post(
    body: Any,
    *,
    user: User | None = ADMIN,
    content_type: str | None = "application/json",
    raw: bytes | None = None,
) -> Request:
    headers = credentials(user) + ((("Content-Type", content_type),) if content_type else ())
    payload = raw if raw is not None else json.dumps(body).encode()
    return Request("POST", TRIGGERS, headers=headers, body=payload)


def get(path: str = TRIGGERS, query: str = "", *, user: User | None = ADMIN) -> Request:
    return Request("GET", path, query=query, headers=credentials(user))


def delete(trigger_id: str, *, user: User | None = ADMIN) -> Request:
    return Request("DELETE", f"{TRIGGERS}/{trigger_id}", headers=credentials(user))


class Server:
    """Replays requests through the prediction, carrying the state forward like a real server."""

    def __init__(self, profile: str = "8.3", state: State | None = None) -> None:
        self.profile = get_profile(profile)
        self.state = state or State(users=USERS)
        self.clock = NOW_MS
        self.inserted = 0

    def send(self, request: Request) -> Outcome:
        self.clock += 1000
        env = Environment(now_ms=self.clock, new_trigger_id=f"{self.inserted:024x}")
        outcome = predict(request, self.state, self.profile, env)
        self.state = apply_changes(self.state, outcome.changes)
        self.inserted += sum(1 for change in outcome.changes if type(change).__name__ == "InsertTrigger")
        return outcome

    def body(self, request: Request) -> Any:
        return self.send(request).answer.json()
