"""Plain data that flows through the contract: requests, answers, users, triggers and state changes.

Everything here is immutable and free of I/O so that the prediction (``spec.predict``) stays a pure
function that the mock server, the payload generators and the conformance runner can all call.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Protocol, TypeAlias, TypeGuard, runtime_checkable

from spec.permissions import DEFAULT_ROLE_TABLE, DEFAULT_ROLES
from spec.records import quick_init
from spec.settings import default_settings

JsonValue: TypeAlias = bool | float | str | list["JsonValue"] | dict[str, "JsonValue"] | None
"""A value as JavaScript sees it after ``JSON.parse``: every number is a float (a JS double)."""

Trigger: TypeAlias = dict[str, JsonValue]
"""A stored trigger; its keys are kept in the server's order (see ``spec.triggers.TRIGGER_KEYS``)."""

Headers: TypeAlias = tuple[tuple[str, str], ...]


# Node.js keeps only the first of these when a request repeats them; it joins other repeats with ", ".
_SINGLE_VALUE_HEADERS = frozenset(
    {
        "age", "authorization", "content-length", "content-type", "etag", "expires", "from", "host",
        "if-modified-since", "if-unmodified-since", "last-modified", "location", "max-forwards",
        "proxy-authorization", "referer", "retry-after", "server", "user-agent",
    }
)  # fmt: skip


def header_value(headers: Headers, name: str) -> str | None:
    """A header as Node.js hands it to the server: looked up case-insensitively, repeats joined."""
    wanted = name.lower()
    values = [value for key, value in headers if key.lower() == wanted]
    if not values:
        return None
    if wanted in _SINGLE_VALUE_HEADERS:
        return values[0]
    return ", ".join(values)


def header_lookup(headers: Headers) -> dict[str, str]:
    """Every header as ``header_value`` gives it, by lower-case name (Node's ``req.headers``)."""
    found: dict[str, str] = {}
    for key, value in headers:
        name = key.lower()
        if name not in found:
            found[name] = value
        elif name not in _SINGLE_VALUE_HEADERS:
            found[name] += ", " + value
    return found


@quick_init
@dataclass(frozen=True)
class Request:
    """An HTTP request as it reaches the server, before any parsing."""

    method: str
    path: str
    query: str = ""
    headers: Headers = ()
    body: bytes = b""
    client_address: str = "127.0.0.1"

    def header(self, name: str) -> str | None:
        # The lookup is built on first use, once per request (the contract reads several headers of
        # each); kept beside the fields, so equality, hashing and ``replace`` never see it.
        lookup: dict[str, str] | None = self.__dict__.get("_by_name")
        if lookup is None:
            lookup = header_lookup(self.headers)
            object.__setattr__(self, "_by_name", lookup)
        found = lookup.get(name)  # the contract asks with lower-case names: no lower() for those
        if found is None and not name.islower():
            found = lookup.get(name.lower())
        return found

    def with_header_lookup(self, lookup: dict[str, str]) -> Request:
        """This request, with ``lookup`` (which must be ``header_lookup(self.headers)``) kept for
        ``header``: for an adapter that needed the lookup before the request existed."""
        object.__setattr__(self, "_by_name", lookup)
        return self


@quick_init
@dataclass(frozen=True)
class Answer:
    """What the server sends back: status, headers and the exact body bytes."""

    status: int
    body: bytes
    headers: Headers = ()
    delay_seconds: tuple[float, float] | None = None
    """The server waits a random time in this range before answering (6.13-7.3 on 401/403)."""
    inferred: tuple[str, ...] = ()
    """Names of profile settings marked (inferred) that this answer rests on; empty when observed."""

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return header_value(self.headers, name)


@dataclass(frozen=True)
class User:
    """A user the server knows, identified by id and authenticated by token.

    ``token`` is the login token the user starts with (``""`` for none); tokens issued by
    ``POST /api/v1/login`` live in the state (``IdentityView.has_login_token``). ``permissions`` are
    held directly, ``roles`` through the state's current role table (``spec.permissions.holds``).
    """

    user_id: str
    token: str
    permissions: frozenset[str] = frozenset()
    username: str | None = None
    password_sha256: str | None = None
    """Hex SHA-256 of the password: what Rocket.Chat feeds to bcrypt and what a client sends as
    ``password.digest``; the mock is a test double, so no bcrypt on top (see identity-model.md)."""
    roles: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    """Verified addresses; the first is the ``email`` of ``/me``."""
    name: str | None = None
    status: str = "offline"
    """Presence (``online``, ``away``, ``busy``, ``offline``): a livechat agent counts as online only
    when it is not ``offline``."""
    status_livechat: str | None = None
    """``statusLivechat``: ``available`` or ``not-available`` for a livechat agent, ``None`` for others."""
    active: bool = True

    def can(self, permission: str) -> bool:
        """Whether the user holds ``permission`` directly (roles: ``spec.permissions.holds``)."""
        return permission in self.permissions


