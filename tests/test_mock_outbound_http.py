"""The external-service routes against a real mock process and a webhook receiver on 127.0.0.1:
the outbound POST the mock makes, every way it ends, --no-outbound, the routes' own rate limits and
the secret-token setting. Expected answers come from spec.outbound.render, never from literals."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from contract_tests.webhook_receiver import (
    NO_CONTENTS_PATH,
    NOT_JSON_PATH,
    USABLE_PATH,
    WebhookReceiver,
    delay_path,
    status_path,
)
from spec.contract import example_post_body
from spec.external_service import NO_SECRET_TOKEN, TEST_VISITOR_TOKEN
from spec.headers import LIVECHAT_TOKEN_HEADER
from spec.outbound import WebhookResult, WebhookUnreachable, plan_request, refused_reason, render
from spec.permissions import BYPASS_RATE_LIMIT, EDIT_PRIVILEGED_SETTING, MANAGE_TRIGGERS
from spec.profiles import get_profile
from spec.routes import EXTERNAL_SERVICE_TEST_PATH, TRIGGERS_PATH, external_service_call_path, setting_path
from spec.settings import LIVECHAT_SECRET_TOKEN
from tests.mockserver import MockServer, running_mock

SECRET = "webhook-secret"
ERA = get_profile("8.3").external_service
USERS = (
    "--user",
    f"admin-id:admin-token:{MANAGE_TRIGGERS},{BYPASS_RATE_LIMIT},{EDIT_PRIVILEGED_SETTING}",
    "--user",
    f"manager-id:manager-token:{MANAGE_TRIGGERS}",
)
ADMIN = {"X-User-Id": "admin-id", "X-Auth-Token": "admin-token"}
MANAGER = {"X-User-Id": "manager-id", "X-Auth-Token": "manager-token"}


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as started:
        yield started


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    with running_mock(*USERS, "--quiet") as server:
        yield server


@pytest.fixture
def client(mock: MockServer) -> Iterator[httpx.Client]:
    with mock.client() as opened:
        reset = opened.post("/__mock__/reset", json={})
        assert reset.status_code == 200
        yield opened


def _set_token(client: httpx.Client, value: str) -> None:
    answer = client.post(setting_path(LIVECHAT_SECRET_TOKEN), json={"value": value}, headers=ADMIN)
    assert answer.status_code == 200, answer.text


def _test_body(url: str, timeout: float = 3000, **extra: Any) -> dict[str, Any]:
    return {"webhookUrl": url, "timeout": timeout, "fallbackMessage": "fallback", **extra}


def _expected(url: str, timeout: float, result: WebhookResult, **extra: Any) -> tuple[int, bytes]:
    """The answer spec renders for the test route and this webhook result."""
    body: dict[str, Any] = {"visitorToken": TEST_VISITOR_TOKEN}
    if "extraData" in extra:
        body = {"metadata": extra["extraData"], **body}
    call = plan_request(
        url=url,
        timeout=float(timeout),
        token=SECRET,
        body=body,
        trigger_id="test-trigger",
        fallback_message="fallback",
        invalid_response_error=ERA.invalid_response_error,
        node=ERA.node,
    )
    answer = render(call, result)
    return answer.status, answer.body


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # closed again: nothing listens there


def test_a_usable_webhook_answer_and_what_the_mock_sent(
    client: httpx.Client, receiver: WebhookReceiver
) -> None:
    _set_token(client, SECRET)
    url = receiver.url(USABLE_PATH)
    extra = [{"key": "page", "value": "pricing"}]
    answer = client.post(EXTERNAL_SERVICE_TEST_PATH, json=_test_body(url, extraData=extra), headers=ADMIN)
    expected = _expected(url, 3000, WebhookReceiver.result_for(USABLE_PATH, 3000), extraData=extra)
    assert (answer.status_code, answer.content) == expected
    assert answer.json()["success"] is True
    sent = receiver.requests_to(USABLE_PATH)[-1]
    assert sent.method == "POST"
    assert sent.headers[LIVECHAT_TOKEN_HEADER.lower()] == SECRET
    assert sent.headers["content-type"] == "application/json"
    assert sent.json() == {"metadata": extra, "visitorToken": TEST_VISITOR_TOKEN}


@pytest.mark.parametrize("path", [status_path(500), status_path(302), NO_CONTENTS_PATH, NOT_JSON_PATH])
def test_unusable_webhook_answers(client: httpx.Client, receiver: WebhookReceiver, path: str) -> None:
    _set_token(client, SECRET)
    url = receiver.url(path)
    answer = client.post(EXTERNAL_SERVICE_TEST_PATH, json=_test_body(url), headers=ADMIN)
    assert (answer.status_code, answer.content) == _expected(
        url, 3000, WebhookReceiver.result_for(path, 3000)
    )
    assert answer.json()["error"] == ERA.invalid_response_error
    assert len(receiver.requests_to(path)) >= 1  # a 302 is answered, not followed


def test_a_slow_webhook_times_out_without_holding_other_requests(
    client: httpx.Client, mock: MockServer, receiver: WebhookReceiver
) -> None:
    _set_token(client, SECRET)
    url = receiver.url(delay_path(4))
    finished: list[str] = []
    answers: dict[str, httpx.Response] = {}

    def slow() -> None:
        with mock.client() as own:
            answers["slow"] = own.post(EXTERNAL_SERVICE_TEST_PATH, json=_test_body(url, 1500), headers=ADMIN)
        finished.append("slow")

    worker = threading.Thread(target=slow)
    started = time.monotonic()
    worker.start()
    while not receiver.requests_to(delay_path(4)) and time.monotonic() - started < 10:
        time.sleep(0.02)  # the mock is now waiting for the webhook
    listed = client.get(TRIGGERS_PATH, headers=ADMIN)
    finished.append("list")
    worker.join(timeout=30)
    assert listed.status_code == 200
    assert finished == ["list", "slow"]
    answer = answers["slow"]
    assert (answer.status_code, answer.content) == _expected(
        url, 1500, WebhookReceiver.result_for(delay_path(4), 1500)
    )
    assert answer.json()["error"] == "error-timeout"


def test_an_unreachable_webhook(client: httpx.Client) -> None:
    _set_token(client, SECRET)
    port = _free_port()
    url = f"http://127.0.0.1:{port}/hook"
    answer = client.post(EXTERNAL_SERVICE_TEST_PATH, json=_test_body(url), headers=ADMIN)
    result = WebhookUnreachable(refused_reason("127.0.0.1", port))
    assert (answer.status_code, answer.content) == _expected(url, 3000, result)


def test_an_empty_secret_token_refuses_before_any_call(
    client: httpx.Client, receiver: WebhookReceiver
) -> None:
    before = len(receiver.received)
    answer = client.post(
        EXTERNAL_SERVICE_TEST_PATH, json=_test_body(receiver.url(USABLE_PATH)), headers=ADMIN
    )
    assert answer.status_code == 400 and answer.json() == {"success": False, "error": NO_SECRET_TOKEN}
    assert len(receiver.received) == before


def test_the_call_route_calls_the_triggers_webhook_without_login(
    client: httpx.Client, receiver: WebhookReceiver
) -> None:
    _set_token(client, SECRET)
    trigger = example_post_body()
    params = {"serviceUrl": receiver.url(USABLE_PATH), "serviceTimeout": 3000, "serviceFallbackMessage": "fb"}
    trigger["actions"] = [{"name": "use-external-service", "params": params}]
    assert client.post(TRIGGERS_PATH, json=trigger, headers=ADMIN).status_code == 200
    trigger_id = client.get(TRIGGERS_PATH, headers=ADMIN).json()["triggers"][0]["_id"]
    answer = client.post(external_service_call_path(trigger_id), json={"token": "visitor-1"})
    assert answer.status_code == 200
    assert answer.json() == {
        "triggerId": trigger_id,
        "response": {
            "statusCode": 200,
            "contents": json.loads(WebhookReceiver.answer_for(USABLE_PATH)[2])["contents"],
        },
        "success": True,
    }
    assert receiver.requests_to(USABLE_PATH)[-1].json() == {"visitorToken": "visitor-1"}
    statuses = [
        client.post(external_service_call_path(trigger_id), json={"token": "v"}).status_code
        for _ in range(ERA.call_limit.calls)
    ]
    assert statuses == [200] * (ERA.call_limit.calls - 1) + [429]  # one call was made above


def test_the_test_route_has_its_own_limit(client: httpx.Client) -> None:
    _set_token(client, SECRET)
    url = f"http://127.0.0.1:{_free_port()}/"
    statuses = [
        client.post(EXTERNAL_SERVICE_TEST_PATH, json=_test_body(url), headers=MANAGER).status_code
        for _ in range(ERA.test_limit.calls + 1)
    ]
    assert statuses == [400] * ERA.test_limit.calls + [429]
    # The admin holds the bypass permission.
    assert client.post(EXTERNAL_SERVICE_TEST_PATH, json=_test_body(url), headers=ADMIN).status_code == 400


def test_no_outbound_answers_as_unreachable_and_calls_nothing(receiver: WebhookReceiver) -> None:
    with running_mock(*USERS, "--quiet", "--no-outbound") as server, server.client() as client:
        _set_token(client, SECRET)
        before = len(receiver.received)
        url = receiver.url(USABLE_PATH)
        answer = client.post(EXTERNAL_SERVICE_TEST_PATH, json=_test_body(url), headers=ADMIN)
        host, port = receiver.base_url.removeprefix("http://").split(":")
        expected = _expected(url, 3000, WebhookUnreachable(refused_reason(host, int(port))))
        assert (answer.status_code, answer.content) == expected
        assert len(receiver.received) == before
        assert "not called (--no-outbound)" in server.banner


def test_a_large_body_answered_off_the_loop_still_calls_the_webhook(
    client: httpx.Client, receiver: WebhookReceiver
) -> None:
    _set_token(client, SECRET)
    url = receiver.url(USABLE_PATH)
    extra = [{"key": f"k{index}", "value": "v" * 40} for index in range(800)]  # > 32 KiB: a forked child
    body = _test_body(url, extraData=extra)
    assert len(json.dumps(body)) > 32 * 1024
    answer = client.post(EXTERNAL_SERVICE_TEST_PATH, json=body, headers=ADMIN)
    expected = _expected(url, 3000, WebhookReceiver.result_for(USABLE_PATH, 3000), extraData=extra)
    assert (answer.status_code, answer.content) == expected
    assert receiver.requests_to(USABLE_PATH)[-1].json()["metadata"] == extra
