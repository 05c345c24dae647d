"""Makes ``pytest --pyargs contract_tests`` work when the project is not installed (no entry point)."""

from __future__ import annotations

import pytest

from contract_tests.pytest_plugin import add_options, conformance_results

__all__ = ["conformance_results"]


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    # Installed, the rc_triggers_contract plugin has added the options already.
    if not pluginmanager.has_plugin("rc_triggers_contract"):
        add_options(parser)
