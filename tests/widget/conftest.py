"""The ``widget`` marker and the fixtures of the browser tests.

The browser tests assert issue 11's acceptance and run in the default test run. Run only them with:

    .venv/bin/python -m pytest tests/widget -m widget

Under ``CI=true`` a missing chromium is installed (``apt-get install -y chromium``, see ``./dev``) and a
browser or widget that is still missing fails the run; only on a developer's machine do they skip.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from spec.permissions import BYPASS_RATE_LIMIT, EDIT_PRIVILEGED_SETTING, MANAGE_TRIGGERS
from tests.conftest import running_in_ci
from tests.mockserver import REPO_ROOT, MockServer, running_mock
from tests.widget.browser import ChromiumUnavailable, ensure_chromium
from tests.widget.fetch import WidgetUnavailable, ensure_widget

MARKER = "widget"
WIDGET_USER = ("widget-admin", "widget-admin-token")
_LISTENING = re.compile(r"^Listening on (http://\S+)", re.MULTILINE)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}: the published livechat widget in headless chromium",
    )


def widget_unavailable(reason: str) -> None:
    """Under CI a missing browser or widget fails the run; on a developer's machine the tests skip."""
    if running_in_ci():
        pytest.fail(f"the widget browser tests are required under CI: {reason}", pytrace=False)
    pytest.skip(f"{reason} (set CI=true to make this an error)")


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    try:
        return ensure_chromium(install=running_in_ci())
    except ChromiumUnavailable as exc:
        widget_unavailable(str(exc))
        raise


@pytest.fixture(scope="session")
def widget_dir() -> Path:
    try:
        return ensure_widget()
    except WidgetUnavailable as exc:
        widget_unavailable(str(exc))
        raise


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    user_id, token = WIDGET_USER
    permissions = ",".join(sorted({MANAGE_TRIGGERS, BYPASS_RATE_LIMIT, EDIT_PRIVILEGED_SETTING}))
    with running_mock("--quiet", "--user", f"{user_id}:{token}:{permissions}") as server:
        yield server


@dataclass
class PageServer:
    site_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def stop(self) -> None:
        self._stop_process()
        shutil.rmtree(self.log_path.parent, ignore_errors=True)

    def _stop_process(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=15)


def start_page_server(server_url: str, widget_dir: Path, timeout: float = 30.0) -> PageServer:
    """``python -m tests.widget.page`` as its own process on 127.0.0.1 and a free port."""
    workdir = Path(tempfile.mkdtemp(prefix="widget-page-"))
    stdout_path, log_path = workdir / "stdout.txt", workdir / "stderr.txt"
    command = [
        sys.executable,
        "-m",
        "tests.widget.page",
        "--server-url",
        server_url,
        "--widget-dir",
        str(widget_dir),
    ]
    with stdout_path.open("wb") as stdout, log_path.open("wb") as stderr:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            stdout=stdout,
            stderr=stderr,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = _LISTENING.search(stdout_path.read_text(errors="replace"))
        if match:
            server = PageServer(match.group(1), process, log_path)
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(server.site_url + "/", timeout=2.0).status_code == 200:
                    return server
        if process.poll() is not None:
            break
        time.sleep(0.05)
    failed = PageServer("", process, log_path)
    failed._stop_process()
    log = log_path.read_text(errors="replace")
    failed.stop()
    raise RuntimeError(f"the widget page server did not start: {command}\n{log}")


@pytest.fixture(scope="module")
def page_site(mock: MockServer, widget_dir: Path) -> Iterator[str]:
    server = start_page_server(mock.base_url, widget_dir)
    try:
        yield server.site_url
    finally:
        server.stop()
