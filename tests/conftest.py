"""Shared fixtures: the ajv oracle (the real published validator, run by Node) and its report line."""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from typing import NoReturn

import pytest

from tests.oracle.client import Oracle
from tests.oracle.fetch import OracleUnavailable, ensure_oracle

# Filled by the differential tests, printed at the end of the run whatever the capture mode.
ORACLE_REPORT: list[str] = []


def running_in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def oracle_unavailable(reason: str) -> NoReturn:
    """Under CI a missing oracle is a failure; on a developer's machine the oracle tests skip."""
    if running_in_ci():
        pytest.fail(f"the ajv oracle is required under CI: {reason}", pytrace=False)
    pytest.skip(f"ajv oracle unavailable (set CI=true to make this an error): {reason}")


@pytest.fixture(scope="session")
def oracle() -> Iterator[Oracle]:
    try:
        started: Oracle | None = Oracle(ensure_oracle())
        reason = ""
    except OracleUnavailable as exc:
        started, reason = None, str(exc)
    if started is None:
        oracle_unavailable(reason)
    with started:
        yield started
    ORACLE_REPORT.append(f"ajv oracle: {started.compared} requests answered in this session")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport() -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Under CI a skipped test is a failed one: the gate must not pass on tests that did not run.

    This catches every way of skipping (``skipif`` marks, ``pytest.skip``, ``importorskip``), so a test
    needing a tool the machine lacks (chromium, curl, Node) fails with its reason instead of vanishing
    from the count. Expected failures (``xfail``) are not skips and stay as they are.
    """
    report = yield
    if running_in_ci() and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped under CI, which runs every test: {reason}"
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if ORACLE_REPORT:
        terminalreporter.section("ajv oracle differential")
        for line in ORACLE_REPORT:
            terminalreporter.write_line(line)
