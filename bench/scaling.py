"""How list and config cost grow with the number of stored triggers (the hardening issue's figures).

One command::

    .venv/bin/python bench/scaling.py [--triggers 40000] [--public 400] [--samples 200]

For each store (in memory, and ``--db`` in a temporary file) it starts a fresh mock on 127.0.0.1,
fills it with ``--triggers`` triggers of which ``--public`` are enabled (the in-memory store through
``POST`` of the Rocket.Chat API one by one, so that its memory is what real use leaves behind; the
SQLite store through ``POST /__mock__/triggers``, since an fsync per POST would take minutes), then
times ``--samples`` sequential ``GET`` list (default page of 50, default sort) and ``GET`` config
requests on one keep-alive connection and prints the first list's time, p50/p90 (wall clock on this
client) and the server's RSS before and after the fill. Not a timed test: figures vary with the
machine's load.
"""

from __future__ import annotations

import argparse
import http.client
import json
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mockproc import mock, rss_kib  # noqa: E402

from spec.contract import example_post_body  # noqa: E402
from spec.headers import AUTH_TOKEN_HEADER, USER_ID_HEADER  # noqa: E402
from spec.routes import CONFIG_PATH, TRIGGERS_PATH  # noqa: E402

USER_ID, TOKEN = "scaling-admin", "scaling-token"
AUTH = {USER_ID_HEADER: USER_ID, AUTH_TOKEN_HEADER: TOKEN}
JSON = {"Content-Type": "application/json"}


def trigger(index: int, public: bool) -> dict[str, object]:
    body = example_post_body()
    body.update(name=f"trigger {index:06d}", description=f"scaling trigger {index}", enabled=public)
    return body


def fill_by_posts(port: int, count: int, public: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    every = max(count // max(public, 1), 1)
    for index in range(count):
        body = json.dumps(trigger(index, public > 0 and index % every == 0)).encode()
        connection.request("POST", TRIGGERS_PATH, body=body, headers={**AUTH, **JSON})
        answer = connection.getresponse()
        answer.read()
        if answer.status != 200:
            raise RuntimeError(f"POST {index} answered {answer.status}")
    connection.close()


def fill_by_seed(port: int, count: int, public: int) -> None:
    every = max(count // max(public, 1), 1)
    seed = [
        {**trigger(index, public > 0 and index % every == 0), "_id": f"scaling{index:017d}"}
        for index in range(count)
    ]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    connection.request(
        "POST", "/__mock__/triggers?replace=true", body=json.dumps(seed).encode(), headers=JSON
    )
    answer = connection.getresponse()
    text = answer.read()
    if answer.status != 200:
        raise RuntimeError(f"seed load answered {answer.status}: {text[:200]!r}")


def timings(port: int, path: str, samples: int) -> tuple[list[float], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    times, body = [], b""
    for _ in range(samples):
        started = time.perf_counter()
        connection.request("GET", path, headers=AUTH)
        answer = connection.getresponse()
        body = answer.read()
        times.append((time.perf_counter() - started) * 1000)
        if answer.status != 200:
            raise RuntimeError(f"GET {path} answered {answer.status}")
    connection.close()
    return times, body


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * fraction), len(ordered) - 1)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triggers", type=int, default=40_000)
    parser.add_argument("--public", type=int, default=400, help="how many of them are enabled")
    parser.add_argument("--samples", type=int, default=200)
    arguments = parser.parse_args(argv)
    print(f"command: {shlex.join([sys.executable, 'bench/scaling.py', *(argv or sys.argv[1:])])}")
    print(
        f"{arguments.triggers} stored triggers, {arguments.public} of them enabled;"
        f" {arguments.samples} samples"
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="scaling-db-") as directory:
        for store, extra, fill in (
            ("memory", [], fill_by_posts),
            ("sqlite", ["--db", str(Path(directory) / "state.sqlite")], fill_by_seed),
        ):
            # The public config is rate limited per client; the figures are of its cost, not its limit.
            with mock(USER_ID, TOKEN, [*extra, "--no-rate-limit"]) as (port, pid):
                before = rss_kib(pid)
                started = time.monotonic()
                fill(port, arguments.triggers, arguments.public)
                filled_s = time.monotonic() - started
                after = rss_kib(pid)
                listed, page = timings(port, TRIGGERS_PATH, arguments.samples)
                config, public = timings(port, CONFIG_PATH, arguments.samples)
                total = json.loads(page)["total"]
                shown = len(json.loads(public)["config"]["triggers"])
                per_trigger = (after - before) * 1024 / arguments.triggers
                rows.append(
                    # The first list after the fill also merges every insert into the memory
                    # store's order (the keys are read from the rows then): shown apart.
                    f"{store:<7} first list {listed[0]:7.2f} ms"
                    f"   list p50 {statistics.median(listed):6.2f} ms"
                    f" p90 {percentile(listed, 0.9):6.2f} ms   config p50 {statistics.median(config):6.2f} ms"
                    f" p90 {percentile(config, 0.9):6.2f} ms"
                    f"   total {total:.0f}, config shows {shown}   RSS {before} -> {after} KiB"
                    f" ({per_trigger:.0f} bytes per stored trigger)   filled in {filled_s:.0f} s"
                )
                print(rows[-1], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
