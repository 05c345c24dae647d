"""Deliberately broken mock servers: each wraps ``spec.predict.predict`` and breaks one rule.

The conformance run must report every one of them as non-conformant (exit status 1); a mutant it
passes is a hole in the run's checks. Each mutant is a small predictor function named in ``MUTANTS``;
``tests.mutant_server`` serves one with the real mock (``mock_server.app.create_app(predictor=...)``).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode

from spec.contract import senders
from spec.external_service import INVALID_TRIGGER, NO_SECRET_TOKEN
from spec.headers import AUTH_TOKEN_HEADER, LIVECHAT_TOKEN_HEADER, USER_ID_HEADER
from spec.jsvalues import parse_json, stringify
from spec.model import (
    Answer,
    Change,
    DeleteTrigger,
    IdentityView,
    InsertTrigger,
    RateWindow,
    RemoveLoginToken,
    Request,
    SetPermissionRoles,
    StateView,
    Trigger,
    UpdateTrigger,
    User,
)
from spec.outbound import ExternalCall, render
from spec.permissions import DEFAULT_ROLE_TABLE, MANAGE_TRIGGERS
from spec.predict import Environment, Outcome, failure, json_answer, predict, validation_failure
from spec.profiles import INVALID_WEBHOOK_RESPONSE, Profile, Step
from spec.routes import CALL_EXTERNAL_SERVICE, EXTERNAL_SERVICE_OPERATIONS, TEST_EXTERNAL_SERVICE, match_route
from spec.settings import LIVECHAT_SECRET_TOKEN

Predictor = Callable[[Request, StateView, Profile, Environment], Outcome]


def _body(answer: Answer) -> Any:
    return parse_json(answer.body.decode())


def _with_body(outcome: Outcome, body: Any) -> Outcome:
    answer = dataclasses.replace(outcome.answer, body=stringify(body).encode())
    return dataclasses.replace(outcome, answer=answer)


def _with_headers(outcome: Outcome, headers: tuple[tuple[str, str], ...]) -> Outcome:
    return dataclasses.replace(outcome, answer=dataclasses.replace(outcome.answer, headers=headers))


def _json_request_body(request: Request) -> Any:
    try:
        return json.loads(request.body)
    except ValueError:
        return None


def _with_request_body(request: Request, body: Any) -> Request:
    return dataclasses.replace(request, body=json.dumps(body).encode())


def _with_query(
    request: Request, change: Callable[[list[tuple[str, str]]], list[tuple[str, str]]]
) -> Request:
    return dataclasses.replace(
        request, query=urlencode(change(parse_qsl(request.query, keep_blank_values=True)))
    )


def _error_rewritten(rewrite: Callable[[str], str]) -> Predictor:
    def mutant(request: Request, state: StateView, profile: Profile, env: Environment) -> Outcome:
        outcome = predict(request, state, profile, env)
        if outcome.answer.status != 400 or b"[invalid-params]" not in outcome.answer.body:
            return outcome
        body = _body(outcome.answer)
        return _with_body(outcome, {**body, "error": rewrite(body["error"])})

    return mutant


def wrong_message_join(request: Request, state: StateView, profile: Profile, env: Environment) -> Outcome:
    """ajv messages joined with ", " instead of a newline and a space."""
    return _error_rewritten(lambda error: error.replace("\n ", ", "))(request, state, profile, env)


def one_of_message_missing(request: Request, state: StateView, profile: Profile, env: Environment) -> Outcome:
    """The closing "must match exactly one schema in oneOf" is left out."""
    return _error_rewritten(lambda error: error.replace("\n must match exactly one schema in oneOf", ""))(
        request, state, profile, env
    )


def missing_coercion(request: Request, state: StateView, profile: Profile, env: Environment) -> Outcome:
    """Validation accepts coercible values, but the stored trigger keeps the values as sent."""
    outcome = predict(request, state, profile, env)
    sent = _json_request_body(request)
    if not isinstance(sent, dict):
        return outcome
    changes: list[Change] = []
    for change in outcome.changes:
        if isinstance(change, InsertTrigger):
            raw = {
                key: sent.get(key, value) for key, value in change.trigger.items() if not key.startswith("_")
            }
            changes.append(InsertTrigger({**change.trigger, **raw}))
        elif isinstance(change, UpdateTrigger):
            changes.append(
                UpdateTrigger(change.trigger_id, {k: sent.get(k, v) for k, v in change.fields.items()})
            )
        else:
            changes.append(change)
    return dataclasses.replace(outcome, changes=tuple(changes))


def permission_after_validation(
    request: Request, state: StateView, profile: Profile, env: Environment
) -> Outcome:
    """8.3 checks permission before validation; this one validates first (the 7.5 order on 8.3)."""
    order: tuple[Step, ...] = ("authentication", "rate-limit", "validation", "permission")
    return predict(request, state, dataclasses.replace(profile, check_order=order), env)


def authentication_after_validation(
    request: Request, state: StateView, profile: Profile, env: Environment
) -> Outcome:
    """Invalid bodies are rejected (400) before the credentials are looked at."""
    order: tuple[Step, ...] = ("validation", "authentication", "permission", "rate-limit")
    return predict(request, state, dataclasses.replace(profile, check_order=order), env)


def extra_keys_accepted(request: Request, state: StateView, profile: Profile, env: Environment) -> Outcome:
    """``additionalProperties: false`` is not enforced: unknown keys are dropped, the rest is saved."""
    outcome = predict(request, state, profile, env)
    if b"must NOT have additional properties" not in outcome.answer.body:
        return outcome
    sent = _json_request_body(request)
    if not isinstance(sent, dict):
        return outcome
    known = {"name", "description", "enabled", "runOnce", "conditions", "actions", "_id"}
    return predict(
        _with_request_body(request, {k: v for k, v in sent.items() if k in known}), state, profile, env
    )


def legacy_401_body(request: Request, state: StateView, profile: Profile, env: Environment) -> Outcome:
    """The 6.13-7.3 401 body (no ``success``/``error``) on a newer profile."""
    outcome = predict(request, state, profile, env)
    if outcome.answer.status != 401:
        return outcome
    return _with_body(outcome, {"status": "error", "message": "You must be logged in to do this."})


def upsert_on_unknown_id(request: Request, state: StateView, profile: Profile, env: Environment) -> Outcome:
    """An update of an unknown id inserts a new trigger instead of doing nothing."""
    outcome = predict(request, state, profile, env)
    sent = _json_request_body(request)
    if outcome.operation != "save_trigger" or outcome.answer.status != 200 or outcome.changes:
        return outcome
    if not isinstance(sent, dict) or not sent.get("_id"):
        return outcome
    return predict(
        _with_request_body(request, {k: v for k, v in sent.items() if k != "_id"}), state, profile, env
    )


def update_ignored(request: Request, state: StateView, profile: Profile, env: Environment) -> Outcome:
    """An update of an existing trigger answers success but stores nothing."""
    outcome = predict(request, state, profile, env)
    return dataclasses.replace(
        outcome, changes=tuple(c for c in outcome.changes if not isinstance(c, UpdateTrigger))
    )


def delete_ignored(request: Request, state: StateView, profile: Profile, env: Environment) -> Outcome:
    """DELETE answers success but the trigger stays."""
    outcome = predict(request, state, profile, env)
    if outcome.operation == "delete_trigger":
        return dataclasses.replace(outcome, changes=())
    return outcome


def list_without_total(request: Request, state: StateView, profile: Profile, env: Environment) -> Outcome:
    """The list answer leaves out ``total``."""
    outcome = predict(request, state, profile, env)
    if outcome.operation != "list_triggers" or outcome.answer.status != 200:
        return outcome
    return _with_body(outcome, {k: v for k, v in _body(outcome.answer).items() if k != "total"})


def wrong_count_clamp(request: Request, state: StateView, profile: Profile, env: Environment) -> Outcome:
    """``count`` is clamped to 50 instead of 100."""
    if request.method != "GET" or "count=" not in request.query:
        return predict(request, state, profile, env)

    def clamp(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [(k, "50" if k == "count" and v.isdigit() and int(v) > 50 else v) for k, v in pairs]

    return predict(_with_query(request, clamp), state, profile, env)


def sort_ignored(request: Request, state: StateView, profile: Profile, env: Environment) -> Outcome:
    """A valid ``sort`` is ignored: the list is always by name, ascending."""
    outcome = predict(request, state, profile, env)
    if outcome.operation != "list_triggers" or outcome.answer.status != 200:
        return outcome
    return predict(
        _with_query(request, lambda pairs: [p for p in pairs if p[0] != "sort"]), state, profile, env
    )


def disabled_triggers_hidden(
    request: Request, state: StateView, profile: Profile, env: Environment
) -> Outcome:
    """The list shows enabled triggers only (as the public config does)."""
    outcome = predict(request, state, profile, env)
    if outcome.operation != "list_triggers":
        return outcome
    return predict(request, _EnabledOnly(state), profile, env)


@dataclasses.dataclass(frozen=True)
class _EnabledOnly:
    """A view of the store that hides disabled triggers from listing."""

    state: StateView

    def find_user(self, user_id: str) -> User | None:
        return self.state.find_user(user_id)

    def all_triggers(self) -> Sequence[Trigger]:
        return [t for t in self.state.all_triggers() if t.get("enabled") is True]

    def find_trigger(self, trigger_id: str) -> Trigger | None:
        return self.state.find_trigger(trigger_id)

    def rate_window(self, key: str) -> RateWindow | None:
        return self.state.rate_window(key)


def success_key_first(request: Request, state: StateView, profile: Profile, env: Environment) -> Outcome:
    """``success`` comes first in success bodies instead of last."""
    outcome = predict(request, state, profile, env)
    if outcome.answer.status != 200:
        return outcome
    body = _body(outcome.answer)
    return _with_body(outcome, {"success": body.pop("success"), **body})


def not_found_for_unknown_id(
    request: Request, state: StateView, profile: Profile, env: Environment
) -> Outcome:
    """GET of an unknown id answers 404 instead of ``{"trigger":null,"success":true}``."""
    outcome = predict(request, state, profile, env)
    if outcome.operation == "get_trigger" and outcome.answer.body == b'{"trigger":null,"success":true}':
        answer = dataclasses.replace(
            outcome.answer, status=404, body=b'{"success":false,"error":"Not found"}'
        )
        return dataclasses.replace(outcome, answer=answer)
    return outcome


def wrong_content_type(request: Request, state: StateView, profile: Profile, env: Environment) -> Outcome:
    """JSON answers say ``application/json; charset=utf-8``."""
    outcome = predict(request, state, profile, env)
    headers = tuple(
        (
            k,
            "application/json; charset=utf-8"
            if k.lower() == "content-type" and v == "application/json"
            else v,
        )
        for k, v in outcome.answer.headers
    )
    return _with_headers(outcome, headers)


def no_cache_headers(request: Request, state: StateView, profile: Profile, env: Environment) -> Outcome:
    """No ``cache-control``/``pragma`` headers."""
    outcome = predict(request, state, profile, env)
    headers = tuple((k, v) for k, v in outcome.answer.headers if k.lower() not in ("cache-control", "pragma"))
    return _with_headers(outcome, headers)


def router_headers_on_middleware_answers(
    request: Request, state: StateView, profile: Profile, env: Environment
) -> Outcome:
    """The 401 and 403 of 8.3's middlewares carry the router's ``cache-control``/``pragma``."""
    return predict(request, state, dataclasses.replace(profile, middleware_steps=frozenset()), env)


def permission_before_validation(
    request: Request, state: StateView, profile: Profile, env: Environment
) -> Outcome:
    """Served as 7.5 (``--profile 7.5``): permission is checked before validation, as 8.3 does."""
    order: tuple[Step, ...] = ("authentication", "permission", "rate-limit", "validation")
    return predict(request, state, dataclasses.replace(profile, check_order=order), env)


def token_ignored(request: Request, state: StateView, profile: Profile, env: Environment) -> Outcome:
    """Any token logs in a known user: only the user id is looked up."""
    user = state.find_user(request.header(USER_ID_HEADER) or "")
    if user is None or not request.header(AUTH_TOKEN_HEADER):
        return predict(request, state, profile, env)
    headers = tuple((k, v) for k, v in request.headers if k.lower() != AUTH_TOKEN_HEADER.lower())
    honest = dataclasses.replace(request, headers=(*headers, (AUTH_TOKEN_HEADER, user.token)))
    return predict(honest, state, profile, env)


def no_permission_check(request: Request, state: StateView, profile: Profile, env: Environment) -> Outcome:
    """Every logged-in user may manage triggers."""
    steps = tuple(step for step in profile.check_order if step != "permission")
    return predict(request, state, dataclasses.replace(profile, check_order=steps), env)


def list_query_not_coerced(request: Request, state: StateView, profile: Profile, env: Environment) -> Outcome:
    """The list query is validated without coercion: ``count=1`` (a string) is not a number."""
    outcome = predict(request, state, profile, env)
    if outcome.operation != "list_triggers" or outcome.answer.status != 200:
        return outcome
    for key, _ in parse_qsl(request.query, keep_blank_values=True):
        if key in ("count", "offset"):
            answer = validation_failure(f"must have {key} of type number")
            return dataclasses.replace(outcome, answer=answer, changes=())
    return outcome


def sender_enum_ignored(request: Request, state: StateView, profile: Profile, env: Environment) -> Outcome:
    """An action's ``params.sender`` outside its enum is accepted (and stored as a known sender)."""
    sent = _json_request_body(request)
    if not isinstance(sent, dict) or not isinstance(sent.get("actions"), list):
        return predict(request, state, profile, env)
    allowed = senders()
    actions = [
        {**action, "params": {**action["params"], "sender": allowed[-1]}}
        if isinstance(action, dict)
        and isinstance(action.get("params"), dict)
        and isinstance(action["params"].get("sender"), str)
        and action["params"]["sender"] not in allowed
        else action
        for action in sent["actions"]
    ]
    return predict(_with_request_body(request, {**sent, "actions": actions}), state, profile, env)


