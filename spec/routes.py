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


def trigger_path(trigger_id: str) -> str:
    """The concrete path of one trigger, its id percent-encoded (every ``/`` too)."""
    return f"{TRIGGERS_PATH}/{quote(trigger_id, safe='')}"


def is_api_path(path: str) -> bool:
    """Whether a raw request path belongs to the REST API (the server answers all of these itself)."""
    return path == API_ROOT or path.startswith(API_ROOT + "/")


@dataclass(frozen=True)
class Route:
    operation: str
    route_key: str
    """Route name as the rate limiter keys it (path pattern, not the concrete id)."""
    trigger_id: str | None = None


def match_route(method: str, path: str) -> Route | None:
    if path == TRIGGERS_PATH:
        if method == "POST":
            return Route("save_trigger", TRIGGERS_PATH)
        if method == "GET":
            return Route("list_triggers", TRIGGERS_PATH)
        return None
    if path.startswith(TRIGGERS_PATH + "/"):
        segment = path[len(TRIGGERS_PATH) + 1 :]
        if not segment or "/" in segment:
            return None
        trigger_id = unquote(segment)
        if method == "GET":
            return Route("get_trigger", TRIGGER_PATH, trigger_id)
        if method == "DELETE":
            return Route("delete_trigger", TRIGGER_PATH, trigger_id)
        return None
    if path == CONFIG_PATH and method == "GET":
        return Route("public_config", CONFIG_PATH)
    return None
