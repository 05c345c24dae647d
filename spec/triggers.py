"""How the server builds, stores and projects triggers.

Key order matters: answers are compared byte for byte.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from spec.contract import validate_post_body
from spec.model import JsonValue, Trigger

SAVED_FIELDS = ("name", "description", "enabled", "runOnce", "conditions", "actions")
"""The fields a POST writes, in the order the server stores them."""
TRIGGER_KEYS = ("_id", *SAVED_FIELDS, "_updatedAt")
PUBLIC_KEYS = ("_id", "actions", "conditions", "runOnce")
"""What ``GET /api/v1/livechat/config`` shows of each enabled trigger, in this order."""


_YEAR_10000_MS = 253_402_300_800_000
"""10000-01-01T00:00:00Z: where ``datetime`` (and four-digit years) end."""


_last_second: list[tuple[int, str]] = [(-1, "")]
"""The last second written and its text up to the milliseconds (saves repeat within a second)."""


def iso_timestamp(epoch_ms: int) -> str:
    """JavaScript's ``Date.prototype.toISOString``: UTC with milliseconds."""
    if 0 <= epoch_ms < _YEAR_10000_MS:  # every saved trigger: a tenth of the cost of strftime
        second, milliseconds = divmod(epoch_ms, 1000)
        last, text = _last_second[0]  # one read of a tuple: consistent in any thread
        if last != second:
            t = time.gmtime(second)
            day = f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}"
            text = f"{day}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
            _last_second[0] = (second, text)
        return f"{text}.{milliseconds:03d}Z"
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def saved_fields(body: Mapping[str, JsonValue], epoch_ms: int) -> Trigger:
    """The six saved fields of a validated (coerced) body plus ``_updatedAt``."""
    fields: Trigger = {name: body[name] for name in SAVED_FIELDS}
    fields["_updatedAt"] = iso_timestamp(epoch_ms)
    return fields


def new_trigger(body: Mapping[str, JsonValue], trigger_id: str, epoch_ms: int) -> Trigger:
    trigger: Trigger = {"_id": trigger_id}  # the id first, then saved_fields: one dict, not two
    for name in SAVED_FIELDS:
        trigger[name] = body[name]
    trigger["_updatedAt"] = iso_timestamp(epoch_ms)
    return trigger


def public_view(trigger: Trigger) -> Trigger:
    return {key: trigger.get(key) for key in PUBLIC_KEYS}


class SeedError(ValueError):
    """A seed entry the server would not have stored."""


def load_seed_triggers(raw: Any, *, default_updated_ms: int) -> list[Trigger]:
    """Turn a seed document (a JSON array of triggers) into stored triggers, validated like a POST.

    Each entry needs an ``_id``; ``_updatedAt`` is kept when given. Values are coerced as the server
    would have coerced them when the trigger was saved.
    """
    if not isinstance(raw, Sequence) or isinstance(raw, (str, bytes)):
        raise SeedError("a seed file must hold a JSON array of triggers")
    triggers: list[Trigger] = []
    seen: set[str] = set()
    for index, entry in enumerate(raw):
        label = f"entry {index}"
        if not isinstance(entry, Mapping):
            raise SeedError(f"{label}: must be an object, got {type(entry).__name__}")
        trigger_id = entry.get("_id")
        if not isinstance(trigger_id, str) or not trigger_id:
            raise SeedError(f"{label}: needs a non-empty string _id")
        label = f"entry {index} (_id {trigger_id!r})"
        if trigger_id in seen:
            raise SeedError(f"{label}: duplicate _id")
        seen.add(trigger_id)
        updated_at = entry.get("_updatedAt")
        if updated_at is not None and not isinstance(updated_at, str):
            raise SeedError(f"{label}: _updatedAt must be an ISO date string")
        body = {key: value for key, value in entry.items() if key != "_updatedAt"}
        validation = validate_post_body(body)
        if not validation.valid:
            raise SeedError(f"{label}: {validation.message}")
        assert isinstance(validation.data, dict)
        trigger = new_trigger(validation.data, trigger_id, default_updated_ms)
        if updated_at is not None:
            trigger["_updatedAt"] = updated_at
        triggers.append(trigger)
    return triggers
