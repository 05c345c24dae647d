"""Check families for the routes around the triggers: the log-in flow, the two external-service
routes (against a webhook receiver this run starts) and, only with ``--allow-shared-changes``, a
permission taken away and a setting changed, each restored at once.

Every expected answer is ``spec.predict``'s for a state built from what the run knows (its users,
its triggers, the setting values it read) and, for a webhook call, ``spec.outbound.render`` of what
the receiver answered. What a live server's answer holds that no prediction can know (the user
document of ``me``, the full permission list) is checked by shape only and said so.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import socket
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

from contract_tests.checks import Observed, exact_problems
from contract_tests.client import reproducer
from contract_tests.runner import Exchange, Runner
from contract_tests.webhook_receiver import (
    NO_CONTENTS_PATH,
    NOT_JSON_PATH,
    USABLE_PATH,
    WebhookReceiver,
    delay_path,
    status_path,
)
from fuzz import external_service as fx
from fuzz.requests import auth_headers, encode_json
from spec.contract import example_post_body
from spec.external_service import EXTERNAL_SERVICE_ACTION, NO_SECRET_TOKEN
from spec.headers import CONTENT_TYPE, JSON_CONTENT_TYPE, LIVECHAT_TOKEN_HEADER
from spec.model import (
    Answer,
    Request,
    State,
    StoredPermission,
    User,
    default_permissions,
    hash_login_token,
    password_digest,
)
from spec.outbound import WebhookResult, WebhookUnreachable, refused_reason, render
from spec.permissions import MANAGE_TRIGGERS
from spec.predict import Outcome, predict
from spec.routes import (
    LOGOUT_PATH,
    ME_PATH,
    PERMISSIONS_LIST_ALL_PATH,
    PERMISSIONS_UPDATE_PATH,
    TRIGGERS_PATH,
    setting_path,
)
from spec.settings import LIVECHAT_SECRET_TOKEN

__all__ = ["external_service_family", "login_family", "run_identity_families", "shared_changes_family"]

LOGIN_FAMILY = "log-in flow"
EXTERNAL_FAMILY = "external-service routes"
SHARED_FAMILY = "permission and setting changes"
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
_FALLBACK = "conformance fallback"


# -- sending with a prediction of this module's own state ----------------------------------------------


def _predicted(runner: Runner, request: Request, state: State) -> Outcome:
    return predict(request, state, runner.profile, runner.environment())


def _check(runner: Runner, family: str, request: Request, expected: Answer, title: str) -> Observed:
    """Send ``request``; report every way the answer differs from ``expected``."""
    observed = runner.send(request, expect_rate_limit=expected.status == 429)
    runner.results.count(family)
    exchange = Exchange(request, expected, observed, tuple(exact_problems(expected, observed)))
    if exchange.failed or exchange.warned:
        runner.record(family, exchange, title=title)
    return observed


def _report(
    runner: Runner,
    family: str,
    request: Request,
    *,
    expected: Answer,
    observed: Observed,
    problems: Sequence[str],
    title: str,
) -> None:
    """A deviation found by a check of its own (what the webhook received, a shape)."""
    if problems:
        plain = dataclasses.replace(expected, inferred=())  # these checks rest on nothing inferred
        runner.record(family, Exchange(request, plain, observed, tuple(problems)), title=title)


def _json_body(observed: Observed) -> Any:
    try:
        return json.loads(observed.body)
    except ValueError:
        return None


def _post(path: str, headers: Sequence[tuple[str, str]], body: Any) -> Request:
    return Request("POST", path, "", (*headers, (CONTENT_TYPE, JSON_CONTENT_TYPE)), encode_json(body))


# -- log in, me, log out ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Session:
    user: User
    """The logged-in account as the contract sees it (its roles as ``me`` lists them)."""
    token: str

    def headers(self) -> tuple[tuple[str, str], ...]:
        return fx.session_headers(self.user.user_id, self.token)


def _account(runner: Runner, user_id: str, roles: Sequence[str] = ()) -> User:
    name = runner.options.login_user or ""
    password = runner.options.login_password or ""
    return User(
        user_id,
        "",
        username=None if "@" in name else name,
        emails=(name,) if "@" in name else (),
        password_sha256=password_digest(password),
        roles=tuple(roles),
    )


def log_in(runner: Runner, family: str, body: Any, title: str) -> Session | None:
    """Log in with ``body``; check the answer's shape (the user document itself cannot be predicted)."""
    request = fx.login_request(body)
    observed = runner.send(request)
    runner.results.count(family)
    answer = _json_body(observed)
    data = answer.get("data") if isinstance(answer, dict) else None
    problems: list[str] = []
    if observed.status != 200:
        problems.append(f"status: expected 200, got {observed.status}")
    if observed.header(CONTENT_TYPE) != JSON_CONTENT_TYPE:
        problems.append(
            f"content-type: expected {JSON_CONTENT_TYPE!r}, got {observed.header(CONTENT_TYPE)!r}"
        )
    keys = ["status", "data"] if runner.profile.login_answers == "restivus" else ["status", "data", "success"]
    if not isinstance(answer, dict) or list(answer) != keys or answer.get("status") != "success":
        problems.append(f"body: expected the keys {keys} with status 'success', got {observed.body[:200]!r}")
    if not isinstance(data, dict) or list(data)[:3] != ["userId", "authToken", "me"]:
        problems.append("body: data must start with userId, authToken, me")
    expected = Answer(200, b"", ((CONTENT_TYPE, JSON_CONTENT_TYPE),))
    _report(runner, family, request, expected=expected, observed=observed, problems=problems, title=title)
    if problems or not isinstance(data, dict):
        return None
    user_id, token, me = data.get("userId"), data.get("authToken"), data.get("me")
    if not isinstance(user_id, str) or not isinstance(token, str) or not token:
        return None
    runner.secrets[token] = "RC_SESSION_TOKEN"
    roles = me.get("roles") if isinstance(me, dict) else None
    return Session(_account(runner, user_id, [r for r in roles or [] if isinstance(r, str)]), token)


