"""Shared fixtures: the ajv oracle (the real published validator, run by Node) and its report line."""

from __future__ import annotations

import os
from collections.abc import Iterator
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


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if ORACLE_REPORT:
        terminalreporter.section("ajv oracle differential")
        for line in ORACLE_REPORT:
            terminalreporter.write_line(line)
