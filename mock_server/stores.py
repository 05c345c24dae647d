"""Where the mock keeps what the contract says the server stores: triggers, rate-limit windows and
the identity (users, login tokens, the role table of each permission, settings).

Both stores hand the predictor a ``spec.model.StateView`` and apply the ``Change`` values it returns.
They hold no rule of their own: an update merges fields with ``spec.model.apply_change`` and a
rate-limit window advances with ``spec.model.next_rate_window``, so the stores cannot drift from the
contract's in-memory ``State``.

* ``MemoryStore`` keeps rows like the SQLite table (O(1) insert, find, update, delete); the event
  loop runs one request at a time between awaits, so predict-then-apply is atomic without a lock.
  A request predicted in a forked child (a large body, ``mock_server.offload``) applies its changes
  back on the loop, and only if nothing it read was written meanwhile; otherwise it is predicted
  again (``Overtaken``).
* Both keep what a list and the public config read, so that neither costs more than its page: an
  index in the default sort's order (``spec.predict.sort_key`` of ``DEFAULT_SORT``, ties in
  insertion order, whether any two keys tie) and the subset ``spec.predict.is_public`` selects.
  Every other sort falls back to ``spec.predict``'s full sort over all triggers.
* ``SqliteStore`` (``--db PATH``) is shared by every worker process. A request first predicts inside
  a deferred (read) transaction: most answers (401, 403, 400, reads by users who bypass the rate
  limiter) change nothing, and those never take the write lock. When the outcome has changes, the
  store upgrades to a write; if another process wrote since the snapshot was taken, SQLite refuses
  the upgrade (``SQLITE_BUSY``) and the request is predicted again inside ``BEGIN IMMEDIATE``, which
  holds the only write lock from the read to the commit. So two writers can never both act on the
  same old state (no lost update), and ``synchronous=FULL`` makes each commit durable before the
  answer is sent.
* Both are ``spec.model.IdentityView``s (so ``spec.predict`` answers the log-in, ``me``,
  ``permissions.*``, ``settings/:_id`` and ``method.call`` routes for them) and start from a
  ``StartState``: the users of the command line, the default role table, the default settings.
  ``reset`` returns to it. An identity change merges through ``spec.model.apply_change`` too.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import marshal
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, NamedTuple, Protocol, TypeVar, overload

from mock_server.settings import MockSettings, user_from_json, user_to_json
from spec.jsvalues import JsonText, parse_json, stringify
from spec.model import (
    IDENTITY_CHANGES,
    AddLoginToken,
    Change,
    CountCall,
    DeleteTrigger,
    InsertTrigger,
    JsonValue,
    RateWindow,
    RemoveLoginToken,
    SetPermissionRoles,
    SetSetting,
    State,
    StateView,
    StoredPermission,
    Trigger,
    UpdateTrigger,
    User,
    apply_change,
    default_permissions,
    next_rate_window,
)
from spec.permissions import DEFAULT_ROLES
from spec.predict import DEFAULT_SORT, default_sort_key, is_public
from spec.settings import SITE_URL, default_settings

T = TypeVar("T")


@dataclass(frozen=True)
class StartState:
    """What a store holds at start-up besides its users, and returns to on ``reset``."""

    permissions: tuple[StoredPermission, ...] = field(default_factory=lambda: default_permissions(0))
    roles: tuple[str, ...] = DEFAULT_ROLES
    settings: Mapping[str, JsonValue] = field(default_factory=default_settings)


def start_state(settings: MockSettings) -> StartState:
    """The start-up identity of a mock run with ``settings``: the default role table stamped with the
    start time (the ``--clock`` start when it is not the real clock), the default settings, and
    ``Site_Url`` set to the mock's own address (the server's ``ROOT_URL``) so ``/me``'s
    ``avatarUrl`` points at the mock."""
    clock = settings.clock
    at_ms = time.time_ns() // 1_000_000 if clock.kind == "real" else clock.start_ms
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return StartState(
        permissions=default_permissions(at_ms),
        settings={**default_settings(), SITE_URL: f"http://{host}:{settings.port}"},
    )


IdentityChange = AddLoginToken | RemoveLoginToken | SetPermissionRoles | SetSetting


class JournalEntry(NamedTuple):
    """One answered request. A tuple: one is made for every API request, and read only when the
    journal is asked for."""

    request_id: str
    at: float
    """Epoch seconds; formatted (ISO 8601, UTC, milliseconds) only when the journal is read."""
    method: str
    path: str
    query: str
    status: int
    operation: str
    duration_ms: float
    """As measured; shown rounded to the microsecond."""

    def to_json(self) -> dict[str, object]:
        return {
            "requestId": self.request_id,
            "time": _iso(self.at),
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "status": self.status,
            "operation": self.operation,
            "durationMs": round(self.duration_ms, 3),
        }


def _iso(epoch_seconds: float) -> str:
    moment = datetime.fromtimestamp(epoch_seconds, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


LOAD_STEP = 1_000
"""Triggers loaded between two turns of the event loop."""

Offload = Callable[[Callable[[], Any]], Awaitable[Any]]
"""Runs a function in a forked child and awaits its result (``mock_server.offload.Offloader.run``)."""


class Overtaken(Exception):
    """A prediction made off the loop read state that changed before it could be applied."""


@dataclass
class _Changes:
    """What was written while an offloaded prediction ran."""

    ids: set[str]
    keys: set[str]
    triggers: bool = False
    everything: bool = False


class _Recording:
    """The store as ``StateView``, noting what the predictor reads (to detect conflicting writes)."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self.ids: set[str] = set()
        self.keys: set[str] = set()
        self.listed = False

    def find_user(self, user_id: str) -> User | None:
        return self._store.find_user(user_id)

    def all_triggers(self) -> Sequence[Trigger]:
        self.listed = True
        return self._store.all_triggers()

    def public_triggers(self) -> Sequence[Trigger]:
        self.listed = True
        return self._store.public_triggers()

    def find_trigger(self, trigger_id: str) -> Trigger | None:
        self.ids.add(trigger_id)
        return self._store.find_trigger(trigger_id)

    def rate_window(self, key: str) -> RateWindow | None:
        self.keys.add(key)
        return self._store.rate_window(key)

    # The identity is read as is: every identity write counts as a conflict (``_Changes.everything``).

    def all_users(self) -> Sequence[User]:
        return self._store.all_users()

    def has_login_token(self, user_id: str, hashed_token: str) -> bool:
        return self._store.has_login_token(user_id, hashed_token)

    def permission_roles(self, permission_id: str) -> tuple[str, ...] | None:
        return self._store.permission_roles(permission_id)

    def all_permissions(self) -> Sequence[StoredPermission]:
        return self._store.all_permissions()

    def known_roles(self) -> Sequence[str]:
        return self._store.known_roles()

    def setting_value(self, setting_id: str) -> tuple[bool, JsonValue]:
        return self._store.setting_value(setting_id)

    def reads(self) -> _Reads:
        return _Reads(self.ids, self.keys, self.listed)


@dataclass(frozen=True)
class _Reads:
    """What an offloaded prediction looked at (sent back from the child with its result)."""

    ids: set[str]
    keys: set[str]
    listed: bool

    def conflict(self, changes: _Changes) -> bool:
        return (
            changes.everything
            or (self.listed and changes.triggers)
            or not self.ids.isdisjoint(changes.ids)
            or not self.keys.isdisjoint(changes.keys)
        )


