"""The livechat widget's side of the server: the public config, the agent look-ups, and what the mock
says about ``/websocket``, as pure predictions over any ``StateView``.

``spec.predict.predict`` dispatches ``spec.routes.WIDGET_OPERATIONS`` here. The routes need no log-in;
their values come from the settings (``IdentityView.setting_value``; a view without settings is a
server with the defaults of ``spec.settings``), the stored triggers and the users that are livechat
agents. Sources (6.13.0 and the later typed route) and inferences: docs/source-notes/widget.md and
docs/source-notes/widget-model.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from types import MappingProxyType
from typing import Any, Final

from spec.accounts import account_id
from spec.ajv import CompiledSchema, compile_schema
from spec.identity import js_truthy, router_failure
from spec.model import Answer, IdentityView, JsonValue, StateView, Trigger, User
from spec.parsing import parse_query
from spec.permissions import BOT_ROLE, LIVECHAT_AGENT_ROLE, USER_ROLE
from spec.predict import Outcome, _Checks, failure, public_triggers, success, validation_failure
from spec.settings import LIVECHAT_ENABLED, SITE_URL, default_settings
from spec.triggers import public_view

AVAILABLE: Final = "available"
"""``statusLivechat`` of an agent that takes chats (``not-available`` otherwise)."""
NOT_AVAILABLE: Final = "not-available"
OFFLINE: Final = "offline"
EXTERNAL_SERVICE_ACTION: Final = "use-external-service"
ENTERPRISE_MARKER: Final = "Livechat_hide_system_messages"
"""A setting only the enterprise livechat module registers: its presence means an EE server."""

SURVEY: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "items": ("satisfaction", "agentKnowledge", "agentResposiveness", "agentFriendliness"),
        "values": ("1", "2", "3", "4", "5"),
    }
)
"""The post-chat survey the config always lists (the server's spelling, ``Resposiveness`` included)."""

ACTION_LINKS: Final[JsonValue] = {
    "webrtc": [
        {
            "actionLinksAlignment": "flex-start",
            "i18nLabel": "Join_call",
            "label": "Join call",
            "method_id": "joinLivechatWebRTCCall",
        },
        {"i18nLabel": "End_call", "label": "End call", "method_id": "endLivechatWebRTCCall", "danger": True},
    ],
    "jitsi": [
        {"icon": "icon-videocam", "i18nLabel": "Accept"},
        {"icon": "icon-cancel", "i18nLabel": "Decline"},
    ],
}
"""``theme.actionLinks``; ``label`` is the English translation of ``i18nLabel`` (the server's language,
English assumed)."""

SOUND_PATH: Final = "sounds/chime.mp3"

# What settings() reads, in the order it builds its answer: (key, setting id). The values that are
# expressions of several settings are built in _settings_part.
_MESSAGES: Final = (
    ("offlineMessage", "Livechat_offline_message"),
    ("offlineSuccessMessage", "Livechat_offline_success_message"),
    ("offlineUnavailableMessage", "Livechat_offline_form_unavailable"),
    ("conversationFinishedMessage", "Livechat_conversation_finished_message"),
    ("conversationFinishedText", "Livechat_conversation_finished_text"),
    ("transcriptMessage", "Livechat_transcript_message"),
    ("registrationFormMessage", "Livechat_registration_form_message"),
    ("dataProcessingConsentText", "Livechat_data_processing_consent_text"),
)

_UNDEFINED: Final = object()
"""JavaScript's ``undefined``: a key with this value is left out of the JSON (JSON.stringify)."""
_DEFAULTS: Final[Mapping[str, JsonValue]] = MappingProxyType(default_settings())

# rest-typings' GETLivechatConfigParamsSchema and isGETAgentNextToken (6.13.0; the same in the index);
# the contract document shows them (tools/widget_document.py writes them there from here).
CONFIG_QUERY_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {
        "token": {"type": "string", "nullable": True},
        "department": {"type": "string", "nullable": True},
        "businessUnit": {"type": "string", "nullable": True},
    },
    "additionalProperties": False,
}
AGENT_NEXT_QUERY_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {"department": {"type": "string", "nullable": True}},
    "additionalProperties": False,
}
_CONFIG_QUERY: Final[CompiledSchema] = compile_schema(CONFIG_QUERY_SCHEMA, coerce=True)
_AGENT_NEXT_QUERY: Final[CompiledSchema] = compile_schema(AGENT_NEXT_QUERY_SCHEMA, coerce=True)


