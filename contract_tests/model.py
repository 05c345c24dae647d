"""What the runner believes the live server stores, derived from what it observes.

The runner cannot read a real server's database, so it keeps two lists: *foreign* triggers (present
before the run, or created by someone else meanwhile: observed, never modified) and *own* triggers
(created by this run: their names or descriptions start with the run's unique prefix). Own triggers
are predicted by ``spec.predict``; only the values the server picks by itself, ``_id`` and
``_updatedAt``, are taken from observation.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from contract_tests.checks import body_diff
from spec.contract import validate_post_body
from spec.jsvalues import stringify
from spec.model import Change, CountCall, State, Trigger, User, apply_changes

__all__ = ["PENDING_ID_PREFIX", "RUN_PREFIX", "Incomplete", "LiveModel", "new_run_prefix"]

PENDING_ID_PREFIX = "pending-"
"""Placeholder ids for inserts the runner predicted but has not yet seen the server's id for."""


RUN_PREFIX = "rc-contract-"
"""How every run's prefix begins; ``--cleanup`` accepts only such prefixes."""


NOT_A_BOOLEAN = ""
"""An invalid ``enabled`` that every reading takes as false: ajv does not coerce ``""`` to a boolean,
and JavaScript, Python and MongoDB's ``{enabled: true}`` all take it as not true."""


def is_disabled_everywhere(value: Any) -> bool:
    """Whether a stored ``enabled`` is false under any server's reading (coercing or not).

    Only ``false``, ``0``, ``null`` and ``""``: a string such as ``"false"`` is true to a server that
    stores it as sent.
    """
    return value is False or value is None or value == "" or (type(value) in (int, float) and value == 0)


def new_run_prefix() -> str:
    """A name prefix no other run (and no human) uses: it marks the triggers this run owns."""
    return f"{RUN_PREFIX}{secrets.token_hex(4)} "


