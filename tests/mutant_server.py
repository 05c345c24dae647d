"""``python -m tests.mutant_server --mutant NAME [mock_server options]``: the real mock, one rule broken.

A name for ``python -m mock_server --predictor tests.mutants:FUNCTION``: every other option is the
mock's own, and so are the banner and the start-up (the mock loads the predictor itself, also in
``--workers`` processes).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mock_server.cli import main as mock_main
from tests.mutants import MUTANTS


def predictor_reference(name: str) -> str:
    """The ``--predictor`` value that serves the mutant ``name``."""
    return f"tests.mutants:{MUTANTS[name].__name__}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tests.mutant_server", add_help=False)
    parser.add_argument("--mutant", required=True, choices=sorted(MUTANTS), help="the rule to break")
    arguments, rest = parser.parse_known_args(argv)
    return mock_main([*rest, "--predictor", predictor_reference(arguments.mutant)])


if __name__ == "__main__":
    sys.exit(main())