def setting(state: StateView, setting_id: str) -> Any:
    """The setting's current value, or ``_UNDEFINED`` when the server has no such setting."""
    if isinstance(state, IdentityView):
        found, value = state.setting_value(setting_id)
        return value if found else _UNDEFINED
    return _DEFAULTS.get(setting_id, _UNDEFINED)


def _truthy(value: Any) -> bool:
    return value is not _UNDEFINED and js_truthy(value)


def _or(value: Any, fallback: JsonValue) -> Any:
    """JavaScript's ``value || fallback``."""
    return value if _truthy(value) else fallback


def _and(first: Any, second: Callable[[], Any]) -> Any:
    """JavaScript's ``first && second``."""
    return second() if _truthy(first) else first


def _defined(pairs: Sequence[tuple[str, Any]]) -> dict[str, JsonValue]:
    return {key: value for key, value in pairs if value is not _UNDEFINED}


def is_enterprise(state: StateView) -> bool:
    return setting(state, ENTERPRISE_MARKER) is not _UNDEFINED


# -- agents -------------------------------------------------------------------------------------


def users(state: StateView) -> Sequence[User]:
    """Every user the state keeps (a view without an identity core lists none)."""
    return state.all_users() if isinstance(state, IdentityView) else ()


def is_livechat_agent(user: User) -> bool:
    return LIVECHAT_AGENT_ROLE in user.roles


def is_online_agent(user: User) -> bool:
    """``Users.checkOnlineAgents``/``getNextAgent``'s query: an active livechat agent, available for
    chats, whose presence is set and not offline (a bot counts whatever its presence)."""
    return (
        is_livechat_agent(user)
        and user.active
        and user.status_livechat == AVAILABLE
        and (user.status != OFFLINE or BOT_ROLE in user.roles)
    )


def online(state: StateView) -> bool:
    """``online(department)``: whether the widget may offer a chat (the department does not narrow it,
    inferred ``online-department``)."""
    if _truthy(setting(state, "Livechat_accept_chats_with_no_agents")):
        return True
    return any(is_online_agent(user) for user in users(state))


def next_agent(state: StateView, department: JsonValue) -> User | None:
    """``RoutingManager.getNextAgent(department)``. Auto_Selection picks an online agent, least busy
    first then by username; the mock counts no chats, so it is the first username (inferred
    ``next-agent-selection``). Manual_Selection picks nobody; the mock keeps no departments, so a
    department has no agents."""
    if setting(state, "Livechat_Routing_Method") != "Auto_Selection" or js_truthy(department):
        return None
    candidates = [user for user in users(state) if is_online_agent(user)]
    return min(candidates, key=lambda user: user.username or "", default=None)


def agent_view(user: User, state: StateView) -> dict[str, JsonValue]:
    """``normalizeAgent``: ``{hiddenInfo: true}`` when ``Livechat_show_agent_info`` is off, else the
    projection ``name, username, phone, customFields, status, livechat`` in the stored document's
    key order (``_id, username, …, status, …, name``; see ``spec.identity.user_document``)."""
    if not _truthy(setting(state, "Livechat_show_agent_info")):
        return {"hiddenInfo": True}
    agent: dict[str, JsonValue] = {"_id": user.user_id}
    if user.username is not None:
        agent["username"] = user.username
    agent["status"] = user.status
    if user.name is not None:
        agent["name"] = user.name
    return agent


# -- GET /api/v1/livechat/config ----------------------------------------------------------------


