"""The external-service routes as spec predicts them: checks and their order per era, the planned
outbound request, and the answer for every way the webhook call can end (spec.outbound.render)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from spec.external_service import (
    DEFAULT_FALLBACK_MESSAGE,
    INVALID_SERVICE_URL,
    INVALID_TRIGGER,
    NO_SECRET_TOKEN,
    NOT_EXTERNAL,
    TEST_TRIGGER_ID,
    TEST_VISITOR_TOKEN,
)
from spec.headers import LIVECHAT_TOKEN_HEADER
from spec.model import SetSetting, User, apply_changes
from spec.outbound import (
    BAD_FORMAT_MESSAGE,
    TIMEOUT_ERROR,
    TIMEOUT_MESSAGE,
    WebhookBodyTimeout,
    WebhookResponse,
    WebhookTimeout,
    WebhookUnreachable,
    parse_url,
    render,
    timer_delay_ms,
)
from spec.permissions import MANAGE_TRIGGERS
from spec.predict import FORBIDDEN_MESSAGE, Outcome
from spec.profiles import INVALID_EXTERNAL_SERVICE_RESPONSE, get_profile
from spec.routes import (
    CALL_EXTERNAL_SERVICE,
    EXTERNAL_SERVICE_TEST_PATH,
    TEST_EXTERNAL_SERVICE,
    external_service_call_path,
    match_route,
    trigger_path,
)
from spec.settings import LIVECHAT_SECRET_TOKEN
from tests.identity_helpers import ADMIN, AGENT, ERAS, Server, fresh_state

WEBHOOK = "http://127.0.0.1:9/hook"
VALID_TEST = {"webhookUrl": WEBHOOK, "timeout": 1500, "fallbackMessage": "sorry"}
EXTERNAL_TRIGGER: dict[str, Any] = {
    "_id": "ext-1",
    "name": "ext",
    "description": "",
    "enabled": True,
    "runOnce": False,
    "conditions": [{"name": "chat-opened-by-visitor"}],
    "actions": [
        {
            "name": "use-external-service",
            "params": {"serviceUrl": WEBHOOK, "serviceTimeout": 2500, "serviceFallbackMessage": "fb"},
        }
    ],
}
LIMITED_MANAGER = User("rc-limited", "limited-token", permissions=frozenset({MANAGE_TRIGGERS}))


def _server(era: str = "8.3", *, token: str = "s3cret", rate_limited: bool = True, **kwargs: Any) -> Server:
    state = fresh_state((ADMIN, AGENT, LIMITED_MANAGER))
    state = apply_changes(state, (SetSetting(LIVECHAT_SECRET_TOKEN, token),))
    state = replace(state, triggers=tuple(kwargs.get("triggers", ())))
    return Server(era, state, rate_limited=rate_limited)


def _body(outcome: Outcome) -> Any:
    return json.loads(outcome.answer.body)


def test_the_two_routes_are_matched_and_nothing_else() -> None:
    assert match_route("POST", EXTERNAL_SERVICE_TEST_PATH).operation == TEST_EXTERNAL_SERVICE  # type: ignore[union-attr]
    call = match_route("POST", external_service_call_path("a b/c"))
    assert call is not None and call.operation == CALL_EXTERNAL_SERVICE and call.trigger_id == "a b/c"
    assert match_route("GET", EXTERNAL_SERVICE_TEST_PATH) is None
    assert match_route("GET", external_service_call_path("x")) is None
    assert match_route("POST", trigger_path("") + "/external-service/call") is None


@pytest.mark.parametrize("era", ERAS)
def test_test_route_checks_in_the_eras_order(era: str) -> None:
    server = _server(era)
    assert server.call("POST", EXTERNAL_SERVICE_TEST_PATH, {}, user=None).answer.status == 401
    refused = server.call("POST", EXTERNAL_SERVICE_TEST_PATH, {}, user=AGENT)
    invalid = _body(server.call("POST", EXTERNAL_SERVICE_TEST_PATH, {}, user=ADMIN))
    assert invalid == {
        "success": False,
        "error": "must have required property 'webhookUrl' [invalid-params]",
        "errorType": "invalid-params",
    }
    if get_profile(era).check_order.index("permission") < get_profile(era).check_order.index("validation"):
        assert refused.answer.status == 403 and _body(refused)["error"] == FORBIDDEN_MESSAGE
    else:  # validation first: an invalid body is a 400 even without the permission
        assert refused.answer.status == 400
    assert _body(server.call("POST", EXTERNAL_SERVICE_TEST_PATH, VALID_TEST, user=AGENT))["error"] == (
        FORBIDDEN_MESSAGE
    )


@pytest.mark.parametrize("era", ERAS)
def test_an_empty_secret_token_refuses_both_routes(era: str) -> None:
    server = _server(era, token="", triggers=(EXTERNAL_TRIGGER,))
    outcome = server.call("POST", EXTERNAL_SERVICE_TEST_PATH, VALID_TEST)
    assert outcome.external is None
    assert (outcome.answer.status, _body(outcome)) == (400, {"success": False, "error": NO_SECRET_TOKEN})
    call = server.call("POST", external_service_call_path("ext-1"), {"token": "v"}, user=None)
    assert _body(call) == {"success": False, "error": NO_SECRET_TOKEN}


def test_the_planned_test_request() -> None:
    body = {**VALID_TEST, "timeout": "0", "extraData": [{"key": "k", "value": "v"}]}
    outcome = _server().call("POST", EXTERNAL_SERVICE_TEST_PATH, body)
    call = outcome.external
    assert call is not None and call.request is not None
    request = call.request
    assert (request.method, request.url, request.host, request.port) == ("POST", WEBHOOK, "127.0.0.1", 9)
    assert dict(request.headers)[LIVECHAT_TOKEN_HEADER] == "s3cret"
    assert dict(request.headers)["Content-Type"] == "application/json"
    assert json.loads(request.body) == {
        "metadata": [{"key": "k", "value": "v"}],
        "visitorToken": TEST_VISITOR_TOKEN,
    }
    assert request.timeout_ms == 1000  # "0" is coerced to 0, and timeout || 1000
    # Without a webhook result the answer is the unreachable one.
    assert _body(outcome) == {
        "triggerId": TEST_TRIGGER_ID,
        "error": INVALID_EXTERNAL_SERVICE_RESPONSE,
        "response": f"request to {WEBHOOK} failed, reason: connect ECONNREFUSED 127.0.0.1:9",
        "fallbackMessage": "sorry",
        "success": False,
    }


def test_metadata_is_left_out_without_extra_data_and_kept_as_null() -> None:
    server = _server(rate_limited=False)
    bodies = []
    for extra in ({}, {"extraData": None}):
        call = server.call("POST", EXTERNAL_SERVICE_TEST_PATH, {**VALID_TEST, **extra}).external
        assert call is not None and call.request is not None
        bodies.append(call.request.body)
    assert bodies == [b'{"visitorToken":"1234567890"}', b'{"metadata":null,"visitorToken":"1234567890"}']


def _rendered(result: Any, era: str = "8.3") -> tuple[int, Any]:
    call = _server(era).call("POST", EXTERNAL_SERVICE_TEST_PATH, VALID_TEST).external
    assert call is not None
    answer = render(call, result)
    return answer.status, json.loads(answer.body)


def _fail(error: str, response: str) -> tuple[int, Any]:
    body = {"triggerId": TEST_TRIGGER_ID, "error": error, "response": response}
    return 400, {**body, "fallbackMessage": "sorry", "success": False}


def test_results_map_to_the_exact_bodies() -> None:
    contents = [{"msg": "hi", "order": 0}, {"msg": "there", "order": 1.5, "extra": True}]
    ok = WebhookResponse(200, json.dumps({"contents": contents, "other": 1}).encode())
    assert _rendered(ok) == (
        200,
        {
            "triggerId": TEST_TRIGGER_ID,
            "response": {"statusCode": 200, "contents": contents},
            "success": True,
        },
    )
    invalid = INVALID_EXTERNAL_SERVICE_RESPONSE
    assert _rendered(WebhookTimeout()) == _fail(TIMEOUT_ERROR, TIMEOUT_MESSAGE)
    assert _rendered(WebhookResponse(500, b"Internal Server Error")) == _fail(
        invalid, "Internal Server Error"
    )
    assert _rendered(WebhookResponse(201, b"")) == _fail(invalid, "")
    for bad in (b'{"contents": []}', b"{}", b'{"contents": [{"msg": 1, "order": 0}]}', b"[1]", b'"x"'):
        assert _rendered(WebhookResponse(200, bad)) == _fail(invalid, BAD_FORMAT_MESSAGE), bad
    assert _rendered(WebhookResponse(200, b'{"contents": [{"msg": "a", "order": true}]}'))[1]["response"] == (
        BAD_FORMAT_MESSAGE
    )
    assert _rendered(WebhookResponse(200, b"<html>"))[1]["response"] == (
        f"invalid json response body at {WEBHOOK} reason: Unexpected token '<', \"<html>\" is not valid JSON"
    )
    assert _rendered(WebhookResponse(200, b"<html>"), "6.13")[1]["response"] == (
        f"invalid json response body at {WEBHOOK} reason: Unexpected token < in JSON at position 0"
    )
    assert _rendered(WebhookResponse(200, b"null"))[1]["response"].startswith("Cannot destructure")
    assert _rendered(WebhookBodyTimeout()) == _fail(
        invalid, f"Response timeout while trying to fetch {WEBHOOK} (over 1500ms)"
    )
    assert _rendered(WebhookUnreachable("getaddrinfo ENOTFOUND x")) == _fail(
        invalid, f"request to {WEBHOOK} failed, reason: getaddrinfo ENOTFOUND x"
    )


@pytest.mark.parametrize(
    ("url", "message"), [("test", "Invalid URL"), ("ftp://h/x", "Only HTTP(S) protocols are supported")]
)
def test_a_url_that_cannot_be_fetched_needs_no_call(url: str, message: str) -> None:
    call = _server().call("POST", EXTERNAL_SERVICE_TEST_PATH, {**VALID_TEST, "webhookUrl": url}).external
    assert call is not None and call.request is None
    assert json.loads(render(call, WebhookTimeout()).body)["response"] == message
    legacy = _server("6.13").call("POST", EXTERNAL_SERVICE_TEST_PATH, {**VALID_TEST, "webhookUrl": "test"})
    assert _body(legacy)["response"] == "Invalid URL: test"


def test_the_call_route_needs_no_login_and_uses_the_triggers_first_action() -> None:
    server = _server(triggers=(EXTERNAL_TRIGGER,))
    outcome = server.call("POST", external_service_call_path("ext-1"), {"token": 42}, user=None)
    call = outcome.external
    assert call is not None and call.request is not None and call.trigger_id == "ext-1"
    assert json.loads(call.request.body) == {"visitorToken": "42"}
    assert call.request.timeout_ms == 2500 and call.fallback_message == "fb"
    assert _body(server.call("POST", external_service_call_path("nope"), {"token": "v"}, user=None)) == {
        "success": False,
        "error": INVALID_TRIGGER,
    }
    assert _body(server.call("POST", external_service_call_path("ext-1"), {}, user=None))["errorType"] == (
        "invalid-params"
    )


def _trigger_with(actions: list[Any]) -> dict[str, Any]:
    return {**EXTERNAL_TRIGGER, "_id": "t", "actions": actions}


@pytest.mark.parametrize(
    ("actions", "error"),
    [
        ([], NOT_EXTERNAL),
        ([{"name": "send-message", "params": {"sender": "queue", "msg": "m"}}], NOT_EXTERNAL),
        ([EXTERNAL_TRIGGER["actions"][0], {"name": "send-message"}], NOT_EXTERNAL),
        ([{"name": "use-external-service"}], INVALID_SERVICE_URL),
        ([{"name": "use-external-service", "params": {"serviceUrl": ""}}], INVALID_SERVICE_URL),
        (
            [{"name": "use-external-service", "params": None}],
            "Cannot read properties of null (reading 'serviceTimeout')",
        ),
    ],
)
def test_triggers_that_cannot_call(actions: list[Any], error: str) -> None:
    server = _server(triggers=(_trigger_with(actions),))
    assert _body(server.call("POST", external_service_call_path("t"), {"token": "v"}, user=None)) == {
        "success": False,
        "error": error,
    }


def test_call_route_defaults() -> None:
    trigger = _trigger_with([{"name": "use-external-service", "params": {"serviceUrl": WEBHOOK}}])
    call = _server(triggers=(trigger,)).call(
        "POST", external_service_call_path("t"), {"token": "v"}, user=None
    )
    assert call.external is not None and call.external.request is not None
    assert call.external.request.timeout_ms == 5000
    assert call.external.fallback_message == DEFAULT_FALLBACK_MESSAGE


@pytest.mark.parametrize("era", ERAS)
def test_each_route_has_its_own_rate_limit(era: str) -> None:
    profile = get_profile(era).external_service
    server = _server(era, triggers=(EXTERNAL_TRIGGER,))
    statuses = [
        server.call("POST", EXTERNAL_SERVICE_TEST_PATH, VALID_TEST, user=LIMITED_MANAGER).answer.status
        for _ in range(profile.test_limit.calls + 1)
    ]
    assert statuses == [400] * profile.test_limit.calls + [429]
    calls = [
        server.call("POST", external_service_call_path("ext-1"), {"token": "v"}, user=None).answer
        for _ in range(profile.call_limit.calls + 1)
    ]
    assert [answer.status for answer in calls] == [400] * profile.call_limit.calls + [429]
    assert calls[-1].header("x-ratelimit-limit") == str(profile.call_limit.calls)
    # The admin holds api-bypass-rate-limit; development mode has no limiter at all.
    admin = [server.call("POST", EXTERNAL_SERVICE_TEST_PATH, VALID_TEST).answer.status for _ in range(20)]
    assert 429 not in admin
    relaxed = _server(era, rate_limited=False)
    assert 429 not in [
        relaxed.call("POST", EXTERNAL_SERVICE_TEST_PATH, VALID_TEST, user=LIMITED_MANAGER).answer.status
        for _ in range(20)
    ]


def test_released_eras_follow_the_source_not_the_issue() -> None:
    # The issue says 5 (test) and 1 (call) per 60 s; every released source read says 15 and 10.
    for era in ERAS:
        limits = get_profile(era).external_service
        assert (limits.test_limit.calls, limits.call_limit.calls) == (15, 10)
        assert limits.test_limit.window_ms == limits.call_limit.window_ms == 60_000
        assert limits.invalid_response_error == INVALID_EXTERNAL_SERVICE_RESPONSE


def test_timer_and_url_details() -> None:
    assert [timer_delay_ms(v) for v in (1000.0, 0.5, -3.0, 2.0**31, 12.9, "20")] == [1000, 1, 1, 1, 12, 20]
    parsed = parse_url("HTTP://Example.COM:80/a b/../c?q=1 2#frag")
    assert not isinstance(parsed, str)
    assert parsed.serialized == "http://example.com/c?q=1%202#frag"
    assert parse_url("http://[::1]:8080").port == 8080  # type: ignore[union-attr]
    assert parse_url("http://host:99999/") == "Invalid URL"


def test_a_token_node_fetch_cannot_send_is_refused_before_any_call() -> None:
    server = _server(token="ok")
    server.state = apply_changes(server.state, (SetSetting(LIVECHAT_SECRET_TOKEN, "naïve ✓"),))
    call = server.call("POST", EXTERNAL_SERVICE_TEST_PATH, VALID_TEST).external
    assert call is not None and call.request is None
    assert json.loads(render(call, WebhookTimeout()).body)["response"] == (
        "naïve ✓ is not a legal HTTP header value"
    )
    server.state = apply_changes(server.state, (SetSetting(LIVECHAT_SECRET_TOKEN, "naïve"),))
    latin = server.call("POST", EXTERNAL_SERVICE_TEST_PATH, VALID_TEST).external
    assert latin is not None and latin.request is not None  # latin-1 is sent as it is


def test_only_node_texts_are_marked_inferred() -> None:
    call = _server().call("POST", EXTERNAL_SERVICE_TEST_PATH, VALID_TEST).external
    assert call is not None
    usable = WebhookResponse(200, b'{"contents":[{"msg":"a","order":1}]}')
    for result in (usable, WebhookTimeout(), WebhookResponse(500, b"x"), WebhookResponse(200, b"{}")):
        assert render(call, result).inferred == ()
    for other in (WebhookUnreachable("x"), WebhookBodyTimeout(), WebhookResponse(200, b"<")):
        assert render(call, other).inferred == ("outbound-call",)
