"""Differential tests: the mock over HTTP against ``spec.predict.predict`` called directly.

A Hypothesis-generated stream of requests (valid and invalid POSTs under good and odd encodings,
updates of stored ids, lists with drawn queries, gets, deletes, the public config, unknown routes,
every kind of bad credentials, bursts that reach the rate limiter) is sent byte for byte to a real
mock process and, in step, to the predictor with an in-memory ``spec.model.State``. Status, body
bytes, the predicted headers and the final stored triggers must be equal.

To make ``_id`` and ``_updatedAt`` comparable the mock runs with ``--clock step:T0:STEP --ids
sequential``: its n-th predicted request (counted from the last ``POST /__mock__/reset``) sees
``T0 + n*STEP`` and is offered ``format(1 + n, "024x")``, and the Python side builds the same
``Environment`` for its n-th request. Each Hypothesis example starts with a reset, so every example
is self-contained and a failure shrinks to a short sequence. ``derandomize=True`` fixes the stream.

A second test sends generated POST bodies to the mock and compares its validation answers with the
real ajv validator (the Node oracle of ``tests/oracle``), which skips without Node unless under CI.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz import bodies
from fuzz.requests import (
    BAD_ENCODINGS,
    ENCODINGS,
    TRIGGERS_PATH,
    Credentials,
    credentials,
    delete_requests,
    get_requests,
    list_requests,
    malformed_post_requests,
    post_requests,
    trigger_ids,
)
from spec.jsvalues import stringify
from spec.model import Request, State, User, apply_changes
from spec.predict import Environment, predict
from spec.profiles import get_profile
from spec.settings import SITE_URL
from spec.widget import default_agent
from tests.mockserver import DEFAULT_USERS, MockServer, running_mock
from tests.oracle.client import Oracle
from tests.oracle.client import Request as OracleRequest

pytestmark = pytest.mark.http

T0_MS = 1_764_072_000_000
STEP_MS = 2_500  # 24 requests span one 60 s rate-limit window, so windows both fill up and expire
EXAMPLES = 90
STREAM_AT_LEAST = 2_000

USERS = tuple(
    User(user_id, token, frozenset(permissions.split(",")) if permissions else frozenset())
    for user_id, token, permissions in DEFAULT_USERS.values()
)
ADMIN, MANAGER, AGENT = USERS


def environment(n: int) -> Environment:
    return Environment(now_ms=T0_MS + n * STEP_MS, new_trigger_id=format(1 + n, "024x"))


@dataclass
class Tally:
    requests: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    operations: dict[str, int] = field(default_factory=dict)


def mock_for(profile: str) -> Iterator[MockServer]:
    with running_mock(
        "--profile", profile, "--clock", f"step:{T0_MS}:{STEP_MS}", "--ids", "sequential", "--quiet"
    ) as server:
        yield server


@pytest.fixture(scope="module")
def mock_8_3() -> Iterator[MockServer]:
    yield from mock_for("8.3")


@pytest.fixture(scope="module")
def mock_7_5() -> Iterator[MockServer]:
    yield from mock_for("7.5")


# -- the stream ---------------------------------------------------------------------------------

ALL_CREDENTIALS = credentials(ADMIN, MANAGER)
AGENT_CREDENTIALS = st.just(
    Credentials("agent", (("X-User-Id", AGENT.user_id), ("X-Auth-Token", AGENT.token)))
)
SOME_CREDENTIALS = st.one_of(ALL_CREDENTIALS, ALL_CREDENTIALS, AGENT_CREDENTIALS)
FRIENDLY_CREDENTIALS = credentials(ADMIN, MANAGER, valid_only=True)
ALL_LIMITED = (("X-User-Id", MANAGER.user_id), ("X-Auth-Token", MANAGER.token))


def request_for(data: st.DataObject, state: State) -> list[Request]:
    """One step of the stream: usually one request, sometimes a burst of the same one."""
    known = [str(trigger["_id"]) for trigger in state.triggers]
    ids = trigger_ids(known)
    kind = data.draw(
        st.sampled_from(
            [
                "valid-post",
                "valid-post",
                "valid-post",
                "update",
                "invalid-post",
                "invalid-post",
                "odd-encoding",
                "list",
                "list",
                "get",
                "delete",
                "config",
                "unknown-route",
                "burst",
            ]
        ),
        label="kind",
    )
    if kind == "valid-post":
        return [data.draw(post_requests(bodies.trigger_bodies(), SOME_CREDENTIALS, tuple(ENCODINGS)))]
    if kind == "update":
        body = bodies.trigger_bodies(trigger_id=ids) if known else bodies.trigger_bodies()
        return [data.draw(post_requests(body, FRIENDLY_CREDENTIALS))]
    if kind == "invalid-post":
        return [data.draw(post_requests(bodies.invalid_bodies(), SOME_CREDENTIALS))]
    if kind == "odd-encoding":
        return [
            data.draw(
                st.one_of(
                    malformed_post_requests(SOME_CREDENTIALS),
                    post_requests(bodies.invalid_bodies(), FRIENDLY_CREDENTIALS, tuple(BAD_ENCODINGS)),
                )
            )
        ]
    if kind == "list":
        return [data.draw(list_requests(SOME_CREDENTIALS))]
    if kind == "get":
        return [data.draw(get_requests(SOME_CREDENTIALS, ids))]
    if kind == "delete":
        return [data.draw(delete_requests(SOME_CREDENTIALS, ids))]
    if kind == "config":
        return [Request("GET", "/api/v1/livechat/config")]
    if kind == "unknown-route":
        method, path = data.draw(
            st.sampled_from(
                [
                    ("PUT", TRIGGERS_PATH),
                    ("PATCH", TRIGGERS_PATH + "/x"),
                    ("GET", "/api/v1/livechat/triggerz"),
                    ("GET", TRIGGERS_PATH + "/a/b"),
                    ("POST", TRIGGERS_PATH + "/x"),
                    ("GET", "/api/v1/livechat/config/"),
                ]
            )
        )
        return [Request(method, path, headers=(("X-User-Id", ADMIN.user_id), ("X-Auth-Token", ADMIN.token)))]
    # A burst: the rate limiter's manager user repeats one route until it is refused.
    burst = data.draw(list_requests(st.just(Credentials("limited", ALL_LIMITED))))
    return [burst] * 12


def send(client: httpx.Client, base: str, request: Request) -> httpx.Response:
    raw = request.path.encode("latin-1") + (b"?" + request.query.encode("latin-1") if request.query else b"")
    url = httpx.URL(base, raw_path=raw)
    return client.request(request.method, url, headers=list(request.headers), content=request.body)


def run_stream(server: MockServer, profile_name: str, data: st.DataObject, tally: Tally) -> None:
    profile = get_profile(profile_name)
    assert httpx.post(server.url("/__mock__/reset"), json={}).status_code == 200
    # The mock's start-up state: its default livechat agent and Site_Url set to its own base URL (both
    # read by the public config).
    state = State(users=(*USERS, default_agent()), settings={**State().settings, SITE_URL: server.base_url})
    n = 0
    steps = data.draw(st.integers(18, 30), label="steps")
    with httpx.Client(timeout=30.0) as client:
        for _ in range(steps):
            for request in request_for(data, state):
                outcome = predict(request, state, profile, environment(n))
                n += 1
                response = send(client, server.base_url, request)
                expected = outcome.answer
                where = f"request {n - 1}: {request!r}"
                assert response.status_code == expected.status, where
                assert response.content == expected.body, where
                for name, value in expected.headers:
                    assert value in response.headers.get_list(name), (where, name)
                assert response.headers.get("content-type") == expected.header("content-type"), where
                state = apply_changes(state, outcome.changes)
                tally.requests += 1
                tally.statuses[expected.status] = tally.statuses.get(expected.status, 0) + 1
                tally.operations[outcome.operation] = tally.operations.get(outcome.operation, 0) + 1
    stored = httpx.get(server.url("/__mock__/triggers")).content
    assert stored == stringify({"triggers": list(state.triggers)}).encode()


STREAM_SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


def test_mock_matches_the_predictor_over_http(mock_8_3: MockServer) -> None:
    tally = Tally()

    @STREAM_SETTINGS
    @given(data=st.data())
    def stream(data: st.DataObject) -> None:
        run_stream(mock_8_3, "8.3", data, tally)

    stream()
    assert tally.requests >= STREAM_AT_LEAST, tally
    # The stream must really mix: every status the reference names, and every operation.
    for status in (200, 400, 401, 403, 404, 429):
        assert tally.statuses.get(status, 0) > 0, (status, tally.statuses)
    for operation in ("save_trigger", "list_triggers", "get_trigger", "delete_trigger", "public_config"):
        assert tally.operations.get(operation, 0) > 0, (operation, tally.operations)


def test_mock_matches_the_predictor_on_7_5(mock_7_5: MockServer) -> None:
    """A shorter stream on the other check order (rate limit and validation before permission)."""
    tally = Tally()

    @settings(STREAM_SETTINGS, max_examples=15)
    @given(data=st.data())
    def stream(data: st.DataObject) -> None:
        run_stream(mock_7_5, "7.5", data, tally)

    stream()
    assert tally.requests >= 250


# -- validation answers against the real validator ----------------------------------------------


@pytest.mark.oracle
def test_mock_validation_answers_match_ajv(mock_8_3: MockServer, oracle: Oracle) -> None:
    values = st.one_of(bodies.trigger_bodies(), bodies.invalid_bodies(), bodies.invalid_bodies())
    texts: list[str] = []

    @settings(STREAM_SETTINGS, max_examples=600)
    @given(value=values)
    def collect(value: object) -> None:
        # Only objects and arrays reach the validator as they are; the body parser turns any other
        # JSON value into {} (test_mock_server_http covers that), which the oracle does not model.
        if isinstance(value, (dict, list)):
            texts.append(json.dumps(value, ensure_ascii=False, separators=(",", ":")))

    collect()
    answers = oracle.check([OracleRequest("post", text) for text in texts])
    assert httpx.post(mock_8_3.url("/__mock__/reset"), json={}).status_code == 200
    mismatches = []
    with httpx.Client(base_url=mock_8_3.base_url, timeout=30.0) as client:
        for text, answer in zip(texts, answers, strict=True):
            response = client.post(
                TRIGGERS_PATH,
                content=text.encode(),
                headers={
                    "content-type": "application/json",
                    "X-User-Id": "admin-id",
                    "X-Auth-Token": "admin-token",
                },
            )
            if answer.valid:
                ok = response.content == b'{"success":true}'
            else:
                expected = {
                    "success": False,
                    "error": f"{answer.message} [invalid-params]",
                    "errorType": "invalid-params",
                }
                ok = response.status_code == 400 and response.json() == expected
            if not ok:
                mismatches.append((text, answer.message, response.text))
    assert not mismatches, mismatches[:5]
    assert len(texts) >= 400
