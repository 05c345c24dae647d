"""The flow Rocket.Chat's own API suite for triggers drives, against a real mock process started as a
user would start it (no ``--user``: the banner's test-mode admin logs in with its password).

Our own test of the same behaviour (no upstream code): log in, enable livechat through the settings
route, revoke the trigger permission from every role and see the next request refused, restore it,
create triggers through ``livechat:saveTrigger`` (6.13) or REST (8.3), read them back, refuse bad
bodies, and read an unknown id. Exact answers are checked elsewhere (test_mock_identity_http.py);
here the point is that a client needing only the server's own routes gets through end to end.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from spec.accounts import TEST_ADMIN_PASSWORD, TEST_ADMIN_USERNAME
from spec.headers import JSON_CONTENT_TYPE
from spec.methods import SAVE_TRIGGER_METHOD
from spec.permissions import ADMIN_ROLE, DEFAULT_ROLE_TABLE, MANAGE_TRIGGERS
from spec.routes import (
    LOGIN_PATH,
    PERMISSIONS_UPDATE_PATH,
    TRIGGERS_PATH,
    method_call_path,
    setting_path,
    trigger_path,
)
from spec.settings import LIVECHAT_ENABLED
from tests.mockserver import MockServer, running_mock

pytestmark = pytest.mark.http


class Client:
    """What the suite's helpers do: log in once, then send the two credential headers."""

    def __init__(self, server: MockServer) -> None:
        self.http = httpx.Client(base_url=server.base_url, timeout=30.0)
        answer = self.http.post(
            LOGIN_PATH, json={"user": TEST_ADMIN_USERNAME, "password": TEST_ADMIN_PASSWORD}
        )
        assert answer.status_code == 200 and answer.headers["content-type"] == JSON_CONTENT_TYPE
        data = answer.json()["data"]
        self.headers = {"X-User-Id": data["userId"], "X-Auth-Token": data["authToken"]}

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def call(self, method: str, path: str, body: Any = None, *, logged_in: bool = True) -> httpx.Response:
        headers = self.headers if logged_in else {}
        return self.http.request(method, path, json=body, headers=headers)

    def set_roles(self, roles: list[str]) -> None:
        body = {"permissions": [{"_id": MANAGE_TRIGGERS, "roles": roles}]}
        answer = self.call("POST", PERMISSIONS_UPDATE_PATH, body)
        assert answer.status_code == 200 and answer.headers["content-type"] == JSON_CONTENT_TYPE

    def create_through_method(self, name: str) -> None:
        trigger = {
            "name": name,
            "description": "created through the method",
            "enabled": True,
            "runOnce": False,
            "actions": [{"name": "send-message", "params": {"msg": "hi", "name": "Ana", "sender": "queue"}}],
            "conditions": [{"name": "word", "value": 7}],
        }
        message = {"method": SAVE_TRIGGER_METHOD, "params": [trigger], "id": "101", "msg": "method"}
        answer = self.call("POST", method_call_path(SAVE_TRIGGER_METHOD), {"message": json.dumps(message)})
        assert json.loads(answer.json()["message"]) == {"msg": "result", "id": "101", "result": True}


VALID = {
    "name": "rest trigger",
    "description": "d",
    "enabled": True,
    "runOnce": True,
    "conditions": [{"name": "page-url", "value": "http://localhost:3000"}],
    "actions": [{"name": "send-message", "params": {"sender": "custom", "msg": "test", "name": "test"}}],
}
REFUSED_BODIES: list[dict[str, Any]] = [
    {},
    {"name": "test"},
    {**VALID, "conditions": [1]},
    {**VALID, "actions": [{"name": "invalid"}]},
    {**VALID, "actions": [{"name": "send-message", "params": {"sender": "custom"}}]},
]


@contextmanager
def started(profile: str) -> Iterator[MockServer]:
    with running_mock("--profile", profile, "--quiet", default_users=False) as server:
        yield server


@pytest.mark.parametrize("profile", ["6.13", "8.3"])
def test_the_suites_flow_end_to_end(profile: str) -> None:
    with started(profile) as server, Client(server) as client:
        run_flow(client, with_method=profile == "6.13")


def run_flow(client: Client, *, with_method: bool) -> None:
    assert client.call("POST", setting_path(LIVECHAT_ENABLED), {"value": True}).status_code == 200

    client.set_roles([])
    refused = client.call("GET", TRIGGERS_PATH)
    assert refused.status_code == 403 and refused.headers["content-type"] == JSON_CONTENT_TYPE
    client.set_roles(list(DEFAULT_ROLE_TABLE[MANAGE_TRIGGERS]))
    if with_method:
        client.create_through_method("a method trigger")
    else:
        assert client.call("POST", TRIGGERS_PATH, {**VALID, "name": "a rest trigger"}).status_code == 200
    listed = client.call("GET", TRIGGERS_PATH).json()
    assert listed["success"] is True and listed["count"] > 0 and {"offset", "total"} <= set(listed)
    first = listed["triggers"][0]
    assert first["enabled"] is True and first["conditions"] and first["actions"]

    assert client.call("POST", TRIGGERS_PATH, {}, logged_in=False).status_code == 401
    for body in REFUSED_BODIES:
        assert client.call("POST", TRIGGERS_PATH, body).status_code == 400, body
    client.set_roles([])
    assert client.call("POST", TRIGGERS_PATH, VALID).status_code == 403
    client.set_roles(list(DEFAULT_ROLE_TABLE[MANAGE_TRIGGERS]))
    assert client.call("POST", TRIGGERS_PATH, VALID).status_code == 200

    client.set_roles([])
    assert client.call("GET", trigger_path("invalid-id")).status_code == 403
    client.set_roles([ADMIN_ROLE])
    unknown = client.call("GET", trigger_path("invalid-id"))
    assert unknown.status_code == 200 and unknown.json() == {"trigger": None, "success": True}
    name = "zz found by name"
    if with_method:
        client.create_through_method(name)
    else:
        assert client.call("POST", TRIGGERS_PATH, {**VALID, "name": name}).status_code == 200
    found = next(t for t in client.call("GET", TRIGGERS_PATH).json()["triggers"] if t["name"] == name)
    read = client.call("GET", trigger_path(found["_id"])).json()
    assert read["trigger"]["_id"] == found["_id"]


def test_the_method_is_gone_after_6_13() -> None:
    """On 7.0+ the suite's helper cannot create triggers: the envelope carries a 404 method error."""
    with started("8.3") as server, Client(server) as client:
        message = {"method": SAVE_TRIGGER_METHOD, "params": [{}], "id": "1", "msg": "method"}
        answer = client.call("POST", method_call_path(SAVE_TRIGGER_METHOD), {"message": json.dumps(message)})
    assert answer.status_code == 200
    assert json.loads(answer.json()["message"])["error"]["error"] == 404
