"""The mock process answers the widget's routes from its store: agents (CLI and control API), the
settings, the stored triggers; the banner names the default agent; Swagger lists the routes; and
``/websocket`` is refused at once (the mock has no realtime API)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from spec.permissions import BYPASS_RATE_LIMIT, EDIT_PRIVILEGED_SETTING, MANAGE_TRIGGERS
from spec.routes import (
    AGENT_NEXT_PATH,
    CONFIG_PATH,
    TRIGGERS_PATH,
    WEBSOCKET_PATH,
    agent_info_path,
    agent_next_path,
    setting_path,
)
from spec.widget import DEFAULT_AGENT_USERNAME
from tests.mockserver import MockServer, run_cli, running_mock

pytestmark = pytest.mark.http

USER = ("widget-tester", "widget-tester-token")
AGENTS = "/__mock__/agents"


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    permissions = ",".join(sorted({MANAGE_TRIGGERS, BYPASS_RATE_LIMIT, EDIT_PRIVILEGED_SETTING}))
    with running_mock("--quiet", "--user", f"{USER[0]}:{USER[1]}:{permissions}") as server:
        yield server


@pytest.fixture
def fresh(mock: MockServer) -> MockServer:
    assert httpx.post(mock.url("/__mock__/reset"), json={}, timeout=10).status_code == 200
    return mock


def auth() -> dict[str, str]:
    return {"X-User-Id": USER[0], "X-Auth-Token": USER[1]}


def config(mock: MockServer) -> Any:
    response = httpx.get(mock.url(CONFIG_PATH), params={"token": "visitor"}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["config"]


def test_the_banner_names_the_default_online_agent(mock: MockServer) -> None:
    assert f"agents:      {DEFAULT_AGENT_USERNAME} " in mock.banner
    assert "(online)" in mock.banner


def test_default_config_is_online_and_agent_next_names_the_default_agent(fresh: MockServer) -> None:
    assert config(fresh)["online"] is True
    response = httpx.get(fresh.url(agent_next_path("visitor")), params={"department": ""}, timeout=10)
    assert response.status_code == 200
    assert response.json()["agent"]["username"] == DEFAULT_AGENT_USERNAME


def test_a_saved_setting_changes_the_widget_title(fresh: MockServer) -> None:
    url = fresh.url(setting_path("Livechat_title"))
    assert httpx.post(url, json={"value": "Help desk"}, headers=auth(), timeout=10).status_code == 200
    assert config(fresh)["theme"]["title"] == "Help desk"
    httpx.post(fresh.url("/__mock__/reset"), json={}, timeout=10)
    assert config(fresh)["theme"]["title"] == "Rocket.Chat"  # reset restores the start-up settings


def test_the_config_lists_the_stored_enabled_triggers(fresh: MockServer) -> None:
    body = {
        "name": "welcome",
        "description": "",
        "enabled": True,
        "runOnce": True,
        "conditions": [{"name": "time-on-site", "value": "5"}],
        "actions": [{"name": "send-message", "params": {"sender": "queue", "msg": "Hi"}}],
    }
    with fresh.client() as client:
        for enabled in (True, False):
            assert client.post(TRIGGERS_PATH, json={**body, "enabled": enabled}, headers=auth()).is_success
        stored = client.get(TRIGGERS_PATH, headers=auth()).json()["triggers"]
    enabled_id = next(t["_id"] for t in stored if t["enabled"])
    assert config(fresh)["triggers"] == [
        {"_id": enabled_id, "actions": body["actions"], "conditions": body["conditions"], "runOnce": True}
    ]


def test_agents_are_configured_through_the_control_api(fresh: MockServer) -> None:
    listed = httpx.get(fresh.url(AGENTS), timeout=10).json()["agents"]
    assert [(a["username"], a["online"]) for a in listed] == [(DEFAULT_AGENT_USERNAME, True)]

    away = httpx.post(
        fresh.url(AGENTS), json={"username": DEFAULT_AGENT_USERNAME, "status": "offline"}, timeout=10
    )
    assert away.status_code == 200 and away.json()["agent"]["online"] is False
    assert config(fresh)["online"] is False
    refused = httpx.get(fresh.url(agent_next_path("visitor")), timeout=10)
    assert (refused.status_code, refused.json()) == (400, {"success": False, "error": "agent-not-found"})

    replaced = httpx.put(fresh.url(AGENTS), json={"agents": [{"username": "zoe", "name": "Zoe"}]}, timeout=10)
    assert [a["username"] for a in replaced.json()["agents"]] == ["zoe"]
    agent = httpx.get(fresh.url(agent_next_path("visitor")), timeout=10).json()["agent"]
    assert (agent["username"], agent["name"], agent["status"]) == ("zoe", "Zoe", "online")

    assert httpx.put(fresh.url(AGENTS), json={"agents": []}, timeout=10).json() == {"agents": []}
    assert config(fresh)["online"] is False

    httpx.post(fresh.url("/__mock__/reset"), json={}, timeout=10)
    assert [a["username"] for a in httpx.get(fresh.url(AGENTS), timeout=10).json()["agents"]] == [
        DEFAULT_AGENT_USERNAME
    ]


@pytest.mark.parametrize(
    "body",
    [{"username": "x", "colour": "red"}, {"username": "x", "status": "asleep"}, {"name": "no username"}, []],
)
def test_a_bad_agent_is_a_400_naming_the_problem(fresh: MockServer, body: Any) -> None:
    response = httpx.post(fresh.url(AGENTS), json=body, timeout=10)
    assert response.status_code == 400
    assert response.json()["error"]


def test_agent_info_answers_invalid_token(fresh: MockServer) -> None:
    response = httpx.get(fresh.url(agent_info_path("room", "visitor")), timeout=10)
    assert (response.status_code, response.content) == (400, b'{"success":false,"error":"invalid-token"}')


def test_the_websocket_upgrade_is_refused_at_once(fresh: MockServer) -> None:
    host, port = fresh.base_url.removeprefix("http://").rsplit(":", 1)
    request = (
        f"GET {WEBSOCKET_PATH} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(request.encode())
        status_line = connection.recv(4096).split(b"\r\n", 1)[0]
    assert not status_line.startswith(b"HTTP/1.1 101"), status_line
    assert status_line.split(b" ")[1] in (b"403", b"404"), status_line


def test_swagger_lists_the_widget_routes(fresh: MockServer) -> None:
    paths = httpx.get(fresh.url("/openapi.json"), timeout=10).json()["paths"]
    assert CONFIG_PATH in paths
    assert AGENT_NEXT_PATH + "/{token}" in paths


def test_cli_agents_and_their_errors() -> None:
    with running_mock("--quiet", "--agent", "ann", "--agent", "ben:away:not-available") as server:
        agents = httpx.get(server.url(AGENTS), timeout=10).json()["agents"]
        assert [(a["username"], a["status"], a["statusLivechat"], a["online"]) for a in agents] == [
            ("ann", "online", "available", True),
            ("ben", "away", "not-available", False),
        ]
    with running_mock("--quiet", "--no-agent") as server:
        assert config(server)["online"] is False
        assert "agents:      none" in server.banner
    failed = run_cli("--agent", "ann:sleeping")
    assert failed.returncode != 0 and "--agent 'ann:sleeping'" in failed.stderr
