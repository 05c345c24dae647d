"""Log-in, log-out, ``me``, ``permissions.listAll``/``update`` and ``settings/:_id``: the routes a
client of the feature needs around the trigger routes, as pure predictions over an ``IdentityView``.

``spec.predict.predict`` dispatches the operations of ``spec.routes.IDENTITY_OPERATIONS`` here. Each
route's checks run in the profile's order (a typed route's own validator runs where the router runs
it); then the handler. Sources and inferences: docs/source-notes/identity-model.md.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

from spec.ajv import CompiledSchema, compile_schema
from spec.headers import AUTH_TOKEN_HEADER, CONTENT_TYPE, JSON_CONTENT_TYPE
from spec.jsvalues import stringify
from spec.model import (
    AddLoginToken,
    Answer,
    Change,
    IdentityView,
    JsonValue,
    RemoveLoginToken,
    SetPermissionRoles,
    SetSetting,
    StoredPermission,
    User,
    hash_login_token,
    password_digest,
)
from spec.parsing import parse_query
from spec.permissions import (
    ACCESS_PERMISSIONS,
    EDIT_PRIVILEGED_SETTING,
    VIEW_PRIVILEGED_SETTING,
    holds,
)
from spec.predict import Outcome, _Checks, failure, json_answer, success
from spec.profiles import Profile, Step
from spec.settings import SITE_URL, USER_PREFERENCE_PREFIX, USER_PREFERENCES
from spec.triggers import iso_timestamp

Handled = tuple[Answer, tuple[Change, ...]]

LOGGED_OUT_MESSAGE = "You've been logged out!"
AMBIGUOUS_LOGIN = "Something went wrong. Please check your credentials."
"""Meteor 3's answer to every password failure (``ambiguousErrorMessages`` defaults to true)."""
RESUME_FAILED = "You've been logged out by the server. Please log in again."
UNRECOGNIZED_LOGIN = "Unrecognized options for login request"
INVALID_DATE = 'The "updatedSince" query parameter must be a valid date.'
_LOGIN_KEYS = frozenset({"user", "username", "email", "password", "code"})


@dataclass(frozen=True)
class Policy:
    """Which of the profile's check steps a route has."""

    authenticate: bool = True
    permission: str | None = None
    """Checked at the ``permission`` step (``permissionsRequired``); ``None``: no route-level check."""
    rate_limited: bool = True
    """The default REST limiter (no route of this module names its own limits)."""
    typed: bool = False
    """A typed route: the router's validator runs after the middleware steps, before the action."""


def _policy(operation: str, profile: Profile) -> Policy:
    typed_permissions = profile.permissions_update == "typed"
    route_guard = profile.settings_guard == "route"
    if operation == "login":
        return Policy(authenticate=False)
    if operation == "list_permissions":
        return Policy(typed=typed_permissions)
    if operation == "update_permissions":
        return Policy(permission=ACCESS_PERMISSIONS if typed_permissions else None, typed=typed_permissions)
    if operation == "get_setting":
        return Policy(permission=VIEW_PRIVILEGED_SETTING if route_guard else None)
    if operation == "save_setting":
        return Policy(permission=EDIT_PRIVILEGED_SETTING if route_guard else None)
    if operation == "method_call":
        return Policy(rate_limited=False)  # rateLimiterOptions: false; DDP's own limiter not modelled
    return Policy()  # logout, me


def check_steps(policy: Policy, profile: Profile) -> tuple[Step, ...]:
    """The order in which a route's checks run under ``profile``."""
    order = profile.check_order
    if not policy.typed:
        return order
    middleware = [step for step in order if step in profile.middleware_steps]
    rest = [step for step in order if step not in profile.middleware_steps and step != "validation"]
    return (*middleware, "validation", *rest)


