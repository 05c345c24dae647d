"""The mock server as a user meets it: real processes on 127.0.0.1, talked to over HTTP.

Expected answers are written out from the shared reference (docs of the real server), not computed
with ``spec.predict``: these tests check the whole chain (HTTP parsing, the predictor, the store, the
bytes on the wire). ``test_mock_differential.py`` checks the mock against the predictor itself.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.contract_helpers import valid_body
from tests.mockserver import REPO_ROOT, MockServer, run_cli, running_mock, start_mock

pytestmark = pytest.mark.http

JSON_TYPE = {"content-type": "application/json"}
TRIGGERS = "/api/v1/livechat/triggers"
CONFIG = "/api/v1/livechat/config"
AUTH_MESSAGE = "You must be logged in to do this."
BODY_401 = {"success": False, "error": AUTH_MESSAGE, "status": "error", "message": AUTH_MESSAGE}
BODY_401_LEGACY = {"status": "error", "message": AUTH_MESSAGE}
BODY_403 = {
    "success": False,
    "error": "User does not have the permissions required for this action [error-unauthorized]",
}


def compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def invalid(message: str) -> bytes:
    return compact({"success": False, "error": f"{message} [invalid-params]", "errorType": "invalid-params"})


# -- servers -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, MockServer]]:
    """One server per profile, started together (start-up is the slow part)."""
    started: dict[str, MockServer] = {}
    try:
        for profile in ("8.3", "7.5", "6.13"):
            started[profile] = start_mock("--profile", profile)
        yield started
    finally:
        for server in started.values():
            server.stop()


@pytest.fixture
def server(servers: dict[str, MockServer]) -> MockServer:
    """The 8.3 server, reset: no triggers, no rate-limit windows, empty journal."""
    return fresh(servers["8.3"])


def fresh(server: MockServer) -> MockServer:
    assert httpx.post(server.url("/__mock__/reset"), json={}).status_code == 200
    return server


def post(server: MockServer, body: Any, user: str | None = "admin", **options: Any) -> httpx.Response:
    headers = {**(server.auth(user) if user else {}), **options.pop("headers", {})}
    if "content" not in options:
        options["json"] = body
    return httpx.post(server.url(TRIGGERS), headers=headers, **options)


def get(
    server: MockServer, path: str = TRIGGERS, user: str | None = "admin", **options: Any
) -> httpx.Response:
    headers = {**(server.auth(user) if user else {}), **options.pop("headers", {})}
    return httpx.get(server.url(path), headers=headers, **options)


def delete(server: MockServer, trigger_id: str, user: str | None = "admin") -> httpx.Response:
    return httpx.delete(server.url(f"{TRIGGERS}/{trigger_id}"), headers=server.auth(user) if user else {})


def stored(server: MockServer) -> list[dict[str, Any]]:
    triggers: list[dict[str, Any]] = httpx.get(server.url("/__mock__/triggers")).json()["triggers"]
    return triggers


def assert_json_success_headers(response: httpx.Response) -> None:
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"


# -- routes, success bodies and headers (reference: "Routes") -------------------------------------


def test_post_creates_and_answers_only_success(server: MockServer) -> None:
    response = post(server, valid_body())
    assert response.status_code == 200
    assert response.content == b'{"success":true}'
    assert_json_success_headers(response)
    (trigger,) = stored(server)
    assert list(trigger) == [
        "_id",
        "name",
        "description",
        "enabled",
        "runOnce",
        "conditions",
        "actions",
        "_updatedAt",
    ]
    assert re.fullmatch(r"[0-9a-f]{24}", trigger["_id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", trigger["_updatedAt"])


def test_list_shape_and_success_last(server: MockServer) -> None:
    post(server, valid_body(name="b"))
    post(server, valid_body(name="a", enabled=False))
    response = get(server)
    assert response.status_code == 200
    assert_json_success_headers(response)
    assert response.content.endswith(b',"success":true}')
    body = response.json()
    assert list(body) == ["triggers", "count", "offset", "total", "success"]
    assert [t["name"] for t in body["triggers"]] == ["a", "b"]  # default sort {"name":1}; disabled listed
    assert (body["count"], body["offset"], body["total"]) == (2, 0, 2)


def test_get_by_id_and_unknown_id_is_null(server: MockServer) -> None:
    post(server, valid_body())
    (trigger,) = stored(server)
    response = get(server, f"{TRIGGERS}/{trigger['_id']}")
    assert response.status_code == 200
    assert response.content == compact({"trigger": trigger, "success": True})
    unknown = get(server, f"{TRIGGERS}/nope")
    assert (unknown.status_code, unknown.content) == (200, b'{"trigger":null,"success":true}')


def test_delete_and_delete_unknown(server: MockServer) -> None:
    post(server, valid_body())
    (trigger,) = stored(server)
    assert delete(server, trigger["_id"]).content == b'{"success":true}'
    assert stored(server) == []
    again = delete(server, trigger["_id"])
    assert (again.status_code, again.content) == (200, b'{"success":true}')


def test_update_changes_fields_and_updated_at(server: MockServer) -> None:
    post(server, valid_body())
    (before,) = stored(server)
    time.sleep(0.01)
    response = post(server, valid_body(_id=before["_id"], name="Renamed", enabled="false"))
    assert response.content == b'{"success":true}'
    (after,) = stored(server)
    assert after["_id"] == before["_id"]
    assert (after["name"], after["enabled"]) == ("Renamed", False)
    assert after["_updatedAt"] >= before["_updatedAt"]


def test_update_of_unknown_id_is_a_silent_no_op(server: MockServer) -> None:
    response = post(server, valid_body(_id="does-not-exist"))
    assert (response.status_code, response.content) == (200, b'{"success":true}')
    assert stored(server) == []


@pytest.mark.parametrize("empty_id", [None, ""])
def test_null_or_empty_id_inserts(server: MockServer, empty_id: str | None) -> None:
    post(server, valid_body(_id=empty_id))
    (trigger,) = stored(server)
    assert re.fullmatch(r"[0-9a-f]{24}", trigger["_id"])


def test_public_config_needs_no_login_and_shows_enabled_only(server: MockServer) -> None:
    post(server, valid_body(name="on"))
    post(server, valid_body(name="off", enabled=False))
    response = httpx.get(server.url(CONFIG))
    assert response.status_code == 200
    triggers = response.json()["config"]["triggers"]
    assert len(triggers) == 1
    assert list(triggers[0]) == ["_id", "actions", "conditions", "runOnce"]


def test_paging_sort_and_clamp(server: MockServer) -> None:
    seed = [
        {
            **valid_body(name=f"t{index:03d}"),
            "_id": f"id{index:03d}",
            "_updatedAt": "2026-01-01T00:00:00.000Z",
        }
        for index in range(105)
    ]
    assert httpx.post(server.url("/__mock__/triggers"), json=seed).json() == {"loaded": 105, "total": 105}
    default = get(server).json()
    assert (default["count"], default["total"], default["triggers"][0]["name"]) == (50, 105, "t000")
    page = get(server, params={"count": "5", "offset": "10", "sort": '{"name":-1}'}).json()
    assert [t["name"] for t in page["triggers"]] == ["t094", "t093", "t092", "t091", "t090"]
    assert (page["count"], page["offset"], page["total"]) == (5, 10, 105)
    assert get(server, params={"count": "1000"}).json()["count"] == 100  # clamped
    assert get(server, params={"count": "0"}).json()["count"] == 105  # 0 = no limit


def test_bad_sort_exact_body(server: MockServer) -> None:
    response = get(server, params={"sort": "name"})
    assert response.status_code == 400
    assert response.content == compact(
        {
            "success": False,
            "error": 'Invalid sort parameter provided: "name" [error-invalid-sort]',
            "errorType": "error-invalid-sort",
            "details": {"helperMethod": "parseJsonQuery"},
        }
    )


@pytest.mark.parametrize(
    ("query", "message"),
    [({"foo": "1"}, "must NOT have additional properties"), ({"count": "abc"}, "must be number")],
)
def test_list_query_validation(server: MockServer, query: dict[str, str], message: str) -> None:
    response = get(server, params=query)
    assert (response.status_code, response.content) == (400, invalid(message))


def test_unknown_api_paths_and_methods_get_the_eras_404(server: MockServer) -> None:
    for method, path in [
        ("GET", "/api/v1/nope"),
        ("PUT", TRIGGERS),
        ("PATCH", f"{TRIGGERS}/x"),
        ("GET", "/api"),
    ]:
        for headers in (server.auth("admin"), {}):  # 404 before 401: nothing authenticates first
            response = httpx.request(method, server.url(path), headers=headers)
            assert response.status_code == 404, (method, path)
            assert response.content == b"404 Not Found"  # Hono's default not-found (8.3 profile)
            assert response.headers["content-type"] == "text/plain; charset=UTF-8"
            assert "cache-control" not in response.headers
    outside = httpx.get(server.url("/no/such/page"))
    assert outside.status_code == 404
    assert outside.headers["content-type"] == "application/json"


# -- validation rows (reference: "Observed messages") ---------------------------------------------

SEND_MESSAGE_BAD_SENDER = [{"name": "send-message", "params": {"sender": "invalid"}}]
EXTERNAL_NO_URL = [
    {
        "name": "use-external-service",
        "params": {"serviceTimeout": 1000, "serviceFallbackMessage": "sorry"},
    }
]
ENUM = "must be equal to one of the allowed values"
ONE_OF = "must match exactly one schema in oneOf"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "must have required property 'name'"),
        ({"name": "x"}, "must have required property 'description'"),
        (valid_body(foo=1), "must NOT have additional properties"),
        (valid_body(name={}), "must be string"),
        (valid_body(enabled="yes"), "must be boolean"),
        (valid_body(conditions=[]), "must NOT have fewer than 1 items"),
        (valid_body(conditions=1), "must be array"),
        (valid_body(conditions=[1]), "must be object"),
        (valid_body(conditions=[{"name": "invalid"}]), "must have required property 'value'"),
        (valid_body(actions=[1]), f"must be object\n must be object\n {ONE_OF}"),
        (valid_body(actions=[{"name": "invalid"}]), f"{ENUM}\n {ENUM}\n {ONE_OF}"),
        (
            valid_body(actions=SEND_MESSAGE_BAD_SENDER),
            f"must have required property 'msg'\n {ENUM}\n {ONE_OF}",
        ),
        (
            valid_body(actions=EXTERNAL_NO_URL),
            f"{ENUM}\n must have required property 'serviceUrl'\n {ONE_OF}",
        ),
        ([valid_body()], "must be object"),
    ],
    ids=lambda value: json.dumps(value)[:40] if not isinstance(value, str) else None,
)
def test_validation_messages(server: MockServer, body: Any, message: str) -> None:
    response = post(server, body)
    assert (response.status_code, response.content) == (400, invalid(message))
    assert stored(server) == []


@pytest.mark.parametrize(
    ("changes", "field", "expected"),
    [
        ({"name": 1}, "name", "1"),
        ({"name": 1.5}, "name", "1.5"),
        ({"description": True}, "description", "true"),
        ({"enabled": "true"}, "enabled", True),
        ({"enabled": "false"}, "enabled", False),
        ({"enabled": 1}, "enabled", True),
        ({"enabled": 0}, "enabled", False),
        ({"enabled": None}, "enabled", False),
        (
            {"conditions": [{"name": "page-url", "value": 5}]},
            "conditions",
            [{"name": "page-url", "value": "5"}],
        ),
        (
            {"conditions": [{"name": "page-url", "value": None}]},
            "conditions",
            [{"name": "page-url", "value": None}],
        ),
        (
            {
                "actions": [
                    {
                        "name": "use-external-service",
                        "params": {
                            "serviceUrl": "u",
                            "serviceTimeout": "5000",
                            "serviceFallbackMessage": "m",
                        },
                    }
                ]
            },
            "actions",
            [
                {
                    "name": "use-external-service",
                    "params": {"serviceUrl": "u", "serviceTimeout": 5000, "serviceFallbackMessage": "m"},
                }
            ],
        ),
        ({"actions": [{"name": "send-message"}]}, "actions", [{"name": "send-message"}]),
        (
            {"actions": [{"name": "send-message", "params": None}]},
            "actions",
            [{"name": "send-message", "params": None}],
        ),
    ],
)
def test_coercion_is_what_is_stored(
    server: MockServer, changes: dict[str, Any], field: str, expected: Any
) -> None:
    assert post(server, valid_body(**changes)).content == b'{"success":true}'
    (trigger,) = stored(server)
    assert trigger[field] == expected
    assert json.dumps(trigger[field]) == json.dumps(expected)  # key order too


@pytest.mark.parametrize(("sent", "kept"), [(0, "0"), (False, "false")])
def test_falsy_ids_are_coerced_to_strings_and_update(server: MockServer, sent: Any, kept: str) -> None:
    seed = [{**valid_body(), "_id": kept}]
    httpx.post(server.url("/__mock__/triggers"), json=seed)
    post(server, valid_body(_id=sent, name="updated"))
    (trigger,) = stored(server)
    assert (trigger["_id"], trigger["name"]) == (kept, "updated")


# -- body parsing (reference: "Body parsing") ----------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "content"),
    [
        ("application/json", b'{"name":'),
        ("application/json", b""),
        ("text/plain", json.dumps(valid_body()).encode()),
        (None, json.dumps(valid_body()).encode()),
        ("application/json", b'"a string"'),
        ("application/json", b"42"),
        ("application/json", b"null"),
        ("application/json; charset=utf-8", b"\xff\xfe{not utf-8"),
    ],
)
def test_bodies_that_become_empty_objects(
    server: MockServer, content_type: str | None, content: bytes
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = post(server, None, content=content, headers=headers)
    assert (response.status_code, response.content) == (400, invalid("must have required property 'name'"))


def test_form_body_is_flat_strings(server: MockServer) -> None:
    form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in valid_body().items()}
    response = httpx.post(server.url(TRIGGERS), headers=server.auth("admin"), data=form)
    assert (response.status_code, response.content) == (400, invalid("must be array"))


def test_strict_parser_of_6_13_answers_html(servers: dict[str, MockServer]) -> None:
    server = fresh(servers["6.13"])
    response = post(server, None, content=b'{"name":', headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")


# -- users and check order per profile (reference: "Order of checks") ----------------------------


@pytest.mark.parametrize("profile", ["8.3", "7.5"])
def test_authentication_failures(servers: dict[str, MockServer], profile: str) -> None:
    server = fresh(servers[profile])
    cases = [
        {},
        {"X-User-Id": "admin-id"},
        {"X-Auth-Token": "admin-token"},
        {"X-User-Id": "admin-id", "X-Auth-Token": "wrong"},
        {"X-User-Id": "ghost", "X-Auth-Token": "admin-token"},
    ]
    for headers in cases:
        for response in (
            httpx.post(server.url(TRIGGERS), headers=headers, json=valid_body()),
            httpx.get(server.url(TRIGGERS), headers=headers),
            httpx.get(server.url(f"{TRIGGERS}/x"), headers=headers),
            httpx.delete(server.url(f"{TRIGGERS}/x"), headers=headers),
        ):
            assert (response.status_code, response.content) == (401, compact(BODY_401)), headers


def test_legacy_401_and_delay_on_6_13(servers: dict[str, MockServer]) -> None:
    server = fresh(servers["6.13"])
    started = time.monotonic()
    response = httpx.get(server.url(TRIGGERS))
    assert (response.status_code, response.content) == (401, compact(BODY_401_LEGACY))
    assert 0.5 <= time.monotonic() - started < 3
    started = time.monotonic()
    response = get(server, user="agent")
    assert (response.status_code, response.content) == (403, compact(BODY_403))
    assert time.monotonic() - started >= 0.5


def test_delays_do_not_block_other_requests(servers: dict[str, MockServer]) -> None:
    server = fresh(servers["6.13"])
    finished: list[float] = []

    def refused() -> None:
        assert httpx.get(server.url(TRIGGERS)).status_code == 401
        finished.append(time.monotonic())

    started = time.monotonic()
    threads = [threading.Thread(target=refused) for _ in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(0.1)  # the 401s are waiting now
    assert get(server).status_code == 200
    admin_done = time.monotonic()
    for thread in threads:
        thread.join()
    assert len(finished) == 8
    assert admin_done < min(finished)  # the admin's answer did not queue behind the waits
    assert max(finished) - started < 4.0  # eight waits of 0.5-1 s overlapped (in a row: 4-8 s)


def test_agent_is_forbidden_everywhere(server: MockServer) -> None:
    for response in (
        post(server, valid_body(), user="agent"),
        get(server, user="agent"),
        get(server, f"{TRIGGERS}/x", user="agent"),
        delete(server, "x", user="agent"),
    ):
        assert (response.status_code, response.content) == (403, compact(BODY_403))
    assert stored(server) == []


def test_manager_without_bypass_is_accepted(server: MockServer) -> None:
    assert post(server, valid_body(), user="manager").content == b'{"success":true}'


@pytest.mark.parametrize(("profile", "status"), [("8.3", 403), ("7.5", 400), ("6.13", 400)])
def test_agent_with_invalid_body_depends_on_profile(
    servers: dict[str, MockServer], profile: str, status: int
) -> None:
    server = fresh(servers[profile])
    response = post(server, {"name": "x"}, user="agent")
    assert response.status_code == status
    if status == 400:
        assert response.content == invalid("must have required property 'description'")


def test_rate_limit_counts_per_route_and_spares_bypass(server: MockServer) -> None:
    for _ in range(10):
        assert get(server, user="manager").status_code == 200
    limited = get(server, user="manager")
    assert limited.status_code == 429
    body = limited.json()
    assert body["success"] is False
    assert re.fullmatch(
        r"Error, too many requests\. Please slow down\. You must wait \d+ seconds before trying this "
        r"endpoint again\. \[error-too-many-requests\]",
        body["error"],
    )
    assert get(server, f"{TRIGGERS}/x", user="manager").status_code == 200  # another route
    assert post(server, valid_body(), user="manager").status_code == 200  # another method
    for _ in range(15):
        assert get(server, user="admin").status_code == 200  # api-bypass-rate-limit


def test_no_rate_limit_flag() -> None:
    with running_mock("--no-rate-limit", "--quiet") as server:
        for _ in range(15):
            assert get(server, user="manager").status_code == 200


# -- control endpoints, journal, request ids, profiles -------------------------------------------


def test_journal_matches_request_ids(server: MockServer) -> None:
    responses = [post(server, valid_body()), get(server), get(server, user=None), delete(server, "x")]
    journal = httpx.get(server.url("/__mock__/journal")).json()["entries"]
    assert [entry["requestId"] for entry in journal] == [r.headers["x-request-id"] for r in responses]
    assert [(e["method"], e["status"], e["operation"]) for e in journal] == [
        ("POST", 200, "save_trigger"),
        ("GET", 200, "list_triggers"),
        ("GET", 401, "list_triggers"),
        ("DELETE", 200, "delete_trigger"),
    ]
    assert journal[3]["path"] == f"{TRIGGERS}/x"
    assert httpx.get(server.url("/__mock__/journal"), params={"limit": 1}).json()["entries"] == journal[-1:]
    echoed = get(server, headers={"X-Request-Id": "playwright-42"})
    assert echoed.headers["x-request-id"] == "playwright-42"
    for path in ("/__mock__/health", "/docs/", "/nowhere"):
        assert httpx.get(server.url(path)).headers["x-request-id"]


def test_control_endpoints(server: MockServer) -> None:
    health = httpx.get(server.url("/__mock__/health")).json()
    assert (health["status"], health["profile"], health["triggers"]) == ("ok", "8.3", 0)
    seed = [{**valid_body(enabled="true"), "_id": "seeded"}]
    assert httpx.post(server.url("/__mock__/triggers"), json=seed).status_code == 200
    (trigger,) = stored(server)
    assert (trigger["_id"], trigger["enabled"]) == ("seeded", True)  # validated and coerced
    bad = httpx.post(server.url("/__mock__/triggers"), json=[{**valid_body(), "_id": "ok"}, {"_id": "bad"}])
    assert bad.status_code == 400
    assert "entry 1" in bad.json()["error"]
    assert "must have required property 'name'" in bad.json()["error"]
    assert len(stored(server)) == 1  # all or nothing
    replaced = httpx.post(
        server.url("/__mock__/triggers"),
        params={"replace": "true"},
        json={"triggers": [{**valid_body(), "_id": "a"}, {**valid_body(), "_id": "b"}]},
    )
    assert replaced.json() == {"loaded": 2, "total": 2}
    assert httpx.post(server.url("/__mock__/reset"), json={}).json() == {"reset": True}
    assert stored(server) == []
    assert httpx.get(server.url("/__mock__/nope")).status_code == 404
    wrong_method = httpx.delete(server.url("/__mock__/reset"))
    assert (wrong_method.status_code, wrong_method.headers["allow"]) == (405, "POST")


def test_profile_switch(servers: dict[str, MockServer]) -> None:
    server = fresh(servers["7.5"])
    profile_url = server.url("/__mock__/profile")
    try:
        assert httpx.get(profile_url).json()["profile"] == "7.5"
        assert httpx.put(profile_url, json={"profile": "8.3"}).json() == {"profile": "8.3"}
        assert post(server, {"name": "x"}, user="agent").status_code == 403  # 8.3 order now
        assert httpx.post(profile_url, json={"profile": "6.13"}).status_code == 200
        assert httpx.get(server.url(TRIGGERS)).content == compact(BODY_401_LEGACY)
        unknown = httpx.put(profile_url, json={"profile": "9.9"})
        assert unknown.status_code == 400
        assert "9.9" in unknown.json()["error"]
        assert httpx.put(profile_url, content=b"nonsense", headers=JSON_TYPE).status_code == 400
    finally:
        httpx.put(profile_url, json={"profile": "7.5"})


def test_docs_and_specs_are_served(server: MockServer) -> None:
    for path in ("/docs/", "/__mock__/docs/"):
        page = httpx.get(server.url(path))
        assert page.status_code == 200
        assert "swagger" in page.text.lower()
    contract = httpx.get(server.url("/openapi.json")).json()
    assert TRIGGERS in contract["paths"]
    control = httpx.get(server.url("/__mock__/openapi.json")).json()
    assert "/reset" in control["paths"]
    for asset in ("/docs/swagger-ui-bundle.js", "/__mock__/docs/swagger-ui-bundle.js"):
        assert httpx.get(server.url(asset)).status_code == 200, asset
    assert httpx.get(server.url("/"), follow_redirects=False).headers["location"] == "/docs/"


@pytest.mark.skipif(
    shutil.which("chromium") is None, reason="needs Debian's chromium (apt-get install chromium)"
)
def test_swagger_ui_renders_in_headless_chromium() -> None:
    """tools/swagger_screenshot.py: both Swagger UI pages render; PNGs land in reports/swagger/."""
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "tools" / "swagger_screenshot.py")],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("contract", "control"):
        assert (REPO_ROOT / "reports" / "swagger" / f"swagger-{name}.png").stat().st_size > 10_000


# -- CORS -----------------------------------------------------------------------------------------


def test_cors_preflight_and_exposed_request_id(server: MockServer) -> None:
    origin = "http://localhost:5173"
    preflight = httpx.options(
        server.url(TRIGGERS),
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-user-id,x-auth-token",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == origin
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "x-auth-token" in preflight.headers["access-control-allow-headers"].lower()
    actual = get(server, headers={"Origin": origin})
    assert actual.headers["access-control-allow-origin"] == origin
    assert "X-Request-Id" in actual.headers["access-control-expose-headers"]
    refused = httpx.options(
        server.url(TRIGGERS),
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert refused.status_code == 403
    assert "access-control-allow-origin" not in refused.headers
    assert "access-control-allow-origin" not in get(server, headers={"Origin": "http://evil.example"}).headers


def test_configured_cors_origin() -> None:
    with running_mock("--cors-origin", "https://app.example.com", "--quiet") as server:
        allowed = httpx.options(
            server.url(TRIGGERS),
            headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "DELETE"},
        )
        assert allowed.status_code == 204
        local = httpx.options(
            server.url(TRIGGERS),
            headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "GET"},
        )
        assert local.status_code == 403  # the defaults are replaced, not extended


# -- hostile input ---------------------------------------------------------------------------------


def test_hostile_bodies_never_crash(server: MockServer) -> None:
    name_missing = invalid("must have required property 'name'")
    deep = b"[" * 200_000 + b"]" * 200_000
    cases: list[tuple[bytes, str, bytes | None]] = [
        (b"{" + b'"a":' * 100_000 + b"1" + b"}" * 100_000, "application/json", name_missing),  # malformed
        (deep, "application/json", invalid("must be object")),
        (
            b'{"name":"' + b"x" * 8_000_000 + b'"}',
            "application/json",
            invalid("must have required property 'description'"),
        ),
        (b"\x00\xff\xfe\x80" * 1000, "application/json", name_missing),
        (b"\xed\xa0\x80", "application/json", name_missing),
        (b"<xml/>", "application/xml", name_missing),
        (b"a=1&a=2&b[c]=3", "application/x-www-form-urlencoded", None),
        (
            b"--x\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--x--",
            "multipart/form-data; boundary=x",
            None,
        ),
    ]
    for content, content_type, expected in cases:
        response = post(server, None, content=content, headers={"content-type": content_type})
        assert response.status_code < 500, (content[:40], response.text[:200])
        if expected is not None:
            assert response.content == expected, content[:40]
    odd_paths = [f"{TRIGGERS}/%ff%fe", f"{TRIGGERS}/%", f"{TRIGGERS}/" + "a" * 5000, f"{TRIGGERS}/..%2F..%2F"]
    for path in odd_paths:
        assert get(server, path).status_code < 500, path
    assert get(server, params={"count": "\x00", "sort": "{" * 5000}).status_code == 400
    assert httpx.get(server.url("/__mock__/health")).status_code == 200
    assert "Traceback" not in server.log()


def test_body_above_mock_limit_is_413() -> None:
    with running_mock("--max-body-bytes", "1000", "--quiet") as server:
        response = post(server, None, content=b"x" * 5000, headers={"content-type": "application/json"})
        assert response.status_code == 413
        assert response.json()["errorType"] == "mock-body-too-large"
        assert post(server, valid_body()).status_code == 200


# -- command line -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        (["--profile", "9.9"], "unknown version profile '9.9'"),
        (["--user", "onlyid"], "--user 'onlyid'"),
        (["--port", "70000"], "--port 70000"),
        (["--workers", "0"], "--workers 0"),
        (["--cors-origin", "not an origin"], "--cors-origin"),
        (["--clock", "yesterday"], "--clock 'yesterday'"),
        (["--ids", "uuid"], "--ids 'uuid'"),
        (["--seed-file", "/nonexistent/seed.json"], "--seed-file /nonexistent/seed.json"),
        (["--port", "abc"], "invalid int value"),
        (["--no-such-flag"], "unrecognized arguments"),
    ],
)
def test_bad_options_exit_2_without_traceback(arguments: list[str], fragment: str) -> None:
    result = run_cli(*arguments)
    assert result.returncode == 2
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_bad_seed_file_names_the_entry(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps([{**valid_body(), "_id": "a"}, {**valid_body(enabled="maybe"), "_id": "b"}]))
    result = run_cli("--seed-file", str(seed))
    assert result.returncode == 2
    assert "entry 1" in result.stderr
    assert "must be boolean" in result.stderr
    seed.write_text("{not json")
    assert "not JSON" in run_cli("--seed-file", str(seed)).stderr


def test_default_admin_user_banner_and_log_lines(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps([{**valid_body(), "_id": "seeded-1"}]))
    with running_mock("--seed-file", str(seed), "--profile", "7.5", default_users=False) as server:
        admin = server.users["admin"]
        assert admin.permissions == frozenset({"view-livechat-manager", "api-bypass-rate-limit"})
        assert len(server.users) == 2  # the generated user, by id and as "admin"
        for text in (server.base_url, "7.5", "in memory", "/docs/", "/__mock__/", admin.token, "1 triggers"):
            assert text in server.banner
        listed = get(server).json()
        assert [t["_id"] for t in listed["triggers"]] == ["seeded-1"]
        request_id = get(server).headers["x-request-id"]
    lines = [line for line in server.log().splitlines() if f"id={request_id}" in line]
    assert len(lines) == 1
    assert '"GET /api/v1/livechat/triggers" 200 list_triggers' in lines[0]


MUTANT = """
import dataclasses
from spec.predict import predict

