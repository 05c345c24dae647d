"""The conformance run: sends generated requests to a live server and compares every answer with
``spec.predict``.

Order of a run: preflight (reachable, credentials) → profile (given or detected) → observe the
stored triggers → stateless families (in ``--workers`` threads) → permission probes, state flows,
stateful families and Schemathesis (one at a time, since each answer depends on the previous ones)
→ a final state check → cleanup of every trigger the run created, also after a failure or Ctrl-C.

Each family is a Hypothesis test that runs to its end: every deviation is counted under its kind
(what broke, without the values of one request), and the shortest few of each kind are reported with
a short diff, a POSIX ``sh`` reproducer and the seed.

Nothing stops a run early but transport trouble (``TRANSPORT_ERROR_LIMIT`` errors in a row),
``--max-time`` or an interrupt; the cleanup runs then too, and the results say why the run stopped.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import signal
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.errors import HypothesisException

from contract_tests.checks import Observed, exact_problems, inferred_explains
from contract_tests.client import (
    ConnectionFailed,
    RateLimitExhausted,
    RateLimitWait,
    Stopped,
    Transport,
    reproducer,
)
from contract_tests.model import PENDING_ID_PREFIX, RUN_PREFIX, Incomplete, LiveModel, new_run_prefix
from contract_tests.report import Deviation, Results, Severity, deviation_kind
from fuzz.requests import auth_headers
from spec.headers import CONTENT_TYPE, JSON_CONTENT_TYPE
from spec.jsvalues import JsonSyntaxError, parse_json
from spec.model import Answer, CountCall, Request, Trigger, UpdateTrigger, User
from spec.permissions import ADMIN_PERMISSIONS, BYPASS_RATE_LIMIT, MANAGE_TRIGGERS
from spec.predict import Environment, predict
from spec.profiles import PROFILES, Profile, get_profile
from spec.routes import TRIGGERS_PATH, trigger_path

__all__ = ["Exchange", "Options", "Runner", "UsageError", "cleanup_prefix", "run"]

COMPLETE_EVERY = 10
RECENT_QUERY = "count=5&sort=%7B%22_updatedAt%22%3A-1%7D"
"""The five most recently written triggers: where the trigger a write just stored must be."""

"""What the run assumes of the main account: it may manage triggers and is not rate limited. A
limited rate is still tolerated: unexpected 429s are waited out and reported."""


class UsageError(Exception):
    """A problem with the options, the connection, the credentials, or a target that is not this API:
    exit status 2, with this message."""


class _Interrupted(Stopped):
    def __init__(self) -> None:
        super().__init__("interrupted (Ctrl-C or SIGTERM)", "interrupted")


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
    workers: int = 1
    junit_xml: Path | None = None
    report: Path | None = None
    allow_enabled: bool = False
    schemathesis: bool = True
    timeout_seconds: float = 30.0
    verify_tls: bool = True
    rate_limit_budget_seconds: float = 180.0
    max_time_seconds: float | None = None
    """Bounds the whole run, cleanup included (the checks stop early enough to leave time for it)."""
    keep: bool = False
    """Leave every trigger the run created in place (to run a printed reproducer against that state)."""


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
    shown_by: Request | None = None
    """The listing that showed ``state_problems`` (the reproducer sends it after the request)."""
    listing_status: int | None = None

    @property
    def failed(self) -> bool:
        return bool(self.state_problems) or (
            bool(self.problems) and not inferred_explains(self.expected, self.observed)
        )

    @property
    def warned(self) -> bool:
        return bool(self.problems) and not self.failed


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
        self.results.prefix = self.model.prefix
        # Stateful work (a write, then the observation that maps ids) must not interleave.
        self._state_lock = threading.RLock()
        self._writes = 0
        self._stop = threading.Event()
        self._observed_state = False
        self.stop_kind = ""
        """Why the run ended early: ``usage``, ``connection``, ``time``, ``interrupted`` or ``deviation``
        (empty: it did not)."""
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

    def send(self, request: Request, *, expect_rate_limit: bool = False) -> Observed:
        if self._stop.is_set():  # another thread was interrupted or gave up: stop at the next request
            raise Stopped(self.results.stopped or "stopped", self.stop_kind or "interrupted")
        return self.transport.send(request, expect_rate_limit=expect_rate_limit)

    def exchange(self, family: str, request: Request, *, stateful: bool = False) -> Exchange:
        """Predict, send, compare; after a write, observe what the server stored."""
        lock = self._state_lock if stateful else contextlib.nullcontext()
        with lock:
            outcome = predict(request, self.model.state(), self.profile, self.environment())
            observed = self.send(request, expect_rate_limit=outcome.answer.status == 429)
            self.results.count(family)
            problems = exact_problems(outcome.answer, observed)
            if problems and outcome.operation in ("list_triggers", "get_trigger") and self.model.foreign:
                # Someone else may have changed their triggers meanwhile: look again before blaming.
                with self._state_lock:
                    self.refresh_foreign()
                    outcome = predict(request, self.model.state(), self.profile, self.environment())
                    problems = exact_problems(outcome.answer, observed)
            state_problems: list[str] = []
            shown_by: Request | None = None
            listing_status: int | None = None
            if stateful:
                changes = [change for change in outcome.changes if not isinstance(change, CountCall)]
                self.model.apply(changes)
                if request.method in ("POST", "DELETE"):
                    updated = {c.trigger_id for c in changes if isinstance(c, UpdateTrigger)}
                    state_problems, shown_by, listing_status = self.observe(family, updated)
            return Exchange(
                request,
                outcome.answer,
                observed,
                tuple(problems),
                tuple(state_problems),
                shown_by=shown_by if state_problems else None,
                listing_status=listing_status,
            )

    def list_all(self, query: str = "count=0") -> tuple[Request, Observed, list[Trigger] | None]:
        request = Request("GET", TRIGGERS_PATH, query, auth_headers(self.admin))
        observed = self.send(request)
        return request, observed, _listed_triggers(observed)

    def refresh_foreign(self) -> None:
        _, _, triggers = self.list_all()
        if triggers is not None:
            self.model.foreign = [t for t in triggers if not self.model.is_own(t)]

    def observe(
        self, family: str, updated_ids: set[str], *, complete: bool | None = None
    ) -> tuple[list[str], Request, int]:
        """List triggers, take the server's ids/timestamps for ours, and check the listing itself.

        Most writes are followed by a cheap listing of the few most recently updated triggers (the
        written one is among them); every ``COMPLETE_EVERY``-th write, and whenever the cheap one is
        not enough, by a listing of everything. Returns the problems, the listing request that showed
        them and its status.
        """
        with self._state_lock:  # reentrant: a write holds it already
            return self._observe(family, updated_ids, complete)

    def _observe(
        self, family: str, updated_ids: set[str], complete: bool | None
    ) -> tuple[list[str], Request, int]:
        self._writes += 1
        if complete is None:
            complete = self._writes % COMPLETE_EVERY == 0
        request, observed, triggers = self.list_all("count=0" if complete else RECENT_QUERY)
        self.results.count("state: list after write")
        if triggers is None:
            return (
                [
                    f"cannot observe the stored triggers: GET ?{request.query} answered {observed.status} "
                    f"{observed.body[:120]!r}"
                ],
                request,
                observed.status,
            )
        try:
            problems = self.model.reconcile(triggers, updated_ids, complete=complete)
        except Incomplete:
            return self._observe(family, updated_ids, True)
        if problems:
            return problems, request, observed.status
        # The listing must be exactly what the contract says for the reconciled state.
        outcome = predict(request, self.model.state(), self.profile, self.environment())
        listing = exact_problems(outcome.answer, observed)
        if listing and not inferred_explains(outcome.answer, observed):
            if not complete:
                return self._observe(family, updated_ids, True)  # someone else's change, maybe
            return (
                [f"list after write ({family}): {problem}" for problem in listing],
                request,
                observed.status,
            )
        return [], request, observed.status

    # --- recording ------------------------------------------------------------------------------------

    def record(self, family: str, exchange: Exchange, title: str = "", seed: int | None = None) -> None:
        """Report ``exchange``; ``seed`` is the Hypothesis seed of the family that drew the request."""
        severity: Severity = "failure" if exchange.failed else "warning"
        drawn = (
            f"\ndrawn by Hypothesis seed {seed} (this check's share of --seed {self.options.seed})"
            if seed
            else ""
        )
        request = exchange.request
        # The whole listing, not the few most recent: the run may have written more since.
        listing = (
            None if exchange.shown_by is None else dataclasses.replace(exchange.shown_by, query="count=0")
        )
        sequence = [request] if listing is None else [request, listing]
        shown = (
            "\nthe last request of the reproducer shows what the server stored; run with --keep to leave "
            "the run's triggers in place for it"
            if exchange.shown_by is not None
            else ""
        )
        self.results.add(
            Deviation(
                family=family,
                severity=severity,
                title=title
                or f"{request.method} {request.path}{'?' + request.query if request.query else ''}",
                problems=exchange.state_problems + exchange.problems + exchange.extra,
                curl=reproducer(self.options.base_url, sequence, self.secrets),
                seed=self.options.seed,
                inferred=exchange.expected.inferred,
                context=f"expected: {exchange.expected.status} {_clip(exchange.expected.body)}\n"
                f"got:      {exchange.observed.status} {_clip(exchange.observed.body)}{drawn}{shown}",
                kind=deviation_kind(exchange.state_problems + exchange.problems),
                observed_status=exchange.listing_status
                if exchange.shown_by is not None
                else exchange.observed.status,
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
        """Run ``act`` on ``examples`` drawn values as a Hypothesis test; report every deviation.

        The test never fails: a failure would make Hypothesis stop drawing and shrink, so only the first
        kind of deviation would be seen. Each deviation is counted under its kind instead (the report
        keeps the first few of each), and the same seed draws the same requests again.
        """
        started = time.monotonic()
        seed = self.family_seed(family)

        @hypothesis_seed(seed)
        @settings(
            max_examples=max(1, examples),
            database=None,
            deadline=None,
            derandomize=False,
            suppress_health_check=list(HealthCheck),
            verbosity=Verbosity.quiet,
            phases=(Phase.generate,),
        )
        @given(strategy)
        def test(value: Any) -> None:
            try:
                exchange = act(value)
            except ConnectionFailed as error:
                # One lost request: note it and go on (TRANSPORT_ERROR_LIMIT in a row stop the run).
                self.results.notice(f"{family}: transport error, request not checked: {error}")
                return
            if exchange is not None and (exchange.failed or exchange.warned):
                self.record(family, exchange, seed=seed)

        self.results.family(family)
        try:
            test()
        except (RateLimitExhausted, KeyboardInterrupt):
            raise
        except HypothesisException as error:
            # E.g. Schemathesis cannot make negative data for a lone string path parameter.
            self.results.notice(f"{family}: nothing generated ({type(error).__name__})")
        finally:
            self.results.family(family).seconds += time.monotonic() - started

    def guarded(self, family: str, job: Callable[[], None]) -> Callable[[], None]:
        """``job`` with one lost request ending that job only (noted), not the run."""

        def run() -> None:
            try:
                job()
            except ConnectionFailed as error:
                self.results.notice(f"{family}: stopped by a transport error: {error}")

        return run

    # --- the run ------------------------------------------------------------------------------------

    def preflight(self) -> list[tuple[Request, Observed]]:
        """Reachable, the credentials work, and the target is this API (else ``UsageError``). Returns
        the requests and answers, which ``check_preflight`` compares once the profile is known."""
        request = Request("GET", TRIGGERS_PATH, "count=1", auth_headers(self.admin))
        try:
            observed = self.send(request)
        except ConnectionFailed as error:
            raise UsageError(f"cannot reach the server at {self.options.base_url}: {error}") from None
        if observed.status == 401:
            raise UsageError("the server rejected --user-id/--auth-token (401): check the credentials")
        if observed.status == 403:
            raise UsageError(f"the --user-id account lacks the {MANAGE_TRIGGERS} permission (403)")
        if observed.status == 404 or not _is_api_answer(observed):
            raise UsageError(
                f"no Livechat Triggers API at {self.options.base_url}: GET {TRIGGERS_PATH} answered "
                f"{observed.status} {_clip(observed.body, 120)}"
            )
        seen = [(request, observed)]
        if self.limited is not None:
            request = Request("GET", TRIGGERS_PATH, "count=1", auth_headers(self.limited))
            observed = self.send(request)
            if observed.status == 401:
                raise UsageError("the server rejected --limited-user-id/--limited-auth-token (401)")
            seen.append((request, observed))
        return seen

    def check_preflight(self, seen: list[tuple[Request, Observed]]) -> None:
        """The preflight's answers compared exactly: a wrong one is a deviation (exit status 1)."""
        family = "preflight"
        self.results.plan(family)
        for number, (request, observed) in enumerate(seen):
            exchange = self._compare(family, request, observed)
            limited = number == 1
            if limited and observed.status == 200:
                exchange = dataclasses.replace(
                    exchange,
                    problems=(
                        *exchange.problems,
                        f"the user without {MANAGE_TRIGGERS} was let in: no permission check (or the "
                        f"--limited-user-id account holds {MANAGE_TRIGGERS}; then give one that does not)",
                    ),
                )
            if exchange.failed:
                title = "the limited user's list request" if limited else "the plain list request"
                self.record(family, exchange, title=title)
        if seen[0][1].status != 200:
            raise Stopped(
                f"the plain list request answered {seen[0][1].status}: the run cannot see what the server "
                "stores, so it writes nothing",
                "deviation",
            )

    def _compare(self, family: str, request: Request, observed: Observed) -> Exchange:
        outcome = predict(request, self.model.state(), self.profile, self.environment())
        self.results.count(family)
        return Exchange(request, outcome.answer, observed, tuple(exact_problems(outcome.answer, observed)))

    def detection_probes(self, limited: User | None) -> list[Request]:
        """Requests whose answers differ between profiles: the 401 (body and, from the header rule,
        headers), a malformed JSON body, and with a user without the permission the check order."""
        probes = [
            Request("GET", TRIGGERS_PATH, "count=1"),
            Request(
                "POST",
                TRIGGERS_PATH,
                "",
                (*auth_headers(self.admin), (CONTENT_TYPE, JSON_CONTENT_TYPE)),
                b'{"name":',
            ),
        ]
        if limited is not None:
            probes.append(
                Request(
                    "POST",
                    TRIGGERS_PATH,
                    "",
                    (*auth_headers(limited), (CONTENT_TYPE, JSON_CONTENT_TYPE)),
                    b"{}",
                )
            )
        return probes

    def _predicted(self, probe: Request, profile: Profile, users: tuple[User, ...]) -> Answer:
        state = dataclasses.replace(self.model.state(), users=users)
        return predict(probe, state, profile, self.environment()).answer

    def detect_profile(self) -> None:
        """Send the probes; take the profile that predicts most of their answers exactly (the newest on a
        tie). A probe the chosen profile does not predict is a deviation: no profile describes the server.
        Says which profiles the given credentials cannot tell apart."""
        family = "profile detection"
        self.results.plan(family)
        probes = self.detection_probes(self.limited)
        observed = [self.send(probe) for probe in probes]
        self.results.count(family, len(probes))
        users = self.model.users
        scores: dict[str, list[bool]] = {}
        for profile in PROFILES.values():
            answers = [self._predicted(p, profile, users) for p in probes]
            scores[profile.name] = [not exact_problems(a, o) for a, o in zip(answers, observed, strict=True)]
        best = max(sum(score) for score in scores.values())
        chosen = next(name for name, score in scores.items() if sum(score) == best)
        self.profile = get_profile(chosen)
        matching = [name for name, score in scores.items() if all(score)]
        if matching:
            names = ", ".join(f"{n} ({PROFILES[n].releases})" for n in matching)
            note = f"profile detected: {chosen} (Rocket.Chat {self.profile.releases}); matching: {names}"
        else:
            note = (
                f"no version profile predicts every probe answer; checking against the closest, {chosen} "
                f"(Rocket.Chat {self.profile.releases}), which predicts {best} of {len(probes)}"
            )
            for probe, seen, ok in zip(probes, observed, scores[chosen], strict=True):
                if not ok:
                    exchange = self._compare(family, probe, seen)
                    self.record(family, exchange, title=f"probe {probe.method} {probe.path}: no profile fits")
        self.results.notice(note)
        self.log(note)
        self._say_what_cannot_be_told_apart(matching or [chosen])

    def _say_what_cannot_be_told_apart(self, candidates: Sequence[str]) -> None:
        if len(candidates) > 1:
            self.results.notice(
                f"--profile auto cannot tell {', '.join(candidates)} apart with these probes; pin --profile"
            )
        if self.limited is not None:
            return
        # Which profiles would a user without the permission tell apart from the chosen one?
        hypothetical = User("profile-probe-user", "profile-probe-token")
        probe = self.detection_probes(hypothetical)[-1]
        users = (*self.model.users, hypothetical)
        chosen = self._predicted(probe, self.profile, users)
        others = [
            p.name
            for p in PROFILES.values()
            if p.name != self.profile.name
            and p.check_order != self.profile.check_order
            and (self._predicted(probe, p, users).status, self._predicted(probe, p, users).body)
            != (chosen.status, chosen.body)
        ]
        if others:
            self.results.notice(
                f"without --limited-user-id/--limited-auth-token the check order is not probed: a server "
                f"with {self.profile.name}'s answers but the check order of {', '.join(others)} would pass "
                f"detection; give a user without {MANAGE_TRIGGERS} or pin --profile"
            )

    def observe_initial(self) -> None:
        _, observed, triggers = self.list_all()
        self.results.count("state: initial listing")
        if triggers is None:
            raise Stopped(
                f"cannot list the stored triggers (GET ?count=0 answered {observed.status} "
                f"{_clip(observed.body, 120)}): the run writes nothing",
                "deviation",
            )
        self.model.foreign = list(triggers)
        self.model.initial_foreign_ids = frozenset(str(t.get("_id")) for t in triggers)
        if triggers:
            self.results.notice(
                f"{len(triggers)} triggers were stored before the run; they are read, never changed"
            )

    def cleanup(self) -> None:
        """Delete every trigger this run created (found by the run prefix), then list to verify.

        Counts are of triggers verified gone. What remains (or could not be verified) is kept in
        ``results.leftovers`` with the command that removes it later. A second interrupt stops the
        deletions, never the account of what is left.
        """
        with self._state_lock:
            outcome = delete_own(self, keep=self.options.keep)
            self.model.own = []
        results = self.results
        results.leftovers = sorted(outcome.remaining)
        remove_later = f"Remove them later with: {cleanup_command(self.options.base_url, self.model.prefix)}"
        if outcome.kept:
            results.notice(
                f"--keep: the {len(outcome.remaining)} triggers of this run are left in place: "
                f"{', '.join(sorted(outcome.remaining))}. {remove_later}"
            )
        elif outcome.verified:
            results.notice(f"cleanup: {len(outcome.gone)} triggers of this run deleted and verified gone")
        if outcome.problem:
            results.notice(f"cleanup: {outcome.problem}")
        for trigger_id in sorted(outcome.leaked):
            results.add(
                Deviation(
                    family="cleanup",
                    severity="failure",
                    title=f"DELETE of trigger {trigger_id} answered success, the trigger is still listed",
                    problems=("DELETE answered success but the trigger is still listed",),
                    curl=reproducer(
                        self.options.base_url,
                        [
                            Request("DELETE", trigger_path(trigger_id), "", auth_headers(self.admin)),
                            Request("GET", trigger_path(trigger_id), "", auth_headers(self.admin)),
                        ],
                        self.secrets,
                    ),
                    observed_status=200,
                )
            )
        if outcome.remaining and not outcome.kept:
            results.notice(
                f"cleanup: {len(outcome.remaining)} triggers of this run "
                f"{'remain' if outcome.verified else 'may remain (not verified gone)'}: "
                f"{', '.join(sorted(outcome.remaining))}. {remove_later}"
            )
        if outcome.unseen and not outcome.verified:
            results.notice(
                f"cleanup: {outcome.unseen} more triggers this run wrote were never listed, so their ids "
                f"are unknown; they may remain, named {self.model.prefix.strip()!r}. {remove_later}"
            )

    def run(self) -> Results:
        """The whole run; never raises for a stop: ``stop_kind`` and ``results.stopped`` say why."""
        self.results.started = time.monotonic()
        self.log(
            f"run prefix: {self.model.prefix.strip()!r} (every trigger this run creates is named with it; "
            f"{cleanup_command(self.options.base_url, self.model.prefix)} removes them)"
        )
        max_time = self.options.max_time_seconds
        if max_time is not None:
            # The checks stop early enough to leave the cleanup a share of the time.
            reserve = min(60.0, max_time / 4)
            self.transport.deadline = self.results.started + max_time - reserve
            self.transport.deadline_reason = f"--max-time {max_time:g} s reached (checks stopped)"
        try:
            try:
                self._checks()
            except KeyboardInterrupt:  # a second interrupt while the first was being handled
                self._stopped("interrupted (Ctrl-C or SIGTERM)", "interrupted")
            if self._observed_state or self.model.own:
                try:
                    self._cleanup_within_time()
                except KeyboardInterrupt:
                    # Interrupted again before the cleanup's own handling began: start it once more,
                    # deaf to further interrupts, so that what is left is still accounted for.
                    _ignore_interrupts()
                    self._cleanup_within_time()
        finally:
            self.transport.close()
        self.results.profile = self.results.profile or self.profile.name
        return self.results

    def _checks(self) -> None:
        try:
            seen = self.preflight()
            if self.options.profile == "auto":
                self.detect_profile()
            else:
                self.results.notice(
                    f"profile: {self.profile.name} (Rocket.Chat {self.profile.releases}), as given"
                )
            self.results.profile = self.profile.name
            if seen[0][1].status != 200:
                self.check_preflight(seen)  # records the deviation and stops
            self.observe_initial()
            self._observed_state = True
            self.check_preflight(seen)  # now that the stored triggers are known
            from contract_tests.families import run_all

            run_all(self)
        except UsageError as error:
            self._stopped(str(error), "usage")
        except RateLimitExhausted as error:
            self._stopped(str(error), "connection")
        except ConnectionFailed as error:
            self._stopped(f"lost the connection to the server: {error}", "connection")
        except Stopped as stop:
            self._stopped(stop.reason, stop.kind)
        except KeyboardInterrupt:
            self._stopped("interrupted (Ctrl-C or SIGTERM)", "interrupted")

    def _stopped(self, reason: str, kind: str) -> None:
        self._stop.set()
        if not self.stop_kind:
            self.stop_kind, self.results.stopped = kind, reason
        self.log(f"stopping: {reason}")

    def _cleanup_within_time(self) -> None:
        transport = self.transport
        max_time = self.options.max_time_seconds
        transport.deadline = None if max_time is None else self.results.started + max_time
        transport.deadline_reason = f"--max-time {max_time} s reached during the cleanup"
        # After transport trouble the cleanup makes one try, not TRANSPORT_ERROR_LIMIT more.
        if self.stop_kind == "connection":
            transport.consecutive_errors = max(transport.consecutive_errors, transport.error_limit - 1)
        self._stop.clear()
        self.cleanup()

    def parallel(self, jobs: Sequence[Callable[[], None]]) -> None:
        """Run independent jobs on ``--workers`` threads (in order when there is one worker)."""
        if self.options.workers <= 1:
            for job in jobs:
                job()
            return
        pool = ThreadPoolExecutor(max_workers=self.options.workers, thread_name_prefix="family")
        futures = [pool.submit(job) for job in jobs]
        try:
            for future in futures:
                future.result()
        except BaseException:
            # Interrupted or stopped: the other threads stop at their next request. Wait for them (a
            # further interrupt must not leave them writing while the cleanup runs).
            self._stop.set()
            for future in futures:
                future.cancel()
            while not all(future.done() for future in futures):
                with contextlib.suppress(KeyboardInterrupt):
                    wait(futures)
            raise
        finally:
            pool.shutdown(wait=False)