@dataclass
class LiveModel:
    admin: User
    limited: User | None
    prefix: str
    allow_enabled: bool = False
    foreign: list[Trigger] = field(default_factory=list)
    own: list[Trigger] = field(default_factory=list)
    initial_foreign_ids: frozenset[str] = frozenset()
    _sequence: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def users(self) -> tuple[User, ...]:
        return (self.admin,) if self.limited is None else (self.admin, self.limited)

    def state(self) -> State:
        # Own triggers were inserted after every foreign one we knew of: natural order is foreign, then own.
        return State(users=self.users, triggers=(*self.foreign, *self.own))

    def is_own(self, trigger: Any) -> bool:
        if not isinstance(trigger, dict) or trigger.get("_id") in self.initial_foreign_ids:
            return False
        # "in", not startswith: an odd encoding may put bytes (decoded as U+FFFD) before the prefix.
        return any(
            isinstance(trigger.get(key), str) and self.prefix in trigger[key]
            for key in ("name", "description")
        )

    def own_ids(self) -> list[str]:
        return [str(t["_id"]) for t in self.own if not str(t["_id"]).startswith(PENDING_ID_PREFIX)]

    def foreign_ids(self) -> set[str]:
        return {str(t["_id"]) for t in self.foreign} | set(self.initial_foreign_ids)

    def missing_id(self) -> str:
        """An id no server holds: the run prefix cannot collide with a stored id."""
        return f"{self.prefix.strip()}-missing-{self.next_number()}"

    def next_number(self) -> int:
        with self._lock:
            self._sequence += 1
            return self._sequence

    # --- making drawn bodies safe for a real server ---------------------------------------------------

    def tag(self, body: Any) -> Any:
        """Mark a body as this run's: a unique prefixed name (or description), and ``enabled`` made safe.

        Only string values change, and stay strings, so a drawn mistake (a wrong type, a missing key)
        stays the same mistake; a body with neither a string name nor a string description cannot be
        marked (``is_markable`` tells). Unless ``allow_enabled``, ``enabled`` ends up a value that no
        server reads as true, whether it coerces or not (``is_disabled_everywhere``): the JSON boolean
        ``false`` wherever the body could be stored, and where the drawn mistake is ``enabled`` itself,
        a falsy value that is the same kind of mistake (``""`` is not a boolean either).
        """
        if not isinstance(body, dict):
            return body
        body = dict(body)
        marker = f"{self.prefix}{self.next_number():05d} "
        if isinstance(body.get("name"), str):
            body["name"] = marker + body["name"]
        elif isinstance(body.get("description"), str):
            body["description"] = marker + body["description"]
        if not self.allow_enabled and "enabled" in body and not is_disabled_everywhere(body["enabled"]):
            disabled = {**body, "enabled": False}
            mistake_is_enabled = not validate_post_body(body).valid and validate_post_body(disabled).valid
            body["enabled"] = NOT_A_BOOLEAN if mistake_is_enabled else False
        return body

    def marker(self, trigger: Any) -> str | None:
        """The unique mark ``tag`` gave a body; found in a stored trigger however the rest was stored."""
        for key in ("name", "description"):
            value = trigger.get(key) if isinstance(trigger, dict) else None
            if isinstance(value, str) and self.prefix in value:
                start = value.index(self.prefix) + len(self.prefix)
                return value[start : start + 6]  # the five-digit sequence number and its space
        return None

    @staticmethod
    def is_markable(body: Any) -> bool:
        """Whether ``tag`` can mark ``body`` (a non-object body is never stored, so it needs no mark)."""
        if not isinstance(body, dict):
            return True
        return isinstance(body.get("name"), str) or isinstance(body.get("description"), str)

    # --- applying predictions and observations ------------------------------------------------------

    def apply(self, changes: Iterable[Change]) -> None:
        # The run only writes its own triggers, so the contract's state transition applies to them
        # alone; rate-limit bookkeeping is not predicted for a live server.
        writes = [change for change in changes if not isinstance(change, CountCall)]
        self.own = list(apply_changes(State(triggers=tuple(self.own)), writes).triggers)

    def reconcile(
        self, observed: Sequence[Trigger], updated_ids: set[str], *, complete: bool = True
    ) -> list[str]:
        """Take the server's ids and timestamps for own triggers; say where the server disagrees.

        Pending inserts are matched to newly listed own triggers by their unique names. ``complete``
        means ``observed`` is every stored trigger: foreign triggers are then replaced by what was
        observed (someone else may have changed them: tolerated), and an own trigger that is not
        listed is reported as gone. A partial listing (the most recently updated triggers) checks only
        what it shows, and raises ``Incomplete`` when a pending insert is not among them.
        """
        problems: list[str] = []
        listed_own = [t for t in observed if self.is_own(t)]
        if complete:
            self.foreign = [t for t in observed if not self.is_own(t)]
        by_id = {str(t["_id"]): t for t in listed_own}
        known = {str(t["_id"]) for t in self.own}
        fresh = [t for t in listed_own if str(t["_id"]) not in known]
        reconciled: list[Trigger] = []
        for predicted in self.own:
            trigger = predicted  # replaced below by what the server chose or stored
            trigger_id = str(trigger["_id"])
            if trigger_id.startswith(PENDING_ID_PREFIX):
                match = next((t for t in fresh if self.marker(t) == self.marker(trigger)), None)
                if match is None:
                    if not complete:
                        raise Incomplete(trigger_id)
                    problems.append(f"a created trigger is not listed: {_short(trigger)}")
                    continue
                fresh.remove(match)
                trigger = {**trigger, "_id": match["_id"], "_updatedAt": match.get("_updatedAt")}
            elif trigger_id not in by_id:
                if not complete and trigger_id in updated_ids:
                    raise Incomplete(trigger_id)  # its new _updatedAt must be taken from the server
                if complete:
                    problems.append(f"a trigger is gone although nothing deleted it: {trigger_id}")
                else:
                    reconciled.append(trigger)
                continue
            elif trigger_id in updated_ids:
                trigger = {**trigger, "_updatedAt": by_id[trigger_id].get("_updatedAt")}
            listed = by_id[str(trigger["_id"])]
            if _canonical(listed) != _canonical(trigger):
                difference = body_diff(_canonical(trigger).encode(), _canonical(listed).encode())
                problems.append(
                    f"stored trigger differs from the contract: {difference} (trigger {listed.get('_id')})"
                )
                trigger = listed  # believe the server from now on, so one mistake is reported once
            reconciled.append(trigger)
        for extra in fresh:
            problems.append(f"the server stored a trigger no request should have created: {_short(extra)}")
            reconciled.append(extra)
        self.own = reconciled
        return problems


class Incomplete(Exception):
    """A partial listing did not show a trigger the run must find: list everything instead."""


def _canonical(trigger: Trigger) -> str:
    # JSON.stringify keeps key order and writes numbers as JavaScript does: the bytes the server sends.
    return stringify(trigger)


def _short(trigger: Trigger, limit: int = 200) -> str:
    text = _canonical(trigger)
    return text if len(text) <= limit else text[: limit - 1] + "…"