class Store(Protocol):
    """What the mock's request handling needs from a store."""

    description: str

    def transact(self, predict: Callable[[StateView], tuple[T, Sequence[Change]]]) -> T:
        """Run ``predict`` on a consistent view and apply the changes it returns, atomically."""
        ...

    async def transact_offloaded(
        self, predict: Callable[[StateView], tuple[T, Sequence[Change]]], offload: Offload, *, exclusive: bool
    ) -> T:
        """``transact`` with ``predict`` run by ``offload`` (a forked child). Raises ``Overtaken``
        when a write made meanwhile touched what the prediction read, unless ``exclusive`` (the
        caller then guarantees that nothing else writes)."""
        ...

    def triggers(self) -> list[Trigger]: ...

    def snapshot(self) -> Callable[[], list[Trigger]]:
        """Every stored trigger as of now, read by the returned function (safe in the worker thread)."""
        ...

    def count(self) -> int: ...

    def public_count(self) -> int:
        """How many stored triggers the public config shows."""
        ...

    def load(self, triggers: Iterable[Trigger], *, replace: bool) -> None: ...

    async def load_in_steps(self, triggers: Sequence[Trigger], *, replace: bool) -> None:
        """``load`` without holding the event loop for long (many triggers)."""
        ...

    def reset(self) -> None:
        """Forget triggers, rate-limit windows and the journal; users, login tokens, permissions and
        settings return to the start-up state."""
        ...

    def put_user(self, user: User) -> None:
        """Add the user, or replace the one with its id (its login tokens stay valid)."""
        ...

    def profile_name(self, default: str) -> str: ...

    def set_profile_name(self, name: str) -> None: ...

    def record(self, entry: JournalEntry) -> None: ...

    def journal(self, limit: int) -> list[JournalEntry]: ...

    def close(self) -> None: ...


def _dump(trigger: Trigger) -> str:
    # ensure_ascii keeps lone surrogates (legal in JSON text, illegal in UTF-8) storable as TEXT.
    return json.dumps(trigger, separators=(",", ":"))


def _load(doc: str) -> Trigger:
    # Written by _dump from JS values (every number a float, written with a '.0' or an exponent), so
    # the plain C decoder gives back exactly what was stored; no spec.jsvalues pass is needed.
    trigger: Trigger = json.loads(doc)
    return trigger


_MARSHAL_VERSION = 2
"""The last format without back-references: every row reads back as a tree of fresh objects, as
JSON.parse would give, even where the written trigger shared a list or an object between fields."""

_Row = bytes | str
"""A MemoryStore row: the trigger in ``marshal`` form as written, or as the JSON text ``stringify``
writes once a list has shown it (the form a list copies into its answer)."""


def _row(trigger: Trigger) -> _Row:
    # marshal writes a trigger about four times faster than stringify, in slightly fewer bytes, and
    # reads it back faster than JSON.parse; what it cannot write (a str subclass, deep nesting) is
    # kept as JSON text.
    try:
        return marshal.dumps(trigger, _MARSHAL_VERSION)
    except ValueError:
        return stringify(trigger)


def _parse(doc: _Row) -> Trigger:
    # The same JS value as was written: marshal keeps types, key order and every float's bits;
    # stringify's text read back with JSON.parse.
    trigger = marshal.loads(doc) if isinstance(doc, bytes) else parse_json(doc)
    assert isinstance(trigger, dict)
    return trigger


def _text(rows: dict[int, _Row], row: int) -> JsonText:
    """The row as ``stringify`` writes it, kept in that form from now on: a trigger that is listed
    once is usually listed again, and its text is copied into a list answer as it is."""
    doc = rows[row]
    if type(doc) is bytes:
        doc = rows[row] = stringify(marshal.loads(doc))
    assert isinstance(doc, str)
    return JsonText(doc)


_MERGED_ONE_BY_ONE = 64
"""Up to this many pending index entries are bisected in; more are merged by one sort. Also how many
recent inserts keep their keys (``MemoryStore._recent_keys``): a merge small enough to be bisected
in never reads a row back."""


_default_key = default_sort_key


class _Lazy(Sequence[Trigger]):
    """A sequence of stored triggers read only when looked at; slices stay lazy.

    ``spec.predict`` slices the sorted sequence to the page and reads only the page, so a list costs
    its page, not the store.
    """

    def __init__(
        self,
        length: int,
        read: Callable[[int, int], list[Trigger]],
        start: int = 0,
        *,
        texts: Callable[[int, int], list[JsonText]] | None = None,
    ) -> None:
        self._length = length
        self._read = read
        self._start = start
        self._items: list[Trigger] | None = None
        self._texts = texts

    def __len__(self) -> int:
        return self._length

    def _all(self) -> list[Trigger]:
        if self._items is None:
            self._items = self._read(self._start, self._length)
        return self._items

    @overload
    def __getitem__(self, index: int) -> Trigger: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Trigger]: ...

    def __getitem__(self, index: int | slice) -> Trigger | Sequence[Trigger]:
        if isinstance(index, slice) and index.step in (None, 1) and self._items is None:
            start, stop, _ = index.indices(self._length)
            return _Lazy(max(stop - start, 0), self._read, self._start + start, texts=self._texts)
        return self._all()[index]

    def __iter__(self) -> Iterator[Trigger]:
        return iter(self._all())

    def as_json_texts(self) -> list[JsonText] | None:
        """The hook ``spec.predict`` looks for: these triggers as stringify wrote them, if kept so."""
        if self._texts is None or self._items is not None:
            return None
        return self._texts(self._start, self._length)


class _StoredTriggers(_Lazy):
    """``StateView.all_triggers()`` of a store: natural order, plus the default-sort index."""

    def __init__(
        self,
        length: int,
        read: Callable[[int, int], list[Trigger]],
        presorted: Callable[[], tuple[Sequence[Trigger], bool] | None],
    ) -> None:
        super().__init__(length, read)
        self._presorted = presorted

    def sorted_by(self, sort: dict[str, Any]) -> tuple[Sequence[Trigger], bool] | None:
        """The hook ``spec.predict.sort_triggers`` looks for; ``None``: sort them yourself."""
        return self._presorted() if sort == DEFAULT_SORT else None


