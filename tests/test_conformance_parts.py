"""The conformance run's parts: checks, diffs, curl reproducers, rate-limit waits, reports, pytest plugin."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from contract_tests.checks import Observed, body_diff, exact_problems, inferred_explains
from contract_tests.client import RateLimitExhausted, RateLimitWait, Transport, curl_command
from contract_tests.model import NOT_A_BOOLEAN, LiveModel, is_disabled_everywhere
from contract_tests.report import EXAMPLES_PER_KIND, Deviation, Results, markdown_report, write_junit
from spec.contract import validate_post_body
from spec.model import Answer, Request, User
from tests.mockserver import REPO_ROOT, MockServer, running_mock

JSON = (("content-type", "application/json"), ("cache-control", "no-store"), ("pragma", "no-cache"))


def observed(status: int, body: bytes, headers: tuple[tuple[str, str], ...] = JSON) -> Observed:
    return Observed(status, body, headers, 0.01)


def test_exact_checks_name_each_difference() -> None:
    expected = Answer(200, b'{"trigger":null,"success":true}', JSON)
    assert exact_problems(expected, observed(200, b'{"trigger":null,"success":true}')) == []
    problems = exact_problems(expected, observed(404, b'{"success":false}', JSON[:1]))
    assert problems[0] == "status: expected 200, got 404"
    assert "$.trigger: missing" in problems[1]
    assert "header cache-control: expected 'no-store', got None" in problems


def test_body_diff_reports_key_order_and_formatting() -> None:
    assert "key order" in body_diff(b'{"a":1,"success":true}', b'{"success":true,"a":1}')
    assert "same JSON value, different bytes" in body_diff(b'{"a":1}', b'{"a": 1}')
    assert "differs at byte 1" in body_diff(b"<html>", b"<HTML>")


def test_only_order_is_excused_by_ties() -> None:
    expected = Answer(
        200, b'{"triggers":[{"n":1},{"n":2}],"count":2,"success":true}', JSON, inferred=("sort-order",)
    )
    reordered = observed(200, b'{"triggers":[{"n":2},{"n":1}],"count":2,"success":true}')
    assert inferred_explains(expected, reordered)
    shorter = observed(200, b'{"triggers":[{"n":2}],"count":1,"success":true}')
    assert not inferred_explains(expected, shorter)
    rate_limit = Answer(429, b"{}", JSON, inferred=("rate-limit",))
    assert inferred_explains(rate_limit, observed(200, b"{}"))


VALID = {
    "name": "n",
    "description": "d",
    "enabled": "true",
    "runOnce": False,
    "conditions": [{"name": "page-url", "value": "x"}],
    "actions": [{"name": "send-message"}],
}


def test_tagging_marks_and_disables_under_any_reading() -> None:
    model = LiveModel(User("a", "b"), None, "rc-contract-test ")
    tagged = model.tag(VALID)
    assert tagged["name"].startswith("rc-contract-test 0") and tagged["enabled"] is False
    assert model.is_own(tagged)
    # The mistake is the name: enabled becomes the JSON boolean false, the name mistake stays.
    invalid = model.tag({**VALID, "name": {}, "enabled": "yes"})
    assert invalid["name"] == {} and invalid["description"].startswith("rc-contract-test 0")
    assert invalid["enabled"] is False
    # The mistake is enabled itself: it stays a mistake, but one no server reads as true.
    wrong_type = model.tag({**VALID, "enabled": "yes"})
    assert wrong_type["enabled"] == NOT_A_BOOLEAN
    assert not validate_post_body(wrong_type).valid
    # Coercible strings ("false" is truthy to a server that stores it as sent) become false.
    assert model.tag({**VALID, "enabled": "false"})["enabled"] is False
    for falsy in (False, 0, None, ""):
        assert model.tag({**VALID, "enabled": falsy})["enabled"] == falsy
        assert is_disabled_everywhere(falsy)
    assert not is_disabled_everywhere("false") and not is_disabled_everywhere([])
    assert not model.is_markable({"name": 1, "description": 2})
    assert LiveModel(User("a", "b"), None, "p ", allow_enabled=True).tag(VALID)["enabled"] == "true"


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    with running_mock("--quiet") as server:
        yield server


@pytest.mark.http
@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize(
    ("body", "status"),
    [(b'{"name":{}}', b"400"), (b'{"description":"caf\xc3\xa9 \\n"}', b"400"), (b'{"name":"\xff"}', b"400")],
)
def test_curl_reproducer_sends_the_same_request(mock: MockServer, body: bytes, status: bytes) -> None:
    admin = mock.users["admin"]
    request = Request(
        "POST",
        "/api/v1/livechat/triggers",
        "",
        (("X-User-Id", admin.user_id), ("X-Auth-Token", admin.token), ("Content-Type", "application/json")),
        body,
    )
    command = curl_command(
        mock.base_url, request, {admin.token: "RC_AUTH_TOKEN", admin.user_id: "RC_USER_ID"}
    )
    assert admin.token not in command
    environment = {**os.environ, "RC_AUTH_TOKEN": admin.token, "RC_USER_ID": admin.user_id}
    output = subprocess.run(["bash", "-c", command], capture_output=True, env=environment, check=True).stdout
    assert output.startswith(b"HTTP/1.1 " + status)
    assert b"must have required property" in output


@pytest.mark.http
def test_an_unexpected_429_is_waited_out_within_the_budget() -> None:
    # "manager" may manage triggers but is rate limited: the 11th call in a minute gets a 429.
    with running_mock("--quiet") as server:
        waits: list[RateLimitWait] = []
        slept: list[float] = []
        transport = Transport(
            server.base_url, rate_limit_budget_seconds=90, on_wait=waits.append, sleep=slept.append
        )
        manager = server.users["manager"]
        request = Request(
            "GET",
            "/api/v1/livechat/triggers",
            "",
            (("X-User-Id", manager.user_id), ("X-Auth-Token", manager.token)),
        )
        for _ in range(10):
            assert transport.send(request).status == 200
        assert transport.send(request, expect_rate_limit=True).status == 429
        # The sleep is recorded, not taken: the limiter still answers 429, so the budget runs out.
        with pytest.raises(RateLimitExhausted, match="api-bypass-rate-limit"):
            transport.send(request)
        transport.close()
    assert len(waits) == 1 and 50 <= slept[0] <= 65


def _deviation(family: str, problems: tuple[str, ...], severity: str = "failure") -> Deviation:
    return Deviation(family, severity, "POST /x", problems, "curl …", 7)  # type: ignore[arg-type]


def test_every_distinct_deviation_is_counted_under_its_kind() -> None:
    results = Results()
    for value in range(5):  # the same kind with different values: one kind, five times
        results.add(_deviation("f", (f'body: $.error: expected "a{value}", got "b"',)))
    results.add(_deviation("f", ("status: expected 400, got 200", "body: $.success: expected false")))
    results.add(_deviation("f", ("header cache-control: expected None, got 'no-store'",)))
    two_paths = 'body: $.actions[3].params: expected 1, got 2; $.name: missing (expected "x")'
    results.add(_deviation("g", (two_paths,)))
    kinds = {(kind.family, kind.name): kind for kind in results.failures}
    assert set(kinds) == {
        ("f", "body: $.error"),
        ("f", "status: expected 400, got 200"),  # a wrong status is the kind: the body differs with it
        ("f", "header cache-control: expected None, got 'no-store'"),
        ("g", "body: $.actions[].params, $.name"),
    }
    assert kinds[("f", "body: $.error")].count == 5
    assert len(kinds[("f", "body: $.error")].examples) == EXAMPLES_PER_KIND
    assert results.families["f"].failed == 7


def test_reports_are_valid_junit_and_markdown(tmp_path: Path) -> None:
    results = Results(profile="8.3", seed=7, prefix="rc-contract-0123abcd ")
    planned = ("POST invalid: empty-array", "GET list queries", "GET by id", "permission and check order")
    for family in planned:
        results.plan(family)
    results.plan("schemathesis", "--no-schemathesis")
    results.count("POST invalid: empty-array", 3)
    results.count("GET list queries", 2)
    results.count("GET by id", 2)
    results.add(_deviation("POST invalid: empty-array", ("status: expected 400, got 200",)))
    results.add(_deviation("POST invalid: empty-array", ("header pragma: expected None, got 'no-cache'",)))
    results.add(_deviation("POST invalid: empty-array", ("header pragma: expected None, got 'no-cache'",)))
    for _ in range(4):
        warning = Deviation("GET list queries", "warning", "GET /x", ("body: …",), inferred=("sort-order",))
        results.add(warning)
    junit = tmp_path / "junit.xml"
    write_junit(results, junit)
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("6", "2", "2")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    status = cases["POST invalid: empty-array: status: expected 400, got 200"].find("failure")
    assert status is not None and "curl …" in (status.text or "")
    assert status.get("message") == "status: expected 400, got 200: status: expected 400, got 200"
    header = cases["POST invalid: empty-array: header pragma: expected None, got 'no-cache'"].find("failure")
    assert header is not None and "(2 times)" in (header.text or "")
    for name, reason in (("schemathesis", "--no-schemathesis"), ("permission and check order", "nothing")):
        skipped = cases[name].find("skipped")
        assert skipped is not None and reason in (skipped.get("message") or "")
    assert cases["GET by id"].find("failure") is None and cases["GET by id"].find("skipped") is None
    run_output = suite.find("system-out")
    # Each kind of warning once, in the run's output.
    assert run_output is not None and (run_output.text or "").count("[GET list queries]") == 1
    report = markdown_report(results, "http://server")
    assert "**NOT conformant**" in report and "| POST invalid: empty-array | 3 | 3 | 0 |" in report
    assert "## Warnings (inferred behaviour)" in report and "(4 times)" in report
    assert "Run prefix: `rc-contract-0123abcd`" in report and "## Not run" in report


def _fake_installation(directory: Path) -> Path:
    """A dist-info on the path that declares the plugin, as ``pip install`` of this project would."""
    info = directory / "rc_triggers_contract-0.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: rc-triggers-contract\nVersion: 0.0\n")
    (info / "entry_points.txt").write_text(
        "[pytest11]\nrc_triggers_contract = contract_tests.pytest_plugin\n"
    )
    return directory


@pytest.mark.parametrize("installed", [False, True], ids=["not-installed", "installed"])
def test_the_pytest_plugin_does_nothing_without_base_url(tmp_path: Path, installed: bool) -> None:
    path = [str(REPO_ROOT)] + ([str(_fake_installation(tmp_path / "site"))] if installed else [])
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    if not installed:
        # The project itself may be installed in this environment (./dev installs it): keep its entry
        # point out so that only the explicit -p loads the plugin.
        environment["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    tests = tmp_path / "plain"
    tests.mkdir()
    (tests / "test_plain.py").write_text("def test_plain():\n    assert True\n")
    # Installed, the entry point loads the plugin (as rc_triggers_contract); otherwise load it by hand.
    load = [] if installed else ["-p", "contract_tests.pytest_plugin"]
    plain = subprocess.run(
        [sys.executable, "-m", "pytest", *load, "-q", "-p", "no:cacheprovider", str(tests)],
        cwd=tests,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert "1 passed" in plain.stdout
    listed = subprocess.run(
        [sys.executable, "-m", "pytest", *load, "--help"],
        check=True,
        cwd=tests,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert "--limited-auth-token" in listed.stdout
    skipped = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--pyargs", "contract_tests"],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "9 skipped" in skipped.stdout, skipped.stdout + skipped.stderr
