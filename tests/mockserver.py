"""Start the real mock server process for a test and talk to it over HTTP.

    with running_mock("--profile", "7.5") as server:
        response = server.client().get("/api/v1/livechat/triggers", headers=server.auth("admin"))

Each server is a real ``python -m mock_server`` process on 127.0.0.1 with an ephemeral port (``--port
0``; the port is read from the start-up banner), started in its own process group so that workers
are stopped with it. Unless the caller passes ``--user``, three users are configured:

* ``admin``: ``view-livechat-manager`` and ``api-bypass-rate-limit`` (never rate limited)
* ``manager``: ``view-livechat-manager`` only (rate limited like a plain agent)
* ``agent``: no permission (403)

``mock_server_fixture(...)`` turns the same thing into a pytest fixture.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

DEFAULT_USERS = {
    "admin": ("admin-id", "admin-token", "view-livechat-manager,api-bypass-rate-limit"),
    "manager": ("manager-id", "manager-token", "view-livechat-manager"),
    "agent": ("agent-id", "agent-token", ""),
}

_LISTENING = re.compile(r"^Listening on (http://\S+)", re.MULTILINE)
_USER_LINE = re.compile(r"X-User-Id: (\S+)\s+X-Auth-Token: (\S+)\s+permissions: (\S+)")


@dataclass(frozen=True)
class Credentials:
    user_id: str
    token: str
    permissions: frozenset[str]

    def headers(self) -> dict[str, str]:
        return {"X-User-Id": self.user_id, "X-Auth-Token": self.token}


@dataclass
class MockServer:
    base_url: str
    process: subprocess.Popen[bytes]
    banner: str
    log_path: Path
    users: dict[str, Credentials] = field(default_factory=dict)
    """By role name for the default users; by user id for users passed with ``--user``."""

    def url(self, path: str) -> str:
        return self.base_url + path

    def client(self, **options: object) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30.0, **options)  # type: ignore[arg-type]

    def auth(self, user: str) -> dict[str, str]:
        return self.users[user].headers()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, *, kill: bool = False) -> int:
        """SIGTERM (graceful) or SIGKILL (``kill=True``, like ``kill -9``) to the whole process group."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=15)
        return self.process.returncode


def _default_user_arguments(arguments: Sequence[str], wanted: bool) -> list[str]:
    if "--user" in arguments or not wanted:
        return []
    extra: list[str] = []
    for user_id, token, permissions in DEFAULT_USERS.values():
        extra += ["--user", f"{user_id}:{token}" + (f":{permissions}" if permissions else "")]
    return extra


def _users_from_banner(banner: str, defaults: bool) -> dict[str, Credentials]:
    users: dict[str, Credentials] = {}
    for user_id, token, permissions in _USER_LINE.findall(banner):
        credentials = Credentials(
            user_id, token, frozenset() if permissions == "(none)" else frozenset(permissions.split(","))
        )
        users[user_id] = credentials
    if defaults:
        for role, (user_id, _, _) in DEFAULT_USERS.items():
            users[role] = users[user_id]
    elif len(users) == 1:
        users["admin"] = next(iter(users.values()))  # the generated admin user
    return users


def start_mock(
    *arguments: str,
    default_users: bool = True,
    startup_timeout: float = 30.0,
    environment: dict[str, str] | None = None,
) -> MockServer:
    """Start ``python -m mock_server --port 0 ...`` and wait until it answers its health endpoint.

    ``default_users=False`` starts it without any ``--user``, so that it generates its admin user
    (available as ``server.users["admin"]``, read from the banner).
    """
    arguments_list = list(arguments)
    defaults = _default_user_arguments(arguments_list, default_users)
    command = [sys.executable, "-m", "mock_server", "--host", "127.0.0.1", "--port", "0", *defaults]
    command += arguments_list
    workdir = Path(tempfile.mkdtemp(prefix="mock-server-test-"))
    stdout_path, log_path = workdir / "stdout.txt", workdir / "stderr.txt"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **(environment or {})}
    with stdout_path.open("wb") as stdout, log_path.open("wb") as stderr:
        # Files, not pipes: a pipe nobody drains would block the server once it fills up.
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, stdout=stdout, stderr=stderr, env=env, start_new_session=True
        )
    deadline = time.monotonic() + startup_timeout
    banner = ""
    while time.monotonic() < deadline:
        banner = stdout_path.read_text(errors="replace")
        if _LISTENING.search(banner) or process.poll() is not None:
            break
        time.sleep(0.05)
    match = _LISTENING.search(banner)
    if match is None:
        _give_up(process)
        raise RuntimeError(f"mock server did not start: {command}\n{banner}\n{log_path.read_text()}")
    server = MockServer(match.group(1), process, banner, log_path, _users_from_banner(banner, bool(defaults)))
    while time.monotonic() < deadline:
        try:
            if httpx.get(server.url("/__mock__/health"), timeout=2.0).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.05)
    server.stop(kill=True)
    raise RuntimeError(f"mock server never became healthy: {command}\n{banner}\n{server.log()}")


def _give_up(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


@contextmanager
def running_mock(
    *arguments: str, default_users: bool = True, startup_timeout: float = 30.0
) -> Iterator[MockServer]:
    server = start_mock(*arguments, default_users=default_users, startup_timeout=startup_timeout)
    try:
        yield server
    finally:
        server.stop()


def mock_server_fixture(*arguments: str, scope: str = "module") -> Callable[..., MockServer]:
    """A pytest fixture that runs one mock server (``arguments`` as on the command line) per ``scope``."""

    @pytest.fixture(scope=scope)  # type: ignore[call-overload, untyped-decorator]
    def fixture() -> Iterator[MockServer]:
        with running_mock(*arguments) as server:
            yield server

    return fixture  # type: ignore[no-any-return]


def run_module(
    module: str, *arguments: str, timeout: float = 30.0, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """``python -m MODULE ARGUMENTS`` to completion: this interpreter, from the repository, output kept."""
    return subprocess.run(
        [sys.executable, "-m", module, *arguments],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        errors="replace",  # a report may quote bytes that are not UTF-8
        timeout=timeout,
        check=check,
    )


def run_cli(*arguments: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    """Run the mock's CLI to completion (for options that must make it exit)."""
    return run_module("mock_server", *arguments, timeout=timeout)
