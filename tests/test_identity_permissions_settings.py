"""GET /api/v1/permissions.listAll, POST /api/v1/permissions.update, GET|POST /api/v1/settings/:_id."""

from __future__ import annotations

import pytest

from spec.headers import CONTENT_TYPE, JSON_CONTENT_TYPE, JSON_HEADERS
from spec.identity import js_date_parse
from spec.model import JsonValue, SetPermissionRoles, SetSetting
from spec.permissions import DEFAULT_ROLE_TABLE, MANAGE_TRIGGERS
from spec.routes import PERMISSIONS_LIST_ALL_PATH, PERMISSIONS_UPDATE_PATH, TRIGGERS_PATH, setting_path
from spec.settings import LIVECHAT_ENABLED, LIVECHAT_SECRET_TOKEN, SETTINGS
from spec.triggers import iso_timestamp
from tests.identity_helpers import ADMIN, ERAS, MANAGER, START_MS, Server

FORBIDDEN = {
    "success": False,
    "error": "User does not have the permissions required for this action [error-unauthorized]",
}
ROUTER_HEADERS = ((CONTENT_TYPE, JSON_CONTENT_TYPE),)


def revoke(permission: str = MANAGE_TRIGGERS) -> dict[str, object]:
    return {"permissions": [{"_id": permission, "roles": []}]}


# -- permissions.listAll ------------------------------------------------------------------------


@pytest.mark.parametrize("era", ERAS)
def test_list_all_lists_the_table_in_insertion_order(era: str) -> None:
    answer = Server(era).call("GET", PERMISSIONS_LIST_ALL_PATH, user=MANAGER).answer
    assert answer.status == 200
    body = answer.json()
    assert list(body) == ["update", "remove", "success"]
    assert body["remove"] == []
    assert body["update"][0] == {
        "_id": "access-permissions",
        "roles": ["admin"],
        "_updatedAt": iso_timestamp(START_MS),
    }
    assert [(p["_id"], tuple(p["roles"])) for p in body["update"]] == list(DEFAULT_ROLE_TABLE.items())


def test_updated_since_keeps_the_newer_permissions() -> None:
    server = Server("8.3")
    server.call("POST", PERMISSIONS_UPDATE_PATH, revoke())
    since = iso_timestamp(START_MS + 1)
    body = server.call("GET", PERMISSIONS_LIST_ALL_PATH, query=f"updatedSince={since}").answer.json()
    assert [p["_id"] for p in body["update"]] == [MANAGE_TRIGGERS]
    assert body["update"][0]["roles"] == []


@pytest.mark.parametrize("era", ERAS)
def test_updated_since_must_be_a_date(era: str) -> None:
    answer = Server(era).call("GET", PERMISSIONS_LIST_ALL_PATH, query="updatedSince=yesterday").answer
    assert answer.status == 400
    assert answer.json() == {
        "success": False,
        "error": 'The "updatedSince" query parameter must be a valid date. [error-roomId-param-invalid]',
        "errorType": "error-roomId-param-invalid",
    }


def test_typed_list_all_refuses_unknown_query_keys_in_the_router() -> None:
    answer = Server("8.3").call("GET", PERMISSIONS_LIST_ALL_PATH, query="other=1").answer
    assert (answer.status, answer.headers) == (400, ROUTER_HEADERS)
    assert answer.json() == {
        "success": False,
        "errorType": "error-invalid-params",
        "error": "must NOT have additional properties",
    }
    assert Server("6.13").call("GET", PERMISSIONS_LIST_ALL_PATH, query="other=1").answer.status == 200


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01T11:00:00.000Z", 1_796_122_800_000),
        ("2026-12-01", 1_796_083_200_000),
        ("2026-12-01T12:00:00+01:00", 1_796_122_800_000),
        ("2026-13-01", None),
        ("soon", None),
    ],
)
def test_js_date_parse(text: str, expected: int | None) -> None:
    assert js_date_parse(text) == expected


# -- permissions.update -------------------------------------------------------------------------