def predict_identity(checks: _Checks, state: IdentityView) -> Outcome:
    """The outcome of one identity operation."""
    from spec.methods import method_call, validate_method_call  # spec.methods imports this module

    operation = checks.route.operation
    policy = _policy(operation, checks.profile)
    validators: dict[str, Callable[[_Checks], Answer | None]] = {
        "list_permissions": _validate_list_query,
        "update_permissions": _validate_update_body,
        "method_call": validate_method_call,
    }
    validator = validators.get(operation) if policy.typed or operation == "method_call" else None
    for step in check_steps(policy, checks.profile):
        refusal: Answer | None = None
        if step == "authentication" and policy.authenticate:
            refusal = checks.authenticate()
        elif step == "permission" and policy.permission is not None:
            refusal = checks.authorize(policy.permission)
        elif step == "rate-limit" and policy.rate_limited:
            refusal = checks.rate_limit()
        elif step == "validation" and validator is not None:
            refusal = validator(checks)
        if refusal is not None:
            return Outcome(_mark_era(refusal, operation, checks.profile), checks.changes, operation)
    handlers: dict[str, Callable[[_Checks, IdentityView], Handled]] = {
        "login": login,
        "logout": logout,
        "me": me,
        "list_permissions": list_permissions,
        "update_permissions": update_permissions,
        "get_setting": get_setting,
        "save_setting": save_setting,
        "method_call": method_call,
    }
    answer, changes = handlers[operation](checks, state)
    return Outcome(_mark_era(answer, operation, checks.profile), (*checks.changes, *changes), operation)


_ERA_SETTINGS = {
    "list_permissions": "permissions-update",
    "update_permissions": "permissions-update",
    "get_setting": "settings-guard",
    "save_setting": "settings-guard",
}
"""The profile setting each route's era-dependent behaviour rests on."""


def _mark_era(answer: Answer, operation: str, profile: Profile) -> Answer:
    """Name the profile setting the answer rests on when the profile marks it as inferred."""
    setting = _ERA_SETTINGS.get(operation)
    if setting is None or not profile.is_inferred(setting) or setting in answer.inferred:
        return answer
    return replace(answer, inferred=(*answer.inferred, setting))


def router_failure(error_type: str, message: str) -> Answer:
    """A typed route's validator answer: its own key order, no ``[invalid-params]`` suffix, and no
    cache headers (the router's ``c.json``, not the action's answer)."""
    body = {"success": False, "errorType": error_type, "error": message}
    return Answer(400, stringify(body).encode("utf-8"), ((CONTENT_TYPE, JSON_CONTENT_TYPE),))


def bare_failure() -> Answer:
    """``API.v1.failure()`` without arguments."""
    return json_answer(400, {"success": False})


# -- log in -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginError:
    """A ``Meteor.Error`` thrown by a login handler (``error`` is a number or a code)."""

    error: JsonValue
    reason: str


class MalformedLogin(Exception):
    """Meteor's ``check()`` refused the log-in options (a ``Match.Error``, not a ``Meteor.Error``)."""


def login_request(body: JsonValue) -> JsonValue:
    """``loginCompatibility``: the REST body as the options Meteor's ``login`` method receives.

    A ``code`` (two-factor) is dropped: the mock's users have no second factor (not modelled)."""
    if (
        not isinstance(body, dict)
        or body.get("password") is None
        or any(key not in _LOGIN_KEYS for key in body)
    ):
        return body
    user, username, email = body.get("user"), body.get("username"), body.get("email")
    query: dict[str, JsonValue]
    if isinstance(user, str):
        query = {"email": user} if "@" in user else {"username": user}
    elif js_truthy(username):
        query = {"username": username}
    elif js_truthy(email):
        query = {"email": email}
    else:
        return body
    password = body["password"]
    if isinstance(password, dict) and js_truthy(password.get("hashed")):
        # The server wraps the whole object, not its ``hashed`` member, so Meteor's check refuses it.
        password = {"digest": password, "algorithm": "sha-256"}
    return {"user": query, "password": password}


def js_truthy(value: JsonValue) -> bool:
    if value is None or value is False or value == "":
        return False
    return not (isinstance(value, float) and (value == 0 or math.isnan(value)))


