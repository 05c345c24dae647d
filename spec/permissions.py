"""Permissions, roles and Rocket.Chat's default role table for the permissions this feature touches.

Rocket.Chat grants permissions to roles: a user holds a permission when one of its roles is among the
permission's roles in the *current* table (``permissions.update`` changes it for the next request).
A user may also carry permissions directly (``spec.model.User.permissions``), which is how the mock's
``--user ID:TOKEN:PERMS`` users work.

Source: ``apps/meteor/app/authorization/server/constant/permissions.ts`` (a plain array of
``{_id, roles}``; read at 6.13.0 and at the index's newest version, same entries for the ones below),
``apps/meteor/app/authorization/server/functions/upsertPermissions.ts`` (the default roles) and
``apps/meteor/ee/app/livechat-enterprise/server/permissions.ts`` (the ``livechat-monitor`` role).
See docs/source-notes/identity-model.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spec.model import StateView, User

MANAGE_TRIGGERS = "view-livechat-manager"
"""Guards every trigger route (``livechat/triggers``, ``livechat/triggers/:_id``) and the
``livechat:saveTrigger`` method."""
BYPASS_RATE_LIMIT = "api-bypass-rate-limit"
"""A user holding it is never rate limited (the admin, bot and app roles hold it by default)."""
ACCESS_PERMISSIONS = "access-permissions"
"""Guards ``POST /api/v1/permissions.update``."""
VIEW_PRIVILEGED_SETTING = "view-privileged-setting"
"""Guards ``GET /api/v1/settings/:_id``."""
EDIT_PRIVILEGED_SETTING = "edit-privileged-setting"
"""Guards ``POST /api/v1/settings/:_id``."""
ACCESS_SETTING_PERMISSIONS = "access-setting-permissions"
MANAGE_SELECTED_SETTINGS = "manage-selected-settings"
VIEW_LIVECHAT_TRIGGERS = "view-livechat-triggers"
"""The admin UI's menu entry; no REST route checks it."""
VIEW_LIVECHAT_WEBHOOKS = "view-livechat-webhooks"

ADMIN_PERMISSIONS = frozenset({MANAGE_TRIGGERS, BYPASS_RATE_LIMIT})
"""What the mock's generated administrator holds directly (``--user`` without PERMS)."""

ADMIN_ROLE = "admin"
USER_ROLE = "user"
BOT_ROLE = "bot"
APP_ROLE = "app"
LIVECHAT_AGENT_ROLE = "livechat-agent"
LIVECHAT_MANAGER_ROLE = "livechat-manager"
LIVECHAT_MONITOR_ROLE = "livechat-monitor"
"""An enterprise role: the EE omnichannel module creates it at start-up."""

RoleTable = Mapping[str, tuple[str, ...]]
"""Permission id to the roles that hold it, in the order the server stores them."""

DEFAULT_ROLE_TABLE: RoleTable = {
    ACCESS_PERMISSIONS: (ADMIN_ROLE,),
    ACCESS_SETTING_PERMISSIONS: (ADMIN_ROLE,),
    BYPASS_RATE_LIMIT: (ADMIN_ROLE, BOT_ROLE, APP_ROLE),
    EDIT_PRIVILEGED_SETTING: (ADMIN_ROLE,),
    MANAGE_SELECTED_SETTINGS: (ADMIN_ROLE,),
    VIEW_PRIVILEGED_SETTING: (ADMIN_ROLE,),
    MANAGE_TRIGGERS: (LIVECHAT_MANAGER_ROLE, LIVECHAT_MONITOR_ROLE, ADMIN_ROLE),
    VIEW_LIVECHAT_TRIGGERS: (LIVECHAT_MANAGER_ROLE, ADMIN_ROLE),
    VIEW_LIVECHAT_WEBHOOKS: (LIVECHAT_MANAGER_ROLE, ADMIN_ROLE),
}
"""The default roles of each permission the feature touches, in ``permissions.ts`` file order (the order
the server inserts them, so the order ``permissions.listAll`` lists them)."""

DEFAULT_ROLES: tuple[str, ...] = (
    ADMIN_ROLE,
    "moderator",
    "leader",
    "owner",
    USER_ROLE,
    "federated-external",
    BOT_ROLE,
    APP_ROLE,
    "guest",
    "anonymous",
    LIVECHAT_AGENT_ROLE,
    LIVECHAT_MANAGER_ROLE,
    LIVECHAT_MONITOR_ROLE,
)
"""The roles a server creates at start-up (``upsertPermissions.ts``'s ``defaultRoles``; the newest version
lists ``federated-external`` too, older ones get it from the federation module) plus the enterprise
``livechat-monitor``; ``permissions.update`` refuses any other. A community server has no
``livechat-monitor`` (inferred: only the EE omnichannel module creates it)."""


def role_permissions(table: RoleTable, roles: Iterable[str]) -> frozenset[str]:
    """Every permission that one of ``roles`` holds in ``table``."""
    wanted = set(roles)
    return frozenset(permission for permission, holders in table.items() if wanted.intersection(holders))


def holds(user: User, permission: str, state: StateView) -> bool:
    """Whether ``user`` holds ``permission`` now: directly, or through a role in the state's current
    role table (the default table when the state keeps none)."""
    if permission in user.permissions:
        return True
    if not user.roles:
        return False
    from spec.model import is_identity_view  # spec.model imports this module

    holders = (
        state.permission_roles(permission) if is_identity_view(state) else DEFAULT_ROLE_TABLE.get(permission)
    )
    return holders is not None and any(role in holders for role in user.roles)