class MemoryStore:
    """State of one process only (the default, and ``--workers 1``).

    Laid out like the SQLite table rather than as one immutable ``spec.model.State``: rows keyed by
    an insertion sequence number (a dict keeps insertion order), each the trigger in ``marshal`` form,
    or as the JSON text ``spec.jsvalues.stringify`` writes once a list has shown it (either a fraction
    of the memory of the dicts and lists, nothing for the garbage collector to walk; a list answer
    copies the texts of its page as they are), an index from ``_id`` to its rows, the default-sort
    index and the public subset. Inserting, finding, updating and deleting a trigger cost O(1) or
    O(log n) plus a memmove, never a copy of every stored trigger. Same semantics as ``State``,
    duplicate ids included, and updates still merge through ``spec.model.apply_change``.
    """

    def __init__(self, users: Sequence[User], *, journal_size: int, start: StartState | None = None) -> None:
        self.description = "in memory (lost when the server stops)"
        self._start_users = tuple(users)
        self._start = start or StartState()
        self._users: dict[str, User] = {}
        self._login_tokens: dict[str, tuple[str, ...]] = {}
        self._permissions: dict[str, StoredPermission] = {}
        self._settings: dict[str, JsonValue] = {}
        self._restore_identity()
        self._rows: dict[int, _Row] = {}
        self._rows_by_id: dict[str, int | list[int]] = {}
        self._next_row = 0
        self._order: list[tuple[tuple[Any, ...], int]] = []
        """(default sort key, row), sorted: the order spec.predict.sort_triggers gives DEFAULT_SORT."""
        self._order_ok = True
        """False once two keys could not be compared: the index is dropped, lists sort in full."""
        self._ties = 0
        """How many neighbours in ``_order`` have equal keys (> 0: some two triggers tie)."""
        self._pending: list[int] = []
        """Rows inserted since ``_order`` was last read, in row order, merged on the next read, update
        or delete: an insert appends its row number, no bisect and memmove."""
        self._recent_keys: deque[tuple[Any, ...]] = deque(maxlen=_MERGED_ONE_BY_ONE)
        """The default-sort keys of the last pending rows (the tail of ``_pending``, in its order).
        The keys of older pending rows are read back from the rows when they are merged: keeping a
        key for every insert of a long run cost ~3 µs of CPU per saving request over HTTP, while a
        read after a few inserts, the common case, still merges them without reading rows back
        (bench/README.md, round 7)."""
        self._public: list[int] = []
        """Rows that spec.predict.is_public selects, in natural order."""
        self._rate_windows: dict[str, RateWindow] = {}
        self._profile: str | None = None
        self._journal: deque[JournalEntry] = deque(maxlen=journal_size)
        self._watchers: list[_Changes] = []
        """One per prediction running off the loop: what is written meanwhile."""

    # StateView, read by the predictor ---------------------------------------------------------------

    def find_user(self, user_id: str) -> User | None:
        return self._users.get(user_id)

    def all_triggers(self) -> Sequence[Trigger]:
        return _StoredTriggers(len(self._rows), self._read_natural, self._presorted)

    def _read_natural(self, start: int, length: int) -> list[Trigger]:
        docs = list(self._rows.values())  # one C-level copy: consistent even read from the worker
        return [_parse(doc) for doc in docs[start : start + length]]

    def _presorted(self) -> tuple[Sequence[Trigger], bool] | None:
        self._merge_pending()
        if not self._order_ok:
            return None
        # No copy of the index (190 µs at 50,000 triggers): spec.predict reads the page in the same
        # call, with no write in between (on the loop, or in a forked child's own copy of the store).
        order, rows = self._order, self._rows

        def read(start: int, length: int) -> list[Trigger]:
            return [_parse(rows[row]) for _, row in order[start : start + length]]

        def texts(start: int, length: int) -> list[JsonText]:
            return [_text(rows, row) for _, row in order[start : start + length]]

        return _Lazy(len(order), read, texts=texts), self._ties > 0

    def public_triggers(self) -> Sequence[Trigger]:
        """The hook ``spec.predict.public_triggers`` looks for."""
        rows = self._rows
        return [_parse(rows[row]) for row in list(self._public)]

    def find_trigger(self, trigger_id: str) -> Trigger | None:
        rows = self._rows_by_id.get(trigger_id)
        if rows is None:
            return None
        return _parse(self._rows[rows if isinstance(rows, int) else rows[0]])

    def rate_window(self, key: str) -> RateWindow | None:
        return self._rate_windows.get(key)

    # IdentityView ---------------------------------------------------------------------------------

    def all_users(self) -> Sequence[User]:
        return list(self._users.values())

    def has_login_token(self, user_id: str, hashed_token: str) -> bool:
        return hashed_token in self._login_tokens.get(user_id, ())

    def permission_roles(self, permission_id: str) -> tuple[str, ...] | None:
        found = self._permissions.get(permission_id)
        return None if found is None else found.roles

    def all_permissions(self) -> Sequence[StoredPermission]:
        return list(self._permissions.values())

    def known_roles(self) -> Sequence[str]:
        return self._start.roles

    def setting_value(self, setting_id: str) -> tuple[bool, JsonValue]:
        if setting_id in self._settings:
            return True, self._settings[setting_id]
        return False, None

    def _restore_identity(self) -> None:
        self._users = {user.user_id: user for user in self._start_users}
        self._login_tokens = {}
        self._permissions = {p.permission_id: p for p in self._start.permissions}
        self._settings = dict(self._start.settings)

    # Store ------------------------------------------------------------------------------------------

    def transact(self, predict: Callable[[StateView], tuple[T, Sequence[Change]]]) -> T:
        # No await between the read and the write: the event loop makes this atomic.
        result, changes = predict(self)
        self._apply_all(changes)
        return result

    async def transact_offloaded(
        self, predict: Callable[[StateView], tuple[T, Sequence[Change]]], offload: Offload, *, exclusive: bool
    ) -> T:
        view = _Recording(self)

        def work() -> tuple[T, Sequence[Change], _Reads]:
            result, changes = predict(view)
            return result, changes, view.reads()  # not the view: it would pickle the whole store

        written = _Changes(set(), set())
        self._watchers.append(written)  # several may wait for the one child at a time
        try:
            result, changes, seen = await offload(work)
        finally:
            self._watchers.remove(written)
        if seen.conflict(written) and not exclusive:
            raise Overtaken
        # Back on the loop: nothing the prediction read has changed, so applying it now is as if
        # it had run here, after the writes that overtook it.
        self._apply_all(changes)
        result_: T = result
        return result_

    def _apply_all(self, changes: Sequence[Change]) -> None:
        for change in changes:
            for watching in self._watchers:
                if isinstance(change, CountCall):
                    watching.keys.add(change.key)
                elif isinstance(change, InsertTrigger):
                    watching.triggers = True
                    watching.ids.add(str(change.trigger["_id"]))
                elif isinstance(change, (UpdateTrigger, DeleteTrigger)):
                    watching.triggers = True
                    watching.ids.add(change.trigger_id)
                elif isinstance(change, IDENTITY_CHANGES):
                    watching.everything = True  # rare writes: not worth tracking what was read
            self._apply(change)

    def _rows_of(self, trigger_id: str) -> list[int]:
        rows = self._rows_by_id.get(trigger_id)
        return [] if rows is None else [rows] if isinstance(rows, int) else list(rows)

    def _apply(self, change: Change) -> None:
        if isinstance(change, InsertTrigger):
            self._insert(change.trigger)
        elif isinstance(change, UpdateTrigger):
            for row in self._rows_of(change.trigger_id):
                old = _parse(self._rows[row])
                # The contract's own merge, on a one-trigger State: no second copy of the rule.
                (merged,) = apply_change(State(triggers=(old,)), change).triggers
                self._unindex(row, old)
                self._rows[row] = _row(merged)
                self._index(row, merged)
        elif isinstance(change, DeleteTrigger):
            for row in self._rows_of(change.trigger_id):
                self._unindex(row, _parse(self._rows[row]))  # while the row is there to merge
                del self._rows[row]
            self._rows_by_id.pop(change.trigger_id, None)
        elif isinstance(change, CountCall):
            current = self._rate_windows.get(change.key)
            self._rate_windows[change.key] = next_rate_window(current, change.at_ms, change.window_ms)
        elif isinstance(change, IDENTITY_CHANGES):
            self._apply_identity(change)
        else:  # pragma: no cover - a new Change kind in spec.model must be stored explicitly
            raise TypeError(f"unknown change {change!r}")

    def _apply_identity(self, change: IdentityChange) -> None:
        # The contract's own rule on a State holding only what the change touches.
        if isinstance(change, (AddLoginToken, RemoveLoginToken)):
            user = self._users.get(change.user_id)
            tokens = {change.user_id: self._login_tokens.get(change.user_id, ())}
            after = apply_change(State(users=() if user is None else (user,), login_tokens=tokens), change)
            self._login_tokens[change.user_id] = after.login_tokens[change.user_id]
            if user is not None:
                self._users[change.user_id] = after.users[0]
        elif isinstance(change, SetPermissionRoles):
            stored = self._permissions.get(change.permission_id)
            if stored is not None:
                (self._permissions[change.permission_id],) = apply_change(
                    State(permissions=(stored,)), change
                ).permissions
        else:
            self._settings[change.setting_id] = change.value

    def _insert(self, trigger: Trigger) -> None:
        row = self._next_row
        self._next_row += 1
        self._rows[row] = _row(trigger)
        trigger_id = str(trigger["_id"])
        known = self._rows_by_id.setdefault(trigger_id, row)  # one probe of a large table
        if known is not row:  # the id was taken already: duplicates keep all their rows
            if isinstance(known, int):
                self._rows_by_id[trigger_id] = [known, row]
            else:
                known.append(row)
        self._index(row, trigger)

    def _index(self, row: int, trigger: Trigger) -> None:
        if is_public(trigger):
            bisect.insort(self._public, row)
        if self._order_ok:
            self._pending.append(row)
            self._recent_keys.append(_default_key(trigger))

    def _merge_pending(self) -> None:
        pending = self._pending
        if not pending:
            return
        self._pending = []
        recent = list(self._recent_keys)
        self._recent_keys.clear()
        if not self._order_ok:
            return
        rows = self._rows
        older = len(pending) - len(recent)
        entries = [(_default_key(_parse(rows[row])), row) for row in pending[:older]]
        entries += zip(recent, pending[older:], strict=True)
        order = self._order
        try:
            if len(entries) <= _MERGED_ONE_BY_ONE:
                for entry in entries:
                    at = bisect.bisect_left(order, entry)
                    order.insert(at, entry)
                    self._ties += self._tie_change(at)
            else:  # two sorted runs: Python's sort merges them in linear time
                entries.sort()
                order += entries
                order.sort()
                self._ties = sum(1 for at in range(1, len(order)) if order[at - 1][0] == order[at][0])
        except TypeError:  # keys of two kinds MongoDB orders but Python cannot compare
            self._drop_order()

    def _unindex(self, row: int, trigger: Trigger) -> None:
        if is_public(trigger):
            at = bisect.bisect_left(self._public, row)
            del self._public[at]
        self._merge_pending()
        if not self._order_ok:
            return
        at = bisect.bisect_left(self._order, (_default_key(trigger), row))
        self._ties -= self._tie_change(at)
        del self._order[at]

    def _tie_change(self, at: int) -> int:
        """How many equal-key neighbour pairs the entry at ``at`` makes (joining two neighbours)."""
        order = self._order
        key = order[at][0]
        left = at > 0 and order[at - 1][0] == key
        right = at + 1 < len(order) and order[at + 1][0] == key
        outer = at > 0 and at + 1 < len(order) and order[at - 1][0] == order[at + 1][0]
        return int(left) + int(right) - int(outer)

    def _drop_order(self) -> None:
        self._order_ok = False
        self._order = []
        self._pending = []
        self._recent_keys.clear()
        self._ties = 0

    def _clear_triggers(self) -> None:
        for watching in self._watchers:
            watching.everything = True
        self._rows.clear()
        self._rows_by_id.clear()
        self._order = []
        self._pending = []
        self._recent_keys.clear()
        self._order_ok = True
        self._ties = 0
        self._public = []

    def triggers(self) -> list[Trigger]:
        return [_parse(doc) for doc in self._rows.values()]

    def snapshot(self) -> Callable[[], list[Trigger]]:
        docs = list(self._rows.values())
        return lambda: [_parse(doc) for doc in docs]

    def count(self) -> int:
        return len(self._rows)

    def public_count(self) -> int:
        return len(self._public)

    def load(self, triggers: Iterable[Trigger], *, replace: bool) -> None:
        if replace:
            self._clear_triggers()
        for watching in self._watchers:
            watching.everything = True
        for trigger in triggers:
            self._insert(trigger)

    async def load_in_steps(self, triggers: Sequence[Trigger], *, replace: bool) -> None:
        """``load`` a thousand triggers at a time, letting the loop run in between (the caller
        holds other requests back, so none sees a half-loaded store)."""
        if replace:
            self._clear_triggers()
        for start in range(0, len(triggers), LOAD_STEP):
            for watching in self._watchers:
                watching.everything = True
            for trigger in triggers[start : start + LOAD_STEP]:
                self._insert(trigger)
            await asyncio.sleep(0)

    def reset(self) -> None:
        self._clear_triggers()
        for watching in self._watchers:
            watching.everything = True
        self._rate_windows.clear()
        self._journal.clear()
        self._restore_identity()

    def put_user(self, user: User) -> None:
        for watching in self._watchers:
            watching.everything = True
        self._users[user.user_id] = user

    def profile_name(self, default: str) -> str:
        return self._profile or default

    def set_profile_name(self, name: str) -> None:
        self._profile = name

    def record(self, entry: JournalEntry) -> None:
        self._journal.append(entry)

    def journal(self, limit: int) -> list[JournalEntry]:
        entries = list(self._journal)
        return entries[-limit:] if limit else entries

    def close(self) -> None:
        pass


