"""``python -m contract_tests`` / ``rc-triggers-conformance``: check a server against the contract.

Exit status: 0 conformant; 1 deviations (also those found before the checks proper, and a stop by
``--max-time`` after deviations were found); 2 usage, connection, credentials, or a target that is not
this API; 130 interrupted. The JUnit XML and the Markdown report are written on every exit, with what
was checked so far.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from contract_tests.options import add_to_argparse, options_from_values
from contract_tests.report import ProgressPrinter, Results, markdown_report, summary_table, write_junit
from contract_tests.runner import Options, Runner, UsageError, cleanup_command, cleanup_prefix
from spec import __version__

EXIT_CONFORMANT, EXIT_DEVIATIONS, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
PROG = "rc-triggers-conformance"


def build_parser() -> argparse.ArgumentParser:
    # argparse exits with status 2 on a bad option, the usage exit status of both CLIs.
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Check a Rocket.Chat server (or anything that claims to be one) against the Livechat "
        "Triggers contract: exact answers, state flows, authentication, permission and check order, "
        "Schemathesis. Every trigger the run creates is disabled, named with a unique prefix (printed "
        "first), and deleted at the end.",
        epilog="Credentials may also come from RC_USER_ID, RC_AUTH_TOKEN, RC_LIMITED_USER_ID and "
        "RC_LIMITED_AUTH_TOKEN. Exit status: 0 conformant, 1 deviations, 2 usage, connection, credentials "
        "or not this API, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    add_to_argparse(parser)
    parser.add_argument(
        "--cleanup",
        metavar="PREFIX",
        help="do not check: delete every trigger an earlier run named with PREFIX, then verify",
    )
    parser.add_argument("--quiet", action="store_true", help="no live progress line")
    return parser


def print_results(results: Results) -> None:
    print()
    print(summary_table(results))
    for kind in results.failures:
        print()
        print("FAIL " + kind.text())
    for kind in results.warnings:
        print()
        print("WARN " + kind.text())
    skipped = results.skipped()
    if skipped:
        print()
        for name, reason in skipped.items():
            print(f"not run: {name}: {reason}")
    if results.notices:
        print()
        for notice in results.notices:
            print(f"note: {notice}")
    print()
    if results.failures:
        count = sum(kind.count for kind in results.failures)
        verdict = f"NOT CONFORMANT: {len(results.failures)} kind(s) of deviation, {count} in all"
    elif results.stopped:
        verdict = "INCOMPLETE"
    else:
        verdict = "CONFORMANT"
    stopped = f"; stopped early: {results.stopped}" if results.stopped else ""
    print(
        f"{verdict} (profile {results.profile}, seed {results.seed}): "
        f"{results.checked} requests checked in {results.elapsed:.1f} s{stopped}"
    )


def exit_status(results: Results, stop_kind: str) -> int:
    if stop_kind == "interrupted":
        return EXIT_INTERRUPTED
    if stop_kind in ("usage", "connection"):
        return EXIT_USAGE
    if results.failures:
        return EXIT_DEVIATIONS
    if stop_kind == "time":
        return EXIT_USAGE  # nothing wrong was found, but not everything was checked
    return EXIT_CONFORMANT


def _terminate(signum: int, frame: FrameType | None) -> None:
    # SIGTERM (a CI job cancelled) gets the same cleanup as Ctrl-C.
    raise KeyboardInterrupt


def write_reports(results: Results, options: Options) -> None:
    if options.junit_xml is not None:
        write_junit(results, options.junit_xml)
    if options.report is not None:
        options.report.parent.mkdir(parents=True, exist_ok=True)
        options.report.write_text(markdown_report(results, options.base_url), encoding="utf-8")


def _report_usage_error(arguments: argparse.Namespace, message: str) -> None:
    # The reports a CI job collects exist on every exit, this one included: they say why nothing ran.
    results = Results(stopped=f"usage error: {message}")
    base_url = str(arguments.base_url or "")
    if arguments.junit_xml is not None:
        write_junit(results, arguments.junit_xml)
    if arguments.report is not None:
        arguments.report.parent.mkdir(parents=True, exist_ok=True)
        arguments.report.write_text(markdown_report(results, base_url), encoding="utf-8")


def _cleanup_only(options: Options, prefix: str) -> int:
    try:
        outcome = cleanup_prefix(options, prefix)
    except UsageError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(f"{len(outcome.gone)} triggers named {prefix.strip()!r} deleted and verified gone")
    if outcome.problem:
        print(f"note: {outcome.problem}")
    if outcome.remaining:
        print(f"{len(outcome.remaining)} remain: {', '.join(sorted(outcome.remaining))}")
        print(f"try again: {cleanup_command(options.base_url, prefix)}")
        return EXIT_DEVIATIONS if outcome.verified else EXIT_USAGE
    return EXIT_CONFORMANT if outcome.verified else EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    try:
        options = options_from_values(vars(arguments))
    except UsageError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        _report_usage_error(arguments, str(error))
        return EXIT_USAGE
    signal.signal(signal.SIGTERM, _terminate)
    if arguments.cleanup is not None:
        return _cleanup_only(options, arguments.cleanup)
    runner = Runner(options, log=lambda line: print(line, file=sys.stderr))
    print(
        f"checking {options.base_url} (seed {options.seed}, {options.max_examples} examples per family)",
        file=sys.stderr,
    )
    if arguments.quiet:
        results = runner.run()
    else:
        with ProgressPrinter(runner.results):
            results = runner.run()
    # The account of the run must come out whole: no more interrupts from here on.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    write_reports(results, options)
    if runner.stop_kind in ("usage", "connection"):
        print(f"{PROG}: error: {results.stopped}", file=sys.stderr)
    print_results(results)
    if runner.stop_kind == "interrupted":
        print(f"{PROG}: interrupted", file=sys.stderr)
    return exit_status(results, runner.stop_kind)


if __name__ == "__main__":
    sys.exit(main())
