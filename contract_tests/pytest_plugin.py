"""pytest integration: ``pytest --pyargs contract_tests --base-url URL --user-id ID --auth-token TOKEN``.

Installed as the ``rc_triggers_contract`` pytest11 plugin, so it is loaded by *every* pytest run in an
environment where this project is installed. It therefore only adds options and a fixture; without a
base URL nothing runs and nothing is collected from it (the tests in
``contract_tests/test_conformance.py`` skip).

The options are the CLI's (``contract_tests.options.OPTIONS``: same defaults, same validation), spelled
``--rc-NAME`` for the CLI's ``--NAME``. ``--base-url`` belongs to pytest-base-url when it is installed
(pytest-playwright and pytest-selenium pull it in); its value is used then, and ``--rc-base-url`` is
always there.

The conformance run happens once per session (fixture ``conformance_results``); each test then asserts
that one group of check families found no deviation, and prints the deviations when it did.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from contract_tests.options import OPTIONS, names_in_pytest, options_from_values

if TYPE_CHECKING:
    from contract_tests.report import Results
    from contract_tests.runner import Options

# The run itself (Schemathesis, Hypothesis, httpx) is the [conformance] extra. Every pytest run in an
# environment with this project installed loads this plugin, so it imports the run only once asked to
# check a server: pytest keeps working where only the mock is installed.
CONFORMANCE_EXTRA = "pip install 'rc-triggers-contract[conformance]'"

__all__ = ["add_options", "conformance_options", "conformance_results", "pytest_addoption"]

GROUP = "rc-triggers conformance (contract_tests)"
BASE_URL_PLUGIN = "pytest_base_url"
"""pytest-base-url's module: when it is installed, ``--base-url`` is that plugin's option."""


def _base_url_plugin_installed() -> bool:
    return importlib.util.find_spec(BASE_URL_PLUGIN) is not None


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("rc-triggers", GROUP)
    for option in OPTIONS:
        names = names_in_pytest(option)
        if option.dest == "base_url" and not _base_url_plugin_installed():
            names.append(option.name)
        kwargs: dict[str, Any] = {"dest": "rc_" + option.dest, "help": option.help_text()}
        if option.flag:
            kwargs["action"] = "store_true"
        else:
            kwargs |= {"default": option.resolved_default(), "type": option.type, "choices": option.choices}
        group.addoption(*names, **kwargs)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def conformance_options(config: pytest.Config) -> Options | None:
    """The run's options from the command line, or ``None`` when no base URL is given."""
    values = {option.dest: config.getoption("rc_" + option.dest) for option in OPTIONS}
    if not values["base_url"]:
        values["base_url"] = config.getoption("base_url", default=None)  # pytest-base-url's, if loaded
    if not values["base_url"]:
        return None
    try:
        from contract_tests.runner import UsageError
    except ModuleNotFoundError as exc:
        raise pytest.UsageError(
            f"a base URL needs {exc.name}, which is not installed: {CONFORMANCE_EXTRA}"
        ) from None
    try:
        return options_from_values(values)
    except UsageError as error:
        raise pytest.UsageError(f"rc-triggers conformance: {error}") from None


@pytest.fixture(scope="session")
def conformance_results(request: pytest.FixtureRequest) -> Iterator[Results]:
    """Run the conformance checks once against the base URL; skip when it is not given."""
    options = conformance_options(request.config)
    if options is None:
        pytest.skip("no --base-url/--rc-base-url: the conformance checks need a server")
    from contract_tests.report import markdown_report, summary_table, write_junit
    from contract_tests.runner import Runner

    runner = Runner(options, log=lambda line: None)
    results = runner.run()
    if options.report is not None:
        options.report.parent.mkdir(parents=True, exist_ok=True)
        options.report.write_text(markdown_report(results, options.base_url), encoding="utf-8")
    if options.junit_xml is not None:
        write_junit(results, options.junit_xml)
    if runner.stop_kind in ("usage", "connection"):
        pytest.exit(f"rc-triggers conformance: {results.stopped}", returncode=2)
    print("\n" + summary_table(results))
    yield results