def _settings_part(state: StateView) -> dict[str, JsonValue]:
    def get(setting_id: str) -> Any:
        return setting(state, setting_id)

    limit = _and(
        get("Livechat_enable_message_character_limit"),
        lambda: _or(get("Livechat_message_character_limit"), get("Message_MaxAllowedSize")),
    )
    return _defined(
        (
            ("registrationForm", get("Livechat_registration_form")),
            ("allowSwitchingDepartments", get("Livechat_allow_switching_departments")),
            ("nameFieldRegistrationForm", get("Livechat_name_field_registration_form")),
            ("emailFieldRegistrationForm", get("Livechat_email_field_registration_form")),
            ("displayOfflineForm", get("Livechat_display_offline_form")),
            ("videoCall", get("Omnichannel_call_provider") == "default-provider"),
            ("fileUpload", _and(get("Livechat_fileupload_enabled"), lambda: get("FileUpload_Enabled"))),
            ("language", get("Language")),
            ("transcript", get("Livechat_enable_transcript")),
            ("historyMonitorType", get("Livechat_history_monitor_type")),
            ("forceAcceptDataProcessingConsent", get("Livechat_force_accept_data_processing_consent")),
            # The routing methods the mock knows (Auto_Selection, Manual_Selection) do not show it.
            ("showConnecting", False),
            ("agentHiddenInfo", get("Livechat_show_agent_info") is False),
            ("clearLocalStorageWhenChatEnded", get("Livechat_clear_local_storage_when_chat_ended")),
            ("limitTextLength", limit),
            ("hiddenSystemMessages", get("Livechat_hide_system_messages")),
            ("livechatLogo", get("Assets_livechat_widget_logo")),
            ("hideWatermark", _or(get("Livechat_hide_watermark"), False)),
            ("visitorsCanCloseChat", get("Omnichannel_allow_visitors_to_close_conversation")),
        )
    )


def _theme_part(state: StateView) -> dict[str, JsonValue]:
    return _defined(
        (
            ("title", setting(state, "Livechat_title")),
            ("color", setting(state, "Livechat_title_color")),
            ("offlineTitle", setting(state, "Livechat_offline_title")),
            ("offlineColor", setting(state, "Livechat_offline_title_color")),
            ("position", _or(setting(state, "Livechat_widget_position"), "right")),
            ("background", setting(state, "Livechat_background")),
            ("actionLinks", ACTION_LINKS),
        )
    )


def config_triggers(state: StateView) -> list[JsonValue]:
    """``findTriggers``: the enabled triggers in natural order as ``{_id, actions, conditions,
    runOnce}``; without the enterprise module, a trigger whose every action is an external-service
    call is left out."""
    kept: Sequence[Trigger] = public_triggers(state)
    if not is_enterprise(state):
        kept = [trigger for trigger in kept if not _only_external_service(trigger)]
    return [public_view(trigger) for trigger in kept]


def _only_external_service(trigger: Trigger) -> bool:
    actions = trigger.get("actions")
    if not isinstance(actions, list):
        return False
    return bool(actions) and all(
        isinstance(action, dict) and action.get("name") == EXTERNAL_SERVICE_ACTION for action in actions
    )


def sound_url(state: StateView) -> str:
    """``${Meteor.absoluteUrl()}sounds/chime.mp3``: ROOT_URL with one trailing slash (the mock takes
    ``Site_Url`` for ROOT_URL, inferred ``root-url``)."""
    root = setting(state, SITE_URL)
    base = str(root) if isinstance(root, str) else ""
    return f"{base.rstrip('/')}/{SOUND_PATH}"


def livechat_config(state: StateView) -> dict[str, JsonValue]:
    """The ``config`` object of ``GET livechat/config`` for a visitor the server does not know (the
    mock keeps no visitors, rooms, departments or custom emoji, so no ``guest``/``room``/``agent``)."""
    if not _truthy(setting(state, LIVECHAT_ENABLED)):
        return {"enabled": False}
    config = _defined(
        (
            ("enabled", setting(state, LIVECHAT_ENABLED)),
            ("settings", _settings_part(state)),
            ("theme", _theme_part(state)),
            ("messages", _defined([(key, setting(state, sid)) for key, sid in _MESSAGES])),
            ("survey", {key: list(values) for key, values in SURVEY.items()}),
            ("triggers", config_triggers(state)),
            ("departments", []),
            ("resources", {"sound": sound_url(state), "emojis": []}),
        )
    )
    config["online"] = online(state)
    if is_enterprise(state):
        # onLoadConfigApi (EE): no room, so no queueInfo; the public visitor custom fields (none).
        config["customFields"] = []
    return config


# -- the routes ---------------------------------------------------------------------------------