_SCHEMA = (
    # seq: insertion order, which is the server's natural order; doc: the whole trigger as JSON text,
    # keys in the server's order.
    "CREATE TABLE IF NOT EXISTS triggers"
    " (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, doc TEXT NOT NULL)",
    # Not UNIQUE on purpose: spec.model.State would keep a duplicate id too (say a seeded id that a
    # sequential --ids source offers again). find returns the first copy, delete removes them all.
    "CREATE INDEX IF NOT EXISTS triggers_id ON triggers (id)",
    "CREATE TABLE IF NOT EXISTS rate_windows"
    " (key TEXT PRIMARY KEY, started_ms INTEGER NOT NULL, calls INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # at: epoch seconds (REAL); the ISO text is made only when the journal is read.
    "CREATE TABLE IF NOT EXISTS requests (seq INTEGER PRIMARY KEY AUTOINCREMENT, request_id TEXT,"
    " at REAL, method TEXT, path TEXT, query TEXT, status INTEGER, operation TEXT, duration_ms REAL)",
    # The identity: seq keeps the natural order the server lists users and permissions in; doc is
    # mock_server.settings.user_to_json; values are JSON text of JS values (like trigger docs).
    "CREATE TABLE IF NOT EXISTS users"
    " (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, doc TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS login_tokens (user_id TEXT NOT NULL, hashed_token TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS login_tokens_user ON login_tokens (user_id, hashed_token)",
    "CREATE TABLE IF NOT EXISTS permissions (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " id TEXT NOT NULL UNIQUE, roles TEXT NOT NULL, updated_ms INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS settings (id TEXT PRIMARY KEY, value TEXT NOT NULL)",
)
_IDENTITY_TABLES = ("users", "login_tokens", "permissions", "settings")
_INDEX_COLUMNS = (
    # name_key: the default sort's key as bytes that SQLite orders like spec.predict.sort_key orders
    # the name (UTF-8 keeps code point order); NULL when the name is not a string (then lists sort
    # in full). public: spec.predict.is_public of the trigger.
    ("name_key", "ALTER TABLE triggers ADD COLUMN name_key BLOB"),
    ("public", "ALTER TABLE triggers ADD COLUMN public INTEGER NOT NULL DEFAULT 0"),
)
_INDEXES = (
    "CREATE INDEX IF NOT EXISTS triggers_order ON triggers (name_key, seq)",
    "CREATE INDEX IF NOT EXISTS triggers_public ON triggers (seq) WHERE public = 1",
)
_COUNTERS = ("count", "ties")
"""Kept in ``meta`` by every write, in the write's transaction: the number of triggers and how many
of them share a name with an older one (> 0: the default sort has ties)."""


