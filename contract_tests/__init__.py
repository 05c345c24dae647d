"""Conformance run: checks any server against the Livechat Triggers contract (``spec.predict``).

CLI: ``python -m contract_tests`` / ``rc-triggers-conformance``; pytest: ``pytest --pyargs contract_tests
--base-url URL ...``; Python: ``contract_tests.run(Options(...))`` returns the ``Results``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spec.lazy import lazy_attributes

if TYPE_CHECKING:
    from contract_tests.report import Deviation, Results
    from contract_tests.runner import Options, Runner, UsageError, run

__all__ = ["Deviation", "Options", "Results", "Runner", "UsageError", "run"]

# Imported on first use: the pytest11 entry point (contract_tests.pytest_plugin) imports this package in
# every pytest run, also where the [conformance] extra (Schemathesis, Hypothesis) is not installed.
_HOMES = {
    "Deviation": "contract_tests.report",
    "Results": "contract_tests.report",
    "Options": "contract_tests.runner",
    "Runner": "contract_tests.runner",
    "UsageError": "contract_tests.runner",
    "run": "contract_tests.runner",
}

__getattr__ = lazy_attributes(__name__, _HOMES)
