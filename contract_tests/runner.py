"""The conformance run: sends generated requests to a live server and compares every answer with
``spec.predict``.

Order of a run: preflight (reachable, credentials) → profile (given or detected) → observe the
stored triggers → stateless families (in ``--workers`` threads) → permission probes, state flows,
stateful families and Schemathesis (one at a time, since each answer depends on the previous ones)
→ a final state check → cleanup of every trigger the run created, also after a failure or Ctrl-C.

Each family is a Hypothesis test: on a deviation Hypothesis shrinks the request to a minimal one,
which is reported with a short diff, a curl reproducer and the seed.
"""

from __future__ import annotations

import contextlib
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.errors import HypothesisException

from contract_tests.checks import Observed, exact_problems, inferred_explains
from contract_tests.client import ConnectionFailed, RateLimitExhausted, RateLimitWait, Transport, curl_command
from contract_tests.model import PENDING_ID_PREFIX, Incomplete, LiveModel, new_run_prefix
from contract_tests.report import Deviation, Results, Severity
from fuzz.requests import auth_headers
from spec.jsvalues import JsonSyntaxError, parse_json
from spec.model import Answer, CountCall, Request, Trigger, UpdateTrigger, User
from spec.permissions import ADMIN_PERMISSIONS, BYPASS_RATE_LIMIT, MANAGE_TRIGGERS
from spec.predict import Environment, predict
from spec.profiles import PROFILES, Profile, get_profile
from spec.routes import TRIGGERS_PATH, trigger_path

__all__ = ["Exchange", "Options", "Runner", "UsageError", "run"]

COMPLETE_EVERY = 10
RECENT_QUERY = "count=5&sort=%7B%22_updatedAt%22%3A-1%7D"
"""The five most recently written triggers: where the trigger a write just stored must be."""

"""What the run assumes of the main account: it may manage triggers and is not rate limited. A
limited rate is still tolerated: unexpected 429s are waited out and reported."""


class UsageError(Exception):
    """A problem with the options or the connection: exit status 2, with this message."""


@dataclass
class Options:
    base_url: str
    user_id: str
    auth_token: str
    limited_user_id: str | None = None
    limited_auth_token: str | None = None
    profile: str = "auto"
    seed: int = 0
    max_examples: int = 100
    workers: int = 2
    junit_xml: Path | None = None
    report: Path | None = None
    allow_enabled: bool = False
    schemathesis: bool = True
    timeout_seconds: float = 30.0
    verify_tls: bool = True
    rate_limit_budget_seconds: float = 180.0


@dataclass(frozen=True)
class Exchange:
    """One request, its predicted answer, what came back, and every problem found."""

    request: Request
    expected: Answer
    observed: Observed
    problems: tuple[str, ...] = ()
    state_problems: tuple[str, ...] = ()
    """Problems with what the server stored (seen by listing after a write): never 'inferred'."""
    extra: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        return bool(self.state_problems) or (
            bool(self.problems) and not inferred_explains(self.expected, self.observed)
        )

    @property
    def warned(self) -> bool:
        return bool(self.problems) and not self.failed


class _Found(Exception):
    """Raised inside a Hypothesis test so that Hypothesis shrinks the failing request."""

    def __init__(self, exchange: Exchange) -> None:
        super().__init__(exchange.problems[:1] or exchange.state_problems[:1])
        self.exchange = exchange


