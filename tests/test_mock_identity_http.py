"""Differential tests of the identity routes: a real mock process against ``spec.predict`` on a ``State``.

A Hypothesis stream of log-ins (right and wrong passwords, by username, e-mail, the native and the
pre-hashed shapes, resume tokens, malformed bodies), log-outs, ``me``, ``permissions.listAll``,
``permissions.update`` (revoking and restoring the trigger permission, unknown ids and roles, bad
bodies), ``settings/:_id`` reads and writes, ``method.call`` (``livechat:saveTrigger`` and bad
envelopes) and trigger-route reads by every kind of user goes byte for byte to the mock and, in step,
to the predictor. Tokens the log-ins issue are used by later requests, so a revoked permission, a
log-out and a setting change must act on the next request exactly as predicted.

The mock runs with ``--clock step`` and ``--ids sequential``: the n-th request sees the same clock and
id on both sides, and the log-in token is the one ``spec.identity`` derives from them. Each example
starts with ``POST /__mock__/reset``, which must bring users, tokens, permissions and settings back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spec.accounts import account
from spec.jsvalues import stringify
from spec.methods import SAVE_TRIGGER_METHOD
from spec.model import Request, State, User, apply_changes, default_permissions, password_digest
from spec.permissions import (
    ACCESS_PERMISSIONS,
    ADMIN_ROLE,
    BYPASS_RATE_LIMIT,
    DEFAULT_ROLE_TABLE,
    LIVECHAT_MANAGER_ROLE,
    MANAGE_TRIGGERS,
    USER_ROLE,
)
from spec.predict import Environment, predict
from spec.profiles import get_profile
from spec.routes import (
    LOGIN_PATH,
    LOGOUT_PATH,
    ME_PATH,
    PERMISSIONS_LIST_ALL_PATH,
    PERMISSIONS_UPDATE_PATH,
    TRIGGERS_PATH,
    method_call_path,
    setting_path,
)
from spec.settings import LIVECHAT_ENABLED, LIVECHAT_SECRET_TOKEN, SITE_URL, default_settings
from tests.mockserver import MockServer, running_mock

pytestmark = pytest.mark.http

T0_MS = 1_764_072_000_000
STEP_MS = 1_500

DIRECT = ("direct-id", "direct-token", f"{MANAGE_TRIGGERS},{BYPASS_RATE_LIMIT}")
ACCOUNTS = (
    ("boss", "boss-password", ADMIN_ROLE, "boss-id"),
    ("Manager.One", "manager-password", f"{USER_ROLE},{LIVECHAT_MANAGER_ROLE}", "manager-id"),
    ("plain", "plain-password", USER_ROLE, "plain-id"),
)
PASSWORDS = {username: password for username, password, _, _ in ACCOUNTS}


def environment(n: int) -> Environment:
    # new_login_token left empty: with --ids sequential the mock lets spec derive it the same way.
    return Environment(now_ms=T0_MS + n * STEP_MS, new_trigger_id=format(1 + n, "024x"))


def mock_arguments(profile: str, *extra: str) -> list[str]:
    arguments = ["--profile", profile, "--clock", f"step:{T0_MS}:{STEP_MS}", "--ids", "sequential", "--quiet"]
    arguments += ["--user", ":".join(DIRECT)]
    for username, password, roles, user_id in ACCOUNTS:
        arguments += ["--account", f"{username}:{password}:{roles}:{user_id}"]
    return [*arguments, *extra]


def start_state(server: MockServer) -> State:
    """What the mock must hold after start and after every reset, built from spec alone."""
    user_id, token, permissions = DIRECT
    users = [User(user_id, token, frozenset(permissions.split(",")))]
    for username, password, roles, account_id in ACCOUNTS:
        start_token = server.users[account_id].token  # random, printed in the banner
        users.append(account(username, password, roles.split(","), user_id=account_id, token=start_token))
    return State(
        users=tuple(users),
        permissions=default_permissions(T0_MS),
        settings={**default_settings(), SITE_URL: server.base_url},
    )


@pytest.fixture(scope="module")
def mock_8_3() -> Iterator[MockServer]:
    with running_mock(*mock_arguments("8.3")) as server:
        yield server


@pytest.fixture(scope="module")
def mock_6_13_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockServer]:
    db = tmp_path_factory.mktemp("identity") / "state.sqlite"
    with running_mock(*mock_arguments("6.13", "--db", str(db))) as server:
        yield server


# -- the stream ---------------------------------------------------------------------------------


@dataclass
class Session:
    """What the client side knows: users and the tokens log-ins gave it."""

    state: State
    issued: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Tally:
    requests: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    operations: dict[str, int] = field(default_factory=dict)


def _json(
    method: str, path: str, body: object, headers: tuple[tuple[str, str], ...], query: str = ""
) -> Request:
    if body is None:
        return Request(method, path, query=query, headers=headers)
    return Request(
        method,
        path,
        query=query,
        headers=(*headers, ("Content-Type", "application/json")),
        body=json.dumps(body).encode(),
    )


def credentials(data: st.DataObject, session: Session) -> tuple[tuple[str, str], ...]:
    choices: list[tuple[str, str] | None] = [(u.user_id, u.token) for u in session.state.users if u.token]
    choices += session.issued * 3  # tokens from log-ins: the path a real client takes
    choices += [("boss-id", "not-a-token"), None]
    chosen = data.draw(st.sampled_from(choices), label="credentials")
    if chosen is None:
        return ()
    return (("X-User-Id", chosen[0]), ("X-Auth-Token", chosen[1]))


def login_body(data: st.DataObject, session: Session) -> object:
    username = data.draw(st.sampled_from([*PASSWORDS, "nobody", "BOSS", "direct-id"]), label="username")
    right = PASSWORDS.get(username, PASSWORDS.get(username.lower(), "x"))
    password = data.draw(st.sampled_from([right, right, "wrong-password", ""]), label="password")
    tokens = [token for _, token in session.issued] or ["no-such-token"]
    shapes = [
        {"user": username, "password": password},
        {"username": username, "password": password},
        {"user": {"username": username}, "password": password},
        {"user": username, "password": {"digest": password_digest(password), "algorithm": "sha-256"}},
        {"user": username, "password": {"hashed": password_digest(password)}},
        {"email": f"{username}@example.invalid", "password": password},
        {"resume": data.draw(st.sampled_from([*tokens, "no-such-token"]), label="resume")},
        {},
        {"user": 1, "password": password},
        {"username": username, "password": password, "extra": True},
    ]
    return data.draw(st.sampled_from(shapes), label="login")


def trigger_argument(data: st.DataObject) -> object:
    valid = {
        "name": data.draw(st.sampled_from(["a", "b", "zz"]), label="trigger name"),
        "description": "from the method",
        "enabled": True,
        "runOnce": False,
        "conditions": [{"name": "word", "value": 3}],
        "actions": [{"name": "send-message", "params": {"msg": "hi", "name": "Ana", "sender": "queue"}}],
    }
    variants = [valid, {**valid, "_id": None}, {**valid, "enabled": 1}, {**valid, "extra": 1}, {"name": "x"}]
    return data.draw(st.sampled_from(variants), label="trigger")


def method_body(data: st.DataObject) -> object:
    message = {
        "msg": "method",
        "id": "101",
        "method": SAVE_TRIGGER_METHOD,
        "params": [trigger_argument(data)],
    }
    shapes = [
        {"message": json.dumps(message)},
        {"message": json.dumps(message)},
        {"message": json.dumps({**message, "method": "no:such"})},
        {"message": json.dumps({**message, "id": 101})},
        {"message": "{not json"},
        {"message": 1},
        {},
    ]
    return data.draw(st.sampled_from(shapes), label="method body")


def update_body(data: st.DataObject) -> object:
    roles = data.draw(
        st.sampled_from(
            [
                [],
                [ADMIN_ROLE],
                list(DEFAULT_ROLE_TABLE[MANAGE_TRIGGERS]),
                [LIVECHAT_MANAGER_ROLE],
                ["no-role"],
            ]
        ),
        label="roles",
    )
    permission = data.draw(
        st.sampled_from([MANAGE_TRIGGERS, MANAGE_TRIGGERS, BYPASS_RATE_LIMIT, ACCESS_PERMISSIONS, "nope"]),
        label="permission",
    )
    shapes = [
        {"permissions": [{"_id": permission, "roles": roles}]},
        {"permissions": [{"_id": permission, "roles": roles}]},
        {"permissions": [{"_id": permission, "roles": [ADMIN_ROLE, ADMIN_ROLE]}]},
        {"permissions": [{"_id": permission}]},
        {"permissions": 1},
        {},
    ]
    return data.draw(st.sampled_from(shapes), label="update body")


def next_request(data: st.DataObject, session: Session) -> Request:
    kind = data.draw(
        st.sampled_from(
            ["login", "login", "login", "logout", "me", "list-permissions", "update", "update",
             "get-setting", "save-setting", "method", "method", "triggers", "triggers"]
        ),
        label="kind",
    )  # fmt: skip
    if kind == "login":
        return _json("POST", LOGIN_PATH, login_body(data, session), ())
    headers = credentials(data, session)
    if kind == "logout":
        return _json(data.draw(st.sampled_from(["GET", "POST"])), LOGOUT_PATH, None, headers)
    if kind == "me":
        return _json("GET", ME_PATH, None, headers)
    if kind == "list-permissions":
        query = data.draw(
            st.sampled_from(["", "updatedSince=2000-01-01T00:00:00.000Z", "updatedSince=nope", "x=1"])
        )
        return _json("GET", PERMISSIONS_LIST_ALL_PATH, None, headers, query)
    if kind == "update":
        return _json("POST", PERMISSIONS_UPDATE_PATH, update_body(data), headers)
    setting = data.draw(
        st.sampled_from([LIVECHAT_ENABLED, LIVECHAT_SECRET_TOKEN, SITE_URL, "No_Such_Setting"])
    )
    if kind == "get-setting":
        return _json("GET", setting_path(setting), None, headers)
    if kind == "save-setting":
        body = data.draw(st.sampled_from([{"value": True}, {"value": "text"}, {"value": [1]}, {}]))
        return _json("POST", setting_path(setting), body, headers)
    if kind == "method":
        return _json("POST", method_call_path(SAVE_TRIGGER_METHOD), method_body(data), headers)
    return _json("GET", TRIGGERS_PATH, None, headers)


def run_stream(server: MockServer, profile_name: str, data: st.DataObject, tally: Tally) -> None:
    profile = get_profile(profile_name)
    assert httpx.post(server.url("/__mock__/reset"), json={}).status_code == 200
    session = Session(start_state(server))
    steps = data.draw(st.integers(8, 20), label="steps")
    with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
        for n in range(steps):
            request = next_request(data, session)
            outcome = predict(request, session.state, profile, environment(n))
            raw = request.path + (f"?{request.query}" if request.query else "")
            url = httpx.URL(server.base_url, raw_path=raw.encode("latin-1"))
            response = client.request(
                request.method, url, headers=list(request.headers), content=request.body
            )
            expected = outcome.answer
            where = f"request {n}: {request!r}"
            assert response.status_code == expected.status, where
            assert response.content == expected.body, (where, response.text)
            for name, value in expected.headers:
                assert value in response.headers.get_list(name), (where, name)
            assert response.headers.get("content-type") == expected.header("content-type"), where
            session.state = apply_changes(session.state, outcome.changes)
            if outcome.operation == "login" and expected.status == 200:
                data_ = expected.json()["data"]
                session.issued.append((data_["userId"], data_["authToken"]))
            tally.requests += 1
            tally.statuses[expected.status] = tally.statuses.get(expected.status, 0) + 1
            tally.operations[outcome.operation] = tally.operations.get(outcome.operation, 0) + 1
    stored = httpx.get(server.url("/__mock__/triggers")).content
    assert stored == stringify({"triggers": list(session.state.triggers)}).encode()


STREAM = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def test_identity_routes_match_the_predictor_over_http(mock_8_3: MockServer) -> None:
    tally = Tally()

    @settings(STREAM, max_examples=60)
    @given(data=st.data())
    def stream(data: st.DataObject) -> None:
        run_stream(mock_8_3, "8.3", data, tally)

    stream()
    assert tally.requests >= 600, tally
    for status in (200, 400, 401, 403):
        assert tally.statuses.get(status, 0) > 0, tally.statuses
    for operation in ("login", "logout", "me", "list_permissions", "update_permissions", "get_setting",
                      "save_setting", "method_call", "list_triggers"):  # fmt: skip
        assert tally.operations.get(operation, 0) > 0, (operation, tally.operations)


def test_identity_routes_on_6_13_with_the_sqlite_store(mock_6_13_sqlite: MockServer) -> None:
    """The era with saveTrigger and the in-action guards, kept in SQLite (401/403 wait 0.5-1 s here)."""
    tally = Tally()

    @settings(STREAM, max_examples=8)
    @given(data=st.data())
    def stream(data: st.DataObject) -> None:
        run_stream(mock_6_13_sqlite, "6.13", data, tally)

    stream()
    assert tally.operations.get("method_call", 0) > 0, tally.operations
    assert tally.statuses.get(200, 0) > 0, tally.statuses


def test_the_banner_users_are_the_declared_accounts(mock_8_3: MockServer) -> None:
    """The start state above is built from spec.accounts; the mock must have built the same users."""
    state = start_state(mock_8_3)
    for user in state.users:
        assert mock_8_3.users[user.user_id].token == user.token
    boss = next(user for user in state.users if user.username == "boss")
    assert replace(boss, token="") == account("boss", "boss-password", [ADMIN_ROLE], user_id="boss-id")
