"""``POST /api/v1/method.call/:method``: a Meteor method called over REST, and the one method this
feature has, ``livechat:saveTrigger``.

The route validates ``{message: string}``, parses ``message`` as a DDP ``method`` message and answers
HTTP 200 with the DDP ``result`` message as a JSON string, whether the method returned or threw.
``livechat:saveTrigger`` checks its argument with Meteor's ``check()`` (exact types, no coercion, no
unknown keys, any arrays) rather than the REST schema, so it stores triggers that
``POST /api/v1/livechat/triggers`` would refuse, and stores them as sent. Sources and inferences:
docs/source-notes/identity-model.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spec.ajv import compile_schema
from spec.identity import Handled
from spec.jsvalues import JsonSyntaxError, json_parse_message, parse_json, stringify
from spec.model import Answer, IdentityView, InsertTrigger, JsonValue, StateView, Trigger, UpdateTrigger, User
from spec.permissions import MANAGE_TRIGGERS, holds
from spec.predict import _Checks, failure, success, validation_failure
from spec.profiles import Profile
from spec.triggers import iso_timestamp

SAVE_TRIGGER_METHOD = "livechat:saveTrigger"
INVALID_METHOD_CALL = "Invalid method call"

_ENVELOPE = compile_schema(
    {
        "type": "object",
        "properties": {"message": {"type": "string"}},
        "required": ["message"],
        "additionalProperties": False,
    },
    coerce=True,
)
_METHOD_MESSAGE = compile_schema(
    {
        "type": "object",
        "properties": {
            "method": {"type": "string"},
            "params": {"type": "array"},
            "id": {"type": "string"},
            "msg": {"type": "string", "enum": ["method"]},
        },
        "required": ["method", "params", "id", "msg"],
        "additionalProperties": False,
    },
    coerce=True,
)


def validate_method_call(checks: _Checks) -> Answer | None:
    """``isMeteorCall``, the route's ``validateParams``."""
    outcome = _ENVELOPE.validate(checks.body)
    if not outcome.valid:
        return validation_failure(outcome.message)
    checks.validated = outcome.data
    return None


def json_parse_error(text: str, profile: Profile) -> str:
    """What ``JSON.parse`` says about ``text`` (inferred: only the first offending character)."""
    return json_parse_message(text, profile.json_errors)


@dataclass(frozen=True)
class MethodError:
    """What a method threw, as EJSON serialises it inside the ``result`` message."""

    fields: dict[str, JsonValue]


def meteor_error(error: JsonValue, reason: str, details: JsonValue = None) -> MethodError:
    fields: dict[str, JsonValue] = {"isClientSafe": True, "error": error, "reason": reason}
    if details is not None:
        fields["details"] = details
    code = error if isinstance(error, str) else stringify(error)
    fields["message"] = f"{reason} [{code}]"
    fields["errorType"] = "Meteor.Error"
    return MethodError(fields)


def match_error(message: str, path: str) -> MethodError:
    sanitized = meteor_error(400.0, "Match failed").fields
    text = f"Match error: {message}" + (f" in field {path}" if path else "")
    return MethodError(
        {"message": text, "path": path, "sanitizedError": sanitized, "errorType": "Match.Error"}
    )


def method_call(checks: _Checks, state: IdentityView) -> Handled:
    validated = checks.validated
    assert isinstance(validated, dict)
    text = validated["message"]
    assert isinstance(text, str)
    try:
        message = parse_json(text)
    except JsonSyntaxError:
        return failure(400, json_parse_error(text, checks.profile)), ()
    outcome = _METHOD_MESSAGE.validate(message)
    if not outcome.valid:
        return failure(400, INVALID_METHOD_CALL), ()
    call = outcome.data
    assert isinstance(call, dict)
    call_id, name, params = call["id"], call["method"], call["params"]
    assert isinstance(name, str) and isinstance(params, list)
    assert checks.user is not None
    if name == SAVE_TRIGGER_METHOD and checks.profile.save_trigger_method:
        argument = params[0] if params else _MISSING
        result, changes = save_trigger(
            checks.user, argument, state, checks.env.now_ms, checks.env.new_trigger_id
        )
    else:
        result, changes = meteor_error(404.0, f"Method '{name}' not found"), ()
    envelope: dict[str, JsonValue] = {"msg": "result", "id": call_id}
    if isinstance(result, MethodError):
        envelope["error"] = result.fields
    else:
        envelope["result"] = result
    inferred = ("method-errors",) if isinstance(result, MethodError) else ()
    return success({"message": stringify(envelope)}, inferred=inferred), changes