def _session_state(session: Session | None, runner: Runner, *, logged_in: bool) -> State:
    users: tuple[User, ...] = ()
    tokens: dict[str, tuple[str, ...]] = {}
    if session is not None:
        users = (session.user,)
        if logged_in:
            tokens = {session.user.user_id: (hash_login_token(session.token),)}
    return State(users=users, login_tokens=tokens)


def login_family(runner: Runner) -> None:
    """Log in (two body shapes), a wrong password, ``me``, log out, and the token refused afterwards."""
    options = runner.options
    if not options.login_user or not options.login_password:
        # Not planned: a default run is complete without it (a JUnit skip would say otherwise).
        runner.results.notice(f"{LOGIN_FAMILY} not checked: no --login-user/--login-password")
        return
    runner.results.plan(LOGIN_FAMILY)
    family, name, password = LOGIN_FAMILY, options.login_user, options.login_password
    session = log_in(runner, family, {"user": name, "password": password}, "log in with user and password")
    if session is None:
        runner.results.notice(f"{family}: the account did not log in; the rest of the flow was not checked")
        return
    wrong = fx.login_request({"user": name, "password": password + "-wrong"})
    expected = _predicted(runner, wrong, _session_state(session, runner, logged_in=True)).answer
    _check(runner, family, wrong, expected, "log in with a wrong password")
    me = Request("GET", ME_PATH, "", session.headers())
    observed = runner.send(me)
    runner.results.count(family)
    body = _json_body(observed)
    problems = []
    if observed.status != 200 or not isinstance(body, dict) or body.get("_id") != session.user.user_id:
        problems.append(f"me: expected 200 with _id {session.user.user_id!r}, got {observed.status}")
    elif list(body)[-1:] != ["success"] or body["success"] is not True:
        problems.append("me: success must be the last key, true")
    _report(runner, family, me, expected=Answer(200, b""), observed=observed, problems=problems, title="me")
    for method in ("POST", "GET"):  # a second session for the GET log-out
        if method == "GET":
            again = log_in(runner, family, {"username": name, "password": password}, "log in with username")
            if again is None:
                return
            session = again
        logout = Request(method, LOGOUT_PATH, "", session.headers())
        state = _session_state(session, runner, logged_in=True)
        _check(runner, family, logout, _predicted(runner, logout, state).answer, f"{method} logout")
        after = _session_state(session, runner, logged_in=False)
        me = Request("GET", ME_PATH, "", session.headers())
        _check(runner, family, me, _predicted(runner, me, after).answer, f"me after {method} logout")


