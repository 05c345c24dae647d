"""The check families of a conformance run, composed from the ``fuzz`` strategies.

Stateless families (no request in them may change what is stored) run in parallel; every family
whose requests may write runs alone, each write followed by a listing that maps ids and checks
what the server stored. The body strategies keep a live server safe: every trigger body carries the
run's prefix (``LiveModel.tag``) and, unless ``--allow-enabled``, an ``enabled`` value that is false.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, unquote

from hypothesis import strategies as st

from contract_tests import coverage
from contract_tests.client import ConnectionFailed, reproducer
from contract_tests.identity_families import run_identity_families
from contract_tests.report import Deviation
from contract_tests.runner import Exchange, Runner
from contract_tests.schemathesis_bridge import (
    case_to_request,
    coercion_aware_rejection,
    load_operations,
    schemathesis_findings,
)
from fuzz import bodies
from fuzz.requests import (
    BAD_ENCODINGS,
    ENCODINGS,
    Credentials,
    auth_headers,
    credentials,
    delete_requests,
    encode_json,
    get_requests,
    list_queries,
    list_requests,
    post_requests,
    trigger_ids,
)
from spec.contract import example_post_body, validate_post_body
from spec.headers import CONTENT_TYPE, JSON_CONTENT_TYPE
from spec.model import Headers, Request
from spec.predict import DEFAULT_COUNT, UPPER_COUNT_LIMIT
from spec.routes import TRIGGERS_PATH, trigger_path

__all__ = ["run_all"]

FALSE_VALUES = (False, 0, None)
"""``enabled`` values that the server stores as ``false`` and that no server reads as true, coercing or
not (so never ``"false"``: a server storing it as sent would hold a truthy string)."""


def safe_bodies(runner: Runner, **overrides: Any) -> st.SearchStrategy[dict[str, Any]]:
    """Valid bodies, disabled unless ``--allow-enabled``, tagged as this run's when drawn."""
    if not runner.options.allow_enabled:
        overrides.setdefault("enabled", st.sampled_from(FALSE_VALUES))
    # A string description can always carry the run's mark, even when the name is drawn as a number.
    overrides.setdefault("description", bodies.texts())
    return bodies.trigger_bodies(**overrides)


def admin_credentials(runner: Runner) -> st.SearchStrategy[Credentials]:
    return credentials(runner.admin, valid_only=True)


def failing_credentials(runner: Runner) -> st.SearchStrategy[Credentials]:
    return credentials(runner.admin).filter(lambda c: c.label not in ("admin", "admin-lowercase-headers"))


def _json_post(headers: tuple[tuple[str, str], ...], body: Any) -> Request:
    return Request(
        "POST", TRIGGERS_PATH, "", (*headers, (CONTENT_TYPE, JSON_CONTENT_TYPE)), encode_json(body)
    )


def _sends(runner: Runner, family: str, *, stateful: bool = False) -> Callable[[Request], Exchange]:
    return lambda request: runner.exchange(family, request, stateful=stateful)


# --- stateless families -----------------------------------------------------------------------------