def _find_by(users: Sequence[User], value: str, key: Callable[[User], Sequence[str]]) -> User | None:
    # Meteor looks the exact value up first, then case-insensitively when only one user matches.
    exact = [user for user in users if value in key(user)]
    if exact:
        return exact[0]
    folded = [user for user in users if value.casefold() in (item.casefold() for item in key(user))]
    return folded[0] if len(folded) == 1 else None


def _non_empty(value: JsonValue) -> bool:
    return isinstance(value, str) and value != ""


def _password_login(
    options: dict[str, JsonValue], users: Sequence[User], profile: Profile
) -> User | LoginError:
    query, password = options.get("user"), options.get("password")
    if set(options) - {"user", "password", "code"} or not isinstance(query, dict) or len(query) != 1:
        raise MalformedLogin
    ((field, value),) = query.items()
    if field not in ("id", "username", "email") or not _non_empty(value):
        raise MalformedLogin
    assert isinstance(value, str)
    if isinstance(password, str):
        digest = password_digest(password)
    elif (
        isinstance(password, dict)
        and set(password) == {"digest", "algorithm"}
        and isinstance(password["digest"], str)
        and len(password["digest"]) == 64
        and password["algorithm"] == "sha-256"
    ):
        digest = password["digest"]
    else:
        raise MalformedLogin
    if field == "id":
        user = next((u for u in users if u.user_id == value), None)
    elif field == "username":
        user = _find_by(users, value, lambda u: (u.username,) if u.username else ())
    else:
        user = _find_by(users, value, lambda u: u.emails)
    ambiguous = profile.meteor_login == "meteor3"
    if user is None:
        return LoginError(403.0, AMBIGUOUS_LOGIN if ambiguous else "User not found")
    if user.password_sha256 is None:
        return LoginError(403.0, AMBIGUOUS_LOGIN if ambiguous else "User has no password set")
    if user.password_sha256 != digest:
        return LoginError(403.0, AMBIGUOUS_LOGIN if ambiguous else "Incorrect password")
    return user


def _resume_login(token: JsonValue, state: IdentityView) -> User | LoginError:
    if not isinstance(token, str):
        raise MalformedLogin
    hashed = hash_login_token(token)
    for user in state.all_users():
        if (user.token and user.token == token) or state.has_login_token(user.user_id, hashed):
            return user
    return LoginError(403.0, RESUME_FAILED)


def new_login_token(checks: _Checks) -> str:
    """The token the next log-in issues: the environment's, one it draws, or one derived from it (43
    characters of URL-safe base64, the shape of Meteor's ``Random.secret()``)."""
    if checks.env.new_login_token:
        return checks.env.new_login_token
    if checks.env.issue_login_token is not None:
        return checks.env.issue_login_token()
    seed = f"{checks.env.new_trigger_id}:{checks.env.now_ms}".encode()
    digest = hashlib.sha256(seed).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def login(checks: _Checks, state: IdentityView) -> Handled:
    profile = checks.profile
    options = login_request(checks.body)
    try:
        if not isinstance(options, dict):
            raise MalformedLogin
        # Meteor's handlers in registration order; each takes only options with its key truthy.
        if js_truthy(options.get("resume")):
            outcome, token = _resume_login(options["resume"], state), options["resume"]
        elif js_truthy(options.get("password")):
            outcome, token = _password_login(options, state.all_users(), profile), None
        else:
            outcome, token = LoginError(400.0, UNRECOGNIZED_LOGIN), None
    except MalformedLogin:
        return _malformed_login(profile), ()
    if isinstance(outcome, LoginError):
        return _login_failure(outcome, checks), ()
    user = outcome
    changes: tuple[Change, ...] = ()
    if token is None:
        token = new_login_token(checks)
        changes = (AddLoginToken(user.user_id, hash_login_token(token)),)
    assert isinstance(token, str)
    data: dict[str, JsonValue] = {
        "userId": user.user_id,
        "authToken": token,
        "me": user_info(user, state, profile, for_login=True),
    }
    body: dict[str, JsonValue] = {"status": "success", "data": data}
    if profile.login_answers == "restivus":
        return json_answer(200, body, inferred=("me-fields",)), changes
    return success(body, inferred=("me-fields",)), changes


