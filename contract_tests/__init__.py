"""Conformance run: checks any server against the Livechat Triggers contract (``spec.predict``).

CLI: ``python -m contract_tests`` / ``rc-triggers-conformance``; pytest: ``pytest --pyargs contract_tests
--base-url URL ...``; Python: ``contract_tests.run(Options(...))`` returns the ``Results``.
"""

from contract_tests.report import Deviation, Results
from contract_tests.runner import Options, Runner, UsageError, run

__all__ = ["Deviation", "Options", "Results", "Runner", "UsageError", "run"]
