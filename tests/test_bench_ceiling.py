"""The benchmark's ceiling writes the mock's answers (the claim bench/ceiling.py and bench/run.py make).

bench/README.md quotes the mock's CPU per request as a ratio of the ceiling's. That ratio measures
what the mock adds to serving HTTP only if both servers put the same status, headers and body bytes
on the wire for the benchmark's requests. Both run here as real processes on 127.0.0.1, seeded
alike, and get the benchmark's requests in the same order; only the X-Request-Id value (the mock
draws one per answer, the ceiling writes a fixed one of the same length) and the date may differ.
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from spec.routes import TRIGGERS_PATH
from tests.mockserver import REPO_ROOT, running_mock

sys.path.insert(0, str(REPO_ROOT / "bench"))
import run as bench_run  # bench/ is a directory of scripts, not a package

Answer = tuple[int, list[tuple[str, str]], bytes]


def _ask(port: int, scenario: bench_run.Scenario) -> Answer:
    headers = {
        "X-User-Id": bench_run.USER_ID,
        "X-Auth-Token": bench_run.AUTH_TOKEN,
        "Accept": "application/json",
    }
    if scenario.body is not None:
        headers["Content-Type"] = "application/json"
    connection = http.client.HTTPConnection(bench_run.HOST, port, timeout=10)
    try:
        connection.request(scenario.method, TRIGGERS_PATH, body=scenario.body, headers=headers)
        response = connection.getresponse()
        kept = [(name.lower(), value) for name, value in response.getheaders() if name.lower() != "date"]
        return response.status, kept, response.read()
    finally:
        connection.close()


@contextmanager
def _ceiling(app: str, seed: Path, log: Path) -> Iterator[int]:
    port = bench_run.free_port()
    argv = [sys.executable, str(REPO_ROOT / "bench" / "ceiling.py"), "--app", app, "--port", str(port)]
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*argv, "--seed-file", str(seed)], stdout=output, stderr=subprocess.STDOUT, cwd=REPO_ROOT
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection((bench_run.HOST, port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    printed = log.read_text(errors="replace")
                    pytest.fail(f"bench/ceiling.py --app {app} did not start: {printed}")
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(10)


@pytest.mark.parametrize("app", ["starlette", "asgi"])
def test_the_ceiling_answers_the_benchmark_requests_with_the_mocks_bytes(app: str, tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(bench_run.seed_triggers()), encoding="utf-8")
    by_key = {scenario.key: scenario for scenario in bench_run.scenarios()}
    # The list first: after a saving POST the mock lists by name, the ceiling in arrival order.
    order = [by_key["get-list"], by_key["post-valid"], by_key["post-invalid"]]
    user = f"{bench_run.USER_ID}:{bench_run.AUTH_TOKEN}:{bench_run.MOCK_PERMISSIONS}"
    with (
        running_mock("--seed-file", str(seed), "--user", user) as mock,
        _ceiling(app, seed, tmp_path / "ceiling.log") as ceiling_port,
    ):
        mock_port = int(mock.base_url.rsplit(":", 1)[1])
        for scenario in order:
            mock_status, mock_headers, mock_body = _ask(mock_port, scenario)
            status, headers, body = _ask(ceiling_port, scenario)
            assert (status, body) == (mock_status, mock_body), scenario.key
            assert mock_status == scenario.mock_status, scenario.key
            assert [name for name, _ in headers] == [name for name, _ in mock_headers], scenario.key
            for (name, value), (_, mock_value) in zip(headers, mock_headers, strict=True):
                if name == "x-request-id":
                    assert len(value) == len(mock_value), scenario.key
                else:
                    assert value == mock_value, (scenario.key, name)