@dataclass
class CleanupOutcome:
    candidates: set[str] = field(default_factory=set)
    gone: set[str] = field(default_factory=set)
    remaining: set[str] = field(default_factory=set)
    leaked: set[str] = field(default_factory=set)
    """Deleted with a success answer, yet still listed."""
    verified: bool = False
    kept: bool = False
    problem: str = ""
    unseen: int = 0
    """Triggers this run wrote whose ids the server never showed (no listing found them): when the
    deletions cannot be verified, they may remain too, findable only by the prefix."""


def delete_own(runner: Runner, *, keep: bool = False, prefix: str | None = None) -> CleanupOutcome:
    """Delete the triggers of this run (or of ``prefix``), then list to see which are really gone."""
    model = runner.model
    outcome = CleanupOutcome(kept=keep)

    def own(trigger: Trigger) -> bool:
        if prefix is not None:
            return any(
                isinstance(trigger.get(k), str) and prefix in str(trigger[k]) for k in ("name", "description")
            )
        return model.is_own(trigger)

    outcome.candidates = set(model.own_ids()) - model.initial_foreign_ids
    outcome.remaining = set(outcome.candidates)
    unseen = sum(1 for t in model.own if str(t["_id"]).startswith(PENDING_ID_PREFIX))
    answered_success: set[str] = set()
    try:
        try:
            _, _, listed = runner.list_all()
            if listed is None:
                outcome.problem = "could not list the stored triggers before deleting"
                outcome.unseen = unseen
            else:
                outcome.candidates |= {str(t["_id"]) for t in listed if own(t)} - model.initial_foreign_ids
                outcome.remaining = set(outcome.candidates)
            if keep:
                return outcome
            for trigger_id in sorted(outcome.candidates):
                try:
                    answer = runner.transport.send(
                        Request("DELETE", trigger_path(trigger_id), "", auth_headers(runner.admin))
                    )
                except ConnectionFailed as error:
                    outcome.problem = f"a DELETE failed ({error})"
                    continue
                if 200 <= answer.status < 300:
                    answered_success.add(trigger_id)
        except KeyboardInterrupt:
            # Deletions stop; what is left is still listed, and no further interrupt cuts that short.
            outcome.problem = "interrupted again: deletions stopped"
            _ignore_interrupts()
        _, _, after = runner.list_all()
        if after is None:
            outcome.problem = "could not list the stored triggers to verify the deletions"
            outcome.unseen = unseen
            return outcome
        still = {str(t["_id"]) for t in after if own(t)} - model.initial_foreign_ids
        outcome.verified = True
        outcome.remaining = still
        outcome.gone = outcome.candidates - still
        outcome.leaked = still & answered_success
    except KeyboardInterrupt:
        outcome.problem = "interrupted while verifying: what is left is not verified"
    except (Stopped, ConnectionFailed, RateLimitExhausted) as error:
        outcome.problem = f"stopped ({error})"
        outcome.unseen = 0 if outcome.verified else unseen
    return outcome