def stateless_jobs(runner: Runner) -> list[Callable[[], None]]:
    n = runner.options.max_examples
    tag = runner.model.tag
    creds = admin_credentials(runner)
    jobs: list[Callable[[], None]] = []

    def job(family: str, strategy: st.SearchStrategy[Any], examples: int) -> None:
        runner.results.plan(family)
        jobs.append(
            runner.guarded(
                family, lambda: runner.run_family(family, strategy, _sends(runner, family), examples)
            )
        )

    base = safe_bodies(runner)  # one strategy for all: each new one is validated at its first draw
    # A oneOf mismatch needs an action with params: drawn from bodies that have one, not filtered.
    bases = {"one-of-mismatch": safe_bodies(runner, action_lists=bodies.action_lists_with_params())}
    for kind in bodies.INVALID_BODY_KINDS:
        invalid = bodies.invalid_bodies(kind, base=bases.get(kind, base)).map(tag)
        job(f"POST invalid: {kind}", post_requests(invalid, creds), n)
    job("GET list queries", list_requests(creds), n)
    known = sorted(runner.model.foreign_ids())
    job("GET by id", get_requests(creds, trigger_ids(known)), n)
    job("DELETE unknown id", delete_requests(creds, trigger_ids()), n)
    # 6.13-7.3 wait 0.5-1 s before every 401/403: keep that family small there.
    auth_examples = 10 if runner.profile.auth_failure_delay else max(10, n // 3)
    bad = failing_credentials(runner)
    any_body = st.one_of(base, bodies.invalid_bodies(base=base)).map(tag)
    job(
        "authentication",
        st.one_of(
            post_requests(any_body, bad),
            list_requests(bad),
            get_requests(bad, trigger_ids()),
            delete_requests(bad, trigger_ids()),
        ),
        auth_examples,
    )
    return jobs


def check_nothing_stored(runner: Runner, after: str) -> None:
    """After requests that must not write, the listing must show exactly the known triggers."""
    problems, listing, status = runner.observe(after, set(), complete=True)
    if problems:
        runner.results.add(
            Deviation(
                family="state: " + after,
                severity="failure",
                title=f"what the server stores changed during {after}",
                problems=tuple(problems),
                curl=reproducer(runner.options.base_url, [listing], runner.secrets),
                observed_status=status,
            )
        )


# --- permission and check order ----------------------------------------------------------------------


def permission_probes(runner: Runner) -> None:
    """Requests of the user without ``view-livechat-manager``: 403, before or after validation by profile.

    At most three per route and method, so a user without ``api-bypass-rate-limit`` stays below the
    limiter's 10 calls a minute.
    """
    family = "permission and check order"
    if runner.limited is None:
        runner.results.plan(family, "no --limited-user-id/--limited-auth-token")
        runner.results.notice(
            "permission and check order not checked: no --limited-user-id/--limited-auth-token"
        )
        return
    runner.results.plan(family)
    headers = auth_headers(runner.limited)
    valid = runner.model.tag(_flow_body("permission probe", enabled=False))
    probes = [
        ("valid body", _json_post(headers, valid)),
        ("invalid body", _json_post(headers, {})),
        ("array body", _json_post(headers, [runner.model.tag({"name": "x"})])),
        ("list", Request("GET", TRIGGERS_PATH, "", headers)),
        ("list with count=abc", Request("GET", TRIGGERS_PATH, "count=abc", headers)),
        ("list with a bad sort", Request("GET", TRIGGERS_PATH, "sort=%7Bname%3A1%7D", headers)),
        ("get by id", Request("GET", f"{TRIGGERS_PATH}/{quote(runner.model.missing_id())}", "", headers)),
        ("delete", Request("DELETE", f"{TRIGGERS_PATH}/{quote(runner.model.missing_id())}", "", headers)),
    ]
    for title, request in probes:
        exchange = runner.exchange(family, request, stateful=True)
        if exchange.problems or exchange.state_problems:
            runner.record(family, exchange, title=f"user without permission: {title}")


# --- the state flow -------------------------------------------------------------------------------


def _flow_body(name: str, **fields: Any) -> dict[str, Any]:
    """The contract's example body, disabled, with ``name`` and ``fields`` replaced."""
    body = example_post_body()
    body.update(name=name, enabled=False)
    body.update(fields)
    return body


def state_flow(runner: Runner) -> None:
    """create → list (paging, sort, total) → get → update (coerced values stored) → update of an unknown
    id is a no-op → delete → gone. Every step's answer is compared exactly with the prediction."""
    family = "state flow"
    headers = auth_headers(runner.admin)
    tag = runner.model.tag

    def step(title: str, request: Request) -> Exchange:
        exchange = runner.exchange(family, request, stateful=True)
        if exchange.problems or exchange.state_problems:
            runner.record(family, exchange, title=title)
        return exchange

    def get(trigger_id: str) -> Request:
        return Request("GET", trigger_path(trigger_id), "", headers)

    def delete(trigger_id: str) -> Request:
        return Request("DELETE", trigger_path(trigger_id), "", headers)

    def listing(query: str) -> Request:
        return Request("GET", TRIGGERS_PATH, query, headers)

    before = set(runner.model.own_ids())
    creations = [
        _flow_body(
            "flow A",
            enabled=0,
            runOnce=1,
            conditions=[{"name": "time-on-site", "value": 5}],
            actions=[
                {
                    "name": "use-external-service",
                    "params": {
                        "serviceUrl": "https://example.invalid/hook",
                        "serviceTimeout": "5000",
                        "serviceFallbackMessage": "sorry",
                    },
                }
            ],
        ),
        _flow_body(
            "flow B",
            enabled=0,
            runOnce="false",
            actions=[{"name": "send-message", "params": None}],
            conditions=[{"name": "chat-opened-by-visitor", "value": None}],
        ),
        _flow_body(
            "flow C",
            enabled=None,
            _id=None,
            description=3.5,
            actions=[
                {"name": "send-message"},
                {"name": "send-message", "params": {"sender": "custom", "msg": 12, "name": None}},
            ],
        ),
        _flow_body(
            "flow D", _id="", runOnce=True, conditions=[{"name": "after-guest-registration", "value": True}]
        ),
    ]
    for body in creations:
        step("create (coercible values are stored coerced)", _json_post(headers, tag(body)))
    created = [i for i in runner.model.own_ids() if i not in before]
    for query in (
        "count=2&offset=0",
        "count=2&offset=2",
        'sort={"name":-1}',
        "count=0",
        "count=1&offset=1&sort=%7B%22name%22%3A1%7D",
        f"count={UPPER_COUNT_LIMIT + 1}",
        "offset=1000",
    ):
        step(f"list ({query})", listing(query))
    for trigger_id in created:
        step("get by id", get(trigger_id))
    if not created:
        return
    first = created[0]
    update = tag(
        _flow_body(
            "flow A updated",
            _id=first,
            description=True,
            enabled=0,
            runOnce="true",
            conditions=[{"name": "time-on-site", "value": 30.5}],
        )
    )
    step("update an existing trigger (coerced values stored)", _json_post(headers, update))
    step("get after update", get(first))
    missing = tag(_flow_body("flow unknown id", _id=runner.model.missing_id()))
    step("update of an unknown id is a silent no-op", _json_post(headers, missing))
    step("delete", delete(first))
    step("get after delete answers null", get(first))
    step("delete again answers success", delete(first))
    step("list after delete", listing("count=0"))


# --- stateful families ------------------------------------------------------------------------------


def stateful_families(runner: Runner) -> None:
    n = runner.options.max_examples
    tag = runner.model.tag
    creds = admin_credentials(runner)
    headers = auth_headers(runner.admin)

    family = "POST valid bodies"
    runner.run_family(
        family,
        post_requests(safe_bodies(runner).map(tag), creds, tuple(ENCODINGS)),
        _sends(runner, family, stateful=True),
        n,
    )
    family = "POST odd encodings"
    runner.run_family(
        family,
        post_requests(safe_bodies(runner).map(tag), creds, tuple(BAD_ENCODINGS)),
        _sends(runner, family, stateful=True),
        n // 2,
    )

    family = "state walk"
    operations = st.sampled_from(["create", "update", "update unknown", "get", "delete", "list"])
    picks, walk_bodies, queries = st.integers(0, 2**16), safe_bodies(runner), list_queries()

    def walk(data: st.DataObject) -> Exchange:
        # Draw the same things whatever the server holds: Hypothesis replays draws while shrinking, and
        # draws whose shape depends on outside state make it give up ("inconsistent data generation").
        # The strategies are built once, outside: a strategy made per draw is validated per draw.
        operation = data.draw(operations)
        pick = data.draw(picks)
        body = data.draw(walk_bodies)
        query = data.draw(queries)
        own = runner.model.own_ids()
        if operation in ("update", "get", "delete") and not own:
            operation = "create"
        target = own[pick % len(own)] if own else ""
        if operation == "create":
            request = _json_post(headers, tag(body))
        elif operation in ("update", "update unknown"):
            trigger_id = target if operation == "update" else runner.model.missing_id()
            request = _json_post(headers, tag({**body, "_id": trigger_id}))
        elif operation == "list":
            request = Request("GET", TRIGGERS_PATH, query, headers)
        else:
            method = "GET" if operation == "get" else "DELETE"
            request = Request(method, trigger_path(target), "", headers)
        return runner.exchange(family, request, stateful=True)

    runner.run_family(family, st.data(), walk, n)


def paging(runner: Runner) -> None:
    """Pages over more than 100 triggers, where the clamp of ``count`` to 100 shows."""
    family = "paging and count clamp"
    headers = auth_headers(runner.admin)
    wanted = UPPER_COUNT_LIMIT + 1
    # Bounded: a server that loses what it stores must not keep this loop going.
    for number in range(wanted + 10):
        if len(runner.model.state().triggers) >= wanted:
            break
        exchange = runner.exchange(
            family, _json_post(headers, runner.model.tag(_flow_body(f"page {number}"))), stateful=True
        )
        if exchange.problems or exchange.state_problems:
            runner.record(family, exchange, title=f"create (to have more than {UPPER_COUNT_LIMIT} triggers)")
            return
    clamp = UPPER_COUNT_LIMIT
    for query in (
        f"count={clamp}",
        f"count={clamp + 1}",
        f"count={clamp + clamp // 2}",
        f"count={DEFAULT_COUNT + 1}&offset=10",
        f"offset={DEFAULT_COUNT}&count={DEFAULT_COUNT + 10}",
        "count=0",
        f"count=5&offset={clamp - 2}",
        f"count={clamp}&sort=%7B%22name%22%3A-1%7D",
    ):
        exchange = runner.exchange(family, Request("GET", TRIGGERS_PATH, query, headers), stateful=True)
        if exchange.problems:
            runner.record(family, exchange, title=f"list ({query}) over {wanted}+ triggers")


def schemathesis_families(runner: Runner) -> None:
    """Schemathesis' positive and negative cases for each operation of the contract document."""
    from schemathesis import GenerationMode

    # A quarter: Schemathesis' own checks cost more time per request than the exact comparison.
    n = max(1, runner.options.max_examples // 4)
    headers = dict(auth_headers(runner.admin))
    foreign = runner.model.foreign_ids()
    base_url = runner.options.base_url
    for operation in load_operations():
        method = operation.method.upper()
        # A lone string path parameter has no negative values: Schemathesis would search in vain.
        has_inputs = operation.body or operation.query
        modes = (
            (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if has_inputs else (GenerationMode.POSITIVE,)
        )
        for mode in modes:
            family = f"schemathesis {method} {operation.path} ({mode})"

            def act(
                case: Any,
                family: str = family,
                method: str = method,
                stateful: bool = method in ("POST", "DELETE"),
            ) -> Exchange | None:
                if not runner.model.is_markable(case.body):
                    return None  # a server that wrongly stored it would leave a trigger we cannot find
                if isinstance(case.body, dict):
                    case.body = runner.model.tag(case.body)
                request = case_to_request(case, base_url)
                target = (case.body or {}).get("_id") if isinstance(case.body, dict) else None
                if method == "DELETE":
                    target = unquote(request.path.rsplit("/", 1)[-1])
                if stateful and isinstance(target, str) and target in foreign:
                    return None  # never write to a trigger this run does not own
                exchange = runner.exchange(family, request, stateful=stateful)
                rejected = coercion_aware_rejection(case, exchange.expected, exchange.observed)
                findings = schemathesis_findings(case, request, exchange.observed, base_url)
                if rejected:
                    exchange = dataclasses.replace(
                        exchange, state_problems=exchange.state_problems + tuple(rejected)
                    )
                if findings and (exchange.problems or exchange.state_problems):
                    exchange = dataclasses.replace(
                        exchange, extra=tuple(f"schemathesis: {f}" for f in findings)
                    )
                elif findings:
                    # The answer is exactly the contract's: the document's schemas do not describe it.
                    runner.results.add(
                        Deviation(
                            family=family,
                            severity="warning",
                            title="answer matches the contract, not the OpenAPI document's response schemas",
                            problems=tuple(findings[:3]),
                            inferred=("document-coverage",),
                        )
                    )
                return exchange

            strategy = operation.as_strategy(mode, headers=headers)
            runner.run_family(family, strategy, act, n)


SERIAL_FAMILIES = (
    "state flow",
    "POST valid bodies",
    "POST odd encodings",
    "state walk",
    "paging and count clamp",
)


# --- deterministic coverage (the same cases whatever the seed) ------------------------------------------


def run_cases(runner: Runner, family: str, cases: list[tuple[str, Request]], *, stateful: bool) -> None:
    runner.results.family(family)
    for title, request in cases:
        try:
            exchange = runner.exchange(family, request, stateful=stateful)
        except ConnectionFailed as error:
            runner.results.notice(f"{family}: transport error, request not checked: {error}")
            continue
        if exchange.failed or exchange.warned:
            runner.record(family, exchange, title=title)


def body_schema_coverage(runner: Runner) -> None:
    headers = auth_headers(runner.admin)
    cases = [
        (case.label, _json_post(headers, runner.model.tag(case.value)))
        for case in coverage.post_body_cases()
        if runner.model.is_markable(case.value)
    ]
    run_cases(runner, "coverage: POST body schema", cases, stateful=True)


def query_and_credential_coverage_jobs(runner: Runner) -> list[Callable[[], None]]:
    headers = auth_headers(runner.admin)
    queries = [
        (f"list query {label}", Request("GET", TRIGGERS_PATH, query, headers))
        for label, query in coverage.list_query_cases()
    ]
    missing = runner.model.missing_id()
    routes: list[tuple[str, Callable[[Headers], Request]]] = [
        ("list", lambda h: Request("GET", TRIGGERS_PATH, "", h)),
        ("create", lambda h: _json_post(h, runner.model.tag(example_post_body()))),
        ("get by id", lambda h: Request("GET", trigger_path(missing), "", h)),
        ("delete", lambda h: Request("DELETE", trigger_path(missing), "", h)),
    ]
    if runner.profile.auth_failure_delay:
        routes = routes[:1]  # every refusal waits 0.5-1 s on these releases: one route is enough
    credentials_cases = [
        (f"{route}: {label}", make(variant))
        for label, variant in coverage.credential_variants(runner.admin)
        for route, make in routes
    ]
    query_family, credential_family = "coverage: list query schema", "coverage: credentials"
    runner.results.plan(query_family)
    runner.results.plan(credential_family)
    return [
        runner.guarded(query_family, lambda: run_cases(runner, query_family, queries, stateful=False)),
        runner.guarded(
            credential_family, lambda: run_cases(runner, credential_family, credentials_cases, stateful=False)
        ),
    ]


def _invalid_root_bodies() -> list[coverage.Case]:
    """One body of each kind of mistake at the top level: a wrong type, a required key left out, an
    unknown key (each fails validation whatever the coercion)."""
    chosen: dict[str, coverage.Case] = {}
    for case in coverage.post_body_cases():
        if not case.label.startswith("$: ") or validate_post_body(case.value).valid:
            continue
        kind = "type" if " for " in case.label else "required" if "required" in case.label else case.label
        chosen.setdefault(kind, case)
    return list(chosen.values())


def check_order_coverage(runner: Runner) -> None:
    """For each pair of checks two profiles order differently, requests that fail both checks."""
    family = "coverage: check order"
    limited = runner.limited
    cases: list[tuple[str, Request]] = []
    for first, second, profiles in coverage.order_pairs():
        steps = {first, second}
        if "rate-limit" in steps:
            runner.results.notice(
                f"{family}: {first} vs {second} (differs between {profiles}) is not probed: it needs the "
                "rate limiter to refuse, which rests on inferred behaviour"
            )
            continue
        if steps == {"authentication", "permission"}:
            continue  # a refused login never reaches the permission check
        if "permission" in steps and limited is None:
            runner.results.notice(
                f"{family}: {first} vs {second} (differs between {profiles}) is not probed: no "
                "--limited-user-id/--limited-auth-token"
            )
            continue
        headers: Headers = auth_headers(limited) if "permission" in steps and limited else ()
        if "validation" in steps:
            for case in _invalid_root_bodies():
                body = runner.model.tag(case.value)  # marked, in case a broken server stores it
                cases.append((f"{first} vs {second}: body {case.label}", _json_post(headers, body)))
            for label, query in coverage.list_query_cases():
                if "a word" in label:
                    cases.append(
                        (
                            f"{first} vs {second}: list query {label}",
                            Request("GET", TRIGGERS_PATH, query, headers),
                        )
                    )
    runner.results.plan(family, "" if cases else "no pair of checks can be probed with these credentials")
    if cases:
        run_cases(runner, family, cases, stateful=True)


def run_all(runner: Runner) -> None:
    results = runner.results
    for family in SERIAL_FAMILIES:
        results.plan(family)
    if runner.options.schemathesis:
        results.plan("schemathesis")
    else:
        results.plan("schemathesis", "--no-schemathesis")
    runner.parallel(stateless_jobs(runner) + query_and_credential_coverage_jobs(runner))
    check_nothing_stored(runner, "stateless checks")
    runner.guarded("permission and check order", lambda: permission_probes(runner))()
    runner.guarded("coverage: check order", lambda: check_order_coverage(runner))()
    results.plan("coverage: POST body schema")
    runner.guarded("coverage: POST body schema", lambda: body_schema_coverage(runner))()
    runner.guarded("state flow", lambda: state_flow(runner))()
    runner.guarded("stateful families", lambda: stateful_families(runner))()
    runner.guarded("paging and count clamp", lambda: paging(runner))()
    # Log-in flow, external-service routes, and (only when allowed) permission and setting changes.
    run_identity_families(runner)
    if runner.options.schemathesis:
        runner.guarded("schemathesis", lambda: schemathesis_families(runner))()
    check_nothing_stored(runner, "the final listing")