def teapot(request, state, profile, env):
    outcome = predict(request, state, profile, env)
    return dataclasses.replace(outcome, answer=dataclasses.replace(outcome.answer, status=418))
"""


@pytest.mark.parametrize("workers", ["1", "2"])
def test_predictor_option_for_mutants(tmp_path: Path, workers: str) -> None:
    (tmp_path / "mutants_for_test.py").write_text(MUTANT)
    server = start_mock(
        "--predictor",
        "mutants_for_test:teapot",
        "--workers",
        workers,
        "--quiet",
        environment={"PYTHONPATH": f"{REPO_ROOT}{os.pathsep}{tmp_path}"},
    )
    try:
        assert "PREDICTOR:   mutants_for_test:teapot" in server.banner
        response = get(server)
        assert (response.status_code, response.json()["success"]) == (418, True)
    finally:
        server.stop()


def test_quiet_logs_nothing_per_request() -> None:
    with running_mock("--quiet") as server:
        get(server)
    assert "api/v1" not in server.log()


def test_deterministic_clock_and_ids() -> None:
    with running_mock("--clock", "step:1764072000000:1000", "--ids", "sequential", "--quiet") as server:
        get(server)  # request 0
        post(server, valid_body())  # request 1
        (trigger,) = stored(server)
        assert trigger["_id"] == format(2, "024x")
        assert trigger["_updatedAt"] == "2025-11-25T12:00:01.000Z"


# -- persistence and workers -------------------------------------------------------------------


def test_db_survives_kill_9_and_restart(tmp_path: Path) -> None:
    db = str(tmp_path / "state.sqlite")
    server = start_mock("--db", db, "--quiet")
    try:
        for index in range(5):
            assert post(server, valid_body(name=f"t{index}")).status_code == 200
        (first,) = [t for t in stored(server) if t["name"] == "t0"]
        assert post(server, valid_body(_id=first["_id"], name="t0-renamed")).status_code == 200
        assert httpx.put(server.url("/__mock__/profile"), json={"profile": "7.5"}).status_code == 200
    finally:
        server.stop(kill=True)  # kill -9 right after the acknowledgements
    with running_mock("--db", db, "--quiet") as again:
        names = [t["name"] for t in get(again).json()["triggers"]]
        assert names == ["t0-renamed", "t1", "t2", "t3", "t4"]
        assert httpx.get(again.url("/__mock__/profile")).json()["profile"] == "7.5"
        assert "kept across restarts" in again.banner
    with sqlite3.connect(db) as connection:  # triggers are JSON text in insertion order
        docs = [json.loads(doc) for (doc,) in connection.execute("SELECT doc FROM triggers ORDER BY seq")]
    assert [d["name"] for d in docs] == ["t0-renamed", "t1", "t2", "t3", "t4"]


def test_seed_file_only_fills_an_empty_db(tmp_path: Path) -> None:
    db, seed = str(tmp_path / "state.sqlite"), tmp_path / "seed.json"
    seed.write_text(json.dumps([{**valid_body(), "_id": "seeded"}]))
    with running_mock("--db", db, "--seed-file", str(seed), "--quiet") as server:
        post(server, valid_body(name="added"))
    with running_mock("--db", db, "--seed-file", str(seed), "--quiet") as server:
        assert len(get(server).json()["triggers"]) == 2
        assert "not loaded" in server.banner


def test_two_workers_share_state_without_losing_writes(tmp_path: Path) -> None:
    db = str(tmp_path / "shared.sqlite")
    with running_mock("--workers", "2", "--db", db, "--quiet") as server:
        errors: list[str] = []

        def writer(worker: int) -> None:
            for index in range(25):
                # A new connection each time, so the kernel spreads them over both workers.
                response = post(server, valid_body(name=f"w{worker}-{index:02d}"))
                if response.content != b'{"success":true}':
                    errors.append(response.text)

        threads = [threading.Thread(target=writer, args=(worker,)) for worker in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        triggers = stored(server)
        assert len(triggers) == 200
        assert len({t["_id"] for t in triggers}) == 200
        pids = set()
        for _ in range(500):
            health = httpx.get(server.url("/__mock__/health")).json()
            assert health["triggers"] == 200  # every worker sees every write
            pids.add(health["pid"])
            if len(pids) == 2:
                break
        assert len(pids) == 2, "only one worker ever answered"
        # Concurrent updates of one trigger: each lands whole (no torn documents).
        target = triggers[0]["_id"]

        def updater(worker: int) -> None:
            for index in range(10):
                post(
                    server,
                    valid_body(_id=target, name=f"u{worker}-{index}", description=f"u{worker}-{index}"),
                )

        threads = [threading.Thread(target=updater, args=(worker,)) for worker in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        (updated,) = [t for t in stored(server) if t["_id"] == target]
        assert updated["name"] == updated["description"]


def test_workers_without_db_use_a_temporary_shared_file() -> None:
    with running_mock("--workers", "2", "--quiet") as server:
        assert "temporary" in server.banner
        post(server, valid_body())
        for _ in range(20):
            assert httpx.get(server.url("/__mock__/health")).json()["triggers"] == 1