HANG_ABOVE = 30
"""``hangs_when_many_stored`` stops answering once more than this many triggers are stored."""
HANG_SECONDS = 20.0


def hangs_when_many_stored(request: Request, state: StateView, profile: Profile, env: Environment) -> Outcome:
    """Answers nothing for a long time once more than 30 triggers are stored (a target that hangs
    mid-run). Not in ``MUTANTS``: it tests the run's transport handling, not its checks."""
    if len(state.all_triggers()) > HANG_ABOVE:
        time.sleep(HANG_SECONDS)  # blocks the mock's event loop: every request hangs meanwhile
    return predict(request, state, profile, env)


FAIL_ABOVE = 50
"""``server_errors_when_many_stored`` answers 500 to everything once more than this many are stored."""


def server_errors_when_many_stored(
    request: Request, state: StateView, profile: Profile, env: Environment
) -> Outcome:
    """A target that breaks mid-run: every answer a 500 once more than 50 triggers are stored, the
    cleanup's DELETEs and listings too. Not in ``MUTANTS``: it tests the cleanup's account."""
    outcome = predict(request, state, profile, env)
    if len(state.all_triggers()) <= FAIL_ABOVE:
        return outcome
    answer = dataclasses.replace(outcome.answer, status=500, body=b'{"success":false,"error":"Internal"}')
    return dataclasses.replace(outcome, answer=answer, changes=())


