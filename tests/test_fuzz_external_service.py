"""The strategies of fuzz.external_service: valid bodies pass the contract's validators, invalid ones
fail them, and the requests they build are answered by spec as their route (never an unknown one)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from fuzz import external_service as fx
from spec.contract import validate_webhook_call_body, validate_webhook_test_body
from spec.model import SetSetting, apply_changes
from spec.predict import Environment, predict
from spec.profiles import get_profile
from spec.routes import CALL_EXTERNAL_SERVICE, TEST_EXTERNAL_SERVICE
from spec.settings import LIVECHAT_SECRET_TOKEN
from tests.identity_helpers import ADMIN, auth, fresh_state

ENV = Environment(now_ms=1_764_072_000_000, new_trigger_id="0" * 24, new_login_token="t" * 43)
STATE = apply_changes(fresh_state(), (SetSetting(LIVECHAT_SECRET_TOKEN, "token"),))


@settings(max_examples=200, database=None, derandomize=True)
@given(body=fx.webhook_test_bodies())
def test_valid_test_bodies_pass(body: Any) -> None:
    assert validate_webhook_test_body(body).valid


@settings(max_examples=200, database=None, derandomize=True)
@given(body=fx.invalid_webhook_test_bodies())
def test_invalid_test_bodies_fail_and_get_the_validation_answer(body: Any) -> None:
    assert not validate_webhook_test_body(body).valid
    request = fx.webhook_test_request(auth(ADMIN), body)
    outcome = predict(request, STATE, get_profile("8.3"), ENV)
    assert outcome.operation == TEST_EXTERNAL_SERVICE
    assert outcome.answer.status == 400 and outcome.external is None
    assert outcome.answer.json()["errorType"] == "invalid-params"


@settings(max_examples=150, database=None, derandomize=True)
@given(body=fx.webhook_call_bodies(), broken=fx.invalid_webhook_call_bodies())
def test_call_bodies(body: Any, broken: Any) -> None:
    assert validate_webhook_call_body(body).valid
    assert not validate_webhook_call_body(broken).valid


@settings(max_examples=100, database=None, derandomize=True)
@given(request=fx.webhook_call_requests(st.text(min_size=1, max_size=8), fx.webhook_call_bodies()))
def test_call_requests_reach_their_route(request: Any) -> None:
    outcome = predict(request, STATE, get_profile("7.5"), ENV)
    assert outcome.operation == CALL_EXTERNAL_SERVICE
    assert outcome.answer.json() == {"success": False, "error": "Invalid trigger"}


@settings(max_examples=60, database=None, derandomize=True)
@given(body=fx.login_bodies("rocketchat.internal.admin.test", "admin-password"))
def test_login_bodies_log_the_account_in(body: Any) -> None:
    outcome = predict(fx.login_request(body), STATE, get_profile("8.3"), ENV)
    assert outcome.answer.status == 200, outcome.answer.body


@settings(max_examples=60, database=None, derandomize=True)
@given(body=fx.wrong_login_bodies("rocketchat.internal.admin.test", "admin-password"))
def test_wrong_login_bodies_fail(body: Any) -> None:
    assert predict(fx.login_request(body), STATE, get_profile("8.3"), ENV).answer.status in (401, 500)
