"""``python -m tests.mutant_server --mutant NAME [mock_server options]``: the real mock, one rule broken.

It takes every option of ``python -m mock_server`` (same parser, same banner, so test helpers that
read "Listening on URL" work unchanged) and serves ``mock_server.app.create_app`` with the mutant
predictor from ``tests.mutants``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from mock_server.cli import banner, bind, build_parser, settings_from_arguments
from mock_server.settings import SettingsError
from tests.mutants import MUTANTS


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    parser.prog = "tests.mutant_server"
    parser.add_argument("--mutant", required=True, choices=sorted(MUTANTS), help="the rule to break")
    arguments = parser.parse_args(argv)
    try:
        settings = settings_from_arguments(arguments)
        sock = bind(settings.host, settings.port)
    except SettingsError as error:
        print(f"tests.mutant_server: error: {error}", file=sys.stderr)
        return 2
    import uvicorn

    from mock_server.app import create_app

    print(f"MUTANT {arguments.mutant}: {MUTANTS[arguments.mutant].__doc__}", flush=True)
    print(banner(settings, sock.getsockname()[1], ""), flush=True)
    app = create_app(settings, predictor=MUTANTS[arguments.mutant])
    config = uvicorn.Config(app, lifespan="on", access_log=False, log_level="warning")
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
