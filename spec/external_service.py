"""``POST livechat/triggers/external-service/test`` and ``POST livechat/triggers/:_id/external-service/call``:
their checks, in the profile's order, and the call each plans.

The answer of a request that reaches the outbound call depends on the webhook, so the prediction is
two pure steps: ``spec.predict.predict`` returns an ``Outcome`` whose ``external`` is the planned
``spec.outbound.ExternalCall`` (its ``answer`` is the one given when the webhook cannot be reached),
and ``spec.outbound.render(call, result)`` gives the answer once the call has ended. What the checks
change (the rate-limit counts) is decided in the first step: the webhook's answer changes no state.

Source: ``ee/app/livechat-enterprise/server/api/triggers.ts`` at 6.13.0 and two later EE versions
(docs/source-notes/external-service.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from spec.contract import webhook_call_validator, webhook_test_validator
from spec.model import Answer, IdentityView, JsonValue
from spec.outbound import ExternalCall, js_string, js_truthy, plan_request, render
from spec.permissions import MANAGE_TRIGGERS
from spec.predict import Outcome, _Checks, failure, middleware_answer, validation_failure
from spec.profiles import RateLimit
from spec.routes import CALL_EXTERNAL_SERVICE, TEST_EXTERNAL_SERVICE
from spec.settings import LIVECHAT_SECRET_TOKEN

TEST_TRIGGER_ID = "test-trigger"
"""The ``triggerId`` of every answer of the test route."""
TEST_VISITOR_TOKEN = "1234567890"
"""The ``visitorToken`` the test route sends to the webhook."""
DEFAULT_SERVICE_TIMEOUT = 5000.0
DEFAULT_FALLBACK_MESSAGE = "trigger-default-fallback-message"
EXTERNAL_SERVICE_ACTION = "use-external-service"

NO_SECRET_TOKEN = "Livechat secret token is not configured"
INVALID_TRIGGER = "Invalid trigger"
NOT_EXTERNAL = "Trigger is not configured to use an external service"
INVALID_SERVICE_URL = "Invalid service URL"


@dataclass(frozen=True)
class Policy:
    authenticate: bool
    permission: str | None
    limit: Callable[[_Checks], RateLimit]


POLICIES = {
    TEST_EXTERNAL_SERVICE: Policy(True, MANAGE_TRIGGERS, lambda c: c.profile.external_service.test_limit),
    # authRequired: false, no permission: the widget calls it for a visitor.
    CALL_EXTERNAL_SERVICE: Policy(False, None, lambda c: c.profile.external_service.call_limit),
}


def predict_external_service(checks: _Checks, state: IdentityView) -> Outcome:
    operation = checks.route.operation
    policy = POLICIES[operation]
    for step in checks.profile.check_order:
        refusal: Answer | None = None
        if step == "authentication" and policy.authenticate:
            refusal = checks.authenticate()
        elif step == "permission" and policy.permission is not None:
            refusal = checks.authorize(policy.permission)
        elif step == "rate-limit":
            refusal = checks.rate_limit(policy.limit(checks))
        elif step == "validation":
            refusal = _validate(checks)
        # The license check (later eras) sits here too; a licensed server passes it: not modelled.
        if refusal is not None:
            if not checks.profile.refusal_passes_router(step):
                refusal = middleware_answer(refusal)
            return Outcome(refusal, checks.changes, operation)
    planned = _test(checks, state) if operation == TEST_EXTERNAL_SERVICE else _call(checks, state)
    if isinstance(planned, Answer):
        return Outcome(planned, checks.changes, operation)
    return Outcome(render(planned, planned.unreachable()), checks.changes, operation, external=planned)


def _validate(checks: _Checks) -> Answer | None:
    testing = checks.route.operation == TEST_EXTERNAL_SERVICE
    validator = webhook_test_validator() if testing else webhook_call_validator()
    outcome = validator.validate(checks.body, in_place=True)
    if not outcome.valid:
        return validation_failure(outcome.message)
    checks.validated = outcome.data
    return None


def _secret_token(state: IdentityView) -> JsonValue:
    _, token = state.setting_value(LIVECHAT_SECRET_TOKEN)
    return token


def _truthy(value: JsonValue) -> bool:
    return js_truthy(value)


def _outbound_body(
    metadata: JsonValue | None, present: bool, visitor_token: JsonValue
) -> dict[str, JsonValue]:
    # {metadata: extraData, visitorToken}: JSON.stringify drops an undefined metadata.
    body: dict[str, JsonValue] = {"metadata": metadata} if present else {}
    body["visitorToken"] = visitor_token
    return body


def _test(checks: _Checks, state: IdentityView) -> ExternalCall | Answer:
    body = checks.validated
    assert isinstance(body, dict)
    token = _secret_token(state)
    if not _truthy(token):
        return failure(400, NO_SECRET_TOKEN)
    url = body["webhookUrl"]
    assert isinstance(url, str)
    era = checks.profile.external_service
    return plan_request(
        url=url,
        timeout=body["timeout"],
        token=token,
        body=_outbound_body(body.get("extraData"), "extraData" in body, TEST_VISITOR_TOKEN),
        trigger_id=TEST_TRIGGER_ID,
        fallback_message=body["fallbackMessage"],
        invalid_response_error=era.invalid_response_error,
        node=era.node,
    )


def _call(checks: _Checks, state: IdentityView) -> ExternalCall | Answer:
    body = checks.validated
    assert isinstance(body, dict)
    trigger_id = checks.route.trigger_id
    assert trigger_id is not None
    trigger = state.find_trigger(trigger_id)
    if trigger is None:
        return failure(400, INVALID_TRIGGER)
    actions = trigger.get("actions")
    node = checks.profile.external_service.node
    if not isinstance(actions, list) or not actions:
        return failure(400, NOT_EXTERNAL)
    for action in actions:  # isExternalServiceTrigger: every action uses the external service
        if action is None:
            return failure(400, _null_property("name", node))
        if not isinstance(action, dict) or action.get("name") != EXTERNAL_SERVICE_ACTION:
            return failure(400, NOT_EXTERNAL)
    first = actions[0]
    assert isinstance(first, dict)
    params = first.get("params", {})
    if params is None:  # const { params: {...} = {} } = actions[0]: only undefined takes the default
        return failure(400, _null_property("serviceTimeout", node))
    fields = params if isinstance(params, dict) else {}
    url = fields.get("serviceUrl")
    if not _truthy(url):
        return failure(400, INVALID_SERVICE_URL)
    token = _secret_token(state)
    if not _truthy(token):
        return failure(400, NO_SECRET_TOKEN)
    return plan_request(
        url=js_string(url),  # new URL(input) converts with String()
        timeout=fields.get("serviceTimeout", DEFAULT_SERVICE_TIMEOUT),
        token=token,
        body=_outbound_body(body.get("extraData"), "extraData" in body, body["token"]),
        trigger_id=trigger_id,
        fallback_message=fields.get("serviceFallbackMessage", DEFAULT_FALLBACK_MESSAGE),
        invalid_response_error=checks.profile.external_service.invalid_response_error,
        node=node,
    )


def _null_property(name: str, node: str) -> str:
    """V8's ``TypeError`` for reading ``name`` of ``null`` (inferred wording per Node version)."""
    if node == "node14":
        return f"Cannot read property '{name}' of null"
    return f"Cannot read properties of null (reading '{name}')"
