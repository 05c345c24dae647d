"""The paths the server routes for this feature and how a request is matched to an operation."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote

API_ROOT = "/api"
API_V1 = API_ROOT + "/v1"
LIVECHAT_PREFIX = API_V1 + "/livechat/"
TRIGGERS_PATH = API_V1 + "/livechat/triggers"
TRIGGER_PATH = TRIGGERS_PATH + "/:_id"
"""The route pattern of one trigger, as the rate limiter keys it."""
CONFIG_PATH = API_V1 + "/livechat/config"
EXTERNAL_SERVICE_TEST_PATH = TRIGGERS_PATH + "/external-service/test"
"""Tests a webhook as the admin UI's "Test" button does (no trigger involved)."""
EXTERNAL_SERVICE_SEGMENT = "external-service/call"
EXTERNAL_SERVICE_CALL_ROUTE = TRIGGER_PATH + "/" + EXTERNAL_SERVICE_SEGMENT
"""Calls the webhook of one stored trigger (the widget does, without logging in)."""
AGENT_NEXT_PATH = API_V1 + "/livechat/agent.next"
AGENT_NEXT_ROUTE = AGENT_NEXT_PATH + "/:token"
AGENT_INFO_PATH = API_V1 + "/livechat/agent.info"
AGENT_INFO_ROUTE = AGENT_INFO_PATH + "/:rid/:token"
WEBSOCKET_PATH = "/websocket"
"""DDP (Meteor's realtime API); the mock has none and refuses the upgrade (``spec.widget``)."""

LOGIN_PATH = API_V1 + "/login"
LOGOUT_PATH = API_V1 + "/logout"
ME_PATH = API_V1 + "/me"
PERMISSIONS_LIST_ALL_PATH = API_V1 + "/permissions.listAll"
PERMISSIONS_UPDATE_PATH = API_V1 + "/permissions.update"
SETTINGS_PATH = API_V1 + "/settings"
SETTING_PATH = SETTINGS_PATH + "/:_id"
METHOD_CALL_PATH = API_V1 + "/method.call"
METHOD_CALL_ROUTE = METHOD_CALL_PATH + "/:method"
"""The DDP-over-REST route; the method segment only names the call, ``message.method`` picks it."""

IDENTITY_OPERATIONS = frozenset(
    {
        "login",
        "logout",
        "me",
        "list_permissions",
        "update_permissions",
        "get_setting",
        "save_setting",
        "method_call",
    }
)
"""Operations answered by ``spec.identity``/``spec.methods``, only for an ``IdentityView`` state."""

TEST_EXTERNAL_SERVICE = "test_external_service"
CALL_EXTERNAL_SERVICE = "call_external_service"
EXTERNAL_SERVICE_OPERATIONS = frozenset({TEST_EXTERNAL_SERVICE, CALL_EXTERNAL_SERVICE})
"""Answered by ``spec.external_service`` (they read ``Livechat_secret_token``: an ``IdentityView`` only)."""
WIDGET_OPERATIONS = frozenset({"public_config", "agent_next", "agent_info"})
"""The livechat widget's unauthenticated routes, answered by ``spec.widget`` for any state."""


def trigger_path(trigger_id: str) -> str:
    """The concrete path of one trigger, its id percent-encoded (every ``/`` too)."""
    return f"{TRIGGERS_PATH}/{quote(trigger_id, safe='')}"


def external_service_call_path(trigger_id: str) -> str:
    return f"{trigger_path(trigger_id)}/{EXTERNAL_SERVICE_SEGMENT}"


def setting_path(setting_id: str) -> str:
    return f"{SETTINGS_PATH}/{quote(setting_id, safe='')}"


def agent_next_path(token: str) -> str:
    return f"{AGENT_NEXT_PATH}/{quote(token, safe='')}"


def agent_info_path(rid: str, token: str) -> str:
    return f"{AGENT_INFO_PATH}/{quote(rid, safe='')}/{quote(token, safe='')}"


def method_call_path(method: str) -> str:
    return f"{METHOD_CALL_PATH}/{quote(method, safe=':')}"


def is_api_path(path: str) -> bool:
    """Whether a raw request path belongs to the REST API (the server answers all of these itself)."""
    return path == API_ROOT or path.startswith(API_ROOT + "/")


@dataclass(frozen=True)
class Route:
    operation: str
    route_key: str
    """Route name as the rate limiter keys it (path pattern, not the concrete id)."""
    trigger_id: str | None = None
    param: str | None = None
    """The decoded ``:_id`` of ``settings/:_id``, ``:method`` of ``method.call/:method`` or ``:token``
    of ``agent.next/:token`` and ``agent.info/:rid/:token``."""
    param2: str | None = None
    """The decoded ``:rid`` of ``agent.info/:rid/:token``."""


