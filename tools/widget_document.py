"""Write the widget-side routes into ``spec/documents/contract.openapi.json``.

    .venv/bin/python tools/widget_document.py          # rewrite their part of the contract document
    .venv/bin/python tools/widget_document.py --check  # exit 1 if the committed document differs

The routes are marked ``x-rc-around-feature`` like the identity routes: the conformance run and the
drift report walk the trigger operations only. The query schemas are the ones ``spec.widget``
validates with (rest-typings' ``GETLivechatConfigParams`` and ``isGETAgentNextToken``); the examples
are ``spec.predict``'s answers for a server with default settings and one online agent, so the
document cannot say something the mock does not answer (``tests/test_widget_document.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from spec.contract import CONTRACT_PATH
from spec.model import Request, State
from spec.predict import Environment, predict
from spec.profiles import get_profile
from spec.routes import AGENT_INFO_ROUTE, AGENT_NEXT_ROUTE, CONFIG_PATH, agent_info_path, agent_next_path
from spec.widget import AGENT_NEXT_QUERY_SCHEMA, CONFIG_QUERY_SCHEMA, default_agent

TARGET = CONTRACT_PATH
TAG = "Livechat widget"
TAG_DESCRIPTION = (
    "Around the feature: the unauthenticated routes the published livechat widget calls to fire "
    "triggers. The mock has no realtime API: `/websocket` (DDP) is refused, which the widget survives."
)
AROUND_THE_FEATURE = "x-rc-around-feature"


def _answer(path: str, query: str = "", state: State | None = None) -> Any:
    state = state if state is not None else State(users=(default_agent(),))
    outcome = predict(Request("GET", path, query), state, get_profile("8.3"), Environment(0, "0" * 24))
    return outcome.answer.json()


def _openapi_path(route: str) -> str:
    return "/".join("{" + part[1:] + "}" if part.startswith(":") else part for part in route.split("/"))


def _json(description: str, schema: dict[str, Any], examples: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/json": {
                "schema": schema,
                "examples": {name: {"value": value} for name, value in examples.items()},
            }
        },
    }


def _query_parameters(schema: dict[str, Any], descriptions: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "in": "query",
            "required": False,
            "schema": {"type": "string"},
            "description": descriptions[name],
        }
        for name in schema["properties"]
    ]


FAILURE = {
    "type": "object",
    "properties": {"success": {"type": "boolean", "enum": [False]}, "error": {"type": "string"}},
    "required": ["success", "error"],
}
TOO_MANY = {"$ref": "#/components/responses/WidgetTooManyRequests"}


def document() -> dict[str, Any]:
    limit = get_profile("8.3").rate_limit
    assert limit is not None
    config = _answer(CONFIG_PATH)
    disabled = _answer(CONFIG_PATH, state=State(settings={**State().settings, "Livechat_enabled": False}))
    agent = _answer(agent_next_path("visitor-token"), "department=")
    no_agent = _answer(agent_next_path("visitor-token"), state=State())
    bad_config = _answer(CONFIG_PATH, "foo=1")
    invalid_token = _answer(agent_info_path("room-id", "visitor-token"))
    config_description = (
        "What the livechat widget loads first. No log-in. Livechat off: `{config:{enabled:false}}` only. "
        "Otherwise `settings`, `theme`, `messages`, `survey`, the **enabled** triggers as "
        "`{_id, actions, conditions, runOnce}` (natural order), `departments`, `resources`, `online` (an "
        "active livechat agent is available and not offline, or `Livechat_accept_chats_with_no_agents`), "
        "and on an enterprise server `customFields`; with a known visitor token also `guest`, `room`, "
        "`agent` (the mock keeps no visitors). Every value comes from the settings "
        "(`POST /api/v1/settings/:_id`). The widget starts triggers only when `enabled` and `online`. "
        "6.13-7.4 refuse a bad query with `… [invalid-params]`, 7.5+ with the typed router's "
        "`error-invalid-params` (see spec/widget.py)."
    )
    return {
        "paths": {
            CONFIG_PATH: {
                "get": {
                    "operationId": "livechat_config",
                    AROUND_THE_FEATURE: True,
                    "tags": [TAG],
                    "security": [],
                    "summary": "The widget's public configuration (settings, triggers, online)",
                    "description": config_description,
                    "parameters": _query_parameters(
                        CONFIG_QUERY_SCHEMA,
                        {
                            "token": "The visitor's token (the widget generates one).",
                            "department": "A department id; does not narrow `online` (inferred).",
                            "businessUnit": "An enterprise business unit; filters `departments`.",
                        },
                    ),
                    "responses": {
                        "200": _json(
                            "The configuration.",
                            {"$ref": "#/components/schemas/LivechatConfig"},
                            {"Default settings, one agent online": config, "Livechat disabled": disabled},
                        ),
                        "400": _json(
                            "An unknown query parameter (8.3 wording).", FAILURE, {"Unknown": bad_config}
                        ),
                        "429": TOO_MANY,
                    },
                }
            },
            _openapi_path(AGENT_NEXT_ROUTE): {
                "get": {
                    "operationId": "livechat_agent_next",
                    AROUND_THE_FEATURE: True,
                    "tags": [TAG],
                    "security": [],
                    "summary": "The agent a `sender: queue` trigger speaks as",
                    "description": "No log-in; the token is not checked. Auto_Selection picks an online "
                    "agent (the mock: the first username); Manual_Selection, a department without "
                    "agents or no agent online answer 400 `agent-not-found`. With "
                    "`Livechat_show_agent_info` off the agent is `{hiddenInfo:true}`.",
                    "parameters": [
                        {"name": "token", "in": "path", "required": True, "schema": {"type": "string"}},
                        *_query_parameters(
                            AGENT_NEXT_QUERY_SCHEMA,
                            {"department": "A department id (the widget sends it empty)."},
                        ),
                    ],
                    "responses": {
                        "200": _json("The agent.", {"type": "object"}, {"An agent online": agent}),
                        "400": _json("No agent.", FAILURE, {"None online": no_agent}),
                        "429": TOO_MANY,
                    },
                }
            },
            _openapi_path(AGENT_INFO_ROUTE): {
                "get": {
                    "operationId": "livechat_agent_info",
                    AROUND_THE_FEATURE: True,
                    "tags": [TAG],
                    "security": [],
                    "summary": "The agent serving a visitor's room",
                    "description": "No log-in. Refusals in order: `invalid-token` (no such visitor), "
                    "`invalid-room`, `invalid-agent`. The mock keeps no visitors or rooms (the widget's "
                    "trigger path creates none), so it always answers `invalid-token`.",
                    "parameters": [
                        {"name": "rid", "in": "path", "required": True, "schema": {"type": "string"}},
                        {"name": "token", "in": "path", "required": True, "schema": {"type": "string"}},
                    ],
                    "responses": {
                        "200": _json("The agent.", {"type": "object"}, {}),
                        "400": _json(
                            "Unknown visitor, room or agent.", FAILURE, {"Unknown visitor": invalid_token}
                        ),
                        "429": TOO_MANY,
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "LivechatConfigQuery": CONFIG_QUERY_SCHEMA,
                "AgentNextQuery": AGENT_NEXT_QUERY_SCHEMA,
                "LivechatConfig": {
                    "type": "object",
                    "properties": {
                        "config": {"type": "object", "properties": {"enabled": {"type": "boolean"}}},
                        "success": {"type": "boolean", "enum": [True]},
                    },
                    "required": ["config", "success"],
                },
            },
            "responses": {
                "WidgetTooManyRequests": {
                    "description": f"The default REST limiter: {limit.calls} calls per "
                    f"{limit.window_ms // 1000} s per client address, route and method; without a user "
                    "nobody bypasses it (inferred).",
                    "content": {"application/json": {"schema": FAILURE}},
                }
            },
        },
    }


def merged(contract: dict[str, Any]) -> dict[str, Any]:
    """``contract`` with the widget part written in (in place of an older one: the same keys keep
    their position, so rewriting is idempotent)."""
    part = document()
    contract["paths"].update(part["paths"])
    tag = {"name": TAG, "description": TAG_DESCRIPTION}
    names = [existing["name"] for existing in contract["tags"]]
    if TAG in names:
        contract["tags"][names.index(TAG)] = tag
    else:
        contract["tags"].append(tag)
    for section, entries in part["components"].items():
        contract["components"].setdefault(section, {}).update(entries)
    return contract


def render() -> str:
    contract = json.loads(TARGET.read_text(encoding="utf-8"))
    return json.dumps(merged(contract), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed document differs")
    arguments = parser.parse_args(argv)
    text = render()
    if arguments.check:
        same = TARGET.exists() and TARGET.read_text(encoding="utf-8") == text
        print(f"{TARGET}: {'up to date' if same else 'differs; run tools/widget_document.py'}")
        return 0 if same else 1
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