LEAK_ABOVE = 100
"""``delete_leaks_when_many_stored`` keeps triggers once more than this many are stored."""


def delete_leaks_when_many_stored(
    request: Request, state: StateView, profile: Profile, env: Environment
) -> Outcome:
    """DELETE answers success but keeps the trigger while more than 100 are stored (a run's cleanup)."""
    outcome = predict(request, state, profile, env)
    if outcome.operation == "delete_trigger" and len(state.all_triggers()) > LEAK_ABOVE:
        return dataclasses.replace(
            outcome, changes=tuple(c for c in outcome.changes if not isinstance(c, DeleteTrigger))
        )
    return outcome


def malformed_json_is_500(request: Request, state: StateView, profile: Profile, env: Environment) -> Outcome:
    """A body that is not JSON crashes the handler (500) instead of being read as ``{}``."""
    outcome = predict(request, state, profile, env)
    if (
        outcome.operation != "save_trigger"
        or b"must have required property 'name'" not in outcome.answer.body
    ):
        return outcome
    if _json_request_body(request) is not None or not request.body:
        return outcome
    answer = dataclasses.replace(
        outcome.answer, status=500, body=b'{"success":false,"error":"Internal error"}'
    )
    return dataclasses.replace(outcome, answer=answer)


# -- the external-service routes and the log-in flow (issue 12) ------------------------------------


