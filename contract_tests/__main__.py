"""``python -m contract_tests`` / ``rc-triggers-conformance``: check a server against the contract.

Exit status: 0 conformant, 1 deviations found, 2 usage or connection error (including Ctrl-C).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import NoReturn

from contract_tests.report import ProgressPrinter, Results, markdown_report, summary_table, write_junit
from contract_tests.runner import Options, Runner, UsageError
from spec import __version__
from spec.headers import AUTH_TOKEN_HEADER, USER_ID_HEADER
from spec.permissions import MANAGE_TRIGGERS
from spec.profiles import PROFILES

EXIT_CONFORMANT, EXIT_DEVIATIONS, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="rc-triggers-conformance",
        description="Check a Rocket.Chat server (or anything that claims to be one) against the Livechat "
        "Triggers contract: exact answers, state flows, authentication, permission and check order, "
        "Schemathesis. Every trigger the run creates is disabled, named with a unique prefix, and deleted "
        "at the end.",
        epilog="Credentials may also come from RC_USER_ID, RC_AUTH_TOKEN, RC_LIMITED_USER_ID and "
        "RC_LIMITED_AUTH_TOKEN. Exit status: 0 conformant, 1 deviations, 2 usage or connection error.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    env = os.environ.get
    parser.add_argument("--base-url", required=True, help="server root, e.g. http://localhost:3000")
    parser.add_argument(
        "--user-id", default=env("RC_USER_ID"), help=f"{USER_ID_HEADER} of a user with {MANAGE_TRIGGERS}"
    )
    parser.add_argument("--auth-token", default=env("RC_AUTH_TOKEN"), help=f"that user's {AUTH_TOKEN_HEADER}")
    parser.add_argument(
        "--limited-user-id",
        default=env("RC_LIMITED_USER_ID"),
        help=f"a user WITHOUT {MANAGE_TRIGGERS} (enables permission and check-order checks)",
    )
    parser.add_argument(
        "--limited-auth-token", default=env("RC_LIMITED_AUTH_TOKEN"), help="that user's token"
    )
    parser.add_argument(
        "--profile",
        default="auto",
        choices=["auto", *PROFILES],
        help="version profile to check against; auto detects it (default: %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=None, help="Hypothesis seed (default: random, printed)")
    parser.add_argument(
        "--max-examples",
        type=int,
        default=100,
        help="generated requests per check family (default: %(default)s)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="threads for the families that do not change state (default: %(default)s)",
    )
    parser.add_argument("--junit-xml", type=Path, help="write JUnit XML here")
    parser.add_argument("--report", type=Path, help="write a Markdown report here")
    parser.add_argument(
        "--allow-enabled",
        action="store_true",
        help="let created triggers be enabled (they could fire for real visitors meanwhile)",
    )
    parser.add_argument("--no-schemathesis", action="store_true", help="skip the Schemathesis families")
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds per request (default: %(default)s)"
    )
    parser.add_argument(
        "--rate-limit-budget",
        type=float,
        default=180.0,
        help="most seconds spent waiting out 429s before giving up (default: %(default)s)",
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="do not verify the TLS certificate (a staging server's own CA)",
    )
    parser.add_argument("--quiet", action="store_true", help="no live progress line")
    return parser


def options_from_arguments(arguments: argparse.Namespace) -> Options:
    if not arguments.user_id or not arguments.auth_token:
        raise UsageError("--user-id and --auth-token are required (or RC_USER_ID and RC_AUTH_TOKEN)")
    if bool(arguments.limited_user_id) != bool(arguments.limited_auth_token):
        raise UsageError("--limited-user-id and --limited-auth-token go together")
    if not arguments.base_url.startswith(("http://", "https://")):
        raise UsageError(f"--base-url {arguments.base_url!r}: expected http://HOST[:PORT][/PATH]")
    if arguments.max_examples < 1 or arguments.workers < 1:
        raise UsageError("--max-examples and --workers must be at least 1")
    seed = arguments.seed if arguments.seed is not None else int.from_bytes(os.urandom(4), "big")
    return Options(
        base_url=arguments.base_url.rstrip("/"),
        user_id=arguments.user_id,
        auth_token=arguments.auth_token,
        limited_user_id=arguments.limited_user_id,
        limited_auth_token=arguments.limited_auth_token,
        profile=arguments.profile,
        seed=seed,
        max_examples=arguments.max_examples,
        workers=arguments.workers,
        junit_xml=arguments.junit_xml,
        report=arguments.report,
        allow_enabled=arguments.allow_enabled,
        schemathesis=not arguments.no_schemathesis,
        timeout_seconds=arguments.timeout,
        verify_tls=not arguments.insecure,
        rate_limit_budget_seconds=arguments.rate_limit_budget,
    )


def print_results(results: Results) -> None:
    print()
    print(summary_table(results))
    for deviation in results.failures:
        print()
        print("FAIL " + deviation.text())
    for deviation in results.warnings:
        print()
        print("WARN " + deviation.text())
    if results.notices:
        print()
        for notice in results.notices:
            print(f"note: {notice}")
    print()
    verdict = "CONFORMANT" if not results.failures else f"NOT CONFORMANT: {len(results.failures)} deviations"
    print(
        f"{verdict} (profile {results.profile}, seed {results.seed}): "
        f"{results.checked} requests checked in {results.elapsed:.1f} s"
    )


def _terminate(signum: int, frame: FrameType | None) -> None:
    # SIGTERM (a CI job cancelled) gets the same cleanup as Ctrl-C.
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    try:
        options = options_from_arguments(arguments)
    except UsageError as error:
        print(f"rc-triggers-conformance: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    signal.signal(signal.SIGTERM, _terminate)
    runner = Runner(options, log=lambda line: print(line, file=sys.stderr))
    print(
        f"checking {options.base_url} (seed {options.seed}, {options.max_examples} examples per family)",
        file=sys.stderr,
    )
    try:
        if arguments.quiet:
            results = runner.run()
        else:
            with ProgressPrinter(runner.results):
                results = runner.run()
    except UsageError as error:
        print(f"rc-triggers-conformance: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        # The runner cleaned up before the interrupt got here; say what the cleanup did.
        for notice in runner.results.notices:
            if notice.startswith("cleanup"):
                print(f"note: {notice}", file=sys.stderr)
        print("rc-triggers-conformance: interrupted", file=sys.stderr)
        return EXIT_USAGE
    print_results(results)
    if options.junit_xml is not None:
        write_junit(results, options.junit_xml)
    if options.report is not None:
        options.report.parent.mkdir(parents=True, exist_ok=True)
        options.report.write_text(markdown_report(results, options.base_url), encoding="utf-8")
    return EXIT_DEVIATIONS if results.failures else EXIT_CONFORMANT


if __name__ == "__main__":
    sys.exit(main())
