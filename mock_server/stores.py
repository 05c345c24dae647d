"""Where the mock keeps what the contract says the server stores: triggers and rate-limit windows.

Both stores hand the predictor a ``spec.model.StateView`` and apply the ``Change`` values it returns.
They hold no rule of their own: an update merges fields with ``spec.model.apply_change`` and a
rate-limit window advances with ``spec.model.next_rate_window``, so the stores cannot drift from the
contract's in-memory ``State``.

* ``MemoryStore`` keeps rows like the SQLite table (O(1) insert, find, update, delete); the event
  loop runs one request at a time between awaits, so predict-then-apply is atomic without a lock.
* ``SqliteStore`` (``--db PATH``) is shared by every worker process. A request first predicts inside
  a deferred (read) transaction: most answers (401, 403, 400, reads by users who bypass the rate
  limiter) change nothing, and those never take the write lock. When the outcome has changes, the
  store upgrades to a write; if another process wrote since the snapshot was taken, SQLite refuses
  the upgrade (``SQLITE_BUSY``) and the request is predicted again inside ``BEGIN IMMEDIATE``, which
  holds the only write lock from the read to the commit. So two writers can never both act on the
  same old state (no lost update), and ``synchronous=FULL`` makes each commit durable before the
  answer is sent.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Protocol, TypeVar

from spec.model import (
    Change,
    CountCall,
    DeleteTrigger,
    InsertTrigger,
    RateWindow,
    State,
    StateView,
    Trigger,
    UpdateTrigger,
    User,
    apply_change,
    next_rate_window,
)

T = TypeVar("T")


@dataclass(frozen=True)
class JournalEntry:
    request_id: str
    at: float
    """Epoch seconds; formatted (ISO 8601, UTC, milliseconds) only when the journal is read."""
    method: str
    path: str
    query: str
    status: int
    operation: str
    duration_ms: float

    def to_json(self) -> dict[str, object]:
        return {
            "requestId": self.request_id,
            "time": _iso(self.at),
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "status": self.status,
            "operation": self.operation,
            "durationMs": self.duration_ms,
        }


def _iso(epoch_seconds: float) -> str:
    moment = datetime.fromtimestamp(epoch_seconds, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Store(Protocol):
    """What the mock's request handling needs from a store."""

    description: str

    def transact(self, predict: Callable[[StateView], tuple[T, Sequence[Change]]]) -> T:
        """Run ``predict`` on a consistent view and apply the changes it returns, atomically."""
        ...

    def triggers(self) -> list[Trigger]: ...

    def load(self, triggers: Iterable[Trigger], *, replace: bool) -> None: ...

    def reset(self) -> None:
        """Forget triggers, rate-limit windows and the journal."""
        ...

    def profile_name(self, default: str) -> str: ...

    def set_profile_name(self, name: str) -> None: ...

    def record(self, entry: JournalEntry) -> None: ...

    def journal(self, limit: int) -> list[JournalEntry]: ...

    def close(self) -> None: ...