def _login_failure(error: LoginError, checks: _Checks) -> Answer:
    reason: str = error.reason
    code: JsonValue = error.error
    if reason == "User not found":  # Rocket.Chat hides which of the two was wrong
        code, reason = "Unauthorized", "Unauthorized"
    body: dict[str, JsonValue]
    if checks.profile.login_answers == "restivus":
        body = {"status": "error", "error": code, "message": reason}
    else:
        body = {"success": False, "error": code, "status": "error", "message": reason}
    return checks.delayed(json_answer(401, body, inferred=("login-messages",)))


def _malformed_login(profile: Profile) -> Answer:
    # A Match.Error is no Meteor.Error: 7.0+ answers 500; Restivus (6.13) sent it as a 401.
    if profile.login_answers == "restivus":
        body: dict[str, JsonValue] = {"status": "error", "message": "Match failed"}
        return json_answer(401, body, inferred=("login-messages",))
    return json_answer(
        500, {"success": False, "error": "Internal server error"}, inferred=("login-messages",)
    )


def logout(checks: _Checks, state: IdentityView) -> Handled:
    assert checks.user is not None
    token = checks.request.header(AUTH_TOKEN_HEADER) or ""
    body = {"status": "success", "data": {"message": LOGGED_OUT_MESSAGE}}  # no ``success`` key, every era
    return json_answer(200, body), (RemoveLoginToken(checks.user.user_id, hash_login_token(token)),)


# -- me -----------------------------------------------------------------------------------------


def user_document(user: User, *, with_services: bool) -> dict[str, JsonValue]:
    """The projected fields of the stored user, in the order a created user document has them:
    ``_id`` (MongoDB keeps it first), ``services`` (Meteor's ``insertUserDoc`` puts it before the
    profile fields), then what Rocket.Chat adds on creation. ``services`` is only in the projection
    of the later ``/me`` and of ``/login``; its value here is replaced by ``user_info``."""
    doc: dict[str, JsonValue] = {"_id": user.user_id}
    if with_services:
        doc["services"] = None
    if user.username is not None:
        doc["username"] = user.username
    if user.emails:
        doc["emails"] = [{"address": address, "verified": True} for address in user.emails]
    doc["status"] = user.status
    doc["active"] = user.active
    doc["roles"] = list(user.roles)
    if user.name is not None:
        doc["name"] = user.name
    return doc


def user_preferences(state: IdentityView) -> dict[str, JsonValue]:
    """Every default user preference, resolved (mock users keep no preferences of their own)."""
    preferences: dict[str, JsonValue] = {}
    for name in USER_PREFERENCES:
        found, value = state.setting_value(USER_PREFERENCE_PREFIX + name)
        if found:
            preferences[name] = value
    return preferences


def user_info(
    user: User, state: IdentityView, profile: Profile, *, for_login: bool = False
) -> dict[str, JsonValue]:
    """``getUserInfo``: the user document plus ``email``, ``settings``, ``avatarUrl``, ``isOAuthUser``
    and the rebuilt ``services`` (which keeps the document's position). 6.13's ``/me`` reads the
    document without ``services`` and adds ``isOAuthUser`` and ``services`` before ``getUserInfo``."""
    _, site_url = state.setting_value(SITE_URL)
    base = str(site_url).rstrip("/")
    legacy_me = profile.login_answers == "restivus" and not for_login
    info = user_document(user, with_services=not legacy_me)
    services: dict[str, JsonValue] = {"password": {"exists": user.password_sha256 is not None}}
    if legacy_me:
        info["isOAuthUser"] = False
        info["services"] = services
    if user.emails:
        info["email"] = user.emails[0]
    info["settings"] = {"profile": {}, "preferences": user_preferences(state)}
    username = user.username if user.username is not None else "undefined"  # a JS template literal
    info["avatarUrl"] = f"{base}/avatar/{username}"
    if not legacy_me:
        info["isOAuthUser"] = False
        info["services"] = services
    return info