_IDENTITY_VERSION = "identity_version"
"""A ``meta`` counter that every write to users, tokens, permissions or settings increments."""


def _bump_identity(connection: sqlite3.Connection) -> None:
    connection.execute(
        "INSERT INTO meta (key, value) VALUES (?, '1') "
        "ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
        (_IDENTITY_VERSION,),
    )


def _dump_user(user: User) -> str:
    return json.dumps(user_to_json(user), separators=(",", ":"))


def _id_key(trigger_id: str) -> str | bytes:
    """What the ``id`` column holds: the id, or for an id with lone surrogates (valid in JavaScript,
    not in UTF-8) its bytes, which no TEXT id can equal."""
    try:
        trigger_id.encode("utf-8")
    except UnicodeEncodeError:
        return trigger_id.encode("utf-8", "surrogatepass")
    return trigger_id


def _name_key(trigger: Trigger) -> bytes | None:
    key = _default_key(trigger)
    if len(key) == 1 and len(key[0]) == 2 and isinstance(key[0][1], str):
        return key[0][1].encode("utf-8", "surrogatepass")
    return None


def _row_values(trigger: Trigger) -> tuple[str | bytes, str, bytes | None, int]:
    return (_id_key(str(trigger["_id"])), _dump(trigger), _name_key(trigger), int(is_public(trigger)))


class _SqliteView:
    """``IdentityView`` over the connection, valid inside the store's open transaction."""

    def __init__(self, connection: sqlite3.Connection, roles: tuple[str, ...]) -> None:
        self._connection = connection
        self._roles = roles

    def find_user(self, user_id: str) -> User | None:
        row = self._connection.execute("SELECT doc FROM users WHERE id = ?", (_id_key(user_id),)).fetchone()
        return None if row is None else user_from_json(json.loads(row[0]))

    def all_users(self) -> Sequence[User]:
        rows = self._connection.execute("SELECT doc FROM users ORDER BY seq").fetchall()
        return [user_from_json(json.loads(doc)) for (doc,) in rows]

    def has_login_token(self, user_id: str, hashed_token: str) -> bool:
        row = self._connection.execute(
            "SELECT 1 FROM login_tokens WHERE user_id = ? AND hashed_token = ? LIMIT 1",
            (_id_key(user_id), hashed_token),
        ).fetchone()
        return row is not None

    def permission_roles(self, permission_id: str) -> tuple[str, ...] | None:
        row = self._connection.execute(
            "SELECT roles FROM permissions WHERE id = ?", (permission_id,)
        ).fetchone()
        return None if row is None else tuple(json.loads(row[0]))

    def all_permissions(self) -> Sequence[StoredPermission]:
        rows = self._connection.execute(
            "SELECT id, roles, updated_ms FROM permissions ORDER BY seq"
        ).fetchall()
        return [
            StoredPermission(pid, tuple(json.loads(roles)), updated_ms) for pid, roles, updated_ms in rows
        ]

    def known_roles(self) -> Sequence[str]:
        return self._roles

    def setting_value(self, setting_id: str) -> tuple[bool, JsonValue]:
        row = self._connection.execute("SELECT value FROM settings WHERE id = ?", (setting_id,)).fetchone()
        if row is None:
            return False, None
        value: JsonValue = json.loads(row[0])
        return True, value

    def _counter(self, name: str) -> int:
        row = self._connection.execute("SELECT value FROM meta WHERE key = ?", (name,)).fetchone()
        return 0 if row is None else int(row[0])

    def all_triggers(self) -> Sequence[Trigger]:
        return _StoredTriggers(self._counter("count"), self._read_natural, self._presorted)

    def _read_natural(self, start: int, length: int) -> list[Trigger]:
        rows = self._connection.execute(
            "SELECT doc FROM triggers ORDER BY seq LIMIT ? OFFSET ?", (length, start)
        ).fetchall()
        return [_load(doc) for (doc,) in rows]

    def _presorted(self) -> tuple[Sequence[Trigger], bool] | None:
        execute = self._connection.execute
        if execute("SELECT 1 FROM triggers WHERE name_key IS NULL LIMIT 1").fetchone() is not None:
            return None  # some name is not a string: spec.predict sorts them in full

        def read(start: int, length: int) -> list[Trigger]:
            rows = execute(
                "SELECT doc FROM triggers ORDER BY name_key, seq LIMIT ? OFFSET ?", (length, start)
            ).fetchall()
            return [_load(doc) for (doc,) in rows]

        return _Lazy(self._counter("count"), read), self._counter("ties") > 0

    def public_triggers(self) -> Sequence[Trigger]:
        rows = self._connection.execute("SELECT doc FROM triggers WHERE public = 1 ORDER BY seq").fetchall()
        return [_load(doc) for (doc,) in rows]

    def find_trigger(self, trigger_id: str) -> Trigger | None:
        row = self._connection.execute(
            "SELECT doc FROM triggers WHERE id = ? ORDER BY seq LIMIT 1", (_id_key(trigger_id),)
        ).fetchone()
        return None if row is None else _load(row[0])

    def rate_window(self, key: str) -> RateWindow | None:
        row = self._connection.execute(
            "SELECT started_ms, calls FROM rate_windows WHERE key = ?", (key,)
        ).fetchone()
        return None if row is None else RateWindow(started_ms=row[0], calls=row[1])


class _NeedState(Exception):
    """Raised in the child: the snapshot lacks a trigger (``trigger_id``) or every trigger (``None``)."""

    def __init__(self, trigger_id: str | None) -> None:
        super().__init__(trigger_id)
        self.trigger_id = trigger_id