class _View:
    """A store view with one method changed; everything else is the store's (an ``IdentityView`` too)."""

    def __init__(self, view: StateView, **changed: Any) -> None:
        self._view = view
        self.__dict__.update(changed)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._view, name)


def _operation(request: Request) -> str | None:
    route = match_route(request.method.upper(), request.path)
    return route.operation if route is not None else None


def external_call_requires_login(
    request: Request, state: StateView, profile: Profile, env: Environment
) -> Outcome:
    """The call route (``authRequired: false``) wants credentials, as the test route does."""
    if _operation(request) == CALL_EXTERNAL_SERVICE and not request.header(AUTH_TOKEN_HEADER):
        return Outcome(json_answer(401, profile.unauthorized_body), operation=CALL_EXTERNAL_SERVICE)
    return predict(request, state, profile, env)


def external_test_without_permission(
    request: Request, state: StateView, profile: Profile, env: Environment
) -> Outcome:
    """The test route lets any logged-in user call a webhook (no ``view-livechat-manager`` check)."""
    if _operation(request) != TEST_EXTERNAL_SERVICE:
        return predict(request, state, profile, env)

    def find_user(user_id: str) -> User | None:
        user = state.find_user(user_id)
        return (
            None
            if user is None
            else dataclasses.replace(user, permissions=user.permissions | {MANAGE_TRIGGERS})
        )

    return predict(request, _View(state, find_user=find_user), profile, env)