def me(checks: _Checks, state: IdentityView) -> Handled:
    assert checks.user is not None
    return success(user_info(checks.user, state, checks.profile), inferred=("me-fields",)), ()


# -- permissions --------------------------------------------------------------------------------

_LIST_QUERY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"updatedSince": {"type": "string", "nullable": True}},
    "required": [],
    "additionalProperties": False,
}
_UPDATE_BODY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "permissions": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "_id": {"type": "string"},
                    "roles": {"type": "array", "items": {"type": "string"}},
                },
                "additionalProperties": False,
                "required": ["_id", "roles"],
            },
        }
    },
    "required": ["permissions"],
    "additionalProperties": False,
}
"""``permissions.update``'s body; ``roles`` also has ``uniqueItems`` (checked by ``_duplicate_roles``)."""


def _validator(schema: dict[str, Any]) -> CompiledSchema:
    return compile_schema(schema, coerce=True)


_LIST_QUERY = _validator(_LIST_QUERY_SCHEMA)
_UPDATE_BODY = _validator(_UPDATE_BODY_SCHEMA)


def _validate_list_query(checks: _Checks) -> Answer | None:
    outcome = _LIST_QUERY.validate(parse_query(checks.request.query))
    if not outcome.valid:
        return router_failure("error-invalid-params", outcome.message)
    return None


def _duplicate_roles(body: JsonValue) -> str | None:
    """ajv's ``uniqueItems`` message for the first ``roles`` array with a repeat."""
    assert isinstance(body, dict)
    permissions = body["permissions"]
    assert isinstance(permissions, list)
    for entry in permissions:
        assert isinstance(entry, dict)
        roles = entry["roles"]
        assert isinstance(roles, list)
        for later in range(len(roles) - 1, 0, -1):
            for earlier in range(later - 1, -1, -1):
                if roles[later] == roles[earlier]:
                    return f"must NOT have duplicate items (items ## {earlier} and {later} are identical)"
    return None


def _check_update_body(body: JsonValue) -> tuple[JsonValue, str | None]:
    outcome = _UPDATE_BODY.validate(body)
    if not outcome.valid:
        return None, outcome.message
    duplicate = _duplicate_roles(outcome.data)
    return (None, duplicate) if duplicate is not None else (outcome.data, None)


def _validate_update_body(checks: _Checks) -> Answer | None:
    data, message = _check_update_body(checks.body)
    if message is not None:
        return router_failure("invalid-params", message)
    checks.validated = data
    return None


def permission_document(permission: StoredPermission) -> dict[str, JsonValue]:
    return {
        "_id": permission.permission_id,
        "roles": list(permission.roles),
        "_updatedAt": iso_timestamp(permission.updated_ms),
    }


_ISO_DATE = re.compile(
    r"([+-]\d{6}|\d{4})(?:-(\d{2})(?:-(\d{2}))?)?"
    r"(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2})?)?"
)


def js_date_parse(text: str) -> int | None:
    """``Date.parse`` for the ISO formats ECMAScript defines (epoch ms, or ``None`` for NaN). Other
    strings, which V8 parses by its own rules, count as invalid (inferred)."""
    match = _ISO_DATE.fullmatch(text)
    if match is None:
        return None
    year_text, month, day, hour, minute, second, fraction, offset = match.groups()
    year = int(year_text)
    if not 1 <= year <= 9999:  # valid for JavaScript, beyond Python's datetime (inferred: not modelled)
        return None
    try:
        moment = datetime(
            year, int(month or 1), int(day or 1), int(hour or 0), int(minute or 0), int(second or 0),
            tzinfo=timezone.utc,
        )  # fmt: skip
    except ValueError:
        return None
    millis = int((fraction or "0")[:3].ljust(3, "0"))
    total = int((moment - datetime(1970, 1, 1, tzinfo=timezone.utc)).total_seconds()) * 1000 + millis
    if offset not in (None, "Z"):
        assert offset is not None
        sign = 1 if offset[0] == "+" else -1
        total -= sign * (int(offset[1:3]) * 60 + int(offset[4:6])) * 60_000
    return total


