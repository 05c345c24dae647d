"""``python -m mock_server`` and the ``rc-triggers-mock`` console script."""

from __future__ import annotations

import sys

from mock_server.cli import main as _cli_main


def main() -> None:
    sys.exit(_cli_main())


if __name__ == "__main__":
    main()