class _Snapshot:
    """An ``IdentityView`` of what the parent read from SQLite for an offloaded prediction; it notes
    what the prediction looked at, so that the parent can check that it is still so. The identity
    (users, tokens, role table, settings) is read whole into a ``State``: it is small, and any write
    to it since counts as a conflict (``identity_version``)."""

    def __init__(
        self,
        identity: State,
        windows: dict[str, RateWindow],
        triggers: dict[str, Trigger | None],
        every: list[Trigger] | None,
    ) -> None:
        self._identity = identity
        self._windows = windows
        self._triggers = triggers
        self._every = every
        self.ids: set[str] = set()
        self.keys: set[str] = set()
        self.listed = False

    def find_user(self, user_id: str) -> User | None:
        return self._identity.find_user(user_id)

    def all_users(self) -> Sequence[User]:
        return self._identity.all_users()

    def has_login_token(self, user_id: str, hashed_token: str) -> bool:
        return self._identity.has_login_token(user_id, hashed_token)

    def permission_roles(self, permission_id: str) -> tuple[str, ...] | None:
        return self._identity.permission_roles(permission_id)

    def all_permissions(self) -> Sequence[StoredPermission]:
        return self._identity.all_permissions()

    def known_roles(self) -> Sequence[str]:
        return self._identity.known_roles()

    def setting_value(self, setting_id: str) -> tuple[bool, JsonValue]:
        return self._identity.setting_value(setting_id)

    def all_triggers(self) -> Sequence[Trigger]:
        if self._every is None:
            raise _NeedState(None)
        self.listed = True
        return self._every

    def find_trigger(self, trigger_id: str) -> Trigger | None:
        self.ids.add(trigger_id)
        if trigger_id in self._triggers:
            return self._triggers[trigger_id]
        if self._every is not None:
            return next((t for t in self._every if t["_id"] == trigger_id), None)
        raise _NeedState(trigger_id)

    def rate_window(self, key: str) -> RateWindow | None:
        self.keys.add(key)
        return self._windows.get(key)

    def reads(self) -> _Reads:
        return _Reads(self.ids, self.keys, self.listed)

    def still_true(self, reads: _Reads, view: _SqliteView, *, unchanged: bool) -> bool:
        """In the parent, inside its write transaction: does the store still hold what the child
        read from this snapshot? (``unchanged``: no trigger was written since every one was read.)"""
        if reads.listed and not unchanged:
            return False
        for trigger_id in reads.ids:
            if view.find_trigger(trigger_id) != self.find_trigger(trigger_id):
                return False
        return all(view.rate_window(key) == self._windows.get(key) for key in reads.keys)


