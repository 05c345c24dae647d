"""``rc-triggers-drift`` / ``python -m spec.drift``: write or check the drift report."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from spec import __version__
from spec.drift.documents import DEFAULT_CONTRACT, DEFAULT_PUBLISHED, DocumentError, Json, load_document
from spec.drift.findings import Drift
from spec.drift.render import PROG, render_json, render_markdown

EXTRA_HINT = "pip install 'rc-triggers-contract[drift]'"


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Report where the published Livechat Triggers documentation disagrees with the server.",
    )
    parser.add_argument(
        "--format", choices=("markdown", "json"), default="markdown", help="default: markdown"
    )
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--output", metavar="FILE", help="write the report to FILE instead of stdout")
    target.add_argument(
        "--check", metavar="FILE", help="exit 1 if FILE differs from the report that would be generated"
    )
    parser.add_argument(
        "--published", metavar="PATH", help=f"published document (default: {DEFAULT_PUBLISHED})"
    )
    parser.add_argument("--contract", metavar="PATH", help=f"contract document (default: {DEFAULT_CONTRACT})")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def _drifts(published: dict[str, Json], contract: dict[str, Json]) -> list[Drift]:
    # The validators are the [drift] extra, not part of the base install (the mock): a missing one is a
    # usage error with the command that installs it, not a traceback.
    try:
        import openapi_spec_validator

        from spec.drift.walker import find_drift
    except ModuleNotFoundError as exc:
        raise DocumentError(
            f"the drift report needs {exc.name}, which is not installed: {EXTRA_HINT}"
        ) from None
    try:
        openapi_spec_validator.validate(contract)
    except Exception as exc:  # the validator raises several unrelated types for a broken document
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DocumentError(f"the contract document is not valid OpenAPI: {first}") from None
    try:
        return find_drift(published, contract)
    except DocumentError:
        raise
    except Exception as exc:  # a shape the walker does not expect (the published page is not validated)
        reason = (str(exc).splitlines() or [""])[0][:200]
        raise DocumentError(
            f"cannot compare these documents: the walk failed with {type(exc).__name__}: {reason} "
            "(a schema or example of a shape the drift tool does not read; no report was written)"
        ) from None


def main(argv: Sequence[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    try:
        published = load_document(args.published, "published.openapi.json", "published")
        contract = load_document(args.contract, "contract.openapi.json", "contract")
        drifts = _drifts(published, contract)
    except DocumentError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2

    if args.format == "json":
        text = render_json(drifts)
    else:
        text = render_markdown(
            drifts,
            published_name=args.published or DEFAULT_PUBLISHED,
            contract_name=args.contract or DEFAULT_CONTRACT,
        )

    if args.check:
        regenerate = [PROG, "--format", args.format, "--output", args.check]
        for option, value in (("--published", args.published), ("--contract", args.contract)):
            if value:
                regenerate += [option, value]
        try:
            current = Path(args.check).read_text(encoding="utf-8")
        except OSError as exc:
            print(
                f"{PROG}: cannot read {args.check} ({exc.strerror}); "
                f"generate it with: {shlex.join(regenerate)}",
                file=sys.stderr,
            )
            return 1
        if current != text:
            print(
                f"{PROG}: {args.check} is out of date with the documents ({len(drifts)} findings now); "
                f"regenerate it with: {shlex.join(regenerate)}",
                file=sys.stderr,
            )
            return 1
        print(f"{args.check} is up to date ({len(drifts)} findings)")
        return 0

    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            print(f"{PROG}: cannot write {args.output}: {exc.strerror}", file=sys.stderr)
            return 2
        print(f"wrote {len(drifts)} findings to {args.output}", file=sys.stderr)
        return 0
    sys.stdout.write(text)
    return 0
