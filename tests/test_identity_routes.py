"""spec.routes.match_route for the identity routes: paths, methods and decoded parameters."""

from __future__ import annotations

import pytest

from spec.routes import (
    IDENTITY_OPERATIONS,
    LOGIN_PATH,
    LOGOUT_PATH,
    ME_PATH,
    METHOD_CALL_ROUTE,
    PERMISSIONS_LIST_ALL_PATH,
    PERMISSIONS_UPDATE_PATH,
    SETTING_PATH,
    Route,
    match_route,
    method_call_path,
    setting_path,
)


@pytest.mark.parametrize(
    ("method", "path", "route"),
    [
        ("POST", LOGIN_PATH, Route("login", LOGIN_PATH)),
        ("POST", LOGOUT_PATH, Route("logout", LOGOUT_PATH)),
        ("GET", LOGOUT_PATH, Route("logout", LOGOUT_PATH)),
        ("GET", ME_PATH, Route("me", ME_PATH)),
        ("GET", PERMISSIONS_LIST_ALL_PATH, Route("list_permissions", PERMISSIONS_LIST_ALL_PATH)),
        ("POST", PERMISSIONS_UPDATE_PATH, Route("update_permissions", PERMISSIONS_UPDATE_PATH)),
        (
            "GET",
            setting_path("Livechat_enabled"),
            Route("get_setting", SETTING_PATH, param="Livechat_enabled"),
        ),
        ("POST", "/api/v1/settings/a%2Fb", Route("save_setting", SETTING_PATH, param="a/b")),
        (
            "POST",
            method_call_path("livechat:saveTrigger"),
            Route("method_call", METHOD_CALL_ROUTE, param="livechat:saveTrigger"),
        ),
    ],
)
def test_identity_routes_match(method: str, path: str, route: Route) -> None:
    assert match_route(method, path) == route
    assert route.operation in IDENTITY_OPERATIONS


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", LOGIN_PATH),
        ("DELETE", LOGOUT_PATH),
        ("POST", ME_PATH),
        ("POST", PERMISSIONS_LIST_ALL_PATH),
        ("GET", PERMISSIONS_UPDATE_PATH),
        ("GET", "/api/v1/settings/"),
        ("GET", "/api/v1/settings/a/b"),
        ("DELETE", setting_path("Livechat_enabled")),
        ("GET", method_call_path("x")),
        ("POST", "/api/v1/method.call/"),
        ("POST", "/api/v1/livechat/login"),
    ],
)
def test_other_paths_and_methods_do_not_match(method: str, path: str) -> None:
    assert match_route(method, path) is None


def test_paths_build_as_the_server_routes_them() -> None:
    assert setting_path("Livechat secret") == "/api/v1/settings/Livechat%20secret"
    assert method_call_path("livechat:saveTrigger") == "/api/v1/method.call/livechat:saveTrigger"
