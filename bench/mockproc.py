"""A fresh mock process for the benchmark scripts: started on a free loopback port, stopped on exit."""

from __future__ import annotations

import contextlib
import http.client
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from spec.permissions import ADMIN_PERMISSIONS  # noqa: E402


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


@contextlib.contextmanager
def mock(user_id: str, token: str, arguments: Sequence[str]) -> Iterator[tuple[int, int]]:
    """A fresh mock with one admin ``user_id:token``: (port, pid). Stopped (SIGTERM, then SIGKILL) on exit."""
    work = Path(tempfile.mkdtemp(prefix="bench-mock-"))
    command = [
        sys.executable, "-m", "mock_server", "--host", "127.0.0.1", "--port", "0", "--quiet",
        "--user", f"{user_id}:{token}:{','.join(sorted(ADMIN_PERMISSIONS))}", *arguments,
    ]  # fmt: skip
    with (work / "stdout").open("wb") as out:
        process = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=subprocess.DEVNULL)
    try:
        deadline, port = time.monotonic() + 60, None
        while time.monotonic() < deadline and port is None:
            for line in (work / "stdout").read_text().splitlines():
                if line.startswith("Listening on http://"):
                    port = int(line.rsplit(":", 1)[1].split()[0])
            time.sleep(0.1)
        if port is None:
            raise RuntimeError(f"the mock did not start: {shlex.join(command)}")
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                probe = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                probe.request("GET", "/__mock__/health")
                if probe.getresponse().status == 200:
                    break
            time.sleep(0.1)
        yield port, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
