"""``python -m fuzz`` / ``rc-triggers-corpus``: write a deterministic corpus of labelled requests.

    python -m fuzz --seed 1 --count 500 --output corpus.jsonl [--profile 8.3]

The same seed, count, profile and users give a byte-identical file.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from fuzz.corpus import DEFAULT_ADMIN, DEFAULT_LIMITED, corpus_lines
from spec import __version__
from spec.model import User
from spec.permissions import ADMIN_PERMISSIONS
from spec.profiles import DEFAULT_PROFILE, PROFILES, get_profile


def _user(text: str, permissions: frozenset[str]) -> User:
    user_id, separator, token = text.partition(":")
    if not separator or not user_id or not token:
        raise argparse.ArgumentTypeError(f"{text!r}: expected ID:TOKEN")
    return User(user_id, token, permissions)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rc-triggers-corpus",
        description="Write requests labelled with the exact answer of a Rocket.Chat server (JSON Lines).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--seed", type=int, required=True, help="Hypothesis seed")
    parser.add_argument("--count", type=int, required=True, help="number of requests")
    parser.add_argument("--output", type=Path, required=True, help="file to write ('-' for stdout)")
    parser.add_argument("--profile", default=DEFAULT_PROFILE, choices=list(PROFILES), help="version profile")
    parser.add_argument(
        "--admin",
        type=lambda text: _user(text, DEFAULT_ADMIN.permissions),
        default=DEFAULT_ADMIN,
        metavar="ID:TOKEN",
        help=f"user with {', '.join(sorted(ADMIN_PERMISSIONS))} (default: admin-id:admin-token)",
    )
    parser.add_argument(
        "--limited",
        type=lambda text: _user(text, frozenset()),
        default=DEFAULT_LIMITED,
        metavar="ID:TOKEN",
        help="user without permissions (default: agent-id:agent-token)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    if arguments.count < 1:
        print("rc-triggers-corpus: error: --count must be at least 1", file=sys.stderr)
        return 2
    lines = corpus_lines(
        arguments.seed, arguments.count, get_profile(arguments.profile), arguments.admin, arguments.limited
    )
    text = "".join(line + "\n" for line in lines)
    if str(arguments.output) == "-":
        sys.stdout.write(text)
    else:
        arguments.output.write_text(text, encoding="utf-8")
        print(f"wrote {arguments.count} labelled requests to {arguments.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
