"""``python -m spec.drift``: the drift report's command line."""

import sys

from spec.drift.cli import main

sys.exit(main())
