"""The ``qs`` query-string parser, run by Node: the oracle of ``spec.parsing.parse_query``.

Rocket.Chat reads query strings with ``qs`` (Express's ``extended`` parser; ``parseQueryParams`` of
``packages/http-router`` in the Hono era). The package is installed from npm into
``~/.cache/rc-triggers-contract/qs-<version>/`` (beside the ajv oracle's cache, with its lock and
rename-into-place helpers) and ``qs.mjs`` answers one JSON line per query.

    python -m tests.oracle.qs        install (if needed) and print the cache folder
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from tests.oracle.fetch import OracleUnavailable, _installed_version, _run, cached_build, find_tool

QS_VERSION = "6.13.0"
"""The qs that Express 4.21 (Rocket.Chat's express) depends on."""
SCRIPT = Path(__file__).with_name("qs.mjs")


def cache_dir() -> Path:
    return Path.home() / ".cache" / "rc-triggers-contract" / f"qs-{QS_VERSION}"


def _complete(cache: Path) -> bool:
    return (cache / "complete.json").is_file() and _installed_version(
        cache / "node_modules", "qs"
    ) == QS_VERSION


def ensure_qs() -> Path:
    """The folder whose ``node_modules`` holds qs; installed first when missing."""
    cache = cache_dir()
    if _complete(cache):
        return cache  # npm is not needed then
    npm = find_tool("npm")

    def build(work: Path) -> None:
        (work / "package.json").write_text('{"name": "rc-triggers-qs-oracle", "private": true}\n')
        command = [npm, "install", "--no-audit", "--no-fund", "--no-package-lock", "--ignore-scripts"]
        _run([*command, f"qs@{QS_VERSION}"], work, "npm install of qs")
        (work / "complete.json").write_text(json.dumps({"qs": QS_VERSION}) + "\n", "utf-8")

    return cached_build(cache, _complete, build, f"qs {QS_VERSION} cache")


def qs_parse(queries: Sequence[str]) -> list[str]:
    """``JSON.stringify(qs.parse(query))`` for each query, in one Node process."""
    cache = ensure_qs()
    node = find_tool("node")
    lines = "".join(json.dumps(query) + "\n" for query in queries)
    done = subprocess.run(
        [node, str(SCRIPT), str(cache / "node_modules")],
        input=lines,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise OracleUnavailable(f"qs.mjs exited with {done.returncode}: {done.stderr.strip()[-2000:]}")
    answers = done.stdout.splitlines()
    if len(answers) != len(queries):
        raise OracleUnavailable(f"qs.mjs answered {len(answers)} lines for {len(queries)} queries")
    return [json.loads(answer) for answer in answers]


def main() -> int:
    try:
        print(ensure_qs())
    except OracleUnavailable as exc:
        print(f"qs oracle: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