class MemoryStore:
    """State of one process only (the default, and ``--workers 1``).

    Laid out like the SQLite table rather than as one immutable ``spec.model.State``: rows keyed by
    an insertion sequence number (a dict keeps insertion order) plus an index from ``_id`` to its
    rows, so inserting, finding, updating and deleting a trigger cost O(1) instead of copying every
    stored trigger (a benchmark run inserts tens of thousands). Same semantics as ``State``,
    duplicate ids included, and updates still merge through ``spec.model.apply_change``.
    """

    def __init__(self, users: Sequence[User], *, journal_size: int) -> None:
        self.description = "in memory (lost when the server stops)"
        self._users = {user.user_id: user for user in users}
        self._rows: dict[int, Trigger] = {}
        self._rows_by_id: dict[str, list[int]] = {}
        self._next_row = 0
        self._rate_windows: dict[str, RateWindow] = {}
        self._profile: str | None = None
        self._journal: deque[JournalEntry] = deque(maxlen=journal_size)

    # StateView, read by the predictor ---------------------------------------------------------------

    def find_user(self, user_id: str) -> User | None:
        return self._users.get(user_id)

    def all_triggers(self) -> Sequence[Trigger]:
        return list(self._rows.values())

    def find_trigger(self, trigger_id: str) -> Trigger | None:
        rows = self._rows_by_id.get(trigger_id)
        return self._rows[rows[0]] if rows else None

    def rate_window(self, key: str) -> RateWindow | None:
        return self._rate_windows.get(key)

    # Store ------------------------------------------------------------------------------------------

    def transact(self, predict: Callable[[StateView], tuple[T, Sequence[Change]]]) -> T:
        # No await between the read and the write: the event loop makes this atomic.
        result, changes = predict(self)
        for change in changes:
            self._apply(change)
        return result

    def _apply(self, change: Change) -> None:
        if isinstance(change, InsertTrigger):
            self._insert(change.trigger)
        elif isinstance(change, UpdateTrigger):
            for row in self._rows_by_id.get(change.trigger_id, ()):
                # The contract's own merge, on a one-trigger State: no second copy of the rule.
                (self._rows[row],) = apply_change(State(triggers=(self._rows[row],)), change).triggers
        elif isinstance(change, DeleteTrigger):
            for row in self._rows_by_id.pop(change.trigger_id, ()):
                del self._rows[row]
        elif isinstance(change, CountCall):
            current = self._rate_windows.get(change.key)
            self._rate_windows[change.key] = next_rate_window(current, change.at_ms, change.window_ms)
        else:  # pragma: no cover - a new Change kind in spec.model must be stored explicitly
            raise TypeError(f"unknown change {change!r}")

    def _insert(self, trigger: Trigger) -> None:
        row = self._next_row
        self._next_row += 1
        self._rows[row] = trigger
        self._rows_by_id.setdefault(str(trigger["_id"]), []).append(row)

    def triggers(self) -> list[Trigger]:
        return list(self._rows.values())

    def load(self, triggers: Iterable[Trigger], *, replace: bool) -> None:
        if replace:
            self._rows.clear()
            self._rows_by_id.clear()
        for trigger in triggers:
            self._insert(trigger)

    def reset(self) -> None:
        self._rows.clear()
        self._rows_by_id.clear()
        self._rate_windows.clear()
        self._journal.clear()

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
)


def _dump(trigger: Trigger) -> str:
    # ensure_ascii keeps lone surrogates (legal in JSON text, illegal in UTF-8) storable as TEXT.
    return json.dumps(trigger, separators=(",", ":"))


def _load(doc: str) -> Trigger:
    # Written by _dump from JS values (every number a float, written with a '.0' or an exponent), so
    # the plain C decoder gives back exactly what was stored; no spec.jsvalues pass is needed.
    trigger: Trigger = json.loads(doc)
    return trigger


class _SqliteView:
    """``StateView`` over the connection, valid inside the store's open transaction."""

    def __init__(self, connection: sqlite3.Connection, users: dict[str, User]) -> None:
        self._connection = connection
        self._users = users

    def find_user(self, user_id: str) -> User | None:
        return self._users.get(user_id)

    def all_triggers(self) -> Sequence[Trigger]:
        rows = self._connection.execute("SELECT doc FROM triggers ORDER BY seq").fetchall()
        return [_load(doc) for (doc,) in rows]

    def find_trigger(self, trigger_id: str) -> Trigger | None:
        row = self._connection.execute(
            "SELECT doc FROM triggers WHERE id = ? ORDER BY seq LIMIT 1", (trigger_id,)
        ).fetchone()
        return None if row is None else _load(row[0])

    def rate_window(self, key: str) -> RateWindow | None:
        row = self._connection.execute(
            "SELECT started_ms, calls FROM rate_windows WHERE key = ?", (key,)
        ).fetchone()
        return None if row is None else RateWindow(started_ms=row[0], calls=row[1])