def secret_token_not_required(
    request: Request, state: StateView, profile: Profile, env: Environment
) -> Outcome:
    """An empty ``Livechat_secret_token`` does not stop the call: the webhook gets an empty header."""
    if _operation(request) not in EXTERNAL_SERVICE_OPERATIONS or not isinstance(state, IdentityView):
        return predict(request, state, profile, env)
    _, token = state.setting_value(LIVECHAT_SECRET_TOKEN)
    if token:
        return predict(request, state, profile, env)
    stand_in = "mutant: no token"

    def setting_value(setting_id: str) -> tuple[bool, Any]:
        return (True, stand_in) if setting_id == LIVECHAT_SECRET_TOKEN else state.setting_value(setting_id)

    outcome = predict(request, _View(state, setting_value=setting_value), profile, env)
    call = outcome.external
    if call is None or call.request is None:
        return outcome
    headers = tuple((k, "" if v == stand_in else v) for k, v in call.request.headers)
    return _with_call(
        outcome, dataclasses.replace(call, request=dataclasses.replace(call.request, headers=headers))
    )


def external_token_checked_before_trigger(
    request: Request, state: StateView, profile: Profile, env: Environment
) -> Outcome:
    """The call route checks the secret token before it looks the trigger up."""
    outcome = predict(request, state, profile, env)
    if outcome.operation != CALL_EXTERNAL_SERVICE or not isinstance(state, IdentityView):
        return outcome
    _, token = state.setting_value(LIVECHAT_SECRET_TOKEN)
    if token or _body(outcome.answer) != {"success": False, "error": INVALID_TRIGGER}:
        return outcome
    return dataclasses.replace(outcome, answer=failure(400, NO_SECRET_TOKEN))


def _with_call(outcome: Outcome, call: ExternalCall) -> Outcome:
    return dataclasses.replace(outcome, external=call, answer=render(call, call.unreachable()))


def _planned(change: Callable[[ExternalCall], ExternalCall]) -> Predictor:
    def mutant(request: Request, state: StateView, profile: Profile, env: Environment) -> Outcome:
        outcome = predict(request, state, profile, env)
        if outcome.external is None or outcome.external.request is None:
            return outcome
        return _with_call(outcome, change(outcome.external))

    return mutant


def _request_changed(call: ExternalCall, **changes: Any) -> ExternalCall:
    assert call.request is not None
    return dataclasses.replace(call, request=dataclasses.replace(call.request, **changes))


webhook_invalid_response_renamed = _planned(
    lambda call: dataclasses.replace(call, invalid_response_error=INVALID_WEBHOOK_RESPONSE)
)
webhook_invalid_response_renamed.__name__ = "webhook_invalid_response_renamed"
webhook_invalid_response_renamed.__doc__ = "The unusable-answer error is named as the unreleased variant did."
webhook_timeout_ignored = _planned(
    lambda call: _request_changed(call, timeout_ms=60_000.0) if call.request else call
)
webhook_timeout_ignored.__name__ = "webhook_timeout_ignored"
webhook_timeout_ignored.__doc__ = (
    "The request's timeout is not applied: a slow webhook is waited for a minute."
)
webhook_secret_header_missing = _planned(
    lambda call: (
        _request_changed(
            call, headers=tuple(h for h in call.request.headers if h[0] != LIVECHAT_TOKEN_HEADER)
        )
        if call.request
        else call
    )
)
webhook_secret_header_missing.__name__ = "webhook_secret_header_missing"
webhook_secret_header_missing.__doc__ = f"The webhook call lacks {LIVECHAT_TOKEN_HEADER}."


