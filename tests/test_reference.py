"""One test per row of the tables (and each rule) in the shared reference, through ``spec.predict``.

The expected bodies are the reference's observed server answers.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from spec.contract import validate_post_body
from spec.model import State
from spec.profiles import PROFILES
from spec.triggers import iso_timestamp
from tests.contract_helpers import (
    ADMIN,
    AGENT,
    MANAGER,
    NOW_MS,
    TRIGGERS,
    USERS,
    Server,
    delete,
    get,
    post,
    valid_body,
)

AUTH = "You must be logged in to do this."
FORBIDDEN = {
    "success": False,
    "error": "User does not have the permissions required for this action [error-unauthorized]",
}
ONE_OF = "must match exactly one schema in oneOf"
ENUM = "must be equal to one of the allowed values"


def invalid(message: str) -> dict[str, Any]:
    return {"success": False, "error": f"{message} [invalid-params]", "errorType": "invalid-params"}


# -- Routes table ---------------------------------------------------------------------------------


def test_route_post_answers_success_only() -> None:
    outcome = Server().send(post(valid_body()))
    assert (outcome.answer.status, outcome.answer.body) == (200, b'{"success":true}')


def test_route_list_answers_page_with_success_last() -> None:
    server = Server()
    server.send(post(valid_body()))
    answer = server.send(get()).answer
    assert answer.status == 200
    assert list(answer.json()) == ["triggers", "count", "offset", "total", "success"]
    assert answer.json()["count"] == answer.json()["total"] == 1


def test_route_get_by_id_answers_trigger_or_null_never_404() -> None:
    server = Server()
    server.send(post(valid_body()))
    stored = server.body(get())["triggers"][0]
    assert server.body(get(f"{TRIGGERS}/{stored['_id']}")) == {"trigger": stored, "success": True}
    unknown = server.send(get(f"{TRIGGERS}/does-not-exist")).answer
    assert (unknown.status, unknown.body) == (200, b'{"trigger":null,"success":true}')


def test_route_delete_answers_success_for_known_and_unknown_ids() -> None:
    server = Server()
    server.send(post(valid_body()))
    stored = server.body(get())["triggers"][0]
    assert server.send(delete(stored["_id"])).answer.body == b'{"success":true}'
    assert server.body(get())["total"] == 0
    assert server.send(delete("never-existed")).answer.body == b'{"success":true}'


def test_route_public_config_shows_only_enabled_triggers_projected() -> None:
    server = Server()
    server.send(post(valid_body(name="on", enabled=True)))
    server.send(post(valid_body(name="off", enabled=False)))
    outcome = server.send(get("/api/v1/livechat/config", user=None))
    triggers = outcome.answer.json()["config"]["triggers"]
    assert len(triggers) == 1
    assert list(triggers[0]) == ["_id", "actions", "conditions", "runOnce"]


def test_success_headers() -> None:
    headers = dict(Server().send(post(valid_body())).answer.headers)
    assert headers == {"content-type": "application/json", "cache-control": "no-store", "pragma": "no-cache"}


# -- Order of checks and the exact error bodies -----------------------------------------------------


@pytest.mark.parametrize("profile", ["8.3", "7.5"])
@pytest.mark.parametrize(
    "headers",
    [(), (("X-User-Id", "admin-id"),),
     (("X-Auth-Token", "admin-token"),),
     (("X-User-Id", "admin-id"), ("X-Auth-Token", "wrong")),
     (("X-User-Id", "nobody"), ("X-Auth-Token", "admin-token"))],
    ids=["none", "user-only", "token-only", "wrong-token", "unknown-user"],
)  # fmt: skip
def test_authentication_401_body_since_7_4(profile: str, headers: tuple[tuple[str, str], ...]) -> None:
    request = post(valid_body(), user=None)
    request = type(request)(
        request.method, request.path, headers=request.headers + headers, body=request.body
    )
    answer = Server(profile).send(request).answer
    assert answer.status == 401
    assert (
        answer.body
        == json.dumps(
            {"success": False, "error": AUTH, "status": "error", "message": AUTH}, separators=(",", ":")
        ).encode()
    )
    assert answer.delay_seconds is None


def test_authentication_401_body_before_7_4_and_its_delay() -> None:
    answer = Server("6.13").send(post(valid_body(), user=None)).answer
    assert (answer.status, answer.json()) == (401, {"status": "error", "message": AUTH})
    assert answer.delay_seconds == (0.5, 1.0)
    assert Server("6.13").send(post(valid_body(), user=AGENT)).answer.delay_seconds == (0.5, 1.0)


def test_permission_403_body() -> None:
    answer = Server().send(post(valid_body(), user=AGENT)).answer
    assert (answer.status, answer.json()) == (403, FORBIDDEN)


def test_rate_limit_429_after_ten_calls_per_minute_for_users_without_bypass() -> None:
    server = Server()
    statuses = [server.send(post(valid_body(), user=MANAGER)).answer.status for _ in range(11)]
    assert statuses == [200] * 10 + [429]
    limited = server.send(post(valid_body(), user=MANAGER)).answer
    assert re.fullmatch(
        r"Error, too many requests\. Please slow down\. You must wait \d+ seconds before trying this "
        r"endpoint again\. \[error-too-many-requests\]",
        limited.json()["error"],
    )
    assert limited.json()["success"] is False
    assert limited.inferred == ("rate-limit",)
    # The window is per route and method, and a user with api-bypass-rate-limit is never limited.
    assert server.send(get(user=MANAGER)).answer.status == 200
    assert all(server.send(post(valid_body(), user=ADMIN)).answer.status == 200 for _ in range(12))
    server.clock += 60_000
    assert server.send(post(valid_body(), user=MANAGER)).answer.status == 200


def test_validation_400_body() -> None:
    answer = Server().send(post({})).answer
    assert (answer.status, answer.json()) == (400, invalid("must have required property 'name'"))


def test_order_8_3_checks_permission_before_validation() -> None:
    assert PROFILES["8.3"].check_order == ("authentication", "permission", "rate-limit", "validation")
    assert Server("8.3").send(post({}, user=AGENT)).answer.json() == FORBIDDEN


@pytest.mark.parametrize("profile", ["7.5", "6.13"])
def test_order_before_8_3_validates_before_permission(profile: str) -> None:
    server = Server(profile)
    assert server.send(post({}, user=AGENT)).answer.json() == invalid("must have required property 'name'")
    assert server.send(post(valid_body(), user=AGENT)).answer.json() == FORBIDDEN


def test_authentication_comes_first_everywhere() -> None:
    for name in PROFILES:
        assert Server(name).send(post({}, user=None)).answer.status == 401


# -- Observed validation messages -------------------------------------------------------------------

SEND_MESSAGE = {"name": "send-message", "params": {"sender": "queue", "msg": "hello"}}
OBSERVED_MESSAGES = [
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
        valid_body(actions=[{"name": "send-message", "params": {"sender": "invalid"}}]),
        f"must have required property 'msg'\n {ENUM}\n {ONE_OF}",
    ),
    (
        valid_body(
            actions=[
                {
                    "name": "use-external-service",
                    "params": {"serviceTimeout": 1, "serviceFallbackMessage": "x"},
                }
            ]
        ),
        f"{ENUM}\n must have required property 'serviceUrl'\n {ONE_OF}",
    ),
    ([valid_body()], "must be object"),
]


@pytest.mark.parametrize(("body", "message"), OBSERVED_MESSAGES, ids=[m for _, m in OBSERVED_MESSAGES])
def test_observed_validation_message(body: Any, message: str) -> None:
    answer = Server().send(post(body)).answer
    assert answer.status == 400
    assert answer.json() == invalid(message)


# -- Coercion table: the stored values ----------------------------------------------------------------


def stored_after(body: dict[str, Any]) -> dict[str, Any]:
    server = Server()
    outcome = server.send(post(body))
    assert outcome.answer.status == 200, outcome.answer.body
    stored: dict[str, Any] = server.body(get())["triggers"][0]
    return stored


@pytest.mark.parametrize(("sent", "stored"), [(1, "1"), (1.5, "1.5")])
def test_coercion_name_number_to_string(sent: float, stored: str) -> None:
    assert stored_after(valid_body(name=sent))["name"] == stored


def test_coercion_description_boolean_to_string() -> None:
    assert stored_after(valid_body(description=True))["description"] == "true"


@pytest.mark.parametrize(
    ("sent", "stored"), [("true", True), ("false", False), (1, True), (0, False), (None, False)]
)
def test_coercion_enabled_to_boolean(sent: Any, stored: bool) -> None:
    assert stored_after(valid_body(enabled=sent))["enabled"] is stored


@pytest.mark.parametrize(("sent", "stored"), [(5, "5"), (None, None)])
def test_coercion_condition_value(sent: Any, stored: Any) -> None:
    assert (
        stored_after(valid_body(conditions=[{"name": "page-url", "value": sent}]))["conditions"][0]["value"]
        == stored
    )


def test_coercion_service_timeout_string_to_number() -> None:
    action = {
        "name": "use-external-service",
        "params": {
            "serviceUrl": "https://example.test",
            "serviceTimeout": "5000",
            "serviceFallbackMessage": "x",
        },
    }
    assert stored_after(valid_body(actions=[action]))["actions"][0]["params"]["serviceTimeout"] == 5000


@pytest.mark.parametrize(("sent", "coerced"), [(0, "0"), (False, "false")])
def test_coercion_id_number_and_false_become_strings_that_update(sent: Any, coerced: str) -> None:
    # A coerced id is truthy, so it is an update of an unknown trigger: a silent no-op.
    server = Server()
    assert server.send(post(valid_body(_id=sent))).answer.body == b'{"success":true}'
    assert server.body(get())["total"] == 0
    assert validate_post_body(valid_body(_id=sent)).data["_id"] == coerced  # type: ignore[index,call-overload]


@pytest.mark.parametrize("sent", [None, ""])
def test_coercion_id_null_and_empty_are_kept_and_insert(sent: Any) -> None:
    # Kept: the validator leaves null and "" as they are (no coercion to "null" or anything else).
    assert validate_post_body(valid_body(_id=sent)).data["_id"] == sent  # type: ignore[index,call-overload]
    # Insert: a falsy id is no update; the server stores one new trigger under an id of its own.
    server = Server()
    assert server.send(post(valid_body(_id=sent))).answer.body == b'{"success":true}'
    listed = server.body(get())
    assert listed["total"] == 1
    assert listed["triggers"][0]["_id"] == f"{0:024x}"  # the first id Server's environment hands out


@pytest.mark.parametrize("action", [{"name": "send-message"}, {"name": "send-message", "params": None}])
def test_action_without_params_or_with_null_params_is_valid(action: dict[str, Any]) -> None:
    assert stored_after(valid_body(actions=[action]))["actions"] == [action]


# -- Body parsing -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "raw"),
    [
        ("application/json", b'{"name": '),
        ("application/json", b""),
        ("text/plain", json.dumps(valid_body()).encode()),
        (None, json.dumps(valid_body()).encode()),
        ("application/json", b'"a string"'),
        ("application/json", b"42"),
        ("application/json", b"null"),
    ],
    ids=["malformed", "empty", "text-plain", "no-content-type", "json-string", "json-number", "json-null"],
)
@pytest.mark.parametrize("profile", ["8.3", "7.5"])
def test_unparsed_bodies_become_empty_objects(profile: str, content_type: str | None, raw: bytes) -> None:
    answer = Server(profile).send(post(None, content_type=content_type, raw=raw)).answer
    assert answer.json() == invalid("must have required property 'name'")


def test_unparsed_body_still_checks_authentication_and_permission_first() -> None:
    assert Server().send(post(None, raw=b"{", user=None)).answer.status == 401
    assert Server().send(post(None, raw=b"{", user=AGENT)).answer.status == 403


def test_json_content_type_is_matched_by_substring() -> None:
    answer = Server().send(post(valid_body(), content_type="application/json; charset=utf-8")).answer
    assert answer.status == 200


def test_form_body_is_flat_string_fields() -> None:
    form = b"name=a&description=b&enabled=true&runOnce=false&conditions=x&actions=y"
    answer = Server().send(post(None, content_type="application/x-www-form-urlencoded", raw=form)).answer
    assert answer.json() == invalid("must be array")


def test_strict_parser_before_7_5_answers_malformed_json_with_html_400_before_authentication() -> None:
    answer = Server("6.13").send(post(None, raw=b"{", user=None)).answer
    assert answer.status == 400
    assert answer.header("content-type") == "text/html; charset=utf-8"
    assert "strict-body-parser" in answer.inferred


# -- Handler semantics --------------------------------------------------------------------------------


def test_insert_key_order_and_no_created_at() -> None:
    stored = stored_after(valid_body())
    assert list(stored) == [
        "_id",
        "name",
        "description",
        "enabled",
        "runOnce",
        "conditions",
        "actions",
        "_updatedAt",
    ]
    assert re.fullmatch(r"[0-9a-f]{24}", stored["_id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stored["_updatedAt"])


def test_update_changes_six_fields_and_updated_at_keeps_id() -> None:
    server = Server()
    server.send(post(valid_body()))
    before = server.body(get())["triggers"][0]
    server.send(post(valid_body(_id=before["_id"], name="Renamed", enabled="false")))
    after = server.body(get())["triggers"][0]
    assert (after["_id"], after["name"], after["enabled"]) == (before["_id"], "Renamed", False)
    assert after["_updatedAt"] > before["_updatedAt"]
    assert server.body(get())["total"] == 1


def test_update_of_unknown_id_is_a_silent_no_op() -> None:
    server = Server()
    outcome = server.send(post(valid_body(_id="unknown")))
    assert (outcome.answer.body, outcome.changes) == (b'{"success":true}', ())


def test_list_defaults_clamp_and_unlimited() -> None:
    server = Server(state=State(users=USERS))
    for index in range(120):
        server.send(post(valid_body(name=f"t{index:03d}")))
    assert server.body(get())["count"] == 50
    assert server.body(get(query="count=500"))["count"] == 100
    assert server.body(get(query="count=0"))["count"] == 120
    page = server.body(get(query="count=10&offset=115"))
    assert (page["count"], page["offset"], page["total"]) == (5, 115, 120)


def test_list_sort_default_name_ascending_and_explicit_descending() -> None:
    server = Server()
    for name in ["b", "c", "a"]:
        server.send(post(valid_body(name=name, enabled=name != "c")))
    assert [t["name"] for t in server.body(get())["triggers"]] == ["a", "b", "c"]
    descending = server.body(get(query='sort={"name":-1}'))["triggers"]
    assert [t["name"] for t in descending] == ["c", "b", "a"]
    assert any(t["enabled"] is False for t in descending)  # disabled triggers are listed too


@pytest.mark.parametrize("raw", ["{name:1}", '{"name":2}', "null", '"name"'])
def test_list_bad_sort(raw: str) -> None:
    from urllib.parse import quote

    answer = Server().send(get(query=f"sort={quote(raw)}")).answer
    assert answer.status == 400
    assert answer.json() == {
        "success": False,
        "error": f'Invalid sort parameter provided: "{raw}" [error-invalid-sort]',
        "errorType": "error-invalid-sort",
        "details": {"helperMethod": "parseJsonQuery"},
    }


@pytest.mark.parametrize(
    ("query", "message"), [("foo=1", "must NOT have additional properties"), ("count=abc", "must be number")]
)
def test_list_query_validation(query: str, message: str) -> None:
    assert Server().send(get(query=query)).answer.json() == invalid(message)


def test_clock_of_environment_becomes_updated_at() -> None:
    # The first request of a Server is sent one second after NOW_MS.
    assert (
        stored_after(valid_body())["_updatedAt"] == iso_timestamp(NOW_MS + 1000) == "2025-11-25T12:00:01.123Z"
    )


# -- Node.js and Express details that the reference implies -------------------------------------------


def test_repeated_credential_headers_are_joined_like_node_and_fail_authentication() -> None:
    request = post(valid_body())
    doubled = type(request)(request.method, request.path, headers=request.headers * 2, body=request.body)
    assert Server().send(doubled).answer.status == 401


def test_head_is_answered_by_the_get_handler_without_a_body() -> None:
    server = Server()
    head = server.send(type(get())("HEAD", TRIGGERS, headers=get().headers)).answer
    assert (head.status, head.body) == (200, b"")
    assert "head-requests" in head.inferred


def test_strict_parser_guards_every_route_and_limits_only_parsed_bodies() -> None:
    bad_delete = delete("x")
    bad_delete = type(bad_delete)(
        "DELETE",
        bad_delete.path,
        headers=(*bad_delete.headers, ("Content-Type", "application/json")),
        body=b"{",
    )
    assert Server("6.13").send(bad_delete).answer.status == 400
    assert Server("7.5").send(bad_delete).answer.status == 200
    huge = b" " * (50 * 1024 * 1024 + 1)
    assert Server("6.13").send(post(None, raw=huge)).answer.status == 413
    assert Server("6.13").send(post(None, raw=huge, content_type="text/plain")).answer.status == 400


def test_profile_7_4_has_the_new_401_body_and_the_strict_parser_without_delay() -> None:
    server = Server("7.4")
    unauthorized = server.send(post(valid_body(), user=None)).answer
    assert (unauthorized.json()["success"], unauthorized.delay_seconds) == (False, None)
    assert server.send(post(None, raw=b"{")).answer.header("content-type") == "text/html; charset=utf-8"
