"""The header rule (which answers carry the router's cache-control/pragma) and how the checks compare
every contractual header."""

from __future__ import annotations

import json

import pytest

from contract_tests.checks import Observed, check_headers
from spec.contract import example_post_body
from spec.headers import (
    AUTH_TOKEN_HEADER,
    CACHE_CONTROL,
    CONTENT_TYPE,
    PRAGMA,
    RATE_LIMIT_RESET,
    RATE_LIMIT_RESET_TOLERANCE_MS,
    USER_ID_HEADER,
)
from spec.model import Answer, Headers, RateWindow, Request, State, User
from spec.permissions import ADMIN_PERMISSIONS, MANAGE_TRIGGERS
from spec.predict import Environment, predict
from spec.profiles import PROFILES, Profile
from spec.routes import TRIGGERS_PATH

ADMIN = User("admin-id", "admin-token", ADMIN_PERMISSIONS)
LIMITED = User("agent-id", "agent-token")
MANAGER = User("manager-id", "manager-token", frozenset({MANAGE_TRIGGERS}))


class _Limited(State):
    """A store whose rate windows are all full, so that a limited user's next call is refused."""

    def rate_window(self, key: str) -> RateWindow | None:
        return RateWindow(started_ms=0, calls=10)


def _answer(profile: Profile, user: User | None, body: object, state: State | None = None) -> Answer:
    headers: Headers = (("Content-Type", "application/json"),)
    if user is not None:
        headers += ((USER_ID_HEADER, user.user_id), (AUTH_TOKEN_HEADER, user.token))
    request = Request("POST", TRIGGERS_PATH, "", headers, json.dumps(body).encode())
    state = state or State(users=(ADMIN, LIMITED, MANAGER))
    return predict(request, state, profile, Environment(now_ms=1_000, new_trigger_id="x")).answer


def _has_router_headers(answer: Answer) -> bool:
    return answer.header(CACHE_CONTROL) == "no-store" and answer.header(PRAGMA) == "no-cache"


@pytest.mark.parametrize("name", list(PROFILES))
def test_action_results_keep_the_router_headers_in_every_profile(name: str) -> None:
    profile = PROFILES[name]
    valid, invalid = example_post_body(), {"name": 1}
    assert _answer(profile, ADMIN, valid).status == 200
    assert _answer(profile, ADMIN, invalid).status == 400
    limited = _answer(profile, MANAGER, valid, _Limited(users=(MANAGER,)))
    assert limited.status == 429
    for answer in (_answer(profile, ADMIN, valid), _answer(profile, ADMIN, invalid), limited):
        assert _has_router_headers(answer), (name, answer)
        assert answer.header(CONTENT_TYPE) == "application/json"


def test_middleware_refusals_of_8_3_have_no_router_headers() -> None:
    profile = PROFILES["8.3"]
    unauthenticated = _answer(profile, None, example_post_body())
    forbidden = _answer(profile, LIMITED, example_post_body())
    assert (unauthenticated.status, forbidden.status) == (401, 403)
    for answer in (unauthenticated, forbidden):
        assert answer.headers == ((CONTENT_TYPE, "application/json"),)
    assert {"authentication", "permission"} == set(profile.middleware_steps)
    assert profile.is_inferred("middleware-release")


@pytest.mark.parametrize("name", ["7.5", "7.4", "6.13"])
def test_before_8_3_refusals_are_action_results_with_the_router_headers(name: str) -> None:
    profile = PROFILES[name]
    assert not profile.middleware_steps
    for user in (None, LIMITED):
        answer = _answer(profile, user, example_post_body())
        assert answer.status in (401, 403) and _has_router_headers(answer)


def _observed(headers: Headers) -> Observed:
    return Observed(401, b"{}", headers, 0.0)


def test_a_header_the_prediction_leaves_out_must_be_absent() -> None:
    middleware = Answer(401, b"{}", ((CONTENT_TYPE, "application/json"),))
    assert check_headers(middleware, _observed(((CONTENT_TYPE, "application/json"),))) == []
    problems = check_headers(
        middleware,
        _observed(((CONTENT_TYPE, "application/json"), (CACHE_CONTROL, "no-store"), (PRAGMA, "no-cache"))),
    )
    assert problems == [
        "header cache-control: expected None, got 'no-store'",
        "header pragma: expected None, got 'no-cache'",
    ]
    # Rate-limit headers on an answer the contract does not model them on are tolerated.
    limit_header = ((CONTENT_TYPE, "application/json"), ("x-ratelimit-limit", "10"))
    assert check_headers(middleware, _observed(limit_header)) == []


def test_the_reset_time_is_compared_within_its_tolerance() -> None:
    predicted = Answer(429, b"{}", ((RATE_LIMIT_RESET, "1700000060000"),))
    near = str(1700000060000 + RATE_LIMIT_RESET_TOLERANCE_MS)
    far = str(1700000060000 + RATE_LIMIT_RESET_TOLERANCE_MS + 1)
    assert check_headers(predicted, _observed(((RATE_LIMIT_RESET, near),))) == []
    assert check_headers(predicted, _observed(((RATE_LIMIT_RESET, far),))) == [
        f"header {RATE_LIMIT_RESET}: expected '1700000060000' (± {RATE_LIMIT_RESET_TOLERANCE_MS} ms), "
        f"got '{far}'"
    ]
    assert check_headers(predicted, _observed(())) != []