def _validate(checks: _Checks, schema: CompiledSchema, typed: bool) -> Answer | None:
    outcome = schema.validate(parse_query(checks.request.query))
    if outcome.valid:
        return None
    if typed:
        return router_failure("error-invalid-params", outcome.message)
    return validation_failure(outcome.message)


def _refusal(checks: _Checks, validator: Callable[[], Answer | None], typed: bool) -> Answer | None:
    """The route's checks: no log-in, no permission; the default REST limiter (nobody bypasses it
    without a user) and the query validator, in the profile's order (a typed route validates first)."""
    order = checks.profile.check_order
    steps = ("validation", *(s for s in order if s != "validation")) if typed else order
    for step in steps:
        refusal = None
        if step == "rate-limit":
            refusal = checks.rate_limit()
        elif step == "validation":
            refusal = validator()
        if refusal is not None:
            return refusal
    return None


_INFERRED: Final = {
    "public_config": ("root-url", "config-cache", "online-department"),
    "agent_next": ("next-agent-selection",),
    "agent_info": (),
}


def predict_widget(checks: _Checks, state: StateView) -> Outcome:
    operation = checks.route.operation
    profile = checks.profile
    typed = operation == "public_config" and profile.config_route == "typed"
    validators: dict[str, Callable[[], Answer | None]] = {
        "public_config": lambda: _validate(checks, _CONFIG_QUERY, typed),
        "agent_next": lambda: _validate(checks, _AGENT_NEXT_QUERY, False),
        "agent_info": lambda: None,  # no validateParams
    }
    refusal = _refusal(checks, validators[operation], typed)
    if refusal is not None:
        return Outcome(_mark(refusal, operation, profile.is_inferred), checks.changes, operation)
    if operation == "public_config":
        answer = success({"config": livechat_config(state)})
    elif operation == "agent_next":
        answer = _agent_next(checks, state)
    else:
        # The mock keeps no visitors: no token belongs to one (agent.info's first check).
        answer = failure(400, "invalid-token")
    return Outcome(_mark(answer, operation, profile.is_inferred), checks.changes, operation)


def _agent_next(checks: _Checks, state: StateView) -> Answer:
    # No visitor has an open room in the mock, so the route never answers a bare success.
    query = parse_query(checks.request.query)
    agent = next_agent(state, query.get("department"))
    if agent is None:
        return failure(400, "agent-not-found")
    return success({"agent": agent_view(agent, state)})


def _mark(answer: Answer, operation: str, is_inferred: Callable[[str], bool]) -> Answer:
    wanted = (*_INFERRED[operation], *(("config-route",) if operation == "public_config" else ()))
    names = [name for name in wanted if is_inferred(name) and name not in answer.inferred]
    return replace(answer, inferred=(*answer.inferred, *names)) if names else answer


# -- the agents a mock starts with ------------------------------------------------------------------

DEFAULT_AGENT_USERNAME: Final = "livechat.agent"
DEFAULT_AGENT_NAME: Final = "Livechat Agent"
PRESENCES: Final = ("online", "away", "busy", OFFLINE)
LIVECHAT_STATUSES: Final = (AVAILABLE, NOT_AVAILABLE)


def livechat_agent(
    username: str,
    *,
    name: str | None = None,
    status: str = "online",
    status_livechat: str = AVAILABLE,
    user_id: str | None = None,
) -> User:
    """A user made a livechat agent (role ``livechat-agent``) with a presence and a livechat status;
    it cannot log in (no password, no token)."""
    return User(
        user_id=user_id or account_id(username),
        token="",
        username=username,
        roles=(USER_ROLE, LIVECHAT_AGENT_ROLE),
        name=name,
        status=status,
        status_livechat=status_livechat,
    )


def default_agent() -> User:
    """The one online, available agent a mock has unless told otherwise, so ``sender: queue``
    triggers and ``online`` work out of the box."""
    return livechat_agent(DEFAULT_AGENT_USERNAME, name=DEFAULT_AGENT_NAME)


def without_agent_role(user: User) -> User:
    """What removing an agent leaves: the user without the role and without a livechat status."""
    return replace(
        user, roles=tuple(role for role in user.roles if role != LIVECHAT_AGENT_ROLE), status_livechat=None
    )
