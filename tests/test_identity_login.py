"""POST /api/v1/login, POST|GET /api/v1/logout and GET /api/v1/me, predicted for every era."""

from __future__ import annotations

from typing import Any

import pytest

from spec.headers import JSON_HEADERS
from spec.model import AddLoginToken, RemoveLoginToken, hash_login_token, password_digest
from spec.routes import LOGIN_PATH, LOGOUT_PATH, ME_PATH, TRIGGERS_PATH
from spec.settings import USER_PREFERENCES
from tests.identity_helpers import ADMIN, AGENT, ERAS, MANAGER, Server

PASSWORD = "admin-password"
CURRENT_ERAS = ("7.4", "7.5", "8.3")


def login(server: Server, body: object) -> tuple[int, dict[str, Any]]:
    answer = server.call("POST", LOGIN_PATH, body, user=None).answer
    return answer.status, answer.json()


@pytest.mark.parametrize(
    "body",
    [
        {"user": ADMIN.username, "password": PASSWORD},
        {"user": ADMIN.emails[0], "password": PASSWORD},
        {"username": ADMIN.username, "password": PASSWORD},
        {"email": ADMIN.emails[0], "password": PASSWORD},
        {"user": {"username": ADMIN.username}, "password": PASSWORD},
        {"user": {"id": ADMIN.user_id}, "password": PASSWORD},
        {"user": ADMIN.username, "password": {"digest": password_digest(PASSWORD), "algorithm": "sha-256"}},
        {"user": str(ADMIN.username).upper(), "password": PASSWORD},
    ],
)
def test_every_login_shape_issues_a_new_token(body: object) -> None:
    server = Server("8.3")
    outcome = server.call("POST", LOGIN_PATH, body, user=None)
    assert outcome.answer.status == 200
    assert outcome.answer.headers == JSON_HEADERS
    payload = outcome.answer.json()
    assert list(payload) == ["status", "data", "success"]
    assert payload["status"] == "success"
    assert payload["data"]["userId"] == ADMIN.user_id
    token = payload["data"]["authToken"]
    assert token == f"login-token-{server.count}"
    assert outcome.changes[-1] == AddLoginToken(ADMIN.user_id, hash_login_token(token))
    assert server.call("GET", TRIGGERS_PATH, token=token).answer.status == 200


def test_two_logins_give_two_tokens_and_both_work() -> None:
    server = Server("8.3")
    first = login(server, {"user": ADMIN.username, "password": PASSWORD})[1]["data"]["authToken"]
    second = login(server, {"user": ADMIN.username, "password": PASSWORD})[1]["data"]["authToken"]
    assert first != second
    for token in (first, second, ADMIN.token):
        assert server.call("GET", TRIGGERS_PATH, token=token).answer.status == 200


def test_the_6_13_success_body_has_no_success_key() -> None:
    status, payload = login(Server("6.13"), {"user": ADMIN.username, "password": PASSWORD})
    assert status == 200
    assert list(payload) == ["status", "data"]


def test_resume_returns_the_token_it_was_given_and_stores_nothing() -> None:
    server = Server("8.3")
    token = login(server, {"user": ADMIN.username, "password": PASSWORD})[1]["data"]["authToken"]
    outcome = server.call("POST", LOGIN_PATH, {"resume": token}, user=None)
    assert outcome.answer.json()["data"]["authToken"] == token
    assert not any(isinstance(change, AddLoginToken) for change in outcome.changes)
    start = server.call("POST", LOGIN_PATH, {"resume": ADMIN.token}, user=None).answer.json()
    assert start["data"]["userId"] == ADMIN.user_id


@pytest.mark.parametrize("era", CURRENT_ERAS)
@pytest.mark.parametrize(
    "body",
    [
        {"user": ADMIN.username, "password": "wrong"},
        {"user": "nobody", "password": PASSWORD},
        {"user": AGENT.username, "password": "anything"},
    ],
)
def test_meteor_3_answers_every_password_failure_alike(era: str, body: object) -> None:
    status, payload = login(Server(era), body)
    assert status == 401
    assert payload == {
        "success": False,
        "error": 403,
        "status": "error",
        "message": "Something went wrong. Please check your credentials.",
    }


def test_6_13_names_the_failure_and_hides_an_unknown_user() -> None:
    server = Server("6.13")
    wrong = server.call("POST", LOGIN_PATH, {"user": ADMIN.username, "password": "x"}, user=None).answer
    assert wrong.status == 401
    assert wrong.json() == {"status": "error", "error": 403, "message": "Incorrect password"}
    assert wrong.delay_seconds == (0.5, 1.0)
    unknown = login(server, {"user": "nobody", "password": "x"})[1]
    assert unknown == {"status": "error", "error": "Unauthorized", "message": "Unauthorized"}


