"""The flow Rocket.Chat's own API suite for triggers drives (log in, enable livechat, revoke and restore
a permission between requests, create triggers through the Meteor method, read them back over REST),
replayed through the prediction for the 6.13 profile, the one that still has ``livechat:saveTrigger``."""

from __future__ import annotations

import json
from typing import Any

from spec.methods import SAVE_TRIGGER_METHOD
from spec.model import User, password_digest
from spec.permissions import MANAGE_TRIGGERS
from spec.routes import (
    LOGIN_PATH,
    PERMISSIONS_UPDATE_PATH,
    TRIGGERS_PATH,
    method_call_path,
    setting_path,
    trigger_path,
)
from spec.settings import LIVECHAT_ENABLED
from tests.identity_helpers import Server, fresh_state

NAME = "rocketchat.internal.admin.test"
UPSTREAM_ADMIN = User(
    "upstream-admin", "", username=NAME, password_sha256=password_digest(NAME), roles=("user", "admin")
)


def test_the_suite_flow_against_the_6_13_prediction() -> None:
    server = Server("6.13", fresh_state([UPSTREAM_ADMIN]), rate_limited=False)
    login = server.call("POST", LOGIN_PATH, {"user": NAME, "password": NAME}, user=None).answer
    assert login.status == 200
    data = login.json()["data"]
    me = User(data["userId"], data["authToken"])

    def call(method: str, path: str, body: Any = None, query: str = "") -> Any:
        answer = server.call(method, path, body, user=me, query=query).answer
        assert answer.header("content-type") == "application/json"
        return answer

    assert call("POST", setting_path(LIVECHAT_ENABLED), {"value": True}).status == 200

    def set_roles(roles: list[str]) -> None:
        body = {"permissions": [{"_id": MANAGE_TRIGGERS, "roles": roles}]}
        assert call("POST", PERMISSIONS_UPDATE_PATH, body).status == 200

    set_roles([])
    assert call("GET", TRIGGERS_PATH).status == 403
    set_roles(["livechat-manager", "livechat-monitor", "admin"])

    trigger = {
        "name": "zz flow trigger",
        "description": "created through the method",
        "enabled": True,
        "runOnce": True,
        "actions": [{"name": "send-message", "params": {"msg": "hi", "name": "Ana", "sender": "queue"}}],
        "conditions": [{"name": "word", "value": 3}],
    }
    message = {"method": SAVE_TRIGGER_METHOD, "params": [trigger], "id": "101", "msg": "method"}
    created = call("POST", method_call_path(SAVE_TRIGGER_METHOD), {"message": json.dumps(message)})
    assert json.loads(created.json()["message"]) == {"msg": "result", "id": "101", "result": True}

    listed = call("GET", TRIGGERS_PATH).json()
    assert listed["count"] > 0
    first = listed["triggers"][0]
    assert (first["name"], first["enabled"], first["conditions"]) == (
        trigger["name"],
        True,
        trigger["conditions"],
    )

    set_roles([])
    assert call("GET", trigger_path("invalid-id")).status == 403
    set_roles(["admin"])
    assert call("GET", trigger_path("invalid-id")).json() == {"trigger": None, "success": True}
    assert call("GET", trigger_path(first["_id"])).json()["trigger"]["_id"] == first["_id"]
    assert call("POST", TRIGGERS_PATH, {}).status == 400
    assert server.call("POST", TRIGGERS_PATH, {}, user=None).answer.status == 401
