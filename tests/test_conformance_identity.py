"""The conformance run's log-in, external-service and shared-change families, checked by mutation:
they pass the faithful mock, restore what they changed, and catch every broken rule of
``tests.mutants.WEBHOOK_MUTANTS`` (the default-run mutants of these routes are in ``MUTANTS`` and run
by tests/test_conformance_run.py). Real mock processes on 127.0.0.1, the real CLI."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from spec.permissions import BYPASS_RATE_LIMIT, DEFAULT_ROLE_TABLE, MANAGE_TRIGGERS
from spec.routes import LOGIN_PATH, PERMISSIONS_LIST_ALL_PATH, setting_path
from spec.settings import LIVECHAT_SECRET_TOKEN
from tests.mockserver import MockServer, run_module, running_mock
from tests.mutants import WEBHOOK_MUTANTS

pytestmark = pytest.mark.http

ACCOUNT = ("run-admin", "run-admin-password")
USERS = (
    "--user",
    f"admin-id:admin-token:{MANAGE_TRIGGERS},{BYPASS_RATE_LIMIT}",
    "--user",
    "agent-id:agent-token",
    "--account",
    f"{ACCOUNT[0]}:{ACCOUNT[1]}:admin",
)
CREDENTIALS = (
    *("--user-id", "admin-id", "--auth-token", "admin-token"),
    *("--limited-user-id", "agent-id", "--limited-auth-token", "agent-token"),
)
LOGIN = ("--login-user", ACCOUNT[0], "--login-password", ACCOUNT[1])
FAST = ("--seed", "1", "--max-examples", "10", "--no-schemathesis", "--profile", "8.3")


def conformance(server: MockServer, *arguments: str) -> subprocess.CompletedProcess[str]:
    return run_module(
        "contract_tests", "--base-url", server.base_url, *CREDENTIALS, *FAST, *arguments, timeout=240.0
    )


def _session(client: httpx.Client) -> dict[str, str]:
    data = client.post(LOGIN_PATH, json={"user": ACCOUNT[0], "password": ACCOUNT[1]}).json()["data"]
    return {"X-User-Id": data["userId"], "X-Auth-Token": data["authToken"]}


def _shared_state(server: MockServer) -> tuple[object, object]:
    with server.client() as client:
        headers = _session(client)
        token = client.get(setting_path(LIVECHAT_SECRET_TOKEN), headers=headers).json()["value"]
        listed = client.get(PERMISSIONS_LIST_ALL_PATH, headers=headers).json()["update"]
    roles = next(p["roles"] for p in listed if p["_id"] == MANAGE_TRIGGERS)
    return token, roles


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    with running_mock(*USERS, "--quiet") as server:
        yield server


def test_the_families_pass_the_faithful_mock_and_restore_what_they_changed(mock: MockServer) -> None:
    before = _shared_state(mock)
    result = conformance(mock, *LOGIN, "--allow-shared-changes")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for family in ("log-in flow", "external-service routes", "permission and setting changes"):
        assert f"not run: {family}" not in output
        assert family in output
    assert "COULD NOT RESTORE" not in output
    assert _shared_state(mock) == before == ("", list(DEFAULT_ROLE_TABLE[MANAGE_TRIGGERS]))


def test_without_the_options_the_families_say_why_they_did_not_run(mock: MockServer) -> None:
    result = conformance(mock)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "log-in flow not checked: no --login-user/--login-password" in result.stdout
    assert "permission and setting changes not checked: only with --allow-shared-changes" in result.stdout
    assert "Livechat_secret_token is empty on the target, so no webhook call was checked" in result.stdout


def test_a_restore_that_fails_is_reported_loudly_with_the_request_that_restores() -> None:
    with running_mock(*USERS, "--quiet", "--predictor", "tests.mutants:restore_refused") as server:
        result = conformance(server, *LOGIN, "--allow-shared-changes")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert f"!!! COULD NOT RESTORE the roles of {MANAGE_TRIGGERS}" in output
    assert "permissions.update" in output and '"roles":["livechat-manager"' in output


def _catches(name: str) -> tuple[str, int, str]:
    predictor = f"tests.mutants:{WEBHOOK_MUTANTS[name].__name__}"
    with running_mock(*USERS, "--quiet", "--predictor", predictor) as server:
        result = conformance(server, *LOGIN, "--allow-shared-changes")
    return name, result.returncode, result.stdout + result.stderr


def test_every_webhook_mutant_is_reported_non_conformant(capsys: pytest.CaptureFixture[str]) -> None:
    with ThreadPoolExecutor(max_workers=3) as pool:
        outcomes = list(pool.map(_catches, sorted(WEBHOOK_MUTANTS)))
    with capsys.disabled():
        print(f"\n{len(outcomes)} webhook and log-in mutants:")
        for name, code, output in outcomes:
            first = next((line for line in output.splitlines() if line.startswith("FAIL")), "no FAIL line")
            print(f"  {name}: exit {code}; {first}")
    missed = {
        name: output[-2000:] for name, code, output in outcomes if code != 1 or "\nFAIL [" not in output
    }
    assert not missed, f"mutants not caught: {sorted(missed)}\n{missed}"
