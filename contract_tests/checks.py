"""Checks that compare one observed answer with the predicted one, as small functions.

Each check takes the prediction (``spec.model.Answer``) and what the server sent (``Observed``) and
returns a list of problems, empty when the check passes. The checks never decide what the server
should answer; that is ``spec.predict``'s job. They only say how two answers differ, briefly enough
to read in a terminal.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from spec.headers import (
    CONTRACTUAL_HEADERS,
    RATE_LIMIT_HEADERS,
    RATE_LIMIT_RESET,
    RATE_LIMIT_RESET_TOLERANCE_MS,
)
from spec.model import Answer, Headers, header_value

__all__ = [
    "ABSENCE_CHECKED_HEADERS",
    "EXACT_CHECKS",
    "Observed",
    "body_diff",
    "check_body",
    "check_delay",
    "check_headers",
    "check_status",
    "exact_problems",
    "inferred_explains",
]

ABSENCE_CHECKED_HEADERS = tuple(sorted(CONTRACTUAL_HEADERS - RATE_LIMIT_HEADERS))
"""Contractual headers that must also be absent when the prediction leaves them out (a middleware's
401 has no ``cache-control``); the rate-limit headers are compared only where predicted."""


@dataclass(frozen=True)
class Observed:
    """What the server sent back for one request."""

    status: int
    body: bytes
    headers: Headers
    elapsed_seconds: float

    def header(self, name: str) -> str | None:
        return header_value(self.headers, name)


Check = Callable[[Answer, Observed], list[str]]


def check_status(expected: Answer, observed: Observed) -> list[str]:
    """The status code must be the predicted one."""
    if expected.status == observed.status:
        return []
    return [f"status: expected {expected.status}, got {observed.status}"]


def check_body(expected: Answer, observed: Observed) -> list[str]:
    """The body must be byte-identical (key order, number formatting and whitespace included)."""
    if expected.body == observed.body:
        return []
    return ["body: " + body_diff(expected.body, observed.body)]


def check_headers(expected: Answer, observed: Observed) -> list[str]:
    """Every contractual header the prediction names has exactly the predicted value (the reset time
    within a stated tolerance); those it leaves out are absent, except the rate-limit headers."""
    problems = []
    for name in sorted(CONTRACTUAL_HEADERS):
        wanted = expected.header(name)
        got = observed.header(name)
        if wanted is None and (got is None or name not in ABSENCE_CHECKED_HEADERS):
            continue
        if wanted is not None and got is not None and name == RATE_LIMIT_RESET:
            if _within_reset_tolerance(wanted, got):
                continue
            problems.append(
                f"header {name}: expected {wanted!r} (± {RATE_LIMIT_RESET_TOLERANCE_MS} ms), got {got!r}"
            )
        elif got != wanted:
            problems.append(f"header {name}: expected {wanted!r}, got {got!r}")
    return problems


def _within_reset_tolerance(wanted: str, got: str) -> bool:
    # Both are epoch milliseconds of the server's clock; ours only approximates it.
    if not (wanted.isdigit() and got.isdigit()):
        return wanted == got
    return abs(int(wanted) - int(got)) <= RATE_LIMIT_RESET_TOLERANCE_MS


def check_delay(expected: Answer, observed: Observed) -> list[str]:
    """When the server must wait before answering (6.13-7.3 on 401/403), it must not answer sooner."""
    if expected.delay_seconds is None:
        return []
    shortest = expected.delay_seconds[0]
    # A little slack for clock granularity: the server's timer and ours start at slightly different moments.
    if observed.elapsed_seconds + 0.05 >= shortest:
        return []
    return [
        f"delay: expected at least {shortest:.2f} s before the answer, got {observed.elapsed_seconds:.3f} s"
    ]


EXACT_CHECKS: tuple[Check, ...] = (check_status, check_body, check_headers, check_delay)


def exact_problems(expected: Answer, observed: Observed, checks: Sequence[Check] = EXACT_CHECKS) -> list[str]:
    """Every problem any of ``checks`` finds."""
    return [problem for check in checks for problem in check(expected, observed)]


def inferred_explains(expected: Answer, observed: Observed) -> bool:
    """Whether the behaviour the prediction marks as inferred can explain how ``observed`` differs.

    Only the order of tied triggers is uncertain under ``sort-order`` alone: status, headers, every
    other body key and the number of listed triggers must still match. Any other inferred setting
    (rate limits, odd pagination, unknown routes, old body parsers...) leaves the whole answer open.
    """
    inferred = set(expected.inferred)
    if not inferred:
        return False
    if inferred - {"sort-order"}:
        return True
    if expected.status != observed.status or check_headers(expected, observed):
        return False
    left, right = _json_or_none(expected.body), _json_or_none(observed.body)
    if not (isinstance(left, dict) and isinstance(right, dict)) or list(left) != list(right):
        return False
    triggers_left, triggers_right = left.pop("triggers", None), right.pop("triggers", None)
    if not (isinstance(triggers_left, list) and isinstance(triggers_right, list)):
        return False
    return left == right and len(triggers_left) == len(triggers_right)


# --- short diffs ------------------------------------------------------------------------------------


def _clip(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return _NOT_JSON


_NOT_JSON = object()


def _paths(expected: Any, got: Any, path: str, out: list[str], limit: int) -> None:
    if len(out) >= limit:
        return
    if isinstance(expected, dict) and isinstance(got, dict):
        before = len(out)
        for key in expected:
            if key not in got:
                out.append(f"{path}.{key}: missing (expected {_clip(json.dumps(expected[key]), 60)})")
            else:
                _paths(expected[key], got[key], f"{path}.{key}", out, limit)
        out.extend(f"{path}.{key}: unexpected key" for key in got if key not in expected)
        if len(out) == before and list(expected) != list(got):
            out.append(f"{path}: key order {list(got)}, expected {list(expected)}")
        return
    if isinstance(expected, list) and isinstance(got, list):
        if len(expected) != len(got):
            out.append(f"{path}: {len(got)} items, expected {len(expected)}")
        for index, (left, right) in enumerate(zip(expected, got, strict=False)):
            _paths(left, right, f"{path}[{index}]", out, limit)
        return
    if expected != got or type(expected) is not type(got):
        out.append(f"{path}: expected {_clip(json.dumps(expected), 80)}, got {_clip(json.dumps(got), 80)}")


def body_diff(expected: bytes, got: bytes, limit: int = 5) -> str:
    """One entry per difference: JSON paths when both bodies are JSON, else the first differing byte."""
    left, right = _json_or_none(expected), _json_or_none(got)
    if left is not _NOT_JSON and right is not _NOT_JSON:
        found: list[str] = []
        _paths(left, right, "$", found, limit)
        if found:
            return "; ".join(found[:limit])
        # Equal values: the bytes differ in formatting (spacing, number or escape spelling, key order).
        return f"same JSON value, different bytes: expected {_clip(repr(expected))}, got {_clip(repr(got))}"
    offset = next(
        (index for index, (a, b) in enumerate(zip(expected, got, strict=False)) if a != b),
        min(len(expected), len(got)),
    )
    start = max(0, offset - 20)
    return (
        f"differs at byte {offset}: expected …{_clip(repr(expected[start : offset + 40]), 90)}, "
        f"got …{_clip(repr(got[start : offset + 40]), 90)}"
    )
