"""How long other clients wait while the mock answers one huge hostile body, and the memory it takes.

One command::

    .venv/bin/python bench/hostile_body.py [--depth 10000000] [--store memory|sqlite|both]

For each store it starts a fresh mock on 127.0.0.1, sends one POST whose body is an array nested
``--depth`` deep (``2 * depth`` bytes; 20 MB by default), and while that is answered sends health and
list requests one after the other, recording the slowest. It samples the RSS of the server process
and of its children (the forked child that parses the body) every 0.1 s and prints the peaks, the
hostile request's answer and duration, and the command. Not a timed test.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import shlex
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mockproc import mock, rss_kib  # noqa: E402

from spec.headers import AUTH_TOKEN_HEADER, USER_ID_HEADER  # noqa: E402
from spec.routes import TRIGGERS_PATH  # noqa: E402

USER_ID, TOKEN = "hostile-admin", "hostile-token"
AUTH = {USER_ID_HEADER: USER_ID, AUTH_TOKEN_HEADER: TOKEN}


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def measure(port: int, pid: int, depth: int) -> str:
    body = b"[" * depth + b"]" * depth
    result: dict[str, object] = {}
    done = threading.Event()

    def hostile() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        started = time.perf_counter()
        connection.request(
            "POST", TRIGGERS_PATH, body=body, headers={**AUTH, "Content-Type": "application/json"}
        )
        answer = connection.getresponse()
        result.update(status=answer.status, body=answer.read()[:90], seconds=time.perf_counter() - started)
        done.set()

    peaks = {"server": 0, "children": 0}

    def sample() -> None:
        while not done.is_set():
            peaks["server"] = max(peaks["server"], rss_kib(pid))
            peaks["children"] = max(peaks["children"], sum(rss_kib(child) for child in children(pid)))
            time.sleep(0.1)

    threads = [threading.Thread(target=hostile), threading.Thread(target=sample)]
    for thread in threads:
        thread.start()
    waits: list[float] = []
    while not done.is_set():
        for path in ("/__mock__/health", TRIGGERS_PATH):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            started = time.perf_counter()
            connection.request("GET", path, headers=AUTH)
            connection.getresponse().read()
            waits.append(time.perf_counter() - started)
            connection.close()
        time.sleep(0.02)
    for thread in threads:
        thread.join()
    return (
        f"hostile POST: {result['status']} {result['body']!r} in {result['seconds']:.1f} s;"
        f" {len(waits)} small requests alongside, slowest {max(waits) * 1000:.0f} ms,"
        f" median {sorted(waits)[len(waits) // 2] * 1000:.1f} ms;"
        f" peak RSS server {peaks['server'] // 1024} MiB, children {peaks['children'] // 1024} MiB"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=10_000_000)
    parser.add_argument("--store", choices=("memory", "sqlite", "both"), default="both")
    arguments = parser.parse_args(argv)
    print(f"command: {shlex.join([sys.executable, 'bench/hostile_body.py', *(argv or sys.argv[1:])])}")
    print(f"body: an array nested {arguments.depth} deep ({2 * arguments.depth} bytes)")
    stores = ("memory", "sqlite") if arguments.store == "both" else (arguments.store,)
    with tempfile.TemporaryDirectory(prefix="hostile-db-") as directory:
        for store in stores:
            extra = ["--db", str(Path(directory) / "state.sqlite")] if store == "sqlite" else []
            with mock(USER_ID, TOKEN, extra) as (port, pid):
                print(f"{store:<7} {measure(port, pid, arguments.depth)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