def _ignore_interrupts() -> None:
    # A third Ctrl-C must not cut short the account of what is left; only the main thread may do this.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def cleanup_command(base_url: str, prefix: str) -> str:
    return f"python -m contract_tests --cleanup {prefix.strip()} --base-url {base_url}"


_PREFIX_PATTERN = re.compile(re.escape(RUN_PREFIX) + r"[0-9a-f]{8}")


def cleanup_prefix(options: Options, prefix: str) -> CleanupOutcome:
    """Remove what an earlier run left behind: every trigger named with its prefix, then verify."""
    if not _PREFIX_PATTERN.fullmatch(prefix.strip()):
        raise UsageError(
            f"--cleanup {prefix!r}: expected a run prefix such as {RUN_PREFIX}0123abcd (as a run prints it)"
        )
    runner = Runner(options, log=lambda line: None)
    try:
        request = Request("GET", TRIGGERS_PATH, "count=1", auth_headers(runner.admin))
        try:
            observed = runner.transport.send(request)
        except ConnectionFailed as error:
            raise UsageError(f"cannot reach the server at {options.base_url}: {error}") from None
        if observed.status in (401, 403):
            raise UsageError(f"the server refused --user-id/--auth-token ({observed.status})")
        return delete_own(runner, prefix=prefix.strip() + " ")
    finally:
        runner.transport.close()


def _listed_triggers(observed: Observed) -> list[Trigger] | None:
    if observed.status != 200:
        return None
    try:
        value = parse_json(observed.body.decode("utf-8", "replace"))
    except JsonSyntaxError:
        return None
    listed = value.get("triggers") if isinstance(value, dict) else None
    if not isinstance(listed, list):
        return None
    return [t for t in listed if isinstance(t, dict)]


def _is_api_answer(observed: Observed) -> bool:
    """Whether an answer is JSON with the API's ``success`` key (not a web page or another service)."""
    try:
        value = parse_json(observed.body.decode("utf-8", "replace"))
    except JsonSyntaxError:
        return False
    return isinstance(value, dict) and "success" in value


def _clip(body: bytes, limit: int = 300) -> str:
    text = body.decode("utf-8", "replace")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def run(options: Options, log: Callable[[str], None] = print) -> Results:
    """Run the conformance checks once; raises ``UsageError`` when the run stopped for exit status 2."""
    runner = Runner(options, log=log)
    results = runner.run()
    if runner.stop_kind in ("usage", "connection"):
        raise UsageError(results.stopped)
    return results