def _metadata_always(call: ExternalCall) -> ExternalCall:
    assert call.request is not None
    body = json.loads(call.request.body)
    return _request_changed(call, body=stringify({"metadata": body.get("metadata"), **body}).encode())


webhook_metadata_always_sent = _planned(_metadata_always)
webhook_metadata_always_sent.__name__ = "webhook_metadata_always_sent"
webhook_metadata_always_sent.__doc__ = "The webhook body has ``metadata: null`` when no extraData was sent."


def logout_keeps_token(request: Request, state: StateView, profile: Profile, env: Environment) -> Outcome:
    """Log-out answers success but the token keeps working."""
    outcome = predict(request, state, profile, env)
    if outcome.operation != "logout":
        return outcome
    kept = tuple(change for change in outcome.changes if not isinstance(change, RemoveLoginToken))
    return dataclasses.replace(outcome, changes=kept)


def revocation_ignored(request: Request, state: StateView, profile: Profile, env: Environment) -> Outcome:
    """Permissions are read from the default role table: ``permissions.update`` changes nothing that
    the trigger routes see."""
    if not isinstance(state, IdentityView):
        return predict(request, state, profile, env)
    view = _View(state, permission_roles=DEFAULT_ROLE_TABLE.get)
    return predict(request, view, profile, env)


def restore_refused(request: Request, state: StateView, profile: Profile, env: Environment) -> Outcome:
    """``permissions.update`` takes roles away but refuses to give them back (a run must say so loudly)."""
    outcome = predict(request, state, profile, env)
    if outcome.operation != "update_permissions" or not any(
        isinstance(change, SetPermissionRoles) and change.roles for change in outcome.changes
    ):
        return outcome
    return Outcome(failure(400, "Invalid role", "error-invalid-role"), operation=outcome.operation)


MUTANTS: dict[str, Predictor] = {
    name.replace("_", "-"): function
    for name, function in {
        "wrong_message_join": wrong_message_join,
        "one_of_message_missing": one_of_message_missing,
        "missing_coercion": missing_coercion,
        "permission_after_validation": permission_after_validation,
        "authentication_after_validation": authentication_after_validation,
        "extra_keys_accepted": extra_keys_accepted,
        "legacy_401_body": legacy_401_body,
        "upsert_on_unknown_id": upsert_on_unknown_id,
        "update_ignored": update_ignored,
        "delete_ignored": delete_ignored,
        "list_without_total": list_without_total,
        "wrong_count_clamp": wrong_count_clamp,
        "sort_ignored": sort_ignored,
        "disabled_triggers_hidden": disabled_triggers_hidden,
        "success_key_first": success_key_first,
        "not_found_for_unknown_id": not_found_for_unknown_id,
        "wrong_content_type": wrong_content_type,
        "no_cache_headers": no_cache_headers,
        "malformed_json_is_500": malformed_json_is_500,
        "router_headers_on_middleware_answers": router_headers_on_middleware_answers,
        "permission_before_validation": permission_before_validation,
        "token_ignored": token_ignored,
        "no_permission_check": no_permission_check,
        "list_query_not_coerced": list_query_not_coerced,
        "delete_leaks_when_many_stored": delete_leaks_when_many_stored,
        "sender_enum_ignored": sender_enum_ignored,
        "external_call_requires_login": external_call_requires_login,
        "external_test_without_permission": external_test_without_permission,
        "secret_token_not_required": secret_token_not_required,
        "external_token_checked_before_trigger": external_token_checked_before_trigger,
    }.items()
}
"""Every broken variant, by the name ``tests.mutant_server --mutant`` takes."""

WEBHOOK_MUTANTS: dict[str, Predictor] = {
    function.__name__.replace("_", "-"): function
    for function in (
        webhook_invalid_response_renamed,
        webhook_timeout_ignored,
        webhook_secret_header_missing,
        webhook_metadata_always_sent,
        logout_keeps_token,
        revocation_ignored,
    )
}
"""Broken rules only a run with an account (``--login-user``), a secret token and
``--allow-shared-changes`` reaches: tests/test_conformance_identity.py runs them so."""

MOCK_PROFILE: dict[str, str] = {"permission-before-validation": "7.5"}
"""The ``--profile`` a mutant's mock runs (8.3 unless named here)."""
