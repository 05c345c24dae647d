"""The conformance run checked by mutation: it passes the faithful mock and catches every broken one.

Every server here is a real process on 127.0.0.1 and every run is the real CLI
(``python -m contract_tests``), so exit codes, output and reports are what a user gets.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.mockserver import REPO_ROOT, MockServer, run_module, running_mock, start_mock
from tests.mutant_server import predictor_reference
from tests.mutants import MOCK_PROFILE, MUTANTS

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
_PREFIX = re.compile(r"run prefix: '(rc-contract-[0-9a-f]{8})'")
_REMAIN = re.compile(r"cleanup: (\d+) triggers of this run (?:remain|may remain)")


def conformance(base_url: str, *arguments: str, timeout: float = 300.0) -> subprocess.CompletedProcess[str]:
    return run_module("contract_tests", "--base-url", base_url, "--quiet", *arguments, timeout=timeout)


def stored(server: MockServer) -> list[dict[str, object]]:
    triggers: list[dict[str, object]] = httpx.get(server.url("/__mock__/triggers"), timeout=30).json()[
        "triggers"
    ]
    return triggers


def stored_with(server: MockServer, prefix: str) -> int:
    return sum(1 for t in stored(server) if prefix in f"{t.get('name')} {t.get('description')}")


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    with running_mock("--quiet") as server:
        yield server


def test_default_run_on_the_faithful_mock_passes_with_enough_requests(
    mock: MockServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junit, report = tmp_path / "junit.xml", tmp_path / "report.md"
    result = conformance(
        mock.base_url, *CREDENTIALS, "--seed", "1", "--junit-xml", str(junit), "--report", str(report)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    match = _CHECKED.search(result.stdout)
    assert match is not None, result.stdout
    with capsys.disabled():  # shown in every test run, not only with -s
        print(f"\nfaithful mock, default run: {match.group(1)} requests checked in {match.group(2)} s")
    assert int(match.group(1)) >= 2000
    assert "profile detected: 8.3" in result.stdout
    assert _PREFIX.search(result.stderr), result.stderr  # printed before anything is written
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "0" and int(suite.get("tests", "0")) > 10
    assert suite.get("skipped") == "0"
    assert "**conformant**" in report.read_text()
    for family in ("coverage: POST body schema", "coverage: credentials", "coverage: check order"):
        assert family in result.stdout


@pytest.mark.parametrize("seed", [2, 3])
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


def test_auto_says_what_it_cannot_probe_without_a_limited_user(mock: MockServer) -> None:
    result = conformance(
        mock.base_url, "--user-id", "admin-id", "--auth-token", "admin-token", "--max-examples", "5"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "the check order is not probed" in result.stdout and "pin --profile" in result.stdout
    assert "not run: permission and check order: no --limited-user-id" in result.stdout


def test_the_run_leaves_no_trigger_behind(mock: MockServer) -> None:
    result = conformance(mock.base_url, *CREDENTIALS, "--seed", "6", "--max-examples", "10")
    assert result.returncode == 0, result.stdout + result.stderr
    assert stored(mock) == []
    assert re.search(r"cleanup: \d+ triggers of this run deleted and verified gone", result.stdout)


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
    before = stored(mock)
    result = conformance(mock.base_url, *CREDENTIALS, "--seed", "7", "--max-examples", "20")
    after = stored(mock)
    for trigger in before:
        httpx.delete(mock.url(f"/api/v1/livechat/triggers/{trigger['_id']}"), headers=headers)
    assert result.returncode == 0, result.stdout + result.stderr
    assert after == before


def test_usage_connection_credentials_and_not_this_api_exit_2(mock: MockServer, tmp_path: Path) -> None:
    report = tmp_path / "report.md"
    unreachable = conformance("http://127.0.0.1:9", *CREDENTIALS, "--report", str(report))
    assert unreachable.returncode == 2 and "cannot reach" in unreachable.stderr
    assert "Traceback" not in unreachable.stderr
    assert "Stopped early: cannot reach" in report.read_text()  # reports on exit 2 too
    wrong = conformance(mock.base_url, "--user-id", "admin-id", "--auth-token", "wrong")
    assert wrong.returncode == 2 and "401" in wrong.stderr
    missing = conformance(mock.base_url, "--report", str(report))
    assert missing.returncode == 2 and "--user-id" in missing.stderr
    assert "Stopped early: usage error: --user-id and --auth-token are required" in report.read_text()
    elsewhere = conformance(mock.url("/__mock__"), *CREDENTIALS)
    assert elsewhere.returncode == 2 and "no Livechat Triggers API" in elsewhere.stderr
    bad_prefix = conformance(mock.base_url, *CREDENTIALS, "--cleanup", "a")
    assert bad_prefix.returncode == 2 and "expected a run prefix" in bad_prefix.stderr


def _mutant_run(name: str, seed: int) -> tuple[str, int, int, str]:
    profile = MOCK_PROFILE.get(name, "8.3")
    with running_mock("--quiet", "--profile", profile, "--predictor", predictor_reference(name)) as server:
        # --profile auto: a mutant that looks like another profile must not pass as that one.
        result = conformance(
            server.base_url, *CREDENTIALS, "--seed", str(seed), "--max-examples", "15", "--no-schemathesis"
        )
    return name, seed, result.returncode, result.stdout + result.stderr


def test_every_mutant_is_reported_non_conformant_with_any_seed(capsys: pytest.CaptureFixture[str]) -> None:
    assert len(MUTANTS) >= 25
    jobs = [(name, seed) for name in sorted(MUTANTS) for seed in (1, 2)]
    # Three at a time: each pair of processes (server, run) keeps about one core busy.
    with ThreadPoolExecutor(max_workers=3) as pool:
        outcomes = list(pool.map(lambda job: _mutant_run(*job), jobs))
    with capsys.disabled():
        print(f"\n{len(outcomes)} mutant runs:")
        for name, seed, code, output in outcomes:
            first = next((line for line in output.splitlines() if line.startswith("FAIL")), "no FAIL line")
            print(f"  {name} --seed {seed}: exit {code}; {first[:150]}")
    missed = {
        f"{name} --seed {seed}": output[-2000:]
        for name, seed, code, output in outcomes
        if code != 1 or "\nFAIL [" not in output
    }
    assert not missed, f"mutants not caught (exit status other than 1): {sorted(missed)}\n{missed}"
    by_name = {(name, seed): output for name, seed, _, output in outcomes}
    # Server bugs the preflight sees are deviations (exit 1), never usage errors.
    for name in ("no-permission-check", "list-query-not-coerced"):
        assert "FAIL [preflight]" in by_name[(name, 1)], by_name[(name, 1)][-2000:]
    assert "FAIL [coverage: credentials]" in by_name[("token-ignored", 1)]


def test_a_leaking_delete_is_reported_and_the_leftovers_listed_honestly() -> None:
    with running_mock("--quiet", "--predictor", "tests.mutants:delete_leaks_when_many_stored") as server:
        result = conformance(server.base_url, *CREDENTIALS, "--seed", "1", "--max-examples", "10")
        output = result.stdout + result.stderr
        prefix_match = _PREFIX.search(result.stderr)
        assert prefix_match is not None, output
        left = stored_with(server, prefix_match.group(1))
    assert result.returncode == 1, output
    assert "FAIL [cleanup] DELETE answered success but the trigger is still listed" in output
    remain = _REMAIN.search(output)
    assert remain is not None and int(remain.group(1)) == left > 0, output[-3000:]
    assert f"python -m contract_tests --cleanup {prefix_match.group(1)} --base-url" in output


def test_a_target_failing_mid_run_gets_an_honest_account_of_what_is_left() -> None:
    with running_mock("--quiet", "--predictor", "tests.mutants:server_errors_when_many_stored") as server:
        result = conformance(server.base_url, *CREDENTIALS, "--seed", "1", "--max-examples", "20")
        output = result.stdout + result.stderr
        prefix_match = _PREFIX.search(result.stderr)
        assert prefix_match is not None, output
        left = {str(t["_id"]) for t in stored(server) if prefix_match.group(1) in str(t.get("name"))}
    assert result.returncode == 1, output[-3000:]
    assert "deleted and verified gone" not in output
    listed = re.search(
        r"cleanup: (\d+) triggers of this run may remain \(not verified gone\): ([^.]*)\.", output
    )
    unseen = re.search(r"cleanup: (\d+) more triggers this run wrote were never listed", output)
    named = set(listed.group(2).split(", ")) if listed else set()
    # Every trigger still stored is named by id, or counted among those whose ids the run never saw.
    assert len(left - named) <= (int(unseen.group(1)) if unseen else 0), output[-3000:]
    assert f"--cleanup {prefix_match.group(1)}" in output


def test_keep_leaves_the_state_and_cleanup_prefix_removes_it(mock: MockServer) -> None:
    kept = conformance(mock.base_url, *CREDENTIALS, "--seed", "8", "--max-examples", "5", "--keep")
    assert kept.returncode == 0, kept.stdout + kept.stderr
    prefix_match = _PREFIX.search(kept.stderr)
    assert prefix_match is not None
    prefix = prefix_match.group(1)
    left = stored_with(mock, prefix)
    assert left > 0 and f"--keep: the {left} triggers of this run are left in place" in kept.stdout
    cleaned = conformance(mock.base_url, *CREDENTIALS, "--cleanup", prefix)
    assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr
    assert f"{left} triggers named {prefix!r} deleted and verified gone" in cleaned.stdout
    assert stored_with(mock, prefix) == 0


def test_a_hanging_target_stops_the_run_fast_with_exit_2_and_reports(tmp_path: Path) -> None:
    server = start_mock("--quiet", "--predictor", "tests.mutants:hangs_when_many_stored")
    junit, report = tmp_path / "junit.xml", tmp_path / "report.md"
    try:
        started = time.monotonic()
        result = conformance(
            server.base_url,
            *CREDENTIALS,
            "--seed",
            "1",
            "--timeout",
            "1",
            "--junit-xml",
            str(junit),
            "--report",
            str(report),
        )
        elapsed = time.monotonic() - started
    finally:
        server.stop(kill=True)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "transport errors in a row" in output
    assert _PREFIX.search(result.stderr)
    # 3 timeouts stop the checks and one more ends the cleanup (not 13-16 timeouts); a wide margin for load.
    assert elapsed < 40, output
    assert "may remain (not verified gone)" in output and "--cleanup rc-contract-" in output
    assert "Stopped early: stopped after 3 transport errors in a row" in report.read_text()
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and int(suite.get("skipped", "0")) > 0


def test_max_time_bounds_the_run(mock: MockServer) -> None:
    started = time.monotonic()
    result = conformance(mock.base_url, *CREDENTIALS, "--seed", "9", "--max-time", "5")
    elapsed = time.monotonic() - started
    output = result.stdout + result.stderr
    assert result.returncode == 2, output  # nothing wrong found, but not everything checked
    assert "--max-time 5 s reached" in output and "INCOMPLETE" in output
    assert elapsed < 5 + 15, output  # the interpreter's start-up and imports come on top
    remain = _REMAIN.search(output)
    prefix_match = _PREFIX.search(result.stderr)
    assert prefix_match is not None
    assert stored_with(mock, prefix_match.group(1)) == (int(remain.group(1)) if remain else 0)


def test_two_interrupts_still_account_for_every_trigger_left(mock: MockServer, tmp_path: Path) -> None:
    report = tmp_path / "report.md"
    command = [sys.executable, "-m", "contract_tests", "--base-url", mock.base_url, "--quiet"]
    process = subprocess.Popen(
        [*command, *CREDENTIALS, "--seed", "10", "--report", str(report)],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any("rc-contract-" in f"{t.get('name')}" for t in stored(mock)):
        time.sleep(0.05)
    time.sleep(0.5)  # in the middle of the writing families
    process.send_signal(signal.SIGINT)
    time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    output = stdout + stderr
    assert process.returncode == 130, output
    prefix_match = _PREFIX.search(stderr)
    assert prefix_match is not None, output
    left = stored_with(mock, prefix_match.group(1))
    remain = _REMAIN.search(output)
    assert (int(remain.group(1)) if remain else 0) == left, output[-3000:]
    assert report.exists() and "Stopped early: interrupted" in report.read_text()
    for trigger in stored(mock):
        httpx.delete(mock.url(f"/api/v1/livechat/triggers/{trigger['_id']}"), headers=mock.auth("admin"))


def test_every_mutant_name_loads_as_a_mock_predictor() -> None:
    from mock_server.app import load_predictor

    for name, function in MUTANTS.items():
        assert load_predictor(predictor_reference(name)) is function
    refused = run_module("tests.mutant_server", "--mutant", "no-such-mutant")
    assert refused.returncode == 2 and "invalid choice" in refused.stderr