# -- the external-service routes ----------------------------------------------------------------------------


def _receiver_base(runner: Runner, receiver: WebhookReceiver) -> str | None:
    """Where the target reaches the receiver, or ``None`` when this run cannot know it can."""
    if runner.options.webhook_url:
        return runner.options.webhook_url.rstrip("/")
    host = urlsplit(runner.options.base_url).hostname or ""
    return receiver.base_url if host in _LOOPBACK else None


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
    return port


def _read_setting(runner: Runner, headers: Sequence[tuple[str, str]], setting: str) -> tuple[bool, Any]:
    observed = runner.send(Request("GET", setting_path(setting), "", tuple(headers)))
    body = _json_body(observed)
    if observed.status == 200 and isinstance(body, dict) and "value" in body:
        return True, body["value"]
    return False, None


def _privileged(runner: Runner, session: Session | None) -> tuple[tuple[str, str], ...]:
    return session.headers() if session is not None else auth_headers(runner.admin)


@dataclasses.dataclass
class _Webhooks:
    runner: Runner
    receiver: WebhookReceiver
    base: str
    token: Any
    """The secret token as read; ``None`` when it could not be read (then only its presence is known)."""

    def state(self) -> State:
        model = self.runner.model.state()
        token = self.token if self.token is not None else "a token this run could not read"
        return dataclasses.replace(model, settings={**model.settings, LIVECHAT_SECRET_TOKEN: token})

    def exchange(
        self, request: Request, result_for: Callable[[str], WebhookResult] | None, title: str, path: str
    ) -> bool:
        """Check one webhook call; ``False`` when the target evidently cannot reach the receiver."""
        runner = self.runner
        before = len(self.receiver.requests_to(path))
        outcome = _predicted(runner, request, self.state())
        call = outcome.external
        if call is None or call.request is None or result_for is None:
            _check(runner, EXTERNAL_FAMILY, request, outcome.answer, title)
            return True
        timeout_ms = call.request.timeout_ms
        expected = render(call, result_for(path))
        observed = runner.send(request)
        runner.results.count(EXTERNAL_FAMILY)
        received = self.receiver.requests_to(path)[before:]
        if path and not received:
            body = _json_body(observed)
            runner.results.notice(
                f"{EXTERNAL_FAMILY}: the target did not reach the webhook receiver at {self.base}{path} "
                f"(it answered {observed.status} {str(body)[:160]}); the webhook calls were not checked. "
                "Give --webhook-host/--webhook-url that the target can reach."
            )
            return False
        problems = exact_problems(expected, observed)
        if received:
            problems += self._received_problems(received[-1], json.loads(call.request.body))
        exchange = Exchange(request, expected, observed, tuple(problems))
        if exchange.failed or exchange.warned:
            runner.record(EXTERNAL_FAMILY, exchange, title=f"{title} (timeout {timeout_ms:.0f} ms)")
        return True

    def _received_problems(self, received: Any, body: Any) -> list[str]:
        problems = []
        if received.method != "POST":
            problems.append(f"webhook: expected a POST, got {received.method}")
        token = received.headers.get(LIVECHAT_TOKEN_HEADER.lower())
        if self.token is not None and token != str(self.token):
            problems.append(f"webhook: {LIVECHAT_TOKEN_HEADER} expected the secret token, got {token!r}")
        elif not token:
            problems.append(f"webhook: no {LIVECHAT_TOKEN_HEADER}")
        content_type = received.headers.get(CONTENT_TYPE) or ""
        if content_type.split(";")[0] != JSON_CONTENT_TYPE:
            problems.append(f"webhook: {CONTENT_TYPE} {content_type!r}")
        try:
            sent = received.json()
        except ValueError:
            sent = None
        if sent != body or (isinstance(sent, dict) and list(sent) != list(body)):
            problems.append(f"webhook: expected the body {body!r}, got {received.body[:200]!r}")
        return problems


