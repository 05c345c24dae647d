"""The widget-side routes through ``spec.predict``: the public config, agent.next and agent.info.

Expected values are the research notes' readings of the server (docs/source-notes/widget.md); the
default answer is the one §1 gives for a server with default settings, plus the enterprise keys.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spec.jsvalues import parse_json
from spec.model import JsonValue, State, User
from spec.routes import CONFIG_PATH, agent_info_path, agent_next_path, setting_path
from spec.settings import default_settings
from spec.widget import AVAILABLE, NOT_AVAILABLE, online
from tests.identity_helpers import ADMIN, ERAS, Server, fresh_state

ONLINE_AGENT = User(
    "agent-1",
    "",
    username="agent.smith",
    roles=("user", "livechat-agent"),
    name="Agent Smith",
    status="online",
    status_livechat=AVAILABLE,
)
TRIGGER: dict[str, JsonValue] = {
    "name": "hello",
    "description": "",
    "enabled": True,
    "runOnce": False,
    "conditions": [{"name": "time-on-site", "value": "3"}],
    "actions": [{"name": "send-message", "params": {"sender": "custom", "msg": "Hi", "name": "Bot"}}],
}

# docs/source-notes/widget.md §1: the CE default answer with the enterprise keys added where the notes
# put them (hiddenSystemMessages after limitTextLength, background after position, customFields after
# online), resources.sound from Site_Url's default.
DEFAULT_CONFIG = (
    '{"config":{"enabled":true,"settings":{"registrationForm":true,"allowSwitchingDepartments":true,'
    '"nameFieldRegistrationForm":true,"emailFieldRegistrationForm":true,"displayOfflineForm":true,'
    '"videoCall":false,"fileUpload":true,"language":"","transcript":false,"historyMonitorType":"url",'
    '"forceAcceptDataProcessingConsent":false,"showConnecting":false,"agentHiddenInfo":false,'
    '"clearLocalStorageWhenChatEnded":false,"limitTextLength":false,'
    '"hiddenSystemMessages":["uj","ul","livechat-close"],"livechatLogo":{},"hideWatermark":false,'
    '"visitorsCanCloseChat":true},"theme":{"title":"Rocket.Chat","color":"#C1272D",'
    '"offlineTitle":"Leave a message","offlineColor":"#666666","position":"right","background":"",'
    '"actionLinks":{"webrtc":[{"actionLinksAlignment":"flex-start","i18nLabel":"Join_call",'
    '"label":"Join call","method_id":"joinLivechatWebRTCCall"},{"i18nLabel":"End_call",'
    '"label":"End call","method_id":"endLivechatWebRTCCall","danger":true}],"jitsi":[{"icon":'
    '"icon-videocam","i18nLabel":"Accept"},{"icon":"icon-cancel","i18nLabel":"Decline"}]}},'
    '"messages":{"offlineMessage":"","offlineSuccessMessage":"","offlineUnavailableMessage":"",'
    '"conversationFinishedMessage":"","conversationFinishedText":"","transcriptMessage":"",'
    '"registrationFormMessage":"","dataProcessingConsentText":""},"survey":{"items":["satisfaction",'
    '"agentKnowledge","agentResposiveness","agentFriendliness"],"values":["1","2","3","4","5"]},'
    '"triggers":[],"departments":[],"resources":{"sound":"http://localhost:3000/sounds/chime.mp3",'
    '"emojis":[]},"online":true,"customFields":[]},"success":true}'
)


def server(profile: str = "8.3", *, agents: tuple[User, ...] = (ONLINE_AGENT,), **settings: Any) -> Server:
    state = fresh_state((ADMIN, *agents))
    if settings:
        state = replace(state, settings={**state.settings, **settings})
    return Server(profile, state)


def config(srv: Server, query: str = "") -> Any:
    outcome = srv.call("GET", CONFIG_PATH, user=None, query=query)
    assert outcome.operation == "public_config"
    return outcome.answer


@pytest.mark.parametrize("era", ERAS)
def test_default_config_is_the_full_shape_in_the_servers_key_order(era: str) -> None:
    answer = config(server(era))
    assert (answer.status, answer.body.decode()) == (200, DEFAULT_CONFIG)
    assert answer.header("cache-control") == "no-store"


def test_a_community_server_has_no_enterprise_keys_and_drops_external_service_only_triggers() -> None:
    state = State(users=(ONLINE_AGENT,), settings=default_settings(enterprise=False))
    srv = Server("8.3", state)
    action: JsonValue = [{"name": "use-external-service", "params": {}}]
    external: dict[str, JsonValue] = {**TRIGGER, "name": "ext", "actions": action}
    srv.state = replace(srv.state, triggers=({"_id": "t1", **TRIGGER}, {"_id": "t2", **external}))
    body = config(srv).json()["config"]
    assert "hiddenSystemMessages" not in body["settings"]
    assert "background" not in body["theme"]
    assert "customFields" not in body
    assert list(body)[-1] == "online"
    assert [t["_id"] for t in body["triggers"]] == ["t1"]


def test_triggers_are_the_enabled_ones_projected_in_natural_order() -> None:
    srv = server()
    for name, enabled in (("b", True), ("off", False), ("a", True)):
        srv.call("POST", "/api/v1/livechat/triggers", {**TRIGGER, "name": name, "enabled": enabled})
    triggers = config(srv).json()["config"]["triggers"]
    assert [list(t) for t in triggers] == [["_id", "actions", "conditions", "runOnce"]] * 2
    stored = [t for t in srv.state.triggers if t["enabled"]]
    assert [t["_id"] for t in triggers] == [t["_id"] for t in stored]


def test_a_saved_setting_changes_the_next_config() -> None:
    srv = server()
    saved = srv.call("POST", setting_path("Livechat_title"), {"value": "Help desk"})
    assert saved.answer.status == 200, saved.answer.body
    assert config(srv).json()["config"]["theme"]["title"] == "Help desk"


def test_livechat_disabled_answers_enabled_false_only() -> None:
    srv = server(Livechat_enabled=False)
    assert config(srv).body == b'{"config":{"enabled":false},"success":true}'
    # JavaScript truthiness: the route checks ``!enabled``, so a stored string "false" still enables.
    assert config(server(Livechat_enabled="false")).json()["config"]["enabled"] == "false"


@pytest.mark.parametrize(
    ("agent", "expected"),
    [
        (ONLINE_AGENT, True),
        (replace(ONLINE_AGENT, status="offline"), False),
        (replace(ONLINE_AGENT, status_livechat=NOT_AVAILABLE), False),
        (replace(ONLINE_AGENT, active=False), False),
        (replace(ONLINE_AGENT, roles=("user",)), False),
        (replace(ONLINE_AGENT, status="offline", roles=("bot", "livechat-agent")), True),
    ],
)
def test_online_means_an_available_active_agent_whose_presence_is_not_offline(
    agent: User, expected: bool
) -> None:
    assert config(server(agents=(agent,))).json()["config"]["online"] is expected
    assert online(fresh_state((agent,))) is expected


def test_accepting_chats_without_agents_is_online() -> None:
    srv = server(agents=(), Livechat_accept_chats_with_no_agents=True)
    assert config(srv).json()["config"]["online"] is True
    assert config(server(agents=())).json()["config"]["online"] is False


def test_query_parameters_token_department_business_unit_are_accepted() -> None:
    answer = config(server(), "token=abc&department=d1&businessUnit=bu")
    assert answer.body.decode() == DEFAULT_CONFIG  # no such visitor, department or unit in the state


ADDITIONAL = "must NOT have additional properties"


@pytest.mark.parametrize(
    ("era", "body", "cached"),
    [
        ("8.3", f'{{"success":false,"errorType":"error-invalid-params","error":"{ADDITIONAL}"}}', False),
        (
            "6.13",
            f'{{"success":false,"error":"{ADDITIONAL} [invalid-params]","errorType":"invalid-params"}}',
            True,
        ),
    ],
)
def test_an_unknown_query_parameter_is_refused_in_each_eras_words(era: str, body: str, cached: bool) -> None:
    answer = config(server(era), "foo=1")
    assert (answer.status, answer.body.decode()) == (400, body)
    assert (answer.header("cache-control") is not None) is cached


def test_config_is_rate_limited_per_client_by_the_default_limiter() -> None:
    srv = server()
    statuses = [config(srv).status for _ in range(11)]
    assert statuses == [200] * 10 + [429]


def test_agent_next_names_the_online_agent() -> None:
    srv = server()
    outcome = srv.call("GET", agent_next_path("visitor-token"), user=None, query="department=")
    assert outcome.operation == "agent_next"
    assert outcome.answer.status == 200
    assert outcome.answer.body == (
        b'{"agent":{"_id":"agent-1","username":"agent.smith","status":"online","name":"Agent Smith"},'
        b'"success":true}'
    )


def test_agent_next_picks_the_first_username_among_online_agents() -> None:
    second = replace(ONLINE_AGENT, user_id="agent-0", username="zed")
    offline = replace(ONLINE_AGENT, user_id="agent-2", username="aaa", status="offline")
    outcome = server(agents=(second, ONLINE_AGENT, offline)).call("GET", agent_next_path("t"), user=None)
    assert outcome.answer.json()["agent"]["_id"] == "agent-1"
    assert "next-agent-selection" in outcome.answer.inferred


@pytest.mark.parametrize(
    ("agents", "query", "settings"),
    [
        ((), "", {}),
        ((replace(ONLINE_AGENT, status_livechat=NOT_AVAILABLE),), "", {}),
        ((ONLINE_AGENT,), "department=sales", {}),
        ((ONLINE_AGENT,), "", {"Livechat_Routing_Method": "Manual_Selection"}),
    ],
)
def test_agent_next_without_an_agent_answers_agent_not_found(
    agents: tuple[User, ...], query: str, settings: dict[str, Any]
) -> None:
    outcome = server(agents=agents, **settings).call("GET", agent_next_path("t"), user=None, query=query)
    expected = (400, b'{"success":false,"error":"agent-not-found"}')
    assert (outcome.answer.status, outcome.answer.body) == expected


def test_agent_next_hides_the_agent_when_agent_info_is_off() -> None:
    outcome = server(Livechat_show_agent_info=False).call("GET", agent_next_path("t"), user=None)
    assert outcome.answer.body == b'{"agent":{"hiddenInfo":true},"success":true}'


def test_agent_next_refuses_unknown_query_parameters() -> None:
    outcome = server().call("GET", agent_next_path("t"), user=None, query="x=1")
    assert outcome.answer.status == 400
    assert json.loads(outcome.answer.body)["errorType"] == "invalid-params"


def test_agent_info_knows_no_visitor_token() -> None:
    outcome = server().call("GET", agent_info_path("room-1", "visitor-token"), user=None)
    assert outcome.operation == "agent_info"
    assert (outcome.answer.status, outcome.answer.body) == (400, b'{"success":false,"error":"invalid-token"}')


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", agent_next_path("t")),
        ("GET", "/api/v1/livechat/agent.next/"),
        ("GET", "/api/v1/livechat/agent.info/only-one"),
        ("GET", "/api/v1/livechat/agent.info/a/b/c"),
    ],
)
def test_other_methods_and_shapes_stay_unknown_routes(method: str, path: str) -> None:
    outcome = server().call(method, path, user=None)
    assert (outcome.operation, outcome.answer.status) == ("unknown_route", 404)


# -- properties: any stored value reaches the config the way JavaScript would read it --------------

_JS_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False, width=32) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)


def js_json(answer: Any) -> Any:
    """The body as JSON.parse reads it (every number a double), to compare with stored JS values."""
    return parse_json(answer.body.decode())


@settings(max_examples=60, derandomize=True, deadline=None)
@given(value=_JS_VALUES)
def test_a_stored_title_is_shown_as_stored(value: JsonValue) -> None:
    srv = server(Livechat_title=value)
    assert js_json(config(srv))["config"]["theme"]["title"] == value


@settings(max_examples=60, derandomize=True, deadline=None)
@given(value=_JS_VALUES)
def test_livechat_is_off_exactly_when_the_stored_value_is_falsy(value: JsonValue) -> None:
    body = config(server(Livechat_enabled=value)).json()["config"]
    falsy = value in (None, False, "", 0.0)
    assert (body == {"enabled": False}) is falsy


@settings(max_examples=40, derandomize=True, deadline=None)
@given(value=_JS_VALUES)
def test_the_widget_position_falls_back_to_right_for_any_falsy_value(value: JsonValue) -> None:
    position = js_json(config(server(Livechat_widget_position=value)))["config"]["theme"]["position"]
    assert position == (value if value not in (None, False, "", 0.0) else "right")