class SqliteStore:
    """Triggers in one SQLite file (WAL), shared by every worker process and kept across restarts."""

    def __init__(
        self, path: str, users: Sequence[User], *, journal_size: int, temporary: bool = False
    ) -> None:
        self.path = path
        self.description = (
            f"SQLite {path} (temporary, shared by the workers, removed at exit)"
            if temporary
            else f"SQLite {path} (kept across restarts)"
        )
        self._users = {user.user_id: user for user in users}
        self._journal_size = journal_size
        self._journal_writes = 0
        # isolation_level=None: the module never opens transactions behind our back; every
        # BEGIN/COMMIT below is explicit. check_same_thread=False: the event loop thread owns it,
        # but uvicorn may build the app in another thread.
        self._connection = self._open(path, synchronous="FULL")
        # The journal is a diagnostic, not state: its own connection skips the fsync per request
        # (synchronous is a per-connection setting), so GET requests stay cheap.
        self._journal_connection = self._open(path, synchronous="OFF")
        with self._write():
            for statement in _SCHEMA:
                self._connection.execute(statement)

    @staticmethod
    def _open(path: str, *, synchronous: str) -> sqlite3.Connection:
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(f"PRAGMA synchronous={synchronous}")
        connection.execute("PRAGMA busy_timeout=30000")
        return connection

    def _write(self) -> _Transaction:
        return _Transaction(self._connection, "BEGIN IMMEDIATE")

    def transact(self, predict: Callable[[StateView], tuple[T, Sequence[Change]]]) -> T:
        view = _SqliteView(self._connection, self._users)
        connection = self._connection
        connection.execute("BEGIN")
        try:
            result, changes = predict(view)
            if changes:
                self._apply(changes)
            connection.execute("COMMIT")
            return result
        except sqlite3.OperationalError as error:
            connection.execute("ROLLBACK")
            if not _is_busy(error):
                raise
        except BaseException:
            connection.execute("ROLLBACK")  # never leave the connection inside a transaction
            raise
        # Another process wrote after our snapshot: predict again holding the write lock.
        with self._write():
            result, changes = predict(view)
            self._apply(changes)
        return result

    def _apply(self, changes: Sequence[Change]) -> None:
        execute = self._connection.execute
        for change in changes:
            if isinstance(change, InsertTrigger):
                execute(
                    "INSERT INTO triggers (id, doc) VALUES (?, ?)",
                    (change.trigger["_id"], _dump(change.trigger)),
                )
            elif isinstance(change, UpdateTrigger):
                rows = execute("SELECT seq, doc FROM triggers WHERE id = ?", (change.trigger_id,)).fetchall()
                for seq, doc in rows:
                    # The contract's own merge, on a one-trigger State: no second copy of the rule.
                    (merged,) = apply_change(State(triggers=(_load(doc),)), change).triggers
                    execute("UPDATE triggers SET doc = ? WHERE seq = ?", (_dump(merged), seq))
            elif isinstance(change, DeleteTrigger):
                execute("DELETE FROM triggers WHERE id = ?", (change.trigger_id,))
            elif isinstance(change, CountCall):
                current = _SqliteView(self._connection, self._users).rate_window(change.key)
                window = next_rate_window(current, change.at_ms, change.window_ms)
                execute(
                    "INSERT OR REPLACE INTO rate_windows (key, started_ms, calls) VALUES (?, ?, ?)",
                    (change.key, window.started_ms, window.calls),
                )
            else:  # pragma: no cover - a new Change kind in spec.model must be stored explicitly
                raise TypeError(f"unknown change {change!r}")

    def triggers(self) -> list[Trigger]:
        return list(_SqliteView(self._connection, self._users).all_triggers())

    def count(self) -> int:
        return int(self._connection.execute("SELECT COUNT(*) FROM triggers").fetchone()[0])

    def load(self, triggers: Iterable[Trigger], *, replace: bool) -> None:
        with self._write():
            if replace:
                self._connection.execute("DELETE FROM triggers")
            self._connection.executemany(
                "INSERT INTO triggers (id, doc) VALUES (?, ?)", [(t["_id"], _dump(t)) for t in triggers]
            )

    def reset(self) -> None:
        with self._write():
            for table in ("triggers", "rate_windows", "requests"):
                self._connection.execute(f"DELETE FROM {table}")

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