_MISSING: Any = object()
"""``undefined``: the method was called without an argument."""

_TRIGGER_PATTERN: tuple[tuple[str, str], ...] = (
    ("_id", "maybe-string"),
    ("name", "string"),
    ("description", "string"),
    ("enabled", "boolean"),
    ("runOnce", "boolean"),
    ("conditions", "array"),
    ("actions", "array"),
)
"""saveTrigger's ``check()`` pattern: ``_id`` is ``Match.Maybe(String)``, the rest are required."""


def _js_typeof(value: Any) -> str:
    if value is _MISSING:
        return "undefined"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "object"


def _check_field(value: JsonValue, kind: str) -> str | None:
    if kind == "maybe-string":
        if value is None or isinstance(value, str):
            return None
        return "Failed Match.OneOf, Match.Maybe or Match.Optional validation"
    if kind == "array":
        return None if isinstance(value, list) else "Expected Array"
    wanted = {"string": str, "boolean": bool}[kind]
    if isinstance(value, wanted):
        return None
    return f"Expected {kind}, got {_js_typeof(value)}"


def check_trigger(value: Any) -> MethodError | None:
    """Meteor's ``check(trigger, pattern)``: the value's own keys in order, then the missing ones."""
    if isinstance(value, list):
        return match_error("Expected plain object", "")
    if not isinstance(value, dict):
        return match_error(f"Expected object, got {_js_typeof(value)}", "")
    pattern = dict(_TRIGGER_PATTERN)
    required = [key for key, kind in _TRIGGER_PATTERN if kind != "maybe-string"]
    for key, item in value.items():
        if key not in pattern:
            return match_error("Unknown key", key)
        problem = _check_field(item, pattern[key])
        if problem is not None:
            return match_error(problem, key)
        if key in required:
            required.remove(key)
    if required:
        return match_error(f"Missing key '{required[0]}'", "")
    return None


def save_trigger(
    user: User, trigger: Any, state: StateView, now_ms: int, new_id: str
) -> tuple[JsonValue | MethodError, tuple[InsertTrigger | UpdateTrigger, ...]]:
    """``livechat:saveTrigger``: permission, ``check()``, then insert or update the sent object."""
    if not holds(user, MANAGE_TRIGGERS, state):
        return meteor_error("error-not-allowed", "Not allowed", {"method": SAVE_TRIGGER_METHOD}), ()
    problem = check_trigger(trigger)
    if problem is not None:
        return problem, ()
    assert isinstance(trigger, dict)
    updated_at = iso_timestamp(now_ms)
    trigger_id = trigger.get("_id")
    if trigger_id:  # a truthy id: $set of the whole sent object; an unknown id changes nothing
        assert isinstance(trigger_id, str)
        if state.find_trigger(trigger_id) is None:
            return True, ()
        return True, (UpdateTrigger(trigger_id, {**trigger, "_updatedAt": updated_at}),)
    # insertOne puts a new id in front and then the sent keys, so a sent null or "" id wins.
    stored: Trigger = {"_id": new_id, **trigger, "_updatedAt": updated_at}
    if "_id" in trigger and any(_same_id(t.get("_id"), trigger["_id"]) for t in state.all_triggers()):
        # The unique _id index refuses a second null/"" id; the driver's error shape is not modelled.
        return MethodError({"code": 11000.0}), ()
    return True, (InsertTrigger(stored),)


def _same_id(stored: JsonValue, sent: JsonValue) -> bool:
    return type(stored) is type(sent) and stored == sent
