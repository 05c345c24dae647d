"""Paths and methods the API does not route, per era (spec.predict.unknown_route): Hono's text 404 on
7.5+ whoever asks, Meteor's webapp behind Restivus or the express router on 6.13-7.4, and Restivus'
own 405 for a known path with another method on 6.13. Nothing authenticates first in any era."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from spec.headers import ALLOW
from spec.model import Answer, Request
from spec.predict import Environment, predict
from spec.profiles import PROFILES, get_profile
from spec.routes import LOGIN_PATH, TRIGGERS_PATH, trigger_path
from tests.identity_helpers import ADMIN, auth, fresh_state
from tests.mockserver import MockServer, running_mock

ENV = Environment(now_ms=1_764_072_000_000, new_trigger_id="a" * 24)
UNKNOWN = "/api/v1/livechat/no-such-route"
CALLERS = {"logged in": auth(ADMIN), "logged out": (), "bad token": auth(ADMIN, "wrong")}


def answer(profile: str, method: str, path: str, headers: tuple[tuple[str, str], ...] = ()) -> Answer:
    return predict(Request(method, path, headers=headers), fresh_state(), get_profile(profile), ENV).answer


@pytest.mark.parametrize("profile", ["8.3", "7.5"])
@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("caller", list(CALLERS))
def test_hono_eras_answer_the_text_404_before_any_authentication(
    profile: str, method: str, caller: str
) -> None:
    for path in (UNKNOWN, "/api/v1/nope", "/api", f"{TRIGGERS_PATH}/a/b"):
        got = answer(profile, method, path, CALLERS[caller])
        assert (got.status, got.body) == (404, b"404 Not Found"), (method, path)
        assert got.headers == (("content-type", "text/plain; charset=UTF-8"),)
        assert "unknown-route" in got.inferred
    # A known path with a method it does not define is no different (Hono has no 405).
    assert answer(profile, "PUT", TRIGGERS_PATH).body == b"404 Not Found"
    assert answer(profile, "GET", LOGIN_PATH).body == b"404 Not Found"


@pytest.mark.parametrize("profile", ["7.4", "6.13"])
@pytest.mark.parametrize("caller", list(CALLERS))
def test_webapp_eras_fall_through_to_meteor(profile: str, caller: str) -> None:
    page = answer(profile, "GET", UNKNOWN, CALLERS[caller])
    assert page.status == 200 and page.header("content-type") == "text/html; charset=utf-8"
    assert page.header("cache-control") is None and "webapp-page" in page.inferred
    head = answer(profile, "HEAD", UNKNOWN, CALLERS[caller])
    assert (head.status, head.body) == (200, b"")
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        refused = answer(profile, method, UNKNOWN, CALLERS[caller])
        assert (refused.status, refused.body, refused.header(ALLOW)) == (405, b"", "OPTIONS, GET, HEAD")


def test_restivus_answers_a_known_path_with_another_method_itself() -> None:
    got = answer("6.13", "PUT", TRIGGERS_PATH, auth(ADMIN))
    assert got.status == 405
    assert got.body == b'{"status":"error","message":"API endpoint does not exist"}'
    assert got.header(ALLOW) == "GET, POST"
    assert got.header("cache-control") == "no-store"  # a matched Restivus path: the router's headers
    assert answer("6.13", "POST", trigger_path("x")).header(ALLOW) == "GET, DELETE"
    # 7.4's express router has no such answer: the request falls through to the webapp.
    assert answer("7.4", "PUT", TRIGGERS_PATH).header(ALLOW) == "OPTIONS, GET, HEAD"


def test_every_profile_has_an_unknown_route_rule() -> None:
    assert {p.unknown_routes for p in PROFILES.values()} == {"hono", "webapp"}


@pytest.fixture(scope="module")
def mock_6_13() -> Iterator[MockServer]:
    with running_mock("--profile", "6.13", "--quiet") as server:
        yield server


@pytest.mark.http
def test_the_mock_serves_the_eras_unknown_routes(mock_6_13: MockServer) -> None:
    for method, path in (("GET", UNKNOWN), ("DELETE", UNKNOWN), ("PUT", TRIGGERS_PATH)):
        expected = answer("6.13", method, path)
        response = httpx.request(method, mock_6_13.url(path), headers=mock_6_13.auth("admin"))
        assert (response.status_code, response.content) == (expected.status, expected.body)
        for name, value in expected.headers:
            assert response.headers.get(name) == value, (method, path, name)
