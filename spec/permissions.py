"""Permission names the feature's routes check, and what the mock's generated admin holds.

Rocket.Chat grants permissions to roles; the role table arrives with the identity work. Until then a
user carries its permissions directly (``spec.model.User.permissions``).
"""

from __future__ import annotations

MANAGE_TRIGGERS = "view-livechat-manager"
"""Guards every trigger route (``livechat/triggers``, ``livechat/triggers/:_id``)."""
BYPASS_RATE_LIMIT = "api-bypass-rate-limit"
"""A user holding it is never rate limited (the admin, bot and app roles hold it by default)."""

ADMIN_PERMISSIONS = frozenset({MANAGE_TRIGGERS, BYPASS_RATE_LIMIT})
"""What an administrator holds of the permissions above."""