@pytest.mark.parametrize("era", CURRENT_ERAS)
def test_options_no_handler_takes_and_a_bad_resume(era: str) -> None:
    server = Server(era)
    status, payload = login(server, {})
    assert (status, payload["error"], payload["message"]) == (
        401,
        400,
        "Unrecognized options for login request",
    )
    status, payload = login(server, {"resume": "not-a-token"})
    assert status == 401
    assert payload["message"] == "You've been logged out by the server. Please log in again."


@pytest.mark.parametrize(
    "body",
    [
        {"user": {"username": "a", "email": "b@c"}, "password": PASSWORD},
        {"user": {"username": ""}, "password": PASSWORD},
        {"user": ADMIN.username, "password": {"digest": "short", "algorithm": "sha-256"}},
        {"user": ADMIN.username, "password": 5},
        [1, 2],
    ],
)
def test_options_meteor_check_refuses_are_a_500_from_7_0(body: object) -> None:
    status, payload = login(Server("8.3"), body)
    assert status == 500
    assert payload == {"success": False, "error": "Internal server error"}


def test_compatibility_rules_of_the_rest_body() -> None:
    server = Server("8.3", rate_limited=False)
    assert login(server, {"username": "", "email": ADMIN.emails[0], "password": PASSWORD})[0] == 200
    hashed = login(server, {"user": ADMIN.username, "password": {"hashed": password_digest(PASSWORD)}})
    assert hashed[0] == 500  # the server wraps the whole object as the digest
    status, payload = login(server, {"user": ADMIN.username, "password": None})
    assert (status, payload["message"]) == (401, "Unrecognized options for login request")
    assert login(server, {"user": ADMIN.username, "password": PASSWORD, "extra": 1})[0] == 500


def test_login_is_rate_limited_per_address_without_a_bypass() -> None:
    server = Server("8.3")
    statuses = [login(server, {"user": ADMIN.username, "password": PASSWORD})[0] for _ in range(11)]
    assert statuses == [200] * 10 + [429]
    assert all(
        login(Server("8.3", rate_limited=False), {"user": "x", "password": "y"})[0] == 401 for _ in range(3)
    )


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("method", ["POST", "GET"])
def test_logout_invalidates_exactly_that_token(era: str, method: str) -> None:
    server = Server(era)
    token = login(server, {"user": ADMIN.username, "password": PASSWORD})[1]["data"]["authToken"]
    outcome = server.call(method, LOGOUT_PATH, token=token)
    assert outcome.answer.status == 200
    assert outcome.answer.json() == {"status": "success", "data": {"message": "You've been logged out!"}}
    assert outcome.changes[-1] == RemoveLoginToken(ADMIN.user_id, hash_login_token(token))
    assert server.call("GET", TRIGGERS_PATH, token=token).answer.status == 401
    assert server.call("GET", TRIGGERS_PATH).answer.status == 200  # the start-up token still works


def test_logging_out_the_start_up_token_ends_it_too() -> None:
    server = Server("8.3")
    assert server.call("POST", LOGOUT_PATH).answer.status == 200
    assert server.call("GET", TRIGGERS_PATH).answer.status == 401
    assert server.call("POST", LOGOUT_PATH).answer.status == 401


def test_me_of_a_livechat_admin() -> None:
    server = Server("8.3")
    answer = server.call("GET", ME_PATH).answer
    assert answer.status == 200
    me = answer.json()
    assert list(me) == [
        "_id",
        "services",
        "username",
        "emails",
        "status",
        "active",
        "roles",
        "name",
        "email",
        "settings",
        "avatarUrl",
        "isOAuthUser",
        "success",
    ]
    assert me["email"] == ADMIN.emails[0]
    assert me["roles"] == ["admin"]
    assert me["avatarUrl"] == f"http://localhost:3000/avatar/{ADMIN.username}"
    assert me["services"] == {"password": {"exists": True}}
    assert list(me["settings"]) == ["profile", "preferences"]
    assert list(me["settings"]["preferences"]) == list(USER_PREFERENCES)
    assert "me-fields" in answer.inferred


def test_6_13_me_puts_the_oauth_flag_and_services_after_the_document() -> None:
    me = Server("6.13").call("GET", ME_PATH, user=MANAGER).answer.json()
    keys = list(me)
    assert keys[keys.index("roles") + 1 : keys.index("roles") + 3] == ["isOAuthUser", "services"]
    assert "email" not in me  # no verified address


def test_login_me_matches_me() -> None:
    server = Server("8.3")
    via_login = login(server, {"user": ADMIN.username, "password": PASSWORD})[1]["data"]["me"]
    direct = server.call("GET", ME_PATH).answer.json()
    direct.pop("success")
    assert via_login == direct


@pytest.mark.parametrize("path", [ME_PATH, LOGOUT_PATH])
def test_me_and_logout_need_a_login(path: str) -> None:
    answer = Server("8.3").call("GET", path, user=None).answer
    assert answer.status == 401
