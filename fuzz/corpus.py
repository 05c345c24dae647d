"""A deterministic corpus of labelled requests, for test suites in other languages.

Each line of the JSON Lines file is one request and the exact answer ``spec.predict`` says a server
running the profile gives, when the lines are sent in order to a fresh server that knows the two
users and does not rate limit (``rc-triggers-mock --no-rate-limit --user ...``, see docs/conformance.md).
Ids and ``_updatedAt`` of triggers the corpus creates are the ones the prediction picked
(``000000000000000000000001``..., a clock that starts at ``EPOCH_MS`` and advances one second a line);
a server picks its own, so compare those two fields loosely.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from fuzz import bodies
from fuzz.requests import (
    ENCODINGS,
    credentials,
    delete_requests,
    get_requests,
    list_requests,
    malformed_post_requests,
    post_requests,
    trigger_ids,
)
from spec.model import CountCall, Request, State, User, apply_changes
from spec.permissions import ADMIN_PERMISSIONS, MANAGE_TRIGGERS
from spec.predict import Environment, predict
from spec.profiles import Profile

__all__ = [
    "DEFAULT_ADMIN",
    "DEFAULT_LIMITED",
    "EPOCH_MS",
    "MANAGE",
    "any_requests",
    "corpus_lines",
    "draw_requests",
]

EPOCH_MS = 1_764_072_000_000
"""2025-11-25T12:00:00Z: the predicted clock of line 0."""
MANAGE = MANAGE_TRIGGERS
DEFAULT_ADMIN = User("admin-id", "admin-token", ADMIN_PERMISSIONS)
DEFAULT_LIMITED = User("agent-id", "agent-token", frozenset())


def any_requests(admin: User, limited: User | None = None) -> st.SearchStrategy[tuple[str, Request]]:
    """(kind, request) pairs mixing every family: valid and invalid POSTs, odd encodings, lists, gets,
    deletes, and all of them with failing or limited credentials now and then."""
    valid_creds = credentials(admin, valid_only=True)
    any_creds = credentials(admin, limited)
    kinds: list[st.SearchStrategy[tuple[str, Request]]] = [
        st.tuples(
            st.just("post-valid"), post_requests(bodies.trigger_bodies(), valid_creds, tuple(ENCODINGS))
        ),
        st.tuples(
            st.just("post-odd-encoding"),
            malformed_post_requests(valid_creds),
        ),
        st.sampled_from(bodies.INVALID_BODY_KINDS).flatmap(
            lambda kind: st.tuples(
                st.just(f"post-invalid:{kind}"), post_requests(bodies.invalid_bodies(kind), valid_creds)
            )
        ),
        st.tuples(st.just("list"), list_requests(valid_creds)),
        st.tuples(st.just("get-unknown-id"), get_requests(valid_creds, trigger_ids())),
        st.tuples(st.just("delete-unknown-id"), delete_requests(valid_creds, trigger_ids())),
        st.tuples(
            st.just("credentials"),
            st.one_of(
                post_requests(st.one_of(bodies.trigger_bodies(), bodies.invalid_bodies()), any_creds),
                list_requests(any_creds),
                get_requests(any_creds, trigger_ids()),
            ),
        ),
    ]
    return st.one_of(kinds)


def draw_requests(strategy: st.SearchStrategy[Any], seed: int, count: int) -> list[Any]:
    """``count`` values of ``strategy``, the same ones for the same seed (and Hypothesis version).

    Hypothesis is driven as a test with a fixed seed and no example database; when one run yields
    fewer distinct examples than asked, the next run uses the next seed.
    """
    drawn: list[Any] = []
    attempt = 0
    while len(drawn) < count:
        wanted = count - len(drawn)

        @hypothesis_seed(seed + attempt * 7919)
        @settings(
            max_examples=wanted,
            database=None,
            deadline=None,
            phases=(Phase.generate,),
            suppress_health_check=list(HealthCheck),
            verbosity=Verbosity.quiet,
        )
        @given(strategy)
        def collect(value: Any) -> None:
            drawn.append(value)

        collect()
        attempt += 1
    return drawn[:count]


@dataclass(frozen=True)
class Line:
    kind: str
    request: Request
    outcome: Any


def _labelled(pairs: list[tuple[str, Request]], users: tuple[User, ...], profile: Profile) -> Iterator[Line]:
    state = State(users=users)
    for index, (kind, request) in enumerate(pairs):
        env = Environment(now_ms=EPOCH_MS + index * 1000, new_trigger_id=format(index + 1, "024x"))
        outcome = predict(request, state, profile, env)
        # The corpus assumes a server that does not rate limit: its clock is not the consumer's.
        state = apply_changes(state, [c for c in outcome.changes if not isinstance(c, CountCall)])
        yield Line(kind, request, outcome)


def _body_fields(raw: bytes) -> dict[str, Any]:
    try:
        return {"body": raw.decode("utf-8"), "body_base64": None}
    except UnicodeDecodeError:
        return {"body": None, "body_base64": base64.b64encode(raw).decode("ascii")}


def corpus_lines(
    seed: int,
    count: int,
    profile: Profile,
    admin: User = DEFAULT_ADMIN,
    limited: User | None = DEFAULT_LIMITED,
) -> Iterator[str]:
    """The corpus as JSON text lines (without newlines), deterministic for a seed."""
    pairs = draw_requests(any_requests(admin, limited), seed, count)
    users = (admin,) if limited is None else (admin, limited)
    for index, line in enumerate(_labelled(pairs, users, profile)):
        answer = line.outcome.answer
        record = {
            "index": index,
            "kind": line.kind,
            "operation": line.outcome.operation,
            "request": {
                "method": line.request.method,
                "path": line.request.path,
                "query": line.request.query,
                "headers": [list(header) for header in line.request.headers],
                **_body_fields(line.request.body),
            },
            "expected": {
                "status": answer.status,
                "headers": [list(header) for header in answer.headers],
                **_body_fields(answer.body),
                "inferred": list(answer.inferred),
                "delay_seconds": list(answer.delay_seconds) if answer.delay_seconds else None,
            },
            "changes_state": any(not isinstance(c, CountCall) for c in line.outcome.changes),
        }
        # ASCII only: U+2028, U+0085 and the like are line breaks to some JSON Lines readers (Python's
        # str.splitlines among them), and a corpus line must never split.
        yield json.dumps(record, ensure_ascii=True, separators=(",", ":"))