@pytest.mark.parametrize("era", ERAS)
def test_update_replaces_roles_and_answers_the_whole_table(era: str) -> None:
    server = Server(era)
    outcome = server.call("POST", PERMISSIONS_UPDATE_PATH, revoke())
    assert outcome.answer.status == 200
    assert outcome.changes[-1] == SetPermissionRoles(MANAGE_TRIGGERS, (), server.clock)
    listed = {p["_id"]: p["roles"] for p in outcome.answer.json()["permissions"]}
    assert listed[MANAGE_TRIGGERS] == []
    assert server.call("GET", TRIGGERS_PATH, user=MANAGER).answer.status == 403
    restore = {"permissions": [{"_id": MANAGE_TRIGGERS, "roles": ["livechat-manager", "admin"]}]}
    assert server.call("POST", PERMISSIONS_UPDATE_PATH, restore).answer.status == 200
    assert server.call("GET", TRIGGERS_PATH, user=MANAGER).answer.status == 200


@pytest.mark.parametrize(
    ("body", "error", "error_type"),
    [
        (
            {"permissions": [{"_id": "no-such", "roles": []}]},
            "Invalid permission",
            "error-invalid-permission",
        ),
        (
            {"permissions": [{"_id": MANAGE_TRIGGERS, "roles": []}, {"_id": MANAGE_TRIGGERS, "roles": []}]},
            "Invalid permission",
            "error-invalid-permission",
        ),
        (
            {"permissions": [{"_id": MANAGE_TRIGGERS, "roles": ["ghost"]}]},
            "Invalid role",
            "error-invalid-role",
        ),
    ],
)
@pytest.mark.parametrize("era", ERAS)
def test_update_refuses_unknown_permissions_and_roles(
    era: str, body: object, error: str, error_type: str
) -> None:
    outcome = Server(era).call("POST", PERMISSIONS_UPDATE_PATH, body)
    assert outcome.answer.status == 400
    assert outcome.answer.json() == {"success": False, "error": error, "errorType": error_type}
    assert not any(isinstance(change, SetPermissionRoles) for change in outcome.changes)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "must have required property 'permissions'"),
        ({"permissions": [{"_id": MANAGE_TRIGGERS}]}, "must have required property 'roles'"),
        (
            {"permissions": [{"_id": MANAGE_TRIGGERS, "roles": ["admin", "admin"]}]},
            "must NOT have duplicate items (items ## 0 and 1 are identical)",
        ),
    ],
)
def test_typed_update_is_validated_by_the_router(body: object, message: str) -> None:
    answer = Server("8.3").call("POST", PERMISSIONS_UPDATE_PATH, body).answer
    assert (answer.status, answer.headers) == (400, ROUTER_HEADERS)
    assert answer.json() == {"success": False, "errorType": "invalid-params", "error": message}


@pytest.mark.parametrize("era", ["6.13", "7.4"])
def test_action_checked_update_answers_its_own_errors(era: str) -> None:
    server = Server(era)
    invalid = server.call("POST", PERMISSIONS_UPDATE_PATH, {"permissions": 1}).answer
    assert invalid.json() == {
        "success": False,
        "error": "Invalid body params",
        "errorType": "error-invalid-body-params",
    }
    refused = server.call("POST", PERMISSIONS_UPDATE_PATH, revoke(), user=MANAGER).answer
    assert refused.status == 400
    assert refused.json()["errorType"] == "error-edit-permissions-not-allowed"


@pytest.mark.parametrize("era", ["7.5", "8.3"])
def test_typed_update_needs_access_permissions(era: str) -> None:
    answer = Server(era).call("POST", PERMISSIONS_UPDATE_PATH, revoke(), user=MANAGER).answer
    assert (answer.status, answer.json()) == (403, FORBIDDEN)


def test_8_3_checks_permission_before_the_router_validator_and_7_5_after() -> None:
    assert Server("8.3").call("POST", PERMISSIONS_UPDATE_PATH, {}, user=MANAGER).answer.status == 403
    assert Server("7.5").call("POST", PERMISSIONS_UPDATE_PATH, {}, user=MANAGER).answer.status == 400
    assert Server("7.5").call("POST", PERMISSIONS_UPDATE_PATH, {}, user=None).answer.status == 400
    assert Server("8.3").call("POST", PERMISSIONS_UPDATE_PATH, {}, user=None).answer.status == 401


