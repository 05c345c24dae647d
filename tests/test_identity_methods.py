"""POST /api/v1/method.call/livechat:saveTrigger: the DDP-over-REST envelope and the method's check()."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from spec.contract import validate_post_body
from spec.headers import JSON_HEADERS
from spec.methods import SAVE_TRIGGER_METHOD, check_trigger
from spec.model import InsertTrigger, UpdateTrigger
from spec.routes import TRIGGERS_PATH, method_call_path, trigger_path
from spec.triggers import iso_timestamp
from tests.identity_helpers import AGENT, ERAS, Server

PATH = method_call_path(SAVE_TRIGGER_METHOD)


def method_trigger(**changes: Any) -> dict[str, Any]:
    trigger: dict[str, Any] = {
        "name": "Greeting",
        "description": "A sentence",
        "enabled": True,
        "runOnce": False,
        "actions": [{"name": "send-message", "params": {"msg": "hi", "name": "Ana", "sender": "custom"}}],
        "conditions": [{"name": "word", "value": 7}],
    }
    trigger.update(changes)
    return trigger


def envelope(params: list[Any], *, call_id: Any = "101", method: str = SAVE_TRIGGER_METHOD) -> dict[str, str]:
    return {"message": json.dumps({"msg": "method", "id": call_id, "method": method, "params": params})}


def result_of(answer_body: dict[str, Any]) -> dict[str, Any]:
    assert list(answer_body) == ["message", "success"]
    assert answer_body["success"] is True
    parsed: dict[str, Any] = json.loads(answer_body["message"])
    return parsed


def test_save_trigger_stores_what_the_rest_validator_refuses() -> None:
    server = Server("6.13")
    trigger = method_trigger()
    assert not validate_post_body(trigger).valid
    outcome = server.call("POST", PATH, envelope([trigger]))
    assert outcome.answer.status == 200
    assert outcome.answer.headers == JSON_HEADERS
    assert outcome.answer.json() == {"message": '{"msg":"result","id":"101","result":true}', "success": True}
    new_id = f"{server.count:024x}"
    stored = {"_id": new_id, **trigger, "_updatedAt": iso_timestamp(server.clock)}
    assert outcome.changes == (InsertTrigger(stored),)
    fetched = server.call("GET", trigger_path(new_id)).answer.json()["trigger"]
    assert fetched == stored
    assert list(fetched) == list(stored)
    listed = server.call("GET", TRIGGERS_PATH).answer.json()["triggers"]
    assert [t["_id"] for t in listed] == [new_id]


def test_a_truthy_id_sets_the_whole_sent_object() -> None:
    server = Server("6.13")
    server.call("POST", PATH, envelope([method_trigger()]))
    trigger_id = f"{server.count:024x}"
    changed = method_trigger(_id=trigger_id, name="Renamed", actions=[])
    outcome = server.call("POST", PATH, envelope([changed]))
    assert result_of(outcome.answer.json())["result"] is True
    assert outcome.changes == (
        UpdateTrigger(trigger_id, {**changed, "_updatedAt": iso_timestamp(server.clock)}),
    )
    assert server.trigger(trigger_id) == {**changed, "_updatedAt": iso_timestamp(server.clock)}
    unknown = server.call("POST", PATH, envelope([method_trigger(_id="missing")]))
    assert result_of(unknown.answer.json())["result"] is True
    assert unknown.changes == ()


def test_a_null_id_is_stored_as_null_once() -> None:
    server = Server("6.13")
    first = server.call("POST", PATH, envelope([method_trigger(_id=None)]))
    (insert,) = first.changes
    assert isinstance(insert, InsertTrigger)
    assert insert.trigger["_id"] is None
    assert next(iter(insert.trigger)) == "_id"
    second = server.call("POST", PATH, envelope([method_trigger(_id=None)]))
    assert "error" in result_of(second.answer.json())
    assert second.changes == ()


@pytest.mark.parametrize(
    ("argument", "message", "path"),
    [
        (method_trigger(extra=1), "Match error: Unknown key in field extra", "extra"),
        (method_trigger(name=1), "Match error: Expected string, got number in field name", "name"),
        (
            method_trigger(enabled="true"),
            "Match error: Expected boolean, got string in field enabled",
            "enabled",
        ),
        (method_trigger(conditions={}), "Match error: Expected Array in field conditions", "conditions"),
        (
            method_trigger(_id=5),
            "Match error: Failed Match.OneOf, Match.Maybe or Match.Optional validation in field _id",
            "_id",
        ),
        ({"name": "only"}, "Match error: Missing key 'description'", ""),
        (None, "Match error: Expected object, got null", ""),
        ([], "Match error: Expected plain object", ""),
        ("trigger", "Match error: Expected object, got string", ""),
    ],
)
def test_check_errors_come_back_inside_a_200_envelope(argument: Any, message: str, path: str) -> None:
    outcome = Server("6.13").call("POST", PATH, envelope([argument]))
    assert outcome.answer.status == 200
    error = result_of(outcome.answer.json())["error"]
    assert error["message"] == message
    assert error["path"] == path
    assert error["errorType"] == "Match.Error"
    assert outcome.changes == ()


def test_an_empty_check_is_missing_the_argument() -> None:
    error = check_trigger({})
    assert error is not None
    assert error.fields["message"] == "Match error: Missing key 'name'"
    assert check_trigger(method_trigger()) is None
    assert check_trigger(method_trigger(_id="x", conditions=[], actions=[])) is None
    no_argument = Server("6.13").call("POST", PATH, envelope([])).answer.json()
    assert result_of(no_argument)["error"]["message"] == "Match error: Expected object, got undefined"


def test_without_the_permission_the_method_throws_not_allowed() -> None:
    outcome = Server("6.13").call("POST", PATH, envelope([method_trigger()]), user=AGENT)
    assert outcome.answer.status == 200
    error = result_of(outcome.answer.json())["error"]
    assert error["error"] == "error-not-allowed"
    assert error["message"] == "Not allowed [error-not-allowed]"
    assert error["details"] == {"method": SAVE_TRIGGER_METHOD}
    assert outcome.changes == ()


@pytest.mark.parametrize("era", ["7.4", "7.5", "8.3"])
def test_save_trigger_is_gone_from_7_0(era: str) -> None:
    outcome = Server(era).call("POST", PATH, envelope([method_trigger()]))
    assert outcome.answer.status == 200
    error = result_of(outcome.answer.json())["error"]
    assert error["reason"] == f"Method '{SAVE_TRIGGER_METHOD}' not found"
    assert error["error"] == 404
    assert outcome.changes == ()


def test_a_profile_can_keep_the_method() -> None:
    server = Server("8.3")
    server.profile = replace(server.profile, save_trigger_method=True)
    outcome = server.call("POST", PATH, envelope([method_trigger()]))
    assert result_of(outcome.answer.json())["result"] is True


def test_an_unknown_method_is_an_error_in_the_envelope() -> None:
    outcome = Server("6.13").call("POST", PATH, envelope([], method="nope"))
    assert result_of(outcome.answer.json())["error"]["reason"] == "Method 'nope' not found"


@pytest.mark.parametrize("era", ERAS)
def test_envelope_errors(era: str) -> None:
    server = Server(era)
    missing = server.call("POST", PATH, {}).answer
    assert (missing.status, missing.json()) == (
        400,
        {
            "success": False,
            "error": "must have required property 'message' [invalid-params]",
            "errorType": "invalid-params",
        },
    )
    not_a_call = server.call("POST", PATH, {"message": json.dumps({"msg": "method"})}).answer
    assert (not_a_call.status, not_a_call.json()) == (400, {"success": False, "error": "Invalid method call"})
    coerced = server.call("POST", PATH, envelope([method_trigger()], call_id=101)).answer
    assert result_of(coerced.json())["id"] == "101"
    bad_json = server.call("POST", PATH, {"message": "{oops"}).answer
    assert bad_json.status == 400
    assert bad_json.json()["error"].startswith("Unexpected token")
    assert server.call("POST", PATH, envelope([method_trigger()]), user=None).answer.status == 401


def test_method_call_is_not_rate_limited() -> None:
    server = Server("6.13")
    statuses = {
        server.call("POST", PATH, envelope([method_trigger()]), user=AGENT).answer.status for _ in range(15)
    }
    assert statuses == {200}