class SqliteStore:
    """Triggers in one SQLite file (WAL), shared by every worker process and kept across restarts."""

    def __init__(
        self,
        path: str,
        users: Sequence[User],
        *,
        journal_size: int,
        temporary: bool = False,
        start: StartState | None = None,
    ) -> None:
        self.path = path
        self.description = (
            f"SQLite {path} (temporary, shared by the workers, removed at exit)"
            if temporary
            else f"SQLite {path} (kept across restarts)"
        )
        self._start_users = tuple(users)
        self._start = start or StartState()
        self._journal_size = journal_size
        self._journal_writes = 0
        # isolation_level=None: the module never opens transactions behind our back; every
        # BEGIN/COMMIT below is explicit. check_same_thread=False: the event loop thread owns it,
        # but uvicorn may build the app in another thread.
        self._connection = self._open(path, synchronous="FULL")
        # The journal is a diagnostic, not state: its own connection skips the fsync per request
        # (synchronous is a per-connection setting), so GET requests stay cheap.
        self._journal_connection = self._open(path, synchronous="OFF")
        self._thread_connection: sqlite3.Connection | None = None
        """The worker thread's own connection, opened there on first use (SQLite locks between
        connections exactly as between worker processes)."""
        self._thread_lock = threading.Lock()
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mock-sqlite-read")
        """The one thread that uses ``_thread_connection``."""
        with self._write():
            for statement in _SCHEMA:
                self._connection.execute(statement)
            self._migrate()
            # Kept across restarts: only what is missing is added (prepare_database puts the command
            # line's users over what was stored, once, before the workers start).
            self._seed_identity(self._connection, replace=False)

    def _seed_identity(self, connection: sqlite3.Connection, *, replace: bool) -> None:
        _bump_identity(connection)
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        connection.executemany(
            f"{verb} INTO users (id, doc) VALUES (?, ?)",
            [(_id_key(user.user_id), _dump_user(user)) for user in self._start_users],
        )
        connection.executemany(
            f"{verb} INTO permissions (id, roles, updated_ms) VALUES (?, ?, ?)",
            [(p.permission_id, json.dumps(list(p.roles)), p.updated_ms) for p in self._start.permissions],
        )
        connection.executemany(
            f"{verb} INTO settings (id, value) VALUES (?, ?)",
            [(setting_id, json.dumps(value)) for setting_id, value in self._start.settings.items()],
        )

    def _migrate(self) -> None:
        """Databases written before the indexes existed get them (and the counters) once."""
        execute = self._connection.execute
        columns = {row[1] for row in execute("PRAGMA table_info(triggers)").fetchall()}
        added = False
        for column, statement in _INDEX_COLUMNS:
            if column not in columns:
                execute(statement)
                added = True
        for statement in _INDEXES:
            execute(statement)
        execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('triggers_version', '0')")
        counted = execute("SELECT COUNT(*) FROM meta WHERE key IN ('count', 'ties')").fetchone()[0]
        if added or counted != len(_COUNTERS):
            for seq, doc in execute("SELECT seq, doc FROM triggers").fetchall():
                _, _, name_key, public = _row_values(_load(doc))
                execute("UPDATE triggers SET name_key = ?, public = ? WHERE seq = ?", (name_key, public, seq))
            total = execute("SELECT COUNT(*) FROM triggers").fetchone()[0]
            named = execute("SELECT COUNT(name_key), COUNT(DISTINCT name_key) FROM triggers").fetchone()
            ties = named[0] - named[1]  # triggers that share their name with an older one
            self._set_counter("count", total)
            self._set_counter("ties", ties)

    def health_check(self) -> str | None:
        """``None`` if the file is sound and writable, else what is wrong with it."""
        result = [row[0] for row in self._connection.execute("PRAGMA quick_check").fetchall()]
        if result != ["ok"]:
            return f"the database is damaged (PRAGMA quick_check: {'; '.join(map(str, result[:3]))})"
        try:
            with self._write():
                self._connection.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('opened_at', ?)", (str(time.time()),)
                )
        except sqlite3.Error as error:
            return f"cannot write to it: {error}"
        return None

    def _bump_version(self) -> None:
        self._connection.execute(
            "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'triggers_version'"
        )

    def _set_counter(self, name: str, value: int, connection: sqlite3.Connection | None = None) -> None:
        (connection or self._connection).execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (name, str(value))
        )

    @staticmethod
    def _open(path: str, *, synchronous: str) -> sqlite3.Connection:
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(f"PRAGMA synchronous={synchronous}")
        connection.execute("PRAGMA busy_timeout=30000")
        return connection

    def _write(self, connection: sqlite3.Connection | None = None) -> _Transaction:
        return _Transaction(connection or self._connection, "BEGIN IMMEDIATE")

    def transact(self, predict: Callable[[StateView], tuple[T, Sequence[Change]]]) -> T:
        return self._transact(self._connection, predict, optimistic_attempts=1, fallback=True)

    async def transact_offloaded(
        self, predict: Callable[[StateView], tuple[T, Sequence[Change]]], offload: Offload, *, exclusive: bool
    ) -> T:
        # The child never touches SQLite: a process forked with open connections must not use the
        # library (its lock bookkeeping is copied from the parent but the locks are not). So the
        # parent reads what the prediction needs into a snapshot, the child predicts on it, and the
        # parent applies the changes in one write transaction after checking that everything the
        # child read is still so. ``exclusive`` changes nothing here: other workers may still write.
        known: dict[str, Trigger | None] = {}
        every: list[Trigger] | None = None
        version = -1
        view = _SqliteView(self._connection, self._start.roles)
        for _ in range(4):  # the child asks for at most a trigger and then every trigger
            windows = dict(self._rate_windows())
            identity_version, identity = self._identity_state(view)
            snapshot = _Snapshot(identity, windows, dict(known), every)

            def work(snapshot: _Snapshot = snapshot) -> tuple[str, Any]:
                try:
                    result, changes = predict(snapshot)
                except _NeedState as need:
                    return "need", need.trigger_id
                return "ok", (result, changes, snapshot.reads())

            status, value = await offload(work)
            if status == "need":
                if value is None:  # every trigger: read in the worker thread, not on the loop
                    loop = asyncio.get_running_loop()
                    version, every = await loop.run_in_executor(self._reader, self._read_every)
                else:
                    known[value] = view.find_trigger(value)
                continue
            result, changes, seen = value
            with self._write():
                unchanged = not seen.listed or view._counter("triggers_version") == version
                if not snapshot.still_true(seen, view, unchanged=unchanged):
                    raise Overtaken
                if view._counter(_IDENTITY_VERSION) != identity_version:
                    raise Overtaken
                self._apply(self._connection, changes)
            done: T = result
            return done
        raise Overtaken

    def _read_every(self) -> tuple[int, list[Trigger]]:
        """Every trigger and the version they are at, in one read transaction (worker thread)."""
        connection = self._worker_connection()
        connection.execute("BEGIN")
        try:
            version = _SqliteView(connection, self._start.roles)._counter("triggers_version")
            rows = connection.execute("SELECT doc FROM triggers ORDER BY seq").fetchall()
        finally:
            connection.execute("COMMIT")
        return version, [_load(doc) for (doc,) in rows]

    def _identity_state(self, view: _SqliteView) -> tuple[int, State]:
        """The identity as one ``State`` and the version it is at (one read transaction)."""
        connection = self._connection
        connection.execute("BEGIN")
        try:
            version = view._counter(_IDENTITY_VERSION)
            tokens: dict[str, tuple[str, ...]] = {}
            for user_id, hashed in connection.execute(
                "SELECT user_id, hashed_token FROM login_tokens ORDER BY rowid"
            ).fetchall():
                key = user_id.decode("utf-8", "surrogatepass") if isinstance(user_id, bytes) else user_id
                tokens[key] = (*tokens.get(key, ()), hashed)
            settings = {
                setting_id: json.loads(value)
                for setting_id, value in connection.execute("SELECT id, value FROM settings").fetchall()
            }
            state = State(
                users=tuple(view.all_users()),
                login_tokens=tokens,
                permissions=tuple(view.all_permissions()),
                roles=self._start.roles,
                settings=settings,
            )
        finally:
            connection.execute("COMMIT")
        return version, state

    def _rate_windows(self) -> Iterator[tuple[str, RateWindow]]:
        for key, started_ms, calls in self._connection.execute(
            "SELECT key, started_ms, calls FROM rate_windows"
        ).fetchall():
            yield key, RateWindow(started_ms=started_ms, calls=calls)

    def _worker_connection(self) -> sqlite3.Connection:
        with self._thread_lock:
            if self._thread_connection is None:
                self._thread_connection = self._open(self.path, synchronous="FULL")
            return self._thread_connection

    def _transact(
        self,
        connection: sqlite3.Connection,
        predict: Callable[[StateView], tuple[T, Sequence[Change]]],
        *,
        optimistic_attempts: int,
        fallback: bool,
    ) -> T:
        view = _SqliteView(connection, self._start.roles)
        for _ in range(optimistic_attempts):
            connection.execute("BEGIN")
            try:
                result, changes = predict(view)
                if changes:
                    self._apply(connection, changes)
                connection.execute("COMMIT")
                return result
            except sqlite3.OperationalError as error:
                connection.execute("ROLLBACK")
                if not _is_busy(error):
                    raise
            except BaseException:
                connection.execute("ROLLBACK")  # never leave the connection inside a transaction
                raise
        if not fallback:
            raise Overtaken
        # Another process wrote after our snapshot: predict again holding the write lock.
        with self._write(connection):
            result, changes = predict(view)
            self._apply(connection, changes)
        return result

    def _apply(self, connection: sqlite3.Connection, changes: Sequence[Change]) -> None:
        execute = connection.execute
        counts = {"count": 0, "ties": 0, "triggers_version": 0}
        for change in changes:
            if isinstance(change, InsertTrigger):
                self._insert(connection, change.trigger, counts)
            elif isinstance(change, UpdateTrigger):
                key = _id_key(change.trigger_id)
                rows = execute("SELECT seq, doc, name_key FROM triggers WHERE id = ?", (key,)).fetchall()
                for seq, doc, name_key in rows:
                    # The contract's own merge, on a one-trigger State: no second copy of the rule.
                    (merged,) = apply_change(State(triggers=(_load(doc),)), change).triggers
                    _, new_doc, new_name_key, public = _row_values(merged)
                    if new_name_key != name_key:
                        counts["ties"] -= self._shares_name(connection, name_key, seq)
                        counts["ties"] += self._shares_name(connection, new_name_key, seq)
                    counts["triggers_version"] += 1
                    execute(
                        "UPDATE triggers SET doc = ?, name_key = ?, public = ? WHERE seq = ?",
                        (new_doc, new_name_key, public, seq),
                    )
            elif isinstance(change, DeleteTrigger):
                key = _id_key(change.trigger_id)
                rows = execute("SELECT seq, name_key FROM triggers WHERE id = ?", (key,)).fetchall()
                for seq, name_key in rows:
                    execute("DELETE FROM triggers WHERE seq = ?", (seq,))
                    counts["count"] -= 1
                    counts["triggers_version"] += 1
                    counts["ties"] -= self._shares_name(connection, name_key, None)
            elif isinstance(change, CountCall):
                current = _SqliteView(connection, self._start.roles).rate_window(change.key)
                window = next_rate_window(current, change.at_ms, change.window_ms)
                execute(
                    "INSERT OR REPLACE INTO rate_windows (key, started_ms, calls) VALUES (?, ?, ?)",
                    (change.key, window.started_ms, window.calls),
                )
            elif isinstance(change, IDENTITY_CHANGES):
                self._apply_identity(connection, change)
            else:  # pragma: no cover - a new Change kind in spec.model must be stored explicitly
                raise TypeError(f"unknown change {change!r}")
        self._add_counts(connection, counts)

    def _apply_identity(self, connection: sqlite3.Connection, change: IdentityChange) -> None:
        execute = connection.execute
        _bump_identity(connection)
        if isinstance(change, AddLoginToken):
            execute(
                "INSERT INTO login_tokens (user_id, hashed_token) VALUES (?, ?)",
                (_id_key(change.user_id), change.hashed_token),
            )
        elif isinstance(change, RemoveLoginToken):
            execute(
                "DELETE FROM login_tokens WHERE user_id = ? AND hashed_token = ?",
                (_id_key(change.user_id), change.hashed_token),
            )
            user = _SqliteView(connection, self._start.roles).find_user(change.user_id)
            if user is not None:
                # The contract's rule for the start-up token, on a one-user State.
                (after,) = apply_change(State(users=(user,)), change).users
                if after != user:
                    execute(
                        "UPDATE users SET doc = ? WHERE id = ?", (_dump_user(after), _id_key(after.user_id))
                    )
        elif isinstance(change, SetPermissionRoles):
            execute(
                "UPDATE permissions SET roles = ?, updated_ms = ? WHERE id = ?",
                (json.dumps(list(change.roles)), change.at_ms, change.permission_id),
            )
        else:
            execute(
                "INSERT OR REPLACE INTO settings (id, value) VALUES (?, ?)",
                (change.setting_id, json.dumps(change.value)),
            )

    def put_user(self, user: User) -> None:
        with self._write():
            _bump_identity(self._connection)
            self._connection.execute(
                "INSERT INTO users (id, doc) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc",
                (_id_key(user.user_id), _dump_user(user)),
            )

    @staticmethod
    def _shares_name(connection: sqlite3.Connection, name_key: bytes | None, other_than: int | None) -> int:
        """1 if another stored trigger has this name key (so one more or one fewer tie)."""
        if name_key is None:
            return 0
        row = connection.execute(
            "SELECT 1 FROM triggers WHERE name_key = ? AND seq IS NOT ? LIMIT 1", (name_key, other_than)
        ).fetchone()
        return int(row is not None)

    def _insert(self, connection: sqlite3.Connection, trigger: Trigger, counts: dict[str, int]) -> None:
        values = _row_values(trigger)
        counts["ties"] += self._shares_name(connection, values[2], None)
        counts["count"] += 1
        counts["triggers_version"] = counts.get("triggers_version", 0) + 1
        connection.execute("INSERT INTO triggers (id, doc, name_key, public) VALUES (?, ?, ?, ?)", values)

    def _add_counts(self, connection: sqlite3.Connection, counts: dict[str, int]) -> None:
        for name, delta in counts.items():
            if delta:
                connection.execute(
                    "UPDATE meta SET value = CAST(value AS INTEGER) + ? WHERE key = ?", (delta, name)
                )

    def triggers(self) -> list[Trigger]:
        rows = self._connection.execute("SELECT doc FROM triggers ORDER BY seq").fetchall()
        return [_load(doc) for (doc,) in rows]

    def snapshot(self) -> Callable[[], list[Trigger]]:
        def read() -> list[Trigger]:
            connection = self._open(self.path, synchronous="OFF")  # its own: it runs in another thread
            try:
                rows = connection.execute("SELECT doc FROM triggers ORDER BY seq").fetchall()
            finally:
                connection.close()
            return [_load(doc) for (doc,) in rows]

        return read

    def count(self) -> int:
        return _SqliteView(self._connection, self._start.roles)._counter("count")

    def public_count(self) -> int:
        return int(self._connection.execute("SELECT COUNT(*) FROM triggers WHERE public = 1").fetchone()[0])

    def load(self, triggers: Iterable[Trigger], *, replace: bool) -> None:
        self._load_with(self._connection, triggers, replace=replace)

    async def load_in_steps(self, triggers: Sequence[Trigger], *, replace: bool) -> None:
        # One transaction in the reader thread, on its own connection: SQLite releases the
        # interpreter lock while it works, so the loop goes on (the caller holds requests back).
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(
            self._reader, lambda: self._load_with(self._worker_connection(), triggers, replace=replace)
        )

    def _load_with(
        self, connection: sqlite3.Connection, triggers: Iterable[Trigger], *, replace: bool
    ) -> None:
        with self._write(connection):
            if replace:
                connection.execute("DELETE FROM triggers")
                self._set_counter("count", 0, connection)
                self._set_counter("ties", 0, connection)
            counts = {"count": 0, "ties": 0, "triggers_version": 1}
            for trigger in triggers:
                self._insert(connection, trigger, counts)
            self._add_counts(connection, counts)

    def reset(self) -> None:
        with self._write():
            for table in ("triggers", "rate_windows", "requests", *_IDENTITY_TABLES):
                self._connection.execute(f"DELETE FROM {table}")
            self._set_counter("count", 0)
            self._set_counter("ties", 0)
            self._seed_identity(self._connection, replace=True)
            self._bump_version()

    def profile_name(self, default: str) -> str:
        row = self._connection.execute("SELECT value FROM meta WHERE key = 'profile'").fetchone()
        return default if row is None else str(row[0])

    def set_profile_name(self, name: str) -> None:
        with self._write():
            self._connection.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('profile', ?)", (name,)
            )

    def record(self, entry: JournalEntry) -> None:
        connection = self._journal_connection
        connection.execute(
            "INSERT INTO requests (request_id, at, method, path, query, status, operation, duration_ms) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                entry.request_id,
                entry.at,
                entry.method,
                entry.path,
                entry.query,
                entry.status,
                entry.operation,
                entry.duration_ms,
            ),
        )
        self._journal_writes += 1
        if self._journal_writes % 1000 == 0:  # trim now and then, not on every request
            connection.execute(
                "DELETE FROM requests WHERE seq <= (SELECT MAX(seq) FROM requests) - ?", (self._journal_size,)
            )

    def journal(self, limit: int) -> list[JournalEntry]:
        rows = self._connection.execute(
            "SELECT request_id, at, method, path, query, status, operation, duration_ms "
            "FROM requests ORDER BY seq DESC LIMIT ?",
            (limit or self._journal_size,),
        ).fetchall()
        return [JournalEntry(*row) for row in reversed(rows)]

    def close(self) -> None:
        self._journal_connection.close()
        self._connection.close()
        if self._thread_connection is not None:
            self._thread_connection.close()


_SQLITE_BUSY = 5  # sqlite3.SQLITE_BUSY exists from Python 3.11 only; the project supports 3.10


def _is_busy(error: sqlite3.OperationalError) -> bool:
    """SQLITE_BUSY (another writer holds the lock) or SQLITE_BUSY_SNAPSHOT (our read is stale)."""
    code = getattr(error, "sqlite_errorcode", None)  # Python 3.11+; the message on 3.10
    return (code & 0xFF) == _SQLITE_BUSY if code is not None else "locked" in str(error)


class _Transaction:
    """``BEGIN ...`` / ``COMMIT``, or ``ROLLBACK`` when the body raises."""

    def __init__(self, connection: sqlite3.Connection, begin: str) -> None:
        self._connection = connection
        self._begin = begin

    def __enter__(self) -> sqlite3.Connection:
        for attempt in range(50):
            try:
                self._connection.execute(self._begin)
                break
            except sqlite3.OperationalError as error:
                # busy_timeout already waited; a second chance covers very long writer queues.
                if attempt == 49 or not _is_busy(error):
                    raise
                time.sleep(0.05)
        return self._connection

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        self._connection.execute("COMMIT" if kind is None else "ROLLBACK")
