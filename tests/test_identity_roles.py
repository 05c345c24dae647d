"""Roles and permission resolution: the default role table, users holding permissions through roles
from the state's *current* table, and the mock-store fallback (no IdentityView: as before)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest

from spec.model import RateWindow, SetPermissionRoles, State, StateView, Trigger, User, apply_change
from spec.permissions import (
    ACCESS_PERMISSIONS,
    BYPASS_RATE_LIMIT,
    DEFAULT_ROLE_TABLE,
    EDIT_PRIVILEGED_SETTING,
    MANAGE_TRIGGERS,
    VIEW_PRIVILEGED_SETTING,
    holds,
    role_permissions,
)
from spec.predict import Environment, predict
from spec.profiles import get_profile
from spec.routes import LOGIN_PATH, ME_PATH, TRIGGERS_PATH, setting_path
from tests.identity_helpers import (
    ADMIN,
    AGENT,
    ERAS,
    MANAGER,
    NOW_MS,
    Server,
    auth,
    fresh_state,
    json_request,
)


def test_default_roles_of_the_feature_permissions() -> None:
    assert DEFAULT_ROLE_TABLE[MANAGE_TRIGGERS] == ("livechat-manager", "livechat-monitor", "admin")
    assert DEFAULT_ROLE_TABLE[BYPASS_RATE_LIMIT] == ("admin", "bot", "app")
    for permission in (ACCESS_PERMISSIONS, VIEW_PRIVILEGED_SETTING, EDIT_PRIVILEGED_SETTING):
        assert DEFAULT_ROLE_TABLE[permission] == ("admin",)


def test_role_permissions_is_the_union_over_roles() -> None:
    assert role_permissions(DEFAULT_ROLE_TABLE, ["bot"]) == {BYPASS_RATE_LIMIT}
    manager = role_permissions(DEFAULT_ROLE_TABLE, ["livechat-manager", "user"])
    assert MANAGE_TRIGGERS in manager
    assert BYPASS_RATE_LIMIT not in manager
    assert role_permissions(DEFAULT_ROLE_TABLE, []) == frozenset()


def test_holds_reads_the_current_table_of_the_state() -> None:
    state = fresh_state()
    assert holds(MANAGER, MANAGE_TRIGGERS, state)
    assert not holds(AGENT, MANAGE_TRIGGERS, state)
    revoked = apply_change(state, SetPermissionRoles(MANAGE_TRIGGERS, (), NOW_MS))
    assert not holds(MANAGER, MANAGE_TRIGGERS, revoked)
    assert not holds(ADMIN, MANAGE_TRIGGERS, revoked)
    granted = apply_change(state, SetPermissionRoles(MANAGE_TRIGGERS, ("livechat-agent",), NOW_MS))
    assert holds(AGENT, MANAGE_TRIGGERS, granted)


def test_direct_permissions_still_count_whatever_the_table_says() -> None:
    legacy = User("legacy-id", "legacy-token", frozenset({MANAGE_TRIGGERS}))
    state = apply_change(fresh_state([legacy]), SetPermissionRoles(MANAGE_TRIGGERS, (), NOW_MS))
    assert holds(legacy, MANAGE_TRIGGERS, state)
    assert legacy.can(MANAGE_TRIGGERS)


@pytest.mark.parametrize("era", ERAS)
def test_a_revoked_permission_applies_to_the_next_trigger_request(era: str) -> None:
    server = Server(era)
    assert server.call("GET", TRIGGERS_PATH, user=MANAGER).answer.status == 200
    server.state = apply_change(server.state, SetPermissionRoles(MANAGE_TRIGGERS, (), server.clock))
    refused = server.call("GET", TRIGGERS_PATH, user=MANAGER).answer
    assert refused.status == 403
    assert refused.json()["error"].endswith("[error-unauthorized]")


def test_the_admin_role_bypasses_the_rate_limit_and_a_manager_does_not() -> None:
    server = Server("8.3")
    for _ in range(12):
        assert server.call("GET", TRIGGERS_PATH, user=ADMIN).answer.status == 200
    statuses = [server.call("GET", TRIGGERS_PATH, user=MANAGER).answer.status for _ in range(11)]
    assert statuses == [200] * 10 + [429]


class PlainView:
    """A StateView without the identity methods, like the mock's stores today."""

    def __init__(self, users: Sequence[User]) -> None:
        self._users = {user.user_id: user for user in users}

    def find_user(self, user_id: str) -> User | None:
        return self._users.get(user_id)

    def all_triggers(self) -> Sequence[Trigger]:
        return []

    def find_trigger(self, trigger_id: str) -> Trigger | None:
        return None

    def rate_window(self, key: str) -> RateWindow | None:
        return None


@pytest.mark.parametrize(
    ("method", "path"), [("POST", LOGIN_PATH), ("GET", ME_PATH), ("GET", setting_path("Livechat_enabled"))]
)
def test_without_an_identity_view_the_new_routes_stay_unknown(method: str, path: str) -> None:
    view: StateView = PlainView([ADMIN])
    request = json_request(method, path, {} if method == "POST" else None, headers=auth(ADMIN))
    env = Environment(now_ms=NOW_MS, new_trigger_id="x" * 24)
    outcome = predict(request, view, get_profile("8.3"), env)
    assert outcome.operation == "unknown_route"
    # Exactly what a path the API never routes gets (Hono's text 404 on 8.3).
    unknown = predict(replace(request, path="/api/v1/no-such-route"), view, get_profile("8.3"), env)
    assert outcome.answer == unknown.answer
    assert (outcome.answer.status, outcome.answer.body) == (404, b"404 Not Found")
    assert outcome.changes == ()


def test_roles_resolve_through_the_default_table_on_a_plain_view() -> None:
    view = PlainView([MANAGER])
    assert holds(MANAGER, MANAGE_TRIGGERS, view)
    assert not holds(MANAGER, BYPASS_RATE_LIMIT, view)


def test_state_defaults_hold_the_default_table() -> None:
    state = State()
    assert [p.permission_id for p in state.all_permissions()] == list(DEFAULT_ROLE_TABLE)
    assert state.permission_roles("no-such-permission") is None