def password_digest(password: str) -> str:
    """The hex SHA-256 a Rocket.Chat client sends for ``password`` (``{digest, algorithm:"sha-256"}``)."""
    return hashlib.sha256(password.encode("utf-8")).hexdigest()


def hash_login_token(token: str) -> str:
    """Meteor's ``Accounts._hashLoginToken``: base64 of the token's SHA-256, as the server stores it."""
    return base64.b64encode(hashlib.sha256(token.encode("utf-8")).digest()).decode("ascii")


@dataclass(frozen=True)
class StoredPermission:
    """A permission document: ``{_id, roles, _updatedAt}`` in the server's key order."""

    permission_id: str
    roles: tuple[str, ...]
    updated_ms: int


def default_permissions(at_ms: int) -> tuple[StoredPermission, ...]:
    """The permissions a server inserts at start-up, in the order it inserts them."""
    return tuple(StoredPermission(pid, roles, at_ms) for pid, roles in DEFAULT_ROLE_TABLE.items())


@quick_init
@dataclass(frozen=True)
class InsertTrigger:
    trigger: Trigger


@quick_init
@dataclass(frozen=True)
class UpdateTrigger:
    trigger_id: str
    fields: Trigger
    """The six saved fields and ``_updatedAt``; other keys of the stored trigger stay as they are."""


@quick_init
@dataclass(frozen=True)
class DeleteTrigger:
    trigger_id: str


@quick_init
@dataclass(frozen=True)
class CountCall:
    """One call counted by the rate limiter for ``key`` (client address, route and method), in a fixed
    window of ``window_ms`` that opens with its first call."""

    key: str
    at_ms: int
    window_ms: int


@dataclass(frozen=True)
class AddLoginToken:
    """``POST /api/v1/login`` stores one more hashed login token for the user."""

    user_id: str
    hashed_token: str


@dataclass(frozen=True)
class RemoveLoginToken:
    """``POST /api/v1/logout`` removes the hashed token it was called with (the start-up one too)."""

    user_id: str
    hashed_token: str


@dataclass(frozen=True)
class SetPermissionRoles:
    """``permissions.update`` replaces a permission's roles (``()`` revokes it from everyone)."""

    permission_id: str
    roles: tuple[str, ...]
    at_ms: int


@dataclass(frozen=True)
class SetSetting:
    """``POST /api/v1/settings/:_id`` stores the value as sent."""

    setting_id: str
    value: JsonValue


Change: TypeAlias = (
    InsertTrigger
    | UpdateTrigger
    | DeleteTrigger
    | CountCall
    | AddLoginToken
    | RemoveLoginToken
    | SetPermissionRoles
    | SetSetting
)
IDENTITY_CHANGES = (AddLoginToken, RemoveLoginToken, SetPermissionRoles, SetSetting)
"""Changes only the identity routes produce; a store that is not an ``IdentityView`` never gets them."""


@dataclass(frozen=True)
class RateWindow:
    started_ms: int
    calls: int


class StateView(Protocol):
    """Read access to what the server has stored; the mock's stores and ``State`` implement it."""

    def find_user(self, user_id: str) -> User | None: ...

    def all_triggers(self) -> Sequence[Trigger]:
        """Every stored trigger in natural (insertion) order."""
        ...

    def find_trigger(self, trigger_id: str) -> Trigger | None: ...

    def rate_window(self, key: str) -> RateWindow | None: ...


@runtime_checkable
class IdentityView(StateView, Protocol):
    """Users, login tokens, the role table and settings: what the identity routes (log-in, ``me``,
    ``permissions.*``, ``settings/:_id``, ``method.call``) read.

    ``State`` and the mock's stores implement it; for any other view ``spec.predict`` answers those
    routes as routes the API does not have.
    """

    def all_users(self) -> Sequence[User]: ...

    def has_login_token(self, user_id: str, hashed_token: str) -> bool:
        """Whether ``POST /api/v1/login`` issued this (hashed) token to the user and it is still valid."""
        ...

    def permission_roles(self, permission_id: str) -> tuple[str, ...] | None:
        """The roles that hold the permission now; ``None`` for an unknown permission."""
        ...

    def all_permissions(self) -> Sequence[StoredPermission]:
        """Every permission in natural (insertion) order."""
        ...

    def known_roles(self) -> Sequence[str]: ...

    def setting_value(self, setting_id: str) -> tuple[bool, JsonValue]:
        """``(found, value)``: whether the setting exists (and is not hidden) and its current value."""
        ...


_IDENTITY_VIEW_TYPES: dict[type, bool] = {}


def is_identity_view(view: StateView) -> TypeGuard[IdentityView]:
    """``isinstance(view, IdentityView)``, decided once per class: a runtime-checkable protocol check
    looks up every member each time (tens of microseconds), and the predictor asks on each request."""
    kind = type(view)
    known = _IDENTITY_VIEW_TYPES.get(kind)
    if known is None:
        known = _IDENTITY_VIEW_TYPES[kind] = isinstance(view, IdentityView)
    return known