def list_permissions(checks: _Checks, state: IdentityView) -> Handled:
    since = parse_query(checks.request.query).get("updatedSince")
    everything = [permission_document(p) for p in state.all_permissions()]
    if not since:
        return success({"update": list(everything), "remove": []}), ()
    since_ms = js_date_parse(since) if isinstance(since, str) else None
    if since_ms is None:
        return failure(400, f"{INVALID_DATE} [error-roomId-param-invalid]", "error-roomId-param-invalid"), ()
    newer: list[JsonValue] = [
        permission_document(p) for p in state.all_permissions() if p.updated_ms > since_ms
    ]
    return success({"update": newer, "remove": []}), ()


def update_permissions(checks: _Checks, state: IdentityView) -> Handled:
    data = checks.validated
    if checks.profile.permissions_update == "action":
        assert checks.user is not None
        if not holds(checks.user, ACCESS_PERMISSIONS, state):
            return failure(
                400, "Editing permissions is not allowed", "error-edit-permissions-not-allowed"
            ), ()
        data, message = _check_update_body(checks.body)
        if message is not None:
            return failure(400, "Invalid body params", "error-invalid-body-params"), ()
    assert isinstance(data, dict)
    entries = data["permissions"]
    assert isinstance(entries, list)
    wanted: list[tuple[str, tuple[str, ...]]] = []
    for entry in entries:
        assert isinstance(entry, dict)
        permission_id, roles = entry["_id"], entry["roles"]
        assert isinstance(permission_id, str) and isinstance(roles, list)
        wanted.append((permission_id, tuple(str(role) for role in roles)))
    # The server counts the distinct documents found against the entries sent: a repeat fails too.
    found = {p.permission_id for p in state.all_permissions()} & {pid for pid, _ in wanted}
    if len(found) != len(wanted):
        return failure(400, "Invalid permission", "error-invalid-permission"), ()
    role_keys = list(dict.fromkeys(role for _, roles in wanted for role in roles))
    known = set(state.known_roles())
    if len([role for role in role_keys if role in known]) != len(role_keys):
        return failure(400, "Invalid role", "error-invalid-role"), ()
    now = checks.env.now_ms
    changes = tuple(SetPermissionRoles(pid, roles, now) for pid, roles in wanted)
    updated = dict(wanted)
    after: list[JsonValue] = [
        permission_document(StoredPermission(p.permission_id, updated[p.permission_id], now))
        if p.permission_id in updated
        else permission_document(p)
        for p in state.all_permissions()
    ]
    return success({"permissions": after}), changes


# -- settings -----------------------------------------------------------------------------------


def _setting_guard(checks: _Checks, permission: str, state: IdentityView) -> Answer | None:
    # 6.13: the action checks the permission itself and answers ``unauthorized()`` (a 403 there).
    if checks.profile.settings_guard != "action":
        return None
    assert checks.user is not None
    if holds(checks.user, permission, state):
        return None
    return checks.delayed(failure(403, "unauthorized"))


def get_setting(checks: _Checks, state: IdentityView) -> Handled:
    refusal = _setting_guard(checks, VIEW_PRIVILEGED_SETTING, state)
    if refusal is not None:
        return refusal, ()
    setting_id = checks.route.param or ""
    found, value = state.setting_value(setting_id)
    if not found:
        return bare_failure(), ()
    return success({"_id": setting_id, "value": value}), ()


def save_setting(checks: _Checks, state: IdentityView) -> Handled:
    """Stores ``value`` exactly as sent: the route checks no type (a string into a boolean stays a
    string). A two-factor challenge (``twoFactorRequired``) is not modelled: the mock's users pass
    it as a user whose password check was remembered would."""
    refusal = _setting_guard(checks, EDIT_PRIVILEGED_SETTING, state)
    if refusal is not None:
        return refusal, ()
    setting_id = checks.route.param or ""
    found, _ = state.setting_value(setting_id)
    body = checks.body
    if not found or not isinstance(body, dict) or "value" not in body:
        return bare_failure(), ()
    return success(), (SetSetting(setting_id, body["value"]),)
