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
    parse_user,
)
from mock_server.stores import SqliteStore
from spec import __version__
from spec.model import User
from spec.permissions import ADMIN_PERMISSIONS, BYPASS_RATE_LIMIT, MANAGE_TRIGGERS
from spec.profiles import PROFILES, UnknownProfileError, get_profile
from spec.triggers import SeedError

EXIT_BAD_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    # argparse exits with status 2 on a bad option, the usage exit status of both CLIs.
    parser = argparse.ArgumentParser(
        prog="rc-triggers-mock",
        description="A stand-in for Rocket.Chat's Livechat Triggers REST API that answers exactly like "
        "the real server (status codes, bodies byte for byte, coercion, check order, state).",
        epilog=f"Control endpoints: {CONTROL_PREFIX}/ (health, reset, triggers, journal, profile). "
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
        help="a known user (repeatable). Without any, one admin user with a random id and token is "
        f"created and printed. PERM e.g. {MANAGE_TRIGGERS}, {BYPASS_RATE_LIMIT}",
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


def _users(arguments: argparse.Namespace) -> tuple[User, ...]:
    users = tuple(parse_user(text) for text in arguments.user)
    ids = [user.user_id for user in users]
    if len(set(ids)) != len(ids):
        raise SettingsError("--user: the same user id is given twice")
    if users:
        return users
    admin = User(
        user_id=secrets.token_hex(9)[:17],
        token=secrets.token_urlsafe(32),
        permissions=frozenset(ADMIN_PERMISSIONS),
    )
    return (admin,)


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
    users = _users(arguments)
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
        clock=Clock.parse(arguments.clock),
        ids=IdSource.parse(arguments.ids),
        max_body_bytes=arguments.max_body_bytes,
        predictor=arguments.predictor,
        control_token=arguments.control_token or None,
        max_header_bytes=arguments.max_header_bytes,
        headers_timeout_seconds=arguments.headers_timeout,
        request_timeout_seconds=arguments.request_timeout,
        idle_timeout_seconds=arguments.idle_timeout,
    )


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
        store = SqliteStore(path, settings.users, journal_size=settings.journal_size)
    except sqlite3.Error as error:
        raise SettingsError(f"--db {path}: cannot use it as an SQLite database: {error}") from None
    try:
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
    for index, user in enumerate(settings.users):
        permissions = ",".join(sorted(user.permissions)) or "(none)"
        label = "users:" if index == 0 else ""
        lines.append(
            f"  {label:<12} X-User-Id: {user.user_id}  X-Auth-Token: {user.token}  permissions: {permissions}"
        )
    lines += [
        f"  state:       {_store_description(settings)}",
        f"  seed:        {seed_note or 'none'}",
        f"  Swagger UI:  {url}{settings.docs_path}/ (contract)",
        f"               {url}{CONTROL_PREFIX}{settings.docs_path}/ (control API)",
        f"  control:     {url}{CONTROL_PREFIX}/ (health, reset, triggers, journal, profile)",
        f"  CORS:        {' '.join(settings.cors_origins)}",
        f"  workers:     {settings.workers}   rate limit: {'on' if settings.rate_limit else 'off'}",
        f"  clock:       {settings.clock.describe()}   new ids: {settings.ids.describe()}",
        f"  HTTP limits: {_describe_limits(settings)}",
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
        seed_note = ""
        if settings.db_path is not None:
            seed_note = prepare_database(settings)
        elif settings.seed_triggers is not None:
            seed_note = f"{len(settings.seed_triggers)} triggers from {settings.seed_source}"
        sock = bind(settings.host, settings.port)
    except SettingsError as error:
        print(f"rc-triggers-mock: error: {error}", file=sys.stderr)
        return EXIT_BAD_USAGE
    print(banner(settings, sock.getsockname()[1], seed_note), flush=True)
    try:
        serve(settings, sock)
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
        if settings.db_is_temporary and settings.db_path is not None:
            shutil.rmtree(os.path.dirname(settings.db_path), ignore_errors=True)
    return 0