# Shared, read-only defaults: a State is built per merged update in the mock's stores, so its defaults
# must cost nothing (apply_change copies before it writes).
_NO_TOKENS: Mapping[str, tuple[str, ...]] = MappingProxyType({})
_DEFAULT_PERMISSIONS = default_permissions(0)
_DEFAULT_SETTINGS: Mapping[str, JsonValue] = MappingProxyType(default_settings())


@dataclass(frozen=True)
class State:
    """An immutable in-memory ``IdentityView``; ``apply_changes`` returns the next one."""

    users: tuple[User, ...] = ()
    triggers: tuple[Trigger, ...] = ()
    rate_windows: Mapping[str, RateWindow] = field(default_factory=dict)
    login_tokens: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: _NO_TOKENS)
    """User id to the hashed tokens ``POST /api/v1/login`` issued."""
    permissions: tuple[StoredPermission, ...] = _DEFAULT_PERMISSIONS
    roles: tuple[str, ...] = DEFAULT_ROLES
    settings: Mapping[str, JsonValue] = field(default_factory=lambda: _DEFAULT_SETTINGS)

    def find_user(self, user_id: str) -> User | None:
        return next((user for user in self.users if user.user_id == user_id), None)

    def all_triggers(self) -> Sequence[Trigger]:
        return self.triggers

    def find_trigger(self, trigger_id: str) -> Trigger | None:
        return next((trigger for trigger in self.triggers if trigger["_id"] == trigger_id), None)

    def rate_window(self, key: str) -> RateWindow | None:
        return self.rate_windows.get(key)

    def all_users(self) -> Sequence[User]:
        return self.users

    def has_login_token(self, user_id: str, hashed_token: str) -> bool:
        return hashed_token in self.login_tokens.get(user_id, ())

    def permission_roles(self, permission_id: str) -> tuple[str, ...] | None:
        found = next((p for p in self.permissions if p.permission_id == permission_id), None)
        return None if found is None else found.roles

    def all_permissions(self) -> Sequence[StoredPermission]:
        return self.permissions

    def known_roles(self) -> Sequence[str]:
        return self.roles

    def setting_value(self, setting_id: str) -> tuple[bool, JsonValue]:
        if setting_id in self.settings:
            return True, self.settings[setting_id]
        return False, None


def next_rate_window(current: RateWindow | None, at_ms: int, window_ms: int) -> RateWindow:
    """The limiter's window after one more call: a fixed window that opens with its first call."""
    if current is None or at_ms >= current.started_ms + window_ms:
        return RateWindow(started_ms=at_ms, calls=1)
    return RateWindow(started_ms=current.started_ms, calls=current.calls + 1)


def apply_change(state: State, change: Change) -> State:
    if isinstance(change, InsertTrigger):
        return replace(state, triggers=(*state.triggers, change.trigger))
    if isinstance(change, UpdateTrigger):
        return replace(
            state,
            triggers=tuple(
                {**trigger, **change.fields} if trigger["_id"] == change.trigger_id else trigger
                for trigger in state.triggers
            ),
        )
    if isinstance(change, DeleteTrigger):
        return replace(
            state,
            triggers=tuple(trigger for trigger in state.triggers if trigger["_id"] != change.trigger_id),
        )
    if isinstance(change, CountCall):
        windows = dict(state.rate_windows)
        windows[change.key] = next_rate_window(windows.get(change.key), change.at_ms, change.window_ms)
        return replace(state, rate_windows=windows)
    return _apply_identity_change(state, change)


def _apply_identity_change(
    state: State, change: AddLoginToken | RemoveLoginToken | SetPermissionRoles | SetSetting
) -> State:
    if isinstance(change, AddLoginToken):
        tokens = dict(state.login_tokens)
        tokens[change.user_id] = (*tokens.get(change.user_id, ()), change.hashed_token)
        return replace(state, login_tokens=tokens)
    if isinstance(change, RemoveLoginToken):
        tokens = dict(state.login_tokens)
        tokens[change.user_id] = tuple(t for t in tokens.get(change.user_id, ()) if t != change.hashed_token)
        users = tuple(
            replace(user, token="")
            if user.user_id == change.user_id
            and user.token
            and hash_login_token(user.token) == change.hashed_token
            else user
            for user in state.users
        )
        return replace(state, login_tokens=tokens, users=users)
    if isinstance(change, SetPermissionRoles):
        return replace(
            state,
            permissions=tuple(
                StoredPermission(p.permission_id, change.roles, change.at_ms)
                if p.permission_id == change.permission_id
                else p
                for p in state.permissions
            ),
        )
    settings = dict(state.settings)
    settings[change.setting_id] = change.value
    return replace(state, settings=settings)


def apply_changes(state: State, changes: Sequence[Change]) -> State:
    for change in changes:
        state = apply_change(state, change)
    return state
