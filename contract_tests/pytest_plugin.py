"""pytest integration: ``pytest --pyargs contract_tests --base-url URL --user-id ID --auth-token TOKEN``.

Installed as the ``rc_triggers_contract`` pytest11 plugin, so it is loaded by *every* pytest run in an
environment where this project is installed. It therefore only adds options and a fixture; without
``--base-url`` nothing runs and nothing is collected from it (the tests in
``contract_tests/test_conformance.py`` skip).

The conformance run happens once per session (fixture ``conformance_results``); each test then asserts
that one group of check families found no deviation, and prints the deviations when it did.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from spec.headers import AUTH_TOKEN_HEADER, USER_ID_HEADER
from spec.permissions import MANAGE_TRIGGERS
from spec.profiles import PROFILES

if TYPE_CHECKING:
    from contract_tests.report import Results
    from contract_tests.runner import Options

# The run itself (Schemathesis, Hypothesis, httpx) is the [conformance] extra. Every pytest run in an
# environment with this project installed loads this plugin, so it imports the run only once asked to
# check a server: pytest keeps working where only the mock is installed.
CONFORMANCE_EXTRA = "pip install 'rc-triggers-contract[conformance]'"

__all__ = ["add_options", "conformance_options", "conformance_results", "pytest_addoption"]

GROUP = "rc-triggers conformance (contract_tests)"


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("rc-triggers", GROUP)
    env = os.environ.get

    def option(name: str, **kwargs: object) -> None:
        # Another plugin (e.g. pytest-base-url) may define it already, with the same meaning.
        with contextlib.suppress(ValueError):
            group.addoption(name, **kwargs)

    option("--base-url", default=None, help="server to check; without it this plugin does nothing")
    option("--user-id", default=env("RC_USER_ID"), help=f"{USER_ID_HEADER} of a user with {MANAGE_TRIGGERS}")
    option("--auth-token", default=env("RC_AUTH_TOKEN"), help=f"that user's {AUTH_TOKEN_HEADER}")
    option("--limited-user-id", default=env("RC_LIMITED_USER_ID"), help="a user without the permission")
    option("--limited-auth-token", default=env("RC_LIMITED_AUTH_TOKEN"), help="that user's token")
    option(
        "--rc-profile", default="auto", choices=["auto", *PROFILES], help="version profile (default: auto)"
    )
    option("--rc-seed", type=int, default=0, help="Hypothesis seed of the conformance run (default: 0)")
    option("--rc-max-examples", type=int, default=100, help="requests per check family (default: 100)")
    option("--rc-workers", type=int, default=2, help="threads for stateless families (default: 2)")
    option("--rc-allow-enabled", action="store_true", help="let created triggers be enabled")
    option("--rc-report", type=Path, default=None, help="also write the Markdown report here")
    option("--rc-junit-xml", type=Path, default=None, help="also write the run's own JUnit XML here")


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def conformance_options(config: pytest.Config) -> Options | None:
    """The run's options from the command line, or ``None`` when ``--base-url`` is not given."""
    base_url = config.getoption("--base-url", default=None)
    if not base_url:
        return None
    user_id, token = config.getoption("--user-id"), config.getoption("--auth-token")
    if not user_id or not token:
        raise pytest.UsageError("--base-url needs --user-id and --auth-token (or RC_USER_ID/RC_AUTH_TOKEN)")
    try:
        from contract_tests.runner import Options
    except ModuleNotFoundError as exc:
        raise pytest.UsageError(
            f"--base-url needs {exc.name}, which is not installed: {CONFORMANCE_EXTRA}"
        ) from None
    return Options(
        base_url=str(base_url).rstrip("/"),
        user_id=user_id,
        auth_token=token,
        limited_user_id=config.getoption("--limited-user-id"),
        limited_auth_token=config.getoption("--limited-auth-token"),
        profile=config.getoption("--rc-profile"),
        seed=config.getoption("--rc-seed"),
        max_examples=config.getoption("--rc-max-examples"),
        workers=config.getoption("--rc-workers"),
        allow_enabled=config.getoption("--rc-allow-enabled"),
        report=config.getoption("--rc-report"),
        junit_xml=config.getoption("--rc-junit-xml"),
    )


@pytest.fixture(scope="session")
def conformance_results(request: pytest.FixtureRequest) -> Iterator[Results]:
    """Run the conformance checks once against ``--base-url``; skip when it is not given."""
    options = conformance_options(request.config)
    if options is None:
        pytest.skip("no --base-url: the conformance checks need a server")
    from contract_tests.report import markdown_report, summary_table, write_junit
    from contract_tests.runner import Runner, UsageError

    try:
        results = Runner(options, log=lambda line: None).run()
    except UsageError as error:
        pytest.exit(f"rc-triggers conformance: {error}", returncode=2)
    if options.report is not None:
        options.report.write_text(markdown_report(results, options.base_url), encoding="utf-8")
    if options.junit_xml is not None:
        write_junit(results, options.junit_xml)
    print("\n" + summary_table(results))
    yield results
