"""The conformance run checked by mutation: it passes the faithful mock and catches every broken one.

Every server here is a real process on 127.0.0.1 and every run is the real CLI
(``python -m contract_tests``), so exit codes, output and reports are what a user gets.
"""

from __future__ import annotations

import re
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.mockserver import MockServer, run_module, running_mock
from tests.mutant_server import predictor_reference
from tests.mutants import MUTANTS

pytestmark = pytest.mark.http

# The default users of tests.mockserver: "admin" may do everything, "agent" nothing.
CREDENTIALS = (
    "--user-id",
    "admin-id",
    "--auth-token",
    "admin-token",
    "--limited-user-id",
    "agent-id",
    "--limited-auth-token",
    "agent-token",
)
_CHECKED = re.compile(r"(\d+) requests checked in ([\d.]+) s")


def conformance(base_url: str, *arguments: str, timeout: float = 240.0) -> subprocess.CompletedProcess[str]:
    return run_module("contract_tests", "--base-url", base_url, "--quiet", *arguments, timeout=timeout)


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    with running_mock("--quiet") as server:
        yield server


def test_default_run_on_the_faithful_mock_passes_fast_with_enough_requests(
    mock: MockServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junit, report = tmp_path / "junit.xml", tmp_path / "report.md"
    result = conformance(
        mock.base_url, *CREDENTIALS, "--seed", "1", "--junit-xml", str(junit), "--report", str(report)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    match = _CHECKED.search(result.stdout)
    assert match is not None, result.stdout
    checked, seconds = int(match.group(1)), float(match.group(2))
    with capsys.disabled():  # shown in every test run, not only with -s
        print(f"\nfaithful mock, default run: {checked} requests checked in {seconds:.1f} s")
    assert checked >= 2000
    assert seconds <= 30.0
    assert "profile detected: 8.3" in result.stdout
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "0" and int(suite.get("tests", "0")) > 10
    assert "**conformant**" in report.read_text()


@pytest.mark.parametrize("seed", [2, 3, 4])
def test_other_seeds_pass_on_the_faithful_mock(mock: MockServer, seed: int) -> None:
    result = conformance(
        mock.base_url, *CREDENTIALS, "--seed", str(seed), "--max-examples", "40", "--workers", "2"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout


@pytest.mark.parametrize("profile", ["7.5", "7.4", "6.13"])
def test_older_profiles_are_detected_and_pass(profile: str) -> None:
    with running_mock("--quiet", "--profile", profile) as server:
        result = conformance(server.base_url, *CREDENTIALS, "--seed", "5", "--max-examples", "20")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"profile detected: {profile}" in result.stdout


def test_the_run_leaves_no_trigger_behind(mock: MockServer) -> None:
    result = conformance(mock.base_url, *CREDENTIALS, "--seed", "6", "--max-examples", "10")
    assert result.returncode == 0, result.stdout + result.stderr
    listing = httpx.get(mock.url("/api/v1/livechat/triggers?count=0"), headers=mock.auth("admin")).json()
    assert listing["total"] == 0


def test_foreign_triggers_are_tolerated_and_never_touched(mock: MockServer) -> None:
    headers = {**mock.auth("admin"), "Content-Type": "application/json"}
    foreign = {
        "name": "someone else's",
        "description": "d",
        "enabled": True,
        "runOnce": False,
        "conditions": [{"name": "page-url", "value": "x"}],
        "actions": [{"name": "send-message"}],
    }
    assert httpx.post(mock.url("/api/v1/livechat/triggers"), json=foreign, headers=headers).status_code == 200
    before = httpx.get(mock.url("/api/v1/livechat/triggers?count=0"), headers=headers).json()["triggers"]
    result = conformance(mock.base_url, *CREDENTIALS, "--seed", "7", "--max-examples", "20")
    after = httpx.get(mock.url("/api/v1/livechat/triggers?count=0"), headers=headers).json()["triggers"]
    for trigger in before:
        httpx.delete(mock.url(f"/api/v1/livechat/triggers/{trigger['_id']}"), headers=headers)
    assert result.returncode == 0, result.stdout + result.stderr
    assert after == before


def test_usage_and_connection_errors_exit_2(mock: MockServer) -> None:
    unreachable = conformance("http://127.0.0.1:9", *CREDENTIALS)
    assert unreachable.returncode == 2 and "cannot reach" in unreachable.stderr
    assert "Traceback" not in unreachable.stderr
    wrong = conformance(mock.base_url, "--user-id", "admin-id", "--auth-token", "wrong")
    assert wrong.returncode == 2 and "401" in wrong.stderr
    missing = conformance(mock.base_url)
    assert missing.returncode == 2 and "--user-id" in missing.stderr


def _catches(name: str) -> tuple[str, int, str]:
    # The mock itself loads the mutant predictor (what `python -m tests.mutant_server --mutant NAME` does).
    with running_mock("--quiet", "--predictor", predictor_reference(name)) as server:
        # The profile the mock runs: with "auto" a mutant that equals another profile would pass as that one.
        result = conformance(
            server.base_url, *CREDENTIALS, "--seed", "1", "--max-examples", "30", "--profile", "8.3"
        )
    return name, result.returncode, result.stdout + result.stderr


def test_every_mutant_is_reported_non_conformant(capsys: pytest.CaptureFixture[str]) -> None:
    assert len(MUTANTS) >= 15
    # Three at a time: each pair of processes (server, run) keeps about one core busy.
    with ThreadPoolExecutor(max_workers=3) as pool:
        outcomes = list(pool.map(_catches, sorted(MUTANTS)))
    with capsys.disabled():
        print(f"\n{len(outcomes)} mutants:")
        for name, code, output in outcomes:
            first = next((line for line in output.splitlines() if line.startswith("FAIL")), "no FAIL line")
            print(f"  {name}: exit {code}; {first}")
    missed = {
        name: output[-2000:] for name, code, output in outcomes if code != 1 or "\nFAIL [" not in output
    }
    assert not missed, f"mutants not caught (exit status other than 1): {sorted(missed)}\n{missed}"


def test_every_mutant_name_loads_as_a_mock_predictor() -> None:
    from mock_server.app import load_predictor

    for name, function in MUTANTS.items():
        assert load_predictor(predictor_reference(name)) is function
    refused = run_module("tests.mutant_server", "--mutant", "no-such-mutant")
    assert refused.returncode == 2 and "invalid choice" in refused.stderr
