"""The control API's livechat agents: the users the widget's routes treat as agents (``spec.widget``).

``GET /__mock__/agents`` lists them; ``POST`` adds or updates one; ``PUT`` replaces the whole set (a user
dropped from it loses the agent role, as removing an agent in Rocket.Chat does). Nothing here decides an
answer of the Rocket.Chat API: the agents are users in the store, and ``spec.widget`` reads them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from spec.model import IdentityView, JsonValue, StateView, User
from spec.permissions import LIVECHAT_AGENT_ROLE
from spec.widget import (
    AVAILABLE,
    LIVECHAT_STATUSES,
    PRESENCES,
    is_livechat_agent,
    is_online_agent,
    livechat_agent,
    without_agent_role,
)

_FIELDS = frozenset({"_id", "username", "name", "status", "statusLivechat", "active"})


class AgentError(ValueError):
    """A control request that does not describe an agent."""


def agent_to_json(user: User) -> dict[str, JsonValue]:
    return {
        "_id": user.user_id,
        "username": user.username,
        "name": user.name,
        "status": user.status,
        "statusLivechat": user.status_livechat,
        "active": user.active,
        "online": is_online_agent(user),
    }


def all_users(view: StateView) -> list[User]:
    return list(view.all_users()) if isinstance(view, IdentityView) else []


def agents_of(users: Sequence[User]) -> list[User]:
    return [user for user in users if is_livechat_agent(user)]


def agent_from_json(data: JsonValue, users: Sequence[User]) -> User:
    """The agent ``data`` describes: an existing user (by ``_id``, else ``username``) made or kept an
    agent with the given fields, or a new agent user."""
    if not isinstance(data, dict):
        raise AgentError("an agent is a JSON object")
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise AgentError(f"unknown agent field(s) {', '.join(unknown)}; known: {', '.join(sorted(_FIELDS))}")
    username, user_id, name = data.get("username"), data.get("_id"), data.get("name")
    status, livechat, active = data.get("status"), data.get("statusLivechat"), data.get("active")
    for key, value in (("username", username), ("_id", user_id), ("name", name)):
        if value is not None and (not isinstance(value, str) or not value):
            raise AgentError(f"{key} must be a non-empty string")
    if status is not None and status not in PRESENCES:
        raise AgentError(f"status must be one of {', '.join(PRESENCES)}")
    if livechat is not None and livechat not in LIVECHAT_STATUSES:
        raise AgentError(f"statusLivechat must be one of {', '.join(LIVECHAT_STATUSES)}")
    if active is not None and not isinstance(active, bool):
        raise AgentError("active must be true or false")
    existing = _find(users, user_id, username)
    if existing is None:
        if not isinstance(username, str):
            raise AgentError("a new agent needs a username")
        if any(user.username == username for user in users):
            raise AgentError(f"the username {username} belongs to another _id")
        base = livechat_agent(username, user_id=user_id if isinstance(user_id, str) else None)
    else:
        if isinstance(username, str) and existing.username != username:
            raise AgentError(f"_id {existing.user_id} belongs to the user {existing.username}")
        roles = (
            existing.roles
            if LIVECHAT_AGENT_ROLE in existing.roles
            else (*existing.roles, LIVECHAT_AGENT_ROLE)
        )
        base = replace(existing, roles=roles, status_livechat=existing.status_livechat or AVAILABLE)
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = name
    if status is not None:
        changes["status"] = status
    if livechat is not None:
        changes["status_livechat"] = livechat
    if active is not None:
        changes["active"] = active
    return replace(base, **changes)


def _find(users: Sequence[User], user_id: JsonValue, username: JsonValue) -> User | None:
    if isinstance(user_id, str):
        return next((user for user in users if user.user_id == user_id), None)
    return next((user for user in users if username is not None and user.username == username), None)


def replaced_set(data: JsonValue, users: Sequence[User]) -> list[User]:
    """The users to store for ``PUT``: the new agents, and every former agent without the role."""
    if not isinstance(data, dict) or not isinstance(data.get("agents"), list):
        raise AgentError('send {"agents": [AGENT, ...]}')
    agents = [agent_from_json(item, users) for item in data["agents"]]  # type: ignore[union-attr]
    ids = [agent.user_id for agent in agents]
    names = [agent.username for agent in agents]
    if len(set(ids)) != len(ids) or len(set(names)) != len(names):
        raise AgentError("the same agent is listed twice")
    dropped = [without_agent_role(user) for user in agents_of(users) if user.user_id not in ids]
    return [*agents, *dropped]