# -- settings/:_id ------------------------------------------------------------------------------


@pytest.mark.parametrize("era", ERAS)
def test_every_known_setting_reads_its_default(era: str) -> None:
    server = Server(era, rate_limited=False)
    for definition in SETTINGS:
        answer = server.call("GET", setting_path(definition.setting_id)).answer
        assert answer.status == 200
        assert answer.headers == JSON_HEADERS
        assert answer.json() == {"_id": definition.setting_id, "value": definition.default, "success": True}


@pytest.mark.parametrize("era", ERAS)
def test_unknown_setting_is_a_bare_failure(era: str) -> None:
    server = Server(era)
    for method, body in (("GET", None), ("POST", {"value": 1})):
        answer = server.call(method, setting_path("No_Such_Setting"), body).answer
        assert (answer.status, answer.json()) == (400, {"success": False})


@pytest.mark.parametrize("value", [True, "test", "", 5, None, {"a": [1]}])
def test_save_stores_the_value_as_sent(value: JsonValue) -> None:
    server = Server("8.3")
    outcome = server.call("POST", setting_path(LIVECHAT_SECRET_TOKEN), {"value": value})
    assert (outcome.answer.status, outcome.answer.json()) == (200, {"success": True})
    assert outcome.changes[-1] == SetSetting(
        LIVECHAT_SECRET_TOKEN, float(value) if type(value) is int else value
    )
    read = server.call("GET", setting_path(LIVECHAT_SECRET_TOKEN)).answer.json()
    assert read["value"] == value


@pytest.mark.parametrize("body", [{}, {"editor": "color"}, [1]])
def test_save_without_a_value_is_a_bare_failure(body: object) -> None:
    outcome = Server("8.3").call("POST", setting_path(LIVECHAT_ENABLED), body)
    assert (outcome.answer.status, outcome.answer.json()) == (400, {"success": False})
    assert not any(isinstance(change, SetSetting) for change in outcome.changes)


@pytest.mark.parametrize("era", ["7.4", "7.5", "8.3"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_settings_need_the_privileged_setting_permissions(era: str, method: str) -> None:
    body = {"value": False} if method == "POST" else None
    answer = Server(era).call(method, setting_path(LIVECHAT_ENABLED), body, user=MANAGER).answer
    assert (answer.status, answer.json()) == (403, FORBIDDEN)


def test_6_13_settings_refuse_in_the_action() -> None:
    answer = Server("6.13").call("GET", setting_path(LIVECHAT_ENABLED), user=MANAGER).answer
    assert (answer.status, answer.json()) == (403, {"success": False, "error": "unauthorized"})
    assert answer.delay_seconds == (0.5, 1.0)


def test_settings_need_a_login() -> None:
    assert Server("8.3").call("GET", setting_path(LIVECHAT_ENABLED), user=None).answer.status == 401
    assert ADMIN.roles == ("admin",)


def test_answers_resting_on_an_inferred_era_say_so() -> None:
    update = Server("7.5").call("POST", PERMISSIONS_UPDATE_PATH, revoke()).answer
    assert "permissions-update" in update.inferred
    assert (
        "permissions-update"
        not in Server("8.3").call("POST", PERMISSIONS_UPDATE_PATH, revoke()).answer.inferred
    )
    setting = Server("7.4").call("GET", setting_path(LIVECHAT_ENABLED)).answer
    assert "settings-guard" in setting.inferred
    assert Server("6.13").call("GET", setting_path(LIVECHAT_ENABLED)).answer.inferred == ()


def test_a_community_server_has_no_enterprise_settings() -> None:
    from spec.settings import SETTING_DEFINITIONS, default_settings

    community = default_settings(enterprise=False)
    assert "Livechat_widget_position" not in community
    assert LIVECHAT_SECRET_TOKEN in community
    assert set(default_settings()) - set(community) == {
        setting_id for setting_id, definition in SETTING_DEFINITIONS.items() if definition.enterprise
    }
