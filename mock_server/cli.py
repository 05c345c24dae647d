"""``python -m mock_server`` / ``rc-triggers-mock``: parse options, print the banner, run uvicorn.

The socket is bound here, before uvicorn starts, so that ``--port 0`` (an ephemeral port) can be
reported in the banner, and so that ``--workers N`` processes all accept on the one socket.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import socket
import sqlite3
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from mock_server.guard import is_loopback
from mock_server.lifeline import mark_supervisor
from mock_server.service import CONTROL_PREFIX, parse_seed
from mock_server.settings import (
    DEFAULT_CORS_ORIGINS,
    DEFAULT_MAX_BODY_BYTES,
    SETTINGS_ENVIRONMENT_VARIABLE,
    Clock,
    IdSource,
    MockSettings,
    SettingsError,
    check_cors_origin,
    parse_account,
    parse_agent,
    parse_user,
)
from mock_server.stores import SqliteStore, start_state
from spec import __version__
from spec.accounts import TEST_ADMIN_PASSWORD, test_mode_admin
from spec.headers import AUTH_TOKEN_HEADER, USER_ID_HEADER
from spec.model import User
from spec.permissions import (
    ADMIN_PERMISSIONS,
    ADMIN_ROLE,
    BYPASS_RATE_LIMIT,
    DEFAULT_ROLE_TABLE,
    MANAGE_TRIGGERS,
    role_permissions,
)
from spec.profiles import PROFILES, UnknownProfileError, get_profile
from spec.routes import LOGIN_PATH
from spec.triggers import SeedError
from spec.widget import DEFAULT_AGENT_USERNAME, default_agent, is_livechat_agent, is_online_agent

EXIT_BAD_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    # argparse exits with status 2 on a bad option, the usage exit status of both CLIs.
    parser = argparse.ArgumentParser(
        prog="rc-triggers-mock",
        description="A stand-in for Rocket.Chat's Livechat Triggers REST API that answers exactly like "
        "the real server (status codes, bodies byte for byte, coercion, check order, state).",
        epilog=f"Control endpoints: {CONTROL_PREFIX}/ (health, reset, triggers, journal, profile, users, "
        "permissions, settings). "
        "Docs: /docs/ (contract) and /__mock__/docs/ (control API).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    parser.add_argument(
        "--port", type=int, default=3000, help="TCP port; 0 picks a free one (default: %(default)s)"
    )
    parser.add_argument(
        "--profile",
        default="8.3",
        metavar="|".join(PROFILES),
        help=f"Rocket.Chat version profile: {', '.join(PROFILES)} (default: %(default)s)",
    )
    parser.add_argument(
        "--user",
        action="append",
        default=[],
        metavar="ID:TOKEN[:PERM[,PERM...]]",
        help="a known user holding PERMs directly (repeatable); it cannot log in. Without any --user "
        "or --account, Rocket.Chat's test-mode admin is created (role admin, a random token; it logs "
        "in with the username and password the banner prints). "
        f"PERM e.g. {MANAGE_TRIGGERS}, {BYPASS_RATE_LIMIT}",
    )
    parser.add_argument(
        "--account",
        action="append",
        default=[],
        metavar="USERNAME:PASSWORD[:ROLE[,ROLE...]][:ID]",
        help=f"a user that logs in with POST {LOGIN_PATH} (repeatable) and holds what its roles hold "
        f"in the run-time role table (default role: user; e.g. {ADMIN_ROLE}, livechat-manager); "
        "it also gets a random start-up token (printed)",
    )
    parser.add_argument(
        "--agent",
        action="append",
        default=[],
        metavar="USERNAME[:PRESENCE[:LIVECHAT_STATUS]]",
        help="a livechat agent (repeatable): a user with the livechat-agent role, presence online|away|"
        "busy|offline, livechat status available|not-available (default online:available); it makes the "
        "public config's online true and answers agent.next. Without any --agent, one online agent "
        f"({DEFAULT_AGENT_USERNAME}) is created; more at run time with {CONTROL_PREFIX}/agents",
    )
    parser.add_argument(
        "--no-agent", action="store_true", help="start without the default agent (no agent online)"
    )
    parser.add_argument(
        "--seed-file", metavar="FILE", help="JSON array of triggers loaded at start into an empty store"
    )
    parser.add_argument(
        "--db", metavar="PATH", help="keep state in this SQLite file (survives restarts, shared by workers)"
    )
    parser.add_argument(
        "--workers", type=int, default=1, metavar="N", help="worker processes (default: %(default)s)"
    )
    parser.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="browser origin allowed to call the mock (repeatable); '*' for any, PORT may be '*'. "
        f"Default: {' '.join(DEFAULT_CORS_ORIGINS)}",
    )
    parser.add_argument("--quiet", action="store_true", help="no log line per request")
    parser.add_argument(
        "--no-rate-limit",
        action="store_true",
        help="turn the rate limiter off (the server's development mode)",
    )
    parser.add_argument(
        "--no-outbound",
        action="store_true",
        help="make no webhook calls: the external-service routes answer as if every webhook were "
        "unreachable (by default the mock calls the webhook URL a request names, and only that URL)",
    )
    parser.add_argument(
        "--clock",
        default="real",
        metavar="SPEC",
        help="time seen by the server: real, fixed:EPOCH_MS, or step:EPOCH_MS:STEP_MS (n-th request sees "
        "EPOCH_MS + n*STEP_MS); for reproducible _updatedAt in tests (default: %(default)s)",
    )
    parser.add_argument(
        "--ids",
        default="random",
        metavar="SPEC",
        help="ids of new triggers: random, or sequential[:START] (n-th request is offered START+n as 24 "
        "hex digits) (default: %(default)s)",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=int,
        metavar="N",
        default=DEFAULT_MAX_BODY_BYTES,
        help="larger request bodies get a 413 from the mock itself (default: %(default)s)",
    )
    limits = parser.add_argument_group(
        "HTTP limits", "Node.js's defaults for the --profile's era (spec/http_limits.py) unless given"
    )
    limits.add_argument("--max-header-bytes", type=int, metavar="N", help="431 past this (default: 16384)")
    limits.add_argument(
        "--headers-timeout", type=float, metavar="S", help="408 if headers take longer (default: 60)"
    )
    limits.add_argument(
        "--request-timeout",
        type=float,
        metavar="S",
        help="408 if a request takes longer; 0: off (default: 300, none on 6.13)",
    )
    limits.add_argument(
        "--idle-timeout",
        type=float,
        metavar="S",
        help="close a silent connection with no request pending (default: 5)",
    )
    parser.add_argument(
        "--control-token",
        metavar="TOKEN",
        help=f"the control API ({CONTROL_PREFIX}/) then wants 'Authorization: Bearer TOKEN' (health "
        "excepted); the Rocket.Chat routes are unaffected",
    )
    parser.add_argument(
        "--predictor",
        metavar="MODULE:NAME",
        help="answer with this function instead of spec.predict.predict (same signature); for "
        "deliberately broken mocks in mutation testing, never for normal use",
    )
    return parser


def _check_numbers(arguments: argparse.Namespace) -> None:
    if not 0 <= arguments.port <= 65535:
        raise SettingsError(f"--port {arguments.port}: must be 0-65535")
    if arguments.workers < 1:
        raise SettingsError(f"--workers {arguments.workers}: must be at least 1")
    if arguments.max_body_bytes < 1:
        raise SettingsError("--max-body-bytes must be positive")
    for option in ("max_header_bytes", "headers_timeout", "request_timeout", "idle_timeout"):
        value = getattr(arguments, option)
        if value is not None and (value < 0 or (value == 0 and option != "request_timeout")):
            raise SettingsError(f"--{option.replace('_', '-')} {value}: must be positive")


def _seed(arguments: argparse.Namespace) -> tuple[dict[str, Any], ...] | None:
    if arguments.seed_file is None:
        return None
    try:
        data = Path(arguments.seed_file).read_bytes()
    except OSError as error:
        raise SettingsError(f"--seed-file {arguments.seed_file}: {error.strerror or error}") from None
    try:
        return tuple(parse_seed(data))
    except SeedError as error:
        raise SettingsError(f"--seed-file {arguments.seed_file}: {error}") from None


def settings_from_arguments(arguments: argparse.Namespace) -> MockSettings:
    """Validate every option; a problem raises ``SettingsError`` with a message for the user."""
    try:
        get_profile(arguments.profile)
    except UnknownProfileError as error:
        raise SettingsError(f"--profile: {error}") from None
    _check_numbers(arguments)
    users, passwords = _accounts(arguments)
    users += _agents(arguments, users)
    seed = _seed(arguments)
    db_path, temporary = arguments.db, False
    if db_path is None and arguments.workers > 1:
        # Workers are separate processes: they can only share state through a file.
        db_path, temporary = os.path.join(tempfile.mkdtemp(prefix="rc-triggers-mock-"), "state.sqlite"), True
    return MockSettings(
        host=arguments.host,
        port=arguments.port,
        profile=arguments.profile,
        users=users,
        seed_triggers=seed,
        seed_source=arguments.seed_file,
        db_path=db_path,
        db_is_temporary=temporary,
        workers=arguments.workers,
        cors_origins=tuple(check_cors_origin(o) for o in arguments.cors_origin) or DEFAULT_CORS_ORIGINS,
        quiet=arguments.quiet,
        rate_limit=not arguments.no_rate_limit,
        outbound=not arguments.no_outbound,
        clock=Clock.parse(arguments.clock),
        ids=IdSource.parse(arguments.ids),
        max_body_bytes=arguments.max_body_bytes,
        predictor=arguments.predictor,
        control_token=arguments.control_token or None,
        max_header_bytes=arguments.max_header_bytes,
        headers_timeout_seconds=arguments.headers_timeout,
        request_timeout_seconds=arguments.request_timeout,
        idle_timeout_seconds=arguments.idle_timeout,
        banner_passwords=passwords,
    )


def _accounts(arguments: argparse.Namespace) -> tuple[tuple[User, ...], tuple[tuple[str, str], ...]]:
    """The users of --user and --account, or the generated admin; and the passwords to print."""
    users = tuple(parse_user(text) for text in arguments.user)
    passwords: list[tuple[str, str]] = []
    for text in arguments.account:
        declared = parse_account(text)
        users += (replace(declared, token=secrets.token_urlsafe(32)),)
        passwords.append((declared.user_id, text.split(":")[1]))
    ids = [user.user_id for user in users]
    if len(set(ids)) != len(ids):
        raise SettingsError("--user/--account: the same user id is given twice")
    names = [user.username for user in users if user.username is not None]
    if len(set(names)) != len(names):
        raise SettingsError("--account: the same username is given twice")
    if users:
        return users, tuple(passwords)
    # Rocket.Chat's own API tests log in as this admin with its well-known password; a mock that other
    # machines can reach gets a random one instead.
    password = TEST_ADMIN_PASSWORD if is_loopback(arguments.host) else secrets.token_urlsafe(12)
    admin = test_mode_admin(secrets.token_urlsafe(32), password=password)
    return (admin,), ((admin.user_id, password),)


def _agents(arguments: argparse.Namespace, users: tuple[User, ...]) -> tuple[User, ...]:
    agents = tuple(parse_agent(text) for text in arguments.agent)
    if arguments.no_agent and agents:
        raise SettingsError("--no-agent and --agent exclude each other")
    if not agents and not arguments.no_agent:
        agents = (default_agent(),)
    taken = {user.username for user in users} | {user.user_id for user in users}
    names = [agent.username for agent in agents]
    if len(set(names)) != len(names) or any(a.username in taken or a.user_id in taken for a in agents):
        raise SettingsError("--agent: the same username is given twice (or is taken by --account)")
    return agents


def check_database_path(path: str) -> None:
    """``--db`` must name a file the mock can keep and share: refuse what SQLite would take but not keep."""
    if path in ("", ":memory:") or path.startswith("file:"):
        raise SettingsError(
            f"--db {path!r}: needs a file path (an in-memory or URI database keeps nothing across "
            "restarts and is not shared by workers; leave --db out to keep state in memory)"
        )
    if os.path.isdir(path):
        raise SettingsError(f"--db {path}: is a directory, not a database file")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise SettingsError(f"--db {path}: directory {directory} does not exist")


def prepare_database(settings: MockSettings) -> str:
    """Check, create the schema and seed an empty database once, before any worker starts.

    Faults are found here, not on the first request: the file must be SQLite, pass ``PRAGMA
    quick_check`` and take a write (a read-only file or directory fails that write).
    """
    assert settings.db_path is not None
    path = settings.db_path
    check_database_path(path)
    try:
        store = SqliteStore(
            path, settings.users, journal_size=settings.journal_size, start=start_state(settings)
        )
    except sqlite3.Error as error:
        raise SettingsError(f"--db {path}: cannot use it as an SQLite database: {error}") from None
    try:
        for user in settings.users:  # the command line's users win over those the file kept
            store.put_user(user)
        try:
            problem = store.health_check()
        except sqlite3.Error as error:
            problem = f"the database is damaged ({error})"
        if problem is not None:
            raise SettingsError(f"--db {path}: {problem}")
        if settings.seed_triggers is None:
            return ""
        stored = store.count()
        if stored:
            return f"{stored} triggers already stored; --seed-file not loaded (empty the store to reseed)"
        store.load(settings.seed_triggers, replace=False)
        return f"{len(settings.seed_triggers)} triggers from {settings.seed_source}"
    finally:
        store.close()


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise SettingsError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    sock.set_inheritable(True)  # worker processes accept on it
    return sock


def banner(settings: MockSettings, port: int, seed_note: str) -> str:
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    url = f"http://{host}:{port}"
    profile = get_profile(settings.profile)
    lines = [
        "Rocket.Chat Livechat Triggers mock server",
        f"  URL:         {url}",
        f"  profile:     {profile.name} (answers like Rocket.Chat {profile.releases}; "
        f"switch with PUT {CONTROL_PREFIX}/profile)",
    ]
    passwords = dict(settings.banner_passwords)
    agents = [user for user in settings.users if is_livechat_agent(user) and not user.token]
    people = [user for user in settings.users if user not in agents]
    for index, user in enumerate(people):
        # The trigger routes' permissions it holds (through its roles, in the start-up role table).
        held = user.permissions | (role_permissions(DEFAULT_ROLE_TABLE, user.roles) & ADMIN_PERMISSIONS)
        permissions = ",".join(sorted(held)) or "(none)"
        label = "users:" if index == 0 else ""
        line = f"  {label:<12} {USER_ID_HEADER}: {user.user_id}  {AUTH_TOKEN_HEADER}: {user.token}"
        line += f"  permissions: {permissions}"
        if user.roles:
            line += f"  roles: {','.join(user.roles)}"
        if user.username is not None and user.user_id in passwords:
            line += f"  log in: {user.username} / {passwords[user.user_id]}"
        lines.append(line)
    for index, agent in enumerate(agents):
        label = "agents:" if index == 0 else ""
        lines.append(
            f"  {label:<12} {agent.username} (_id {agent.user_id})  presence: {agent.status}  "
            f"livechat: {agent.status_livechat}{'  (online)' if is_online_agent(agent) else ''}"
        )
    if not agents:
        lines.append(
            f"  agents:      none (the widget sees no agent online; add with {CONTROL_PREFIX}/agents)"
        )
    lines += [
        f"  state:       {_store_description(settings)}",
        f"  seed:        {seed_note or 'none'}",
        f"  Swagger UI:  {url}{settings.docs_path}/ (contract)",
        f"               {url}{CONTROL_PREFIX}{settings.docs_path}/ (control API)",
        f"  control:     {url}{CONTROL_PREFIX}/ (health, reset, triggers, journal, profile, users, "
        "permissions, settings)",
        f"  CORS:        {' '.join(settings.cors_origins)}",
        f"  workers:     {settings.workers}   rate limit: {'on' if settings.rate_limit else 'off'}",
        f"  clock:       {settings.clock.describe()}   new ids: {settings.ids.describe()}",
        f"  HTTP limits: {_describe_limits(settings)}",
        "  webhooks:    "
        + ("called (only the URL a request names)" if settings.outbound else "not called (--no-outbound)"),
    ]
    if settings.predictor is not None:
        lines.append(
            f"  PREDICTOR:   {settings.predictor} (NOT spec.predict.predict: answers may be wrong on purpose)"
        )
    if settings.control_token is not None:
        lines.append(f"  control token: Authorization: Bearer {settings.control_token}")
    if not is_loopback(settings.host):
        lines.append(
            f"  warning:     {settings.host} is not loopback: the control API's Host check is off"
            + ("" if settings.control_token else "; protect it with --control-token")
        )
    lines.append(f"Listening on {url} (Ctrl+C to stop)")
    return "\n".join(lines)


def _describe_limits(settings: MockSettings) -> str:
    limits = settings.http_limits()
    request = "off" if limits.request_timeout_seconds is None else f"{limits.request_timeout_seconds:g} s"
    return (
        f"headers {limits.max_header_bytes} bytes (431 past it), headers timeout "
        f"{limits.headers_timeout_seconds:g} s, request timeout {request}, idle "
        f"{limits.idle_timeout_seconds:g} s (Node {limits.node} defaults)"
    )


def _store_description(settings: MockSettings) -> str:
    if settings.db_path is None:
        return "in memory (lost when the server stops)"
    if settings.db_is_temporary:
        return f"SQLite {settings.db_path} (temporary, shared by the workers, removed at exit)"
    return f"SQLite {settings.db_path} (kept across restarts)"


def _uvicorn_config(app: Any, workers: int) -> Any:
    import uvicorn

    from mock_server.limits import NodeLimitsProtocol

    return uvicorn.Config(
        app,
        http=NodeLimitsProtocol,
        factory=isinstance(app, str),
        workers=workers,
        lifespan="on",
        access_log=False,  # the mock logs one line per request itself
        server_header=False,  # a real Rocket.Chat does not say "uvicorn"
        # The rate limiter keys on the client address: the TCP peer, never a header a client can set.
        proxy_headers=False,
        log_level="warning",
        timeout_graceful_shutdown=3,
    )


def serve(settings: MockSettings, sock: socket.socket) -> None:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    if settings.workers == 1:
        from mock_server.app import create_app, load_predictor, tune_garbage_collector
        from mock_server.limits import configure

        configure(settings.http_limits())
        tune_garbage_collector()
        app = create_app(settings, predictor=load_predictor(settings.predictor))
        uvicorn.Server(_uvicorn_config(app, 1)).run(sockets=[sock])
        return
    # uvicorn spawns fresh interpreters: they rebuild the app from the settings in the environment.
    os.environ[SETTINGS_ENVIRONMENT_VARIABLE] = settings.to_json()
    mark_supervisor()
    Multiprocess(
        _uvicorn_config("mock_server.app:app_from_environment", settings.workers), sockets=[sock]
    ).run()


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    try:
        settings = settings_from_arguments(arguments)
        if settings.predictor is not None:
            from mock_server.app import load_predictor

            load_predictor(settings.predictor)  # fail before binding, with a clear message
        sock = bind(settings.host, settings.port)
    except SettingsError as error:
        print(f"rc-triggers-mock: error: {error}", file=sys.stderr)
        return EXIT_BAD_USAGE
    port = sock.getsockname()[1]
    settings = replace(settings, port=port)  # --port 0: the store's Site_Url names the real port
    try:
        seed_note = ""
        if settings.db_path is not None:
            seed_note = prepare_database(settings)
        elif settings.seed_triggers is not None:
            seed_note = f"{len(settings.seed_triggers)} triggers from {settings.seed_source}"
    except SettingsError as error:
        sock.close()
        print(f"rc-triggers-mock: error: {error}", file=sys.stderr)
        return EXIT_BAD_USAGE
    print(banner(settings, port, seed_note), flush=True)
    try:
        serve(settings, sock)
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
        if settings.db_is_temporary and settings.db_path is not None:
            shutil.rmtree(os.path.dirname(settings.db_path), ignore_errors=True)
    return 0