_SAVE_TRIGGER = Route("save_trigger", TRIGGERS_PATH)
_LIST_TRIGGERS = Route("list_triggers", TRIGGERS_PATH)
"""A Route is immutable: the two busiest are made once."""


def _one_segment(path: str, prefix: str) -> str | None:
    segment = path[len(prefix) + 1 :]
    if not segment or "/" in segment:
        return None
    return unquote(segment)


def _match_identity_route(method: str, path: str) -> Route | None:
    if path == LOGIN_PATH:
        return Route("login", LOGIN_PATH) if method == "POST" else None
    if path == LOGOUT_PATH:
        return Route("logout", LOGOUT_PATH) if method in ("GET", "POST") else None
    if path == ME_PATH:
        return Route("me", ME_PATH) if method == "GET" else None
    if path == PERMISSIONS_LIST_ALL_PATH:
        return Route("list_permissions", PERMISSIONS_LIST_ALL_PATH) if method == "GET" else None
    if path == PERMISSIONS_UPDATE_PATH:
        return Route("update_permissions", PERMISSIONS_UPDATE_PATH) if method == "POST" else None
    if path.startswith(SETTINGS_PATH + "/"):
        setting_id = _one_segment(path, SETTINGS_PATH)
        if setting_id is None or method not in ("GET", "POST"):
            return None
        operation = "get_setting" if method == "GET" else "save_setting"
        return Route(operation, SETTING_PATH, param=setting_id)
    if path.startswith(METHOD_CALL_PATH + "/"):
        name = _one_segment(path, METHOD_CALL_PATH)
        if name is None or method != "POST":
            return None
        return Route("method_call", METHOD_CALL_ROUTE, param=name)
    return None


def _match_widget_route(method: str, path: str) -> Route | None:
    if method != "GET":
        return None
    if path.startswith(AGENT_NEXT_PATH + "/"):
        token = _one_segment(path, AGENT_NEXT_PATH)
        return None if token is None else Route("agent_next", AGENT_NEXT_ROUTE, param=token)
    if path.startswith(AGENT_INFO_PATH + "/"):
        parts = path[len(AGENT_INFO_PATH) + 1 :].split("/")
        if len(parts) != 2 or not all(parts):
            return None
        return Route("agent_info", AGENT_INFO_ROUTE, param=unquote(parts[1]), param2=unquote(parts[0]))
    return None


def _match_trigger_route(method: str, segment: str) -> Route | None:
    """``livechat/triggers/:_id`` and ``livechat/triggers/:_id/external-service/call``."""
    if segment.endswith("/" + EXTERNAL_SERVICE_SEGMENT):
        trigger_segment = segment[: -len(EXTERNAL_SERVICE_SEGMENT) - 1]
        if not trigger_segment or "/" in trigger_segment or method != "POST":
            return None
        return Route(CALL_EXTERNAL_SERVICE, EXTERNAL_SERVICE_CALL_ROUTE, unquote(trigger_segment))
    if not segment or "/" in segment:
        return None
    trigger_id = unquote(segment)
    if method == "GET":
        return Route("get_trigger", TRIGGER_PATH, trigger_id)
    if method == "DELETE":
        return Route("delete_trigger", TRIGGER_PATH, trigger_id)
    return None


RESTIVUS_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
"""The order in which Restivus lists a route's methods in ``Allow`` (its ``availableMethods``)."""


def routed_methods(path: str) -> tuple[str, ...]:
    """The methods the API routes for ``path``, in Restivus' order (empty: an unknown path)."""
    return tuple(method for method in RESTIVUS_METHODS if match_route(method, path) is not None)


def match_route(method: str, path: str) -> Route | None:
    if path == TRIGGERS_PATH:
        if method == "POST":
            return _SAVE_TRIGGER
        if method == "GET":
            return _LIST_TRIGGERS
        return None
    if path == EXTERNAL_SERVICE_TEST_PATH:
        return Route(TEST_EXTERNAL_SERVICE, EXTERNAL_SERVICE_TEST_PATH) if method == "POST" else None
    if path.startswith(TRIGGERS_PATH + "/"):
        return _match_trigger_route(method, path[len(TRIGGERS_PATH) + 1 :])
    if path == CONFIG_PATH and method == "GET":
        return Route("public_config", CONFIG_PATH)
    if path.startswith(LIVECHAT_PREFIX):
        return _match_widget_route(method, path)
    return _match_identity_route(method, path)
