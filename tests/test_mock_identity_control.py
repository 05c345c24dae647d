"""Users, roles, permissions and settings in a running mock: the default admin's log-in, ``--account``,
the control API (``/__mock__/users``, ``/permissions``, ``/settings``), reset, and the SQLite store
(kept across restarts, shared by workers, a failing write answered by the mock itself)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mock_server.app import create_app
from mock_server.settings import MockSettings, parse_account
from mock_server.stores import SqliteStore
from spec.accounts import TEST_ADMIN_ID, TEST_ADMIN_PASSWORD, TEST_ADMIN_USERNAME, account
from spec.methods import SAVE_TRIGGER_METHOD
from spec.permissions import (
    ADMIN_ROLE,
    BYPASS_RATE_LIMIT,
    DEFAULT_ROLE_TABLE,
    LIVECHAT_MANAGER_ROLE,
    MANAGE_TRIGGERS,
    USER_ROLE,
)
from spec.routes import (
    LOGIN_PATH,
    ME_PATH,
    PERMISSIONS_UPDATE_PATH,
    TRIGGERS_PATH,
    method_call_path,
    setting_path,
)
from spec.settings import LIVECHAT_ENABLED, LIVECHAT_SECRET_TOKEN, SITE_URL
from tests.mockserver import REPO_ROOT, MockServer, running_mock

pytestmark = pytest.mark.http

CONTROL = "/__mock__"


def login(server: MockServer, username: str, password: str) -> dict[str, str]:
    answer = httpx.post(server.url(LOGIN_PATH), json={"user": username, "password": password})
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    return {"X-User-Id": data["userId"], "X-Auth-Token": data["authToken"]}


def control(server: MockServer, method: str, path: str, body: object = None) -> httpx.Response:
    return httpx.request(method, server.url(CONTROL + path), json=body)


@pytest.fixture(scope="module")
def default_mock() -> Iterator[MockServer]:
    # --no-agent: the default livechat agent (a user too) would be listed with the users counted here.
    with running_mock("--quiet", "--no-rate-limit", "--no-agent", default_users=False) as server:
        yield server


@pytest.fixture
def fresh(default_mock: MockServer) -> MockServer:
    assert control(default_mock, "POST", "/reset", {}).status_code == 200
    return default_mock


def test_the_banner_prints_a_log_in_that_works(fresh: MockServer) -> None:
    assert f"log in: {TEST_ADMIN_USERNAME} / {TEST_ADMIN_PASSWORD}" in fresh.banner
    assert "roles: admin" in fresh.banner
    headers = login(fresh, TEST_ADMIN_USERNAME, TEST_ADMIN_PASSWORD)
    assert headers["X-User-Id"] == TEST_ADMIN_ID
    assert headers["X-Auth-Token"] != fresh.users["admin"].token  # a new token per log-in
    me = httpx.get(fresh.url(ME_PATH), headers=headers).json()
    assert me["username"] == TEST_ADMIN_USERNAME and me["roles"] == [ADMIN_ROLE]
    assert me["avatarUrl"] == f"{fresh.base_url}/avatar/{TEST_ADMIN_USERNAME}"  # Site_Url is the mock
    # The start-up token printed in the banner works as well.
    assert httpx.get(fresh.url(TRIGGERS_PATH), headers=fresh.auth("admin")).status_code == 200


def test_control_users_added_log_in_and_their_roles_apply_at_once(fresh: MockServer) -> None:
    added = control(fresh, "POST", "/users", {"username": "ana", "password": "ana-pw", "roles": [USER_ROLE]})
    assert added.status_code == 201 and added.json()["created"] is True
    user = added.json()["user"]
    assert user["hasPassword"] is True and "password" not in user
    ana = login(fresh, "ana", "ana-pw")
    assert httpx.get(fresh.url(TRIGGERS_PATH), headers=ana).status_code == 403
    changed = control(
        fresh, "POST", "/users", {"_id": user["_id"], "roles": [USER_ROLE, LIVECHAT_MANAGER_ROLE]}
    )
    assert changed.status_code == 200 and changed.json()["user"]["username"] == "ana"
    assert httpx.get(fresh.url(TRIGGERS_PATH), headers=ana).status_code == 200  # same token, new role
    listed = control(fresh, "GET", "/users").json()["users"]
    assert [u["username"] for u in listed] == [TEST_ADMIN_USERNAME, "ana"]


def test_control_user_bodies_the_mock_refuses(fresh: MockServer) -> None:
    for body in ({}, {"username": ""}, {"username": "x", "roles": "admin"}, {"username": "x", "bad": 1},
                 {"username": TEST_ADMIN_USERNAME, "_id": "another"}, [1]):  # fmt: skip
        answer = control(fresh, "POST", "/users", body)
        assert answer.status_code == 400, body
        assert "error" in answer.json()
    assert len(control(fresh, "GET", "/users").json()["users"]) == 1


def test_control_permissions_revoke_and_restore(fresh: MockServer) -> None:
    admin = login(fresh, TEST_ADMIN_USERNAME, TEST_ADMIN_PASSWORD)
    revoked = control(fresh, "POST", "/permissions", {"_id": MANAGE_TRIGGERS, "roles": []})
    assert revoked.status_code == 200
    stored = {p["_id"]: p["roles"] for p in revoked.json()["permissions"]}
    assert stored[MANAGE_TRIGGERS] == [] and stored[BYPASS_RATE_LIMIT] == list(
        DEFAULT_ROLE_TABLE[BYPASS_RATE_LIMIT]
    )
    assert httpx.get(fresh.url(TRIGGERS_PATH), headers=admin).status_code == 403
    listed = httpx.get(fresh.url("/api/v1/permissions.listAll"), headers=admin).json()["update"]
    assert next(p for p in listed if p["_id"] == MANAGE_TRIGGERS)["roles"] == []
    restore = {"permissions": [{"_id": MANAGE_TRIGGERS, "roles": list(DEFAULT_ROLE_TABLE[MANAGE_TRIGGERS])}]}
    assert control(fresh, "POST", "/permissions", restore).status_code == 200
    assert httpx.get(fresh.url(TRIGGERS_PATH), headers=admin).status_code == 200
    refused: list[dict[str, object]] = [
        {"_id": "nope", "roles": []},
        {"_id": MANAGE_TRIGGERS, "roles": ["no-role"]},
        {"permissions": []},
    ]
    for body in refused:
        assert control(fresh, "POST", "/permissions", body).status_code == 400, body


def test_control_settings_are_what_the_settings_route_reads(fresh: MockServer) -> None:
    admin = login(fresh, TEST_ADMIN_USERNAME, TEST_ADMIN_PASSWORD)
    assert control(fresh, "GET", "/settings").json()["settings"][SITE_URL] == fresh.base_url
    answer = control(
        fresh, "POST", "/settings", {"settings": {LIVECHAT_SECRET_TOKEN: "s3", LIVECHAT_ENABLED: False}}
    )
    assert answer.json() == {"settings": {LIVECHAT_SECRET_TOKEN: "s3", LIVECHAT_ENABLED: False}}
    read = httpx.get(fresh.url(setting_path(LIVECHAT_SECRET_TOKEN)), headers=admin)
    assert read.content == b'{"_id":"Livechat_secret_token","value":"s3","success":true}'
    assert control(fresh, "POST", "/settings", {"_id": "No_Such", "value": 1}).status_code == 400
    assert control(fresh, "POST", "/settings", {"value": 1}).status_code == 400


def test_reset_returns_to_the_start_up_identity(fresh: MockServer) -> None:
    admin = login(fresh, TEST_ADMIN_USERNAME, TEST_ADMIN_PASSWORD)
    control(fresh, "POST", "/users", {"username": "temp", "password": "pw"})
    body = {"permissions": [{"_id": MANAGE_TRIGGERS, "roles": []}]}
    assert httpx.post(fresh.url(PERMISSIONS_UPDATE_PATH), json=body, headers=admin).status_code == 200
    assert (
        httpx.post(
            fresh.url(setting_path(LIVECHAT_ENABLED)), json={"value": False}, headers=admin
        ).status_code
        == 200
    )
    before = {path: control(fresh, "GET", path).json() for path in ("/permissions", "/settings")}
    assert control(fresh, "POST", "/reset", {}).status_code == 200
    assert httpx.get(fresh.url(TRIGGERS_PATH), headers=admin).status_code == 401  # the issued token is gone
    assert [u["username"] for u in control(fresh, "GET", "/users").json()["users"]] == [TEST_ADMIN_USERNAME]
    after = {path: control(fresh, "GET", path).json() for path in ("/permissions", "/settings")}
    assert after != before
    roles = {p["_id"]: p["roles"] for p in after["/permissions"]["permissions"]}
    assert roles == {pid: list(holders) for pid, holders in DEFAULT_ROLE_TABLE.items()}
    assert after["/settings"]["settings"][LIVECHAT_ENABLED] is True
    assert httpx.get(fresh.url(TRIGGERS_PATH), headers=fresh.auth("admin")).status_code == 200


def test_the_new_control_endpoints_keep_the_same_origin_rules(fresh: MockServer) -> None:
    for path in ("/users", "/permissions", "/settings"):
        cross = httpx.get(fresh.url(CONTROL + path), headers={"Origin": "http://evil.example"})
        assert cross.status_code == 403 and cross.json()["errorType"] == "mock-control-cross-site"
        plain = httpx.post(fresh.url(CONTROL + path), content=b"{}", headers={"content-type": "text/plain"})
        assert plain.status_code == 415
        rebound = httpx.get(fresh.url(CONTROL + path), headers={"Host": "evil.example"})
        assert rebound.status_code == 403
    assert len(control(fresh, "GET", "/users").json()["users"]) == 1


def test_accounts_from_the_command_line() -> None:
    assert parse_account("ana:pw") == account("ana", "pw", [USER_ROLE])
    assert parse_account("ana:pw:admin,user:ana-id") == account(
        "ana", "pw", [ADMIN_ROLE, USER_ROLE], user_id="ana-id"
    )
    for bad in ("ana", ":pw", "ana:", "a:b:c:d:e"):
        result = subprocess.run(
            [sys.executable, "-m", "mock_server", "--account", bad, "--port", "0"],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert result.returncode == 2 and "--account" in result.stderr, (bad, result.stderr)
    twice = subprocess.run(
        [sys.executable, "-m", "mock_server", "--account", "a:b", "--account", "a:c:user:o", "--port", "0"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert twice.returncode == 2 and "username" in twice.stderr
    with running_mock(
        "--quiet", "--no-agent", "--account", "ana:ana-pw:livechat-manager", "--user", "d:t:x"
    ) as server:
        assert "log in: ana / ana-pw" in server.banner
        ana = login(server, "ana", "ana-pw")
        assert httpx.get(server.url(TRIGGERS_PATH), headers=ana).status_code == 200
        # --user keeps working: direct permissions, no password.
        assert (
            httpx.get(server.url(TRIGGERS_PATH), headers={"X-User-Id": "d", "X-Auth-Token": "t"}).status_code
            == 403
        )
        users = {u["_id"]: u for u in control(server, "GET", "/users").json()["users"]}
        assert users["d"]["permissions"] == ["x"] and users["d"]["hasPassword"] is False


def test_sqlite_keeps_identity_across_restarts_and_shares_it_between_workers(tmp_path: Path) -> None:
    db = str(tmp_path / "state.sqlite")
    with running_mock("--quiet", "--no-agent", "--db", db, "--workers", "2", default_users=False) as server:
        admin = login(server, TEST_ADMIN_USERNAME, TEST_ADMIN_PASSWORD)
        control(server, "POST", "/users", {"username": "kept", "password": "kept-pw", "roles": [ADMIN_ROLE]})
        body = {"permissions": [{"_id": MANAGE_TRIGGERS, "roles": [LIVECHAT_MANAGER_ROLE]}]}
        assert httpx.post(server.url(PERMISSIONS_UPDATE_PATH), json=body, headers=admin).status_code == 200
        # Whichever worker answers sees the new table and the issued token (new connections each time).
        for _ in range(6):
            assert httpx.get(server.url(TRIGGERS_PATH), headers=admin).status_code == 403
    with running_mock("--quiet", "--no-agent", "--db", db, default_users=False) as again:
        assert httpx.get(again.url(TRIGGERS_PATH), headers=admin).status_code == 403  # token and table kept
        kept = login(again, "kept", "kept-pw")
        assert httpx.get(again.url(ME_PATH), headers=kept).json()["username"] == "kept"
        # The start-up token of the command line's admin is the new one (the command line wins).
        assert httpx.get(again.url(ME_PATH), headers=again.auth("admin")).status_code == 200
        assert control(again, "POST", "/reset", {}).status_code == 200
        assert httpx.get(again.url(TRIGGERS_PATH), headers=again.auth("admin")).status_code == 200
        assert [u["username"] for u in control(again, "GET", "/users").json()["users"]] == [
            TEST_ADMIN_USERNAME
        ]


def test_a_failing_identity_write_is_the_mocks_own_error(tmp_path: Path) -> None:
    admin = account(TEST_ADMIN_USERNAME, TEST_ADMIN_PASSWORD, [ADMIN_ROLE], user_id=TEST_ADMIN_ID, token="t0")
    store = SqliteStore(str(tmp_path / "s.sqlite"), [admin], journal_size=10)
    app = create_app(MockSettings(users=(admin,), quiet=True, db_path=store.path), store=store)
    credentials = {"user": TEST_ADMIN_USERNAME, "password": TEST_ADMIN_PASSWORD}

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            ok = await client.post(LOGIN_PATH, json=credentials)
            store._connection.execute("PRAGMA query_only = ON")  # from now on every write fails
            failed = [
                await client.post(LOGIN_PATH, json=credentials),
                await client.post(CONTROL + "/users", json={"username": "x"}),
                await client.post(CONTROL + "/permissions", json={"_id": MANAGE_TRIGGERS, "roles": []}),
                await client.post(CONTROL + "/settings", json={"_id": LIVECHAT_ENABLED, "value": False}),
            ]
            listed = await client.get(CONTROL + "/users")
            return [ok, *failed, listed]

    ok, *failed, listed = asyncio.run(run())
    assert ok.status_code == 200
    for answer in failed:
        assert answer.status_code == 503, answer.text
        assert answer.json()["errorType"] == "mock-storage-error"
    assert [u["_id"] for u in json.loads(listed.content)["users"]] == [TEST_ADMIN_ID]


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_large_identity_bodies_are_answered_off_the_loop_like_small_ones(store: str, tmp_path: Path) -> None:
    """A body over the mock's off-loop threshold is predicted in a forked child on a snapshot; the
    identity routes must see the same users, tokens and role table there."""
    extra = ["--db", str(tmp_path / "s.sqlite")] if store == "sqlite" else []
    with running_mock("--quiet", "--profile", "6.13", *extra, default_users=False) as server:
        padding = "p" * 40_000
        wrong = httpx.post(server.url(LOGIN_PATH), json={"user": TEST_ADMIN_USERNAME, "password": padding})
        assert wrong.status_code == 401 and wrong.json()["error"] == 403
        admin = login(server, TEST_ADMIN_USERNAME, TEST_ADMIN_PASSWORD)
        trigger = {"name": "big", "description": padding, "enabled": True, "runOnce": False,
                   "conditions": [], "actions": []}  # fmt: skip
        message = {"msg": "method", "id": "7", "method": SAVE_TRIGGER_METHOD, "params": [trigger]}
        path = method_call_path(SAVE_TRIGGER_METHOD)
        saved = httpx.post(server.url(path), json={"message": json.dumps(message)}, headers=admin)
        assert saved.status_code == 200, saved.text
        assert json.loads(saved.json()["message"]) == {"msg": "result", "id": "7", "result": True}
        listed = httpx.get(server.url(TRIGGERS_PATH), headers=admin).json()
        assert [t["description"] for t in listed["triggers"]] == [padding]
        control(server, "POST", "/permissions", {"_id": MANAGE_TRIGGERS, "roles": []})
        refused = httpx.post(server.url(path), json={"message": json.dumps(message)}, headers=admin)
        assert json.loads(refused.json()["message"])["error"]["error"] == "error-not-allowed"
