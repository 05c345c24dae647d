"""The control API's users, permissions and settings (``/__mock__/users``, ``/permissions``,
``/settings``): what a request body asks for, checked and turned into a ``User`` or spec ``Change``s.

The mock's own endpoints, not Rocket.Chat's: they change what the Rocket.Chat routes then answer (a
role revoked here refuses the next trigger request, a setting changed here is what ``settings/:_id``
and the widget's config read), through the same ``spec.model`` changes those routes produce. Their
checks are the mock's: a clear 400 naming what is wrong, never a Rocket.Chat error body.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from spec.accounts import account_id
from spec.identity import permission_document
from spec.model import (
    IdentityView,
    JsonValue,
    SetPermissionRoles,
    SetSetting,
    State,
    StoredPermission,
    User,
    apply_changes,
    password_digest,
)
from spec.settings import SETTINGS

USER_FIELDS = ["_id", "username", "password", "roles", "permissions", "token", "emails", "name"]
"""What ``POST /__mock__/users`` takes (all optional; ``_id`` of a known user updates it)."""


class ControlError(ValueError):
    """A control body the mock cannot act on; the message says why."""


def users(view: IdentityView) -> list[User]:
    return list(view.all_users())


def user_json(user: User) -> dict[str, Any]:
    return {
        "_id": user.user_id,
        "username": user.username,
        "roles": list(user.roles),
        "permissions": sorted(user.permissions),
        "token": user.token,
        "hasPassword": user.password_sha256 is not None,
        "emails": list(user.emails),
        "name": user.name,
    }


def _strings(body: dict[str, JsonValue], key: str) -> tuple[str, ...] | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise ControlError(f"{key} must be an array of non-empty strings")
    return tuple(str(item) for item in value)


def _string(body: dict[str, JsonValue], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise ControlError(f"{key} must be a string")
    return value


def user_from_request(body: JsonValue, view: IdentityView) -> tuple[User, bool]:
    """The user ``body`` describes and whether it is new. A known ``_id`` keeps every field the body
    leaves out; a new user gets a random start-up token unless one is given (``""``: none)."""
    assert isinstance(body, dict)
    unknown = sorted(set(body) - set(USER_FIELDS))
    if unknown:
        raise ControlError(f"unknown field(s) {', '.join(unknown)}")
    user_id, username, token = _string(body, "_id"), _string(body, "username"), _string(body, "token")
    password, name = _string(body, "password"), _string(body, "name")
    roles, permissions, emails = (
        _strings(body, "roles"),
        _strings(body, "permissions"),
        _strings(body, "emails"),
    )
    if user_id == "" or username == "":
        raise ControlError("_id and username must not be empty")
    if user_id is None and username is None:
        raise ControlError("give an _id or a username")
    chosen_id = user_id or account_id(str(username))
    known = next((u for u in view.all_users() if u.user_id == chosen_id), None)
    user = known or User(chosen_id, secrets.token_urlsafe(32))
    changes: dict[str, Any] = {}
    if username is not None:
        taken = [u for u in view.all_users() if u.username == username and u.user_id != chosen_id]
        if taken:
            raise ControlError(f"username {username!r} belongs to user {taken[0].user_id!r}")
        changes["username"] = username
    if password is not None:
        changes["password_sha256"] = password_digest(password)
    if token is not None:
        changes["token"] = token
    if name is not None:
        changes["name"] = name
    if roles is not None:
        changes["roles"] = roles
    if permissions is not None:
        changes["permissions"] = frozenset(permissions)
    if emails is not None:
        changes["emails"] = emails
    return replace(user, **changes), known is None


def permission_json(permission: StoredPermission) -> dict[str, JsonValue]:
    return permission_document(permission)


def permissions(view: IdentityView) -> list[dict[str, JsonValue]]:
    return [permission_json(p) for p in view.all_permissions()]


def permission_changes(body: JsonValue, view: IdentityView, now_ms: int) -> list[SetPermissionRoles]:
    """``{"permissions": [{"_id", "roles"}]}`` (the shape of ``permissions.update``) or one
    ``{"_id", "roles"}``: the roles of each named permission replaced; ``[]`` revokes it for all."""
    entries = body.get("permissions") if isinstance(body, dict) and "permissions" in body else [body]
    if not isinstance(entries, list) or not entries:
        raise ControlError('send {"permissions": [{"_id": PERMISSION, "roles": [ROLE, ...]}]}')
    known_roles = set(view.known_roles())
    changes = []
    for entry in entries:
        if not isinstance(entry, dict) or set(entry) != {"_id", "roles"}:
            raise ControlError('each permission is {"_id": PERMISSION, "roles": [ROLE, ...]}')
        permission_id, roles = entry["_id"], _strings(entry, "roles")
        if not isinstance(permission_id, str) or view.permission_roles(permission_id) is None:
            known = ", ".join(p.permission_id for p in view.all_permissions())
            raise ControlError(f"unknown permission {permission_id!r} (known: {known})")
        unknown = [role for role in roles or () if role not in known_roles]
        if unknown:
            raise ControlError(f"unknown role(s) {', '.join(unknown)}")
        changes.append(SetPermissionRoles(permission_id, roles or (), now_ms))
    return changes


def applied_permissions(view: IdentityView, changes: Sequence[SetPermissionRoles]) -> list[StoredPermission]:
    """Every permission as it will be once ``changes`` are stored (spec's own rule)."""
    after = apply_changes(State(permissions=tuple(view.all_permissions())), changes)
    return list(after.permissions)


def settings(view: IdentityView) -> dict[str, JsonValue]:
    found = {}
    for definition in SETTINGS:
        exists, value = view.setting_value(definition.setting_id)
        if exists:
            found[definition.setting_id] = value
    return found


def setting_changes(body: JsonValue, view: IdentityView) -> list[SetSetting]:
    """``{"settings": {ID: VALUE, ...}}`` or ``{"_id": ID, "value": VALUE}``: values stored as given
    (like ``POST /api/v1/settings/:_id``), for settings the server has."""
    if isinstance(body, dict) and set(body) == {"_id", "value"}:
        values: JsonValue = {str(body["_id"]): body["value"]}
    elif isinstance(body, dict) and set(body) == {"settings"}:
        values = body["settings"]
    else:
        values = None
    if not isinstance(values, dict) or not values:
        raise ControlError(
            'send {"settings": {"SETTING_ID": VALUE, ...}} or {"_id": SETTING_ID, "value": VALUE}'
        )
    unknown = [setting_id for setting_id in values if not view.setting_value(setting_id)[0]]
    if unknown:
        raise ControlError(f"unknown setting(s) {', '.join(unknown)} (GET /__mock__/settings lists them)")
    return [SetSetting(setting_id, value) for setting_id, value in values.items()]