@dataclass
class Runner:
    options: Options
    results: Results = field(default_factory=Results)
    log: Callable[[str], None] = print

    def __post_init__(self) -> None:
        options = self.options
        self.admin = User(options.user_id, options.auth_token, ADMIN_PERMISSIONS)
        self.limited = (
            User(options.limited_user_id, options.limited_auth_token)
            if options.limited_user_id and options.limited_auth_token
            else None
        )
        self.model = LiveModel(self.admin, self.limited, new_run_prefix(), options.allow_enabled)
        self.transport = Transport(
            options.base_url,
            timeout_seconds=options.timeout_seconds,
            verify_tls=options.verify_tls,
            rate_limit_budget_seconds=options.rate_limit_budget_seconds,
            on_wait=self._rate_limited,
        )
        self.profile: Profile = get_profile("8.3" if options.profile == "auto" else options.profile)
        self.results.seed = options.seed
        # Stateful work (a write, then the observation that maps ids) must not interleave.
        self._state_lock = threading.RLock()
        self._writes = 0
        self.secrets = {options.auth_token: "RC_AUTH_TOKEN", options.user_id: "RC_USER_ID"}
        if self.limited is not None:
            self.secrets |= {
                self.limited.token: "RC_LIMITED_AUTH_TOKEN",
                self.limited.user_id: "RC_LIMITED_USER_ID",
            }

    # --- sending and comparing ----------------------------------------------------------------------

    def _rate_limited(self, wait: RateLimitWait) -> None:
        self.results.notice(
            f"rate limited on {wait.method} {wait.path}: waited {wait.seconds:.0f} s and sent again. "
            f"Use an account with {BYPASS_RATE_LIMIT} (admins have it) for a faster run."
        )
        self.log(f"rate limited on {wait.method} {wait.path}: waiting {wait.seconds:.0f} s")

    def environment(self) -> Environment:
        return Environment(
            now_ms=int(time.time() * 1000), new_trigger_id=f"{PENDING_ID_PREFIX}{self.model.next_number()}"
        )

    def exchange(self, family: str, request: Request, *, stateful: bool = False) -> Exchange:
        """Predict, send, compare; after a write, observe what the server stored."""
        lock = self._state_lock if stateful else contextlib.nullcontext()
        with lock:
            outcome = predict(request, self.model.state(), self.profile, self.environment())
            observed = self.transport.send(request, expect_rate_limit=outcome.answer.status == 429)
            self.results.count(family)
            problems = exact_problems(outcome.answer, observed)
            if problems and outcome.operation in ("list_triggers", "get_trigger") and self.model.foreign:
                # Someone else may have changed their triggers meanwhile: look again before blaming.
                with self._state_lock:
                    self.refresh_foreign()
                    outcome = predict(request, self.model.state(), self.profile, self.environment())
                    problems = exact_problems(outcome.answer, observed)
            state_problems: list[str] = []
            if stateful:
                changes = [change for change in outcome.changes if not isinstance(change, CountCall)]
                self.model.apply(changes)
                if request.method in ("POST", "DELETE"):
                    updated = {c.trigger_id for c in changes if isinstance(c, UpdateTrigger)}
                    state_problems = self.observe(family, updated)
            return Exchange(request, outcome.answer, observed, tuple(problems), tuple(state_problems))

    def list_all(self, query: str = "count=0") -> tuple[Request, Observed, list[Trigger] | None]:
        request = Request("GET", TRIGGERS_PATH, query, auth_headers(self.admin))
        observed = self.transport.send(request)
        triggers: list[Trigger] | None = None
        if observed.status == 200:
            try:
                value = parse_json(observed.body.decode("utf-8", "replace"))
                listed = value.get("triggers") if isinstance(value, dict) else None
                if isinstance(listed, list):
                    triggers = [t for t in listed if isinstance(t, dict)]
            except JsonSyntaxError:
                pass
        return request, observed, triggers

    def refresh_foreign(self) -> None:
        _, _, triggers = self.list_all()
        if triggers is not None:
            self.model.foreign = [t for t in triggers if not self.model.is_own(t)]

    def observe(self, family: str, updated_ids: set[str], *, complete: bool | None = None) -> list[str]:
        """List triggers, take the server's ids/timestamps for ours, and check the listing itself.

        Most writes are followed by a cheap listing of the few most recently updated triggers (the
        written one is among them); every ``COMPLETE_EVERY``-th write, and whenever the cheap one is
        not enough, by a listing of everything.
        """
        with self._state_lock:  # reentrant: a write holds it already
            return self._observe(family, updated_ids, complete)

    def _observe(self, family: str, updated_ids: set[str], complete: bool | None) -> list[str]:
        self._writes += 1
        if complete is None:
            complete = self._writes % COMPLETE_EVERY == 0
        request, observed, triggers = self.list_all("count=0" if complete else RECENT_QUERY)
        self.results.count("state: list after write")
        if triggers is None:
            return [
                f"cannot observe the stored triggers: GET ?{request.query} answered {observed.status} "
                f"{observed.body[:120]!r}"
            ]
        try:
            problems = self.model.reconcile(triggers, updated_ids, complete=complete)
        except Incomplete:
            return self._observe(family, updated_ids, True)
        if problems:
            return problems
        # The listing must be exactly what the contract says for the reconciled state.
        outcome = predict(request, self.model.state(), self.profile, self.environment())
        listing = exact_problems(outcome.answer, observed)
        if listing and not inferred_explains(outcome.answer, observed):
            if not complete:
                return self._observe(family, updated_ids, True)  # someone else's change, maybe
            return [f"list after write ({family}): {problem}" for problem in listing]
        return []

    # --- recording ------------------------------------------------------------------------------------

    def record(self, family: str, exchange: Exchange, title: str = "", seed: int | None = None) -> None:
        """Report ``exchange``; ``seed`` is the Hypothesis seed of the family that drew the request."""
        severity: Severity = "failure" if exchange.failed else "warning"
        drawn = (
            f"\ndrawn by Hypothesis seed {seed} (this check's share of --seed {self.options.seed})"
            if seed
            else ""
        )
        problems = exchange.state_problems + exchange.problems + exchange.extra
        request = exchange.request
        self.results.add(
            Deviation(
                family=family,
                severity=severity,
                title=title
                or f"{request.method} {request.path}{'?' + request.query if request.query else ''}",
                problems=problems,
                curl=curl_command(self.options.base_url, request, self.secrets),
                seed=self.options.seed,
                inferred=exchange.expected.inferred,
                context=f"expected: {exchange.expected.status} {_clip(exchange.expected.body)}\n"
                f"got:      {exchange.observed.status} {_clip(exchange.observed.body)}{drawn}",
            )
        )

    def family_seed(self, family: str) -> int:
        return (self.options.seed * 1_000_003 + zlib.crc32(family.encode())) % 2**32

    def run_family(
        self,
        family: str,
        strategy: st.SearchStrategy[Any],
        act: Callable[[Any], Exchange | None],
        examples: int,
    ) -> None:
        """Run ``act`` on drawn values as a Hypothesis test; report the shrunk failure, if any."""
        started = time.monotonic()
        seed = self.family_seed(family)
        first: list[Exchange] = []

        @hypothesis_seed(seed)
        @settings(
            max_examples=max(1, examples),
            database=None,
            deadline=None,
            derandomize=False,
            suppress_health_check=list(HealthCheck),
            verbosity=Verbosity.quiet,
            phases=(Phase.generate, Phase.shrink),
            report_multiple_bugs=False,
        )
        @given(strategy)
        def test(value: Any) -> None:
            exchange = act(value)
            if exchange is None:
                return
            if exchange.failed:
                first.append(exchange)
                raise _Found(exchange)
            if exchange.warned:
                self.record(family, exchange, seed=seed)

        self.results.family(family)
        try:
            test()
        except _Found as found:
            self.record(family, found.exchange, seed=seed)
        except (ConnectionFailed, RateLimitExhausted, KeyboardInterrupt):
            raise
        except Exception as error:
            # Hypothesis reports a failure that did not happen again on replay as "flaky": a live server
            # may well behave so. Report the first failing request seen.
            inner = _find_found(error)
            if inner is not None or first:
                exchange = inner.exchange if inner is not None else first[0]
                self.record(family, exchange, seed=seed)
            elif isinstance(error, HypothesisException):
                # E.g. Schemathesis cannot make negative data for a lone string path parameter.
                self.results.notice(f"{family}: nothing generated ({type(error).__name__})")
            else:
                raise
        finally:
            self.results.family(family).seconds += time.monotonic() - started

    # --- the run ------------------------------------------------------------------------------------

    def preflight(self) -> None:
        try:
            request = Request("GET", TRIGGERS_PATH, "count=1", auth_headers(self.admin))
            observed = self.transport.send(request)
        except ConnectionFailed as error:
            raise UsageError(f"cannot reach the server at {self.options.base_url}: {error}") from None
        if observed.status == 401:
            raise UsageError("the server rejected --user-id/--auth-token (401): check the credentials")
        if observed.status == 403:
            raise UsageError(f"the --user-id account lacks the {MANAGE_TRIGGERS} permission (403)")
        if observed.status == 404:
            raise UsageError(f"no Livechat Triggers API at {self.options.base_url} (404 on {TRIGGERS_PATH})")
        if observed.status != 200:
            raise UsageError(
                f"unexpected answer to a plain list request: {observed.status} {_clip(observed.body)}"
            )
        if self.limited is not None:
            observed = self.transport.send(
                Request("GET", TRIGGERS_PATH, "count=1", auth_headers(self.limited))
            )
            if observed.status == 401:
                raise UsageError("the server rejected --limited-user-id/--limited-auth-token (401)")
            if observed.status == 200:
                raise UsageError(f"the limited user holds {MANAGE_TRIGGERS}; give a user without it")

    def detect_profile(self) -> None:
        """Send a few requests whose answers differ between profiles; keep the profiles that predict all."""
        probes = [
            Request("GET", TRIGGERS_PATH, "count=1"),
            Request(
                "POST",
                TRIGGERS_PATH,
                "",
                (*auth_headers(self.admin), ("Content-Type", "application/json")),
                b'{"name":',
            ),
        ]
        if self.limited is not None:
            probes.append(
                Request(
                    "POST",
                    TRIGGERS_PATH,
                    "",
                    (*auth_headers(self.limited), ("Content-Type", "application/json")),
                    b"{}",
                )
            )
        observed = [self.transport.send(probe) for probe in probes]
        self.results.count("profile detection", len(probes))
        matching = []
        for profile in PROFILES.values():
            answers = [predict(p, self.model.state(), profile, self.environment()).answer for p in probes]
            if all(
                a.status == o.status and a.body == o.body for a, o in zip(answers, observed, strict=False)
            ):
                matching.append(profile)
        if not matching:
            self.profile = get_profile("8.3")
            self.results.notice("no version profile predicts the probe answers; checking against 8.3")
        else:
            self.profile = matching[0]
            names = ", ".join(f"{p.name} ({p.releases})" for p in matching)
            note = (
                f"profile detected: {self.profile.name} (Rocket.Chat {self.profile.releases}); "
                f"matching: {names}"
            )
            if len(matching) > 1 and self.limited is None:
                note += ". Give --limited-user-id/--limited-auth-token to tell them apart (check order)"
            self.results.notice(note)
        self.log(self.results.notices[-1])

    def observe_initial(self) -> None:
        _, observed, triggers = self.list_all()
        self.results.count("state: initial listing")
        if triggers is None:
            raise UsageError(f"cannot list the stored triggers: {observed.status} {_clip(observed.body)}")
        self.model.foreign = list(triggers)
        self.model.initial_foreign_ids = frozenset(str(t.get("_id")) for t in triggers)
        if triggers:
            self.results.notice(
                f"{len(triggers)} triggers were stored before the run; they are read, never changed"
            )

    def cleanup(self) -> None:
        """Delete every trigger this run created (found by the run prefix), and nothing else."""
        with self._state_lock:
            deleted = 0
            try:
                _, _, triggers = self.list_all()
                ids = {str(t["_id"]) for t in (triggers or []) if self.model.is_own(t)}
                ids |= set(self.model.own_ids())
                ids -= self.model.initial_foreign_ids
                for trigger_id in sorted(ids):
                    self.transport.send(
                        Request(
                            "DELETE",
                            trigger_path(trigger_id),
                            "",
                            auth_headers(self.admin),
                        )
                    )
                    deleted += 1
                _, _, after = self.list_all()
                left = [t for t in (after or []) if self.model.is_own(t)]
                unresolved = [t for t in self.model.own if str(t["_id"]).startswith(PENDING_ID_PREFIX)]
                if left or unresolved:
                    self.results.notice(
                        f"cleanup: {len(left) + len(unresolved)} triggers of this run could not be deleted "
                        f"(names start with {self.model.prefix.strip()!r}); delete them by hand"
                    )
                self.results.notice(f"cleanup: deleted the {deleted} triggers this run created")
            except (ConnectionFailed, RateLimitExhausted) as error:
                self.results.notice(
                    f"cleanup failed ({error}); triggers named {self.model.prefix.strip()!r}* may remain"
                )
            self.model.own = []

    def run(self) -> Results:
        self.results.started = time.monotonic()
        try:
            self.preflight()
            if self.options.profile == "auto":
                self.detect_profile()
            else:
                self.results.notice(
                    f"profile: {self.profile.name} (Rocket.Chat {self.profile.releases}), as given"
                )
            self.results.profile = self.profile.name
            self.observe_initial()
            try:
                from contract_tests.families import run_all

                run_all(self)
            finally:
                self.cleanup()
        except ConnectionFailed as error:
            raise UsageError(f"lost the connection to the server: {error}") from None
        except RateLimitExhausted as error:
            raise UsageError(str(error)) from None
        finally:
            self.transport.close()
        return self.results

    def parallel(self, jobs: Sequence[Callable[[], None]]) -> None:
        """Run independent jobs on ``--workers`` threads (in order when there is one worker)."""
        if self.options.workers <= 1:
            for job in jobs:
                job()
            return
        with ThreadPoolExecutor(max_workers=self.options.workers, thread_name_prefix="family") as pool:
            for future in [pool.submit(job) for job in jobs]:
                future.result()


def _find_found(error: BaseException) -> _Found | None:
    pending: list[BaseException] = [error]
    while pending:
        current = pending.pop()
        if isinstance(current, _Found):
            return current
        pending += list(getattr(current, "exceptions", ()))
        pending += [e for e in (current.__cause__, current.__context__) if e is not None]
    return None


def _clip(body: bytes, limit: int = 300) -> str:
    text = body.decode("utf-8", "replace")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def run(options: Options, log: Callable[[str], None] = print) -> Results:
    """Run the conformance checks once; raises ``UsageError`` for exit status 2."""
    return Runner(options, log=log).run()