def _test_body(url: str, timeout: float, runner: Runner) -> dict[str, Any]:
    return {
        "webhookUrl": url,
        "timeout": timeout,
        "fallbackMessage": _FALLBACK,
        "extraData": [{"key": "run", "value": runner.model.prefix.strip()}],
    }


def external_service_family(runner: Runner, session: Session | None = None) -> None:
    family = EXTERNAL_FAMILY
    try:
        receiver = WebhookReceiver(runner.options.webhook_host).start()
    except OSError as error:
        runner.results.plan(
            family, f"the webhook receiver cannot listen on {runner.options.webhook_host}: {error}"
        )
        return
    try:
        _external_service(runner, receiver, session)
    finally:
        receiver.stop()


def _external_service(runner: Runner, receiver: WebhookReceiver, session: Session | None) -> None:
    family = EXTERNAL_FAMILY
    runner.results.plan(family)
    admin = auth_headers(runner.admin)
    base = _receiver_base(runner, receiver)
    basic = _Webhooks(runner, receiver, base or receiver.base_url, "")
    # Without any outbound call: refused logins and users, invalid bodies, an unknown trigger.
    probe = fx.webhook_test_request((), _test_body(receiver.url(USABLE_PATH), 5000, runner))
    basic.exchange(probe, None, "test route without credentials", "")
    if runner.limited is not None:
        limited = fx.webhook_test_request(
            auth_headers(runner.limited), _test_body(receiver.url(USABLE_PATH), 5000, runner)
        )
        basic.exchange(limited, None, "test route, user without permission", "")
    token_known, token = _read_setting(runner, _privileged(runner, session), LIVECHAT_SECRET_TOKEN)
    webhooks = _Webhooks(runner, receiver, base or receiver.base_url, token if token_known else None)
    invalid = fx.webhook_test_requests(admin, fx.invalid_webhook_test_bodies())
    runner.run_family(
        family,
        invalid,
        lambda request: _checked_exchange(runner, request, webhooks.state()),
        max(5, runner.options.max_examples // 5),
    )
    missing = fx.webhook_call_request(runner.model.missing_id(), {"token": "visitor"})
    webhooks.exchange(missing, None, "call route, unknown trigger", "")
    probe = fx.webhook_test_request(admin, _test_body(receiver.url(USABLE_PATH), 5000, runner))
    empty = token_known and not token
    if not token_known:  # unreadable with these credentials: the route's answer tells whether it is set
        observed = runner.send(probe)
        runner.results.count(family)
        answer = _json_body(observed)
        empty = isinstance(answer, dict) and answer.get("error") == NO_SECRET_TOKEN
    if empty:
        _check(
            runner,
            family,
            probe,
            _predicted(runner, probe, basic.state()).answer,
            "test route, no secret token",
        )
        if not runner.options.allow_shared_changes:
            runner.results.notice(
                f"{family}: Livechat_secret_token is empty on the target, so no webhook call was checked; "
                "--allow-shared-changes sets it for a moment (and restores it)"
            )
            return
        with changed_setting(
            runner,
            _privileged(runner, session),
            LIVECHAT_SECRET_TOKEN,
            "",
            f"{runner.model.prefix.strip()}-token",
        ) as value:
            if value is not None:
                _webhook_calls(runner, dataclasses.replace(webhooks, token=value), base)
        return
    _webhook_calls(runner, webhooks, base)


def _checked_exchange(runner: Runner, request: Request, state: State) -> Exchange:
    outcome = _predicted(runner, request, state)
    observed = runner.send(request, expect_rate_limit=outcome.answer.status == 429)
    runner.results.count(EXTERNAL_FAMILY)
    return Exchange(request, outcome.answer, observed, tuple(exact_problems(outcome.answer, observed)))


def _receiver_result(timeout_ms: float) -> Callable[[str], WebhookResult]:
    return lambda path: WebhookReceiver.result_for(path, timeout_ms)


def _webhook_calls(runner: Runner, webhooks: _Webhooks, base: str | None) -> None:
    family = EXTERNAL_FAMILY
    if base is None:
        runner.results.notice(
            f"{family}: the webhook calls were not checked: the target {runner.options.base_url} is not on "
            f"this machine, so it cannot reach a receiver on {runner.options.webhook_host}; give "
            "--webhook-host and --webhook-url that it can reach"
        )
        return
    admin = auth_headers(runner.admin)
    cases = [
        (USABLE_PATH, 5000.0, "a usable answer"),
        (status_path(500), 5000.0, "the webhook answers 500"),
        (NO_CONTENTS_PATH, 5000.0, "the webhook answers JSON without contents"),
        (NOT_JSON_PATH, 5000.0, "the webhook answers text"),
        (delay_path(3), 1000.0, "the webhook answers too late"),
    ]
    for path, timeout, title in cases:
        request = fx.webhook_test_request(admin, _test_body(base + path, timeout, runner))
        reached = webhooks.exchange(request, _receiver_result(timeout), f"test route: {title}", path)
        if not reached:
            return
    host = urlsplit(base).hostname or "127.0.0.1"
    if host in _LOOPBACK:  # a port free here is free on the target too: it is this machine
        port = _free_port(host)
        url = f"http://{host}:{port}/nothing-listens"
        request = fx.webhook_test_request(admin, _test_body(url, 5000, runner))
        result = WebhookUnreachable(refused_reason(host, port))
        webhooks.exchange(request, lambda _p: result, "test route: nothing listens", "")
    _call_route(runner, webhooks, base)


def _call_route(runner: Runner, webhooks: _Webhooks, base: str) -> None:
    """One trigger of this run that uses the receiver, called once (the route allows few calls)."""
    body = example_post_body()
    params = {"serviceUrl": base + USABLE_PATH, "serviceTimeout": 5000, "serviceFallbackMessage": _FALLBACK}
    body.update(
        name="external service", enabled=False, actions=[{"name": EXTERNAL_SERVICE_ACTION, "params": params}]
    )
    create = _post(TRIGGERS_PATH, auth_headers(runner.admin), runner.model.tag(body))
    exchange = runner.exchange(EXTERNAL_FAMILY, create, stateful=True)
    if exchange.failed or exchange.warned:
        runner.record(EXTERNAL_FAMILY, exchange, title="create a trigger that uses the receiver")
    marker = runner.model.marker(json.loads(create.body))
    trigger_id = next(
        (str(t["_id"]) for t in runner.model.own if runner.model.marker(t) == marker and "_id" in t), None
    )
    if trigger_id is None or exchange.observed.status != 200:
        runner.results.notice(
            f"{EXTERNAL_FAMILY}: the call route was not checked: its trigger was not created"
        )
        return
    call = fx.webhook_call_request(trigger_id, {"token": f"{runner.model.prefix.strip()}-visitor"})
    webhooks.exchange(
        call, lambda p: WebhookReceiver.result_for(p, 5000), "call route: a usable answer", USABLE_PATH
    )


# -- permission and setting changes (only with --allow-shared-changes) ----------------------------------


class RestoreFailed(Exception):
    pass


def _loudly(runner: Runner, what: str, restore: Request, detail: str) -> None:
    command = reproducer(runner.options.base_url, [restore], runner.secrets)
    message = (
        f"!!! COULD NOT RESTORE {what} on {runner.options.base_url}: {detail}\n"
        f"!!! The server is left changed for everyone. Restore it with:\n{command}"
    )
    runner.log(message)
    runner.results.notice(message)


@contextlib.contextmanager
def changed_setting(
    runner: Runner, headers: Sequence[tuple[str, str]], setting: str, original: Any, value: Any
) -> Iterator[Any]:
    """Set ``setting`` to ``value`` for the body of the ``with``; restore ``original`` on every exit
    and verify it. Yields ``value``, or ``None`` when the change itself was refused."""
    change = _post(setting_path(setting), headers, {"value": value})
    restore = _post(setting_path(setting), headers, {"value": original})
    observed = runner.send(change)
    runner.results.count(SHARED_FAMILY)
    if observed.status != 200:
        runner.results.notice(
            f"{SHARED_FAMILY}: {setting} could not be changed ({observed.status}); not checked"
        )
        yield None
        return
    try:
        yield value
    finally:
        _restore(
            runner,
            f"the setting {setting}",
            restore,
            lambda: _read_setting(runner, headers, setting) == (True, original),
        )


def _restore(runner: Runner, what: str, restore: Request, verified: Callable[[], bool]) -> None:
    try:
        observed = runner.send(restore)
        runner.results.count(SHARED_FAMILY)
        problem = ""
        if observed.status != 200:
            problem = f"the restoring request answered {observed.status} {observed.body[:200]!r}"
        elif not verified():
            problem = "the restoring request answered 200, but reading it back shows another value"
        if problem:
            _loudly(runner, what, restore, problem)
            _report(
                runner,
                SHARED_FAMILY,
                restore,
                expected=Answer(200, b""),
                observed=observed,
                problems=[f"could not restore {what}: {problem}"],
                title=f"restore {what}",
            )
    except BaseException as error:  # whatever stopped the restore, say how to do it by hand
        _loudly(runner, what, restore, f"{type(error).__name__}: {error}")
        raise


def _permission_roles(
    runner: Runner, headers: Sequence[tuple[str, str]], permission: str
) -> tuple[str, ...] | None:
    observed = runner.send(Request("GET", PERMISSIONS_LIST_ALL_PATH, "", tuple(headers)))
    body = _json_body(observed)
    entries = body.get("update") if isinstance(body, dict) else None
    for entry in entries or []:
        if (
            isinstance(entry, dict)
            and entry.get("_id") == permission
            and isinstance(entry.get("roles"), list)
        ):
            return tuple(str(role) for role in entry["roles"])
    return None


def shared_changes_family(runner: Runner, session: Session | None) -> None:
    """Take ``MANAGE_TRIGGERS`` from every role, check that the next trigger requests are refused,
    and give it back at once (verified)."""
    family = SHARED_FAMILY
    if not runner.options.allow_shared_changes:  # never part of a default run: not planned
        runner.results.notice(
            f"{family} not checked: only with --allow-shared-changes (it changes a shared server "
            "for everyone)"
        )
        return
    if session is None:
        runner.results.plan(family, "needs an account that logs in: --login-user/--login-password")
        return
    runner.results.plan(family)
    headers = session.headers()
    original = _permission_roles(runner, headers, MANAGE_TRIGGERS)
    if original is None:
        runner.results.notice(f"{family}: {MANAGE_TRIGGERS} not found in permissions.listAll; not checked")
        return
    revoke = _post(PERMISSIONS_UPDATE_PATH, headers, {"permissions": [{"_id": MANAGE_TRIGGERS, "roles": []}]})
    restore = _post(
        PERMISSIONS_UPDATE_PATH, headers, {"permissions": [{"_id": MANAGE_TRIGGERS, "roles": list(original)}]}
    )
    observed = runner.send(revoke)
    runner.results.count(family)
    if observed.status != 200:
        runner.results.notice(f"{family}: permissions.update refused ({observed.status}); not checked")
        return
    try:
        revoked = State(
            users=(session.user,),
            login_tokens={session.user.user_id: (hash_login_token(session.token),)},
            permissions=tuple(
                StoredPermission(p.permission_id, (), p.updated_ms)
                if p.permission_id == MANAGE_TRIGGERS
                else p
                for p in default_permissions(0)
            ),
        )
        for title, request in (
            ("list after the permission was taken away", Request("GET", TRIGGERS_PATH, "", headers)),
            (
                "create after the permission was taken away",
                _post(TRIGGERS_PATH, headers, runner.model.tag(example_post_body())),
            ),
        ):
            _check(runner, family, request, _predicted(runner, request, revoked).answer, title)
    finally:
        _restore(
            runner,
            f"the roles of {MANAGE_TRIGGERS}",
            restore,
            lambda: _permission_roles(runner, headers, MANAGE_TRIGGERS) == original,
        )


def run_identity_families(runner: Runner) -> None:
    """The three families, in order: the shared changes use the log-in flow's account."""
    runner.guarded(LOGIN_FAMILY, lambda: login_family(runner))()
    session: Session | None = None
    options = runner.options
    if options.login_user and options.login_password and options.allow_shared_changes:
        session = log_in(
            runner, SHARED_FAMILY, {"user": options.login_user, "password": options.login_password}, "log in"
        )
    runner.guarded(EXTERNAL_FAMILY, lambda: external_service_family(runner, session))()
    runner.guarded(SHARED_FAMILY, lambda: shared_changes_family(runner, session))()
