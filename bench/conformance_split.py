"""Where the conformance run's own CPU goes: thread CPU seconds inside the runner's main parts.

    .venv/bin/python bench/conformance_split.py [--seed 1] [-- extra CLI options]

Starts a fresh mock (as ``bench/conformance_run.py`` does), runs ``contract_tests``' CLI in this
process with the functions below wrapped, and prints, for each, the thread CPU time spent inside its
outermost calls (calls of it from within itself are not counted twice), the number of calls and the
µs per call. The parts overlap (a family's time includes its requests); the wrapping itself costs a
little, so use bench/conformance_run.py for the totals.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import functools
import io
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mockproc import REPO, mock

sys.path.insert(0, str(REPO))

import contract_tests.__main__ as cli
from contract_tests import client, families, model, runner

_cpu: collections.Counter[str] = collections.Counter()
_calls: collections.Counter[str] = collections.Counter()
_inside = threading.local()


def _wrap(owner: Any, name: str, label: str) -> None:
    function: Callable[..., Any] = getattr(owner, name)

    @functools.wraps(function)
    def timed(*arguments: Any, **keywords: Any) -> Any:
        labels: set[str] = _inside.__dict__.setdefault("labels", set())
        if label in labels:
            return function(*arguments, **keywords)
        labels.add(label)
        started = time.thread_time()
        try:
            return function(*arguments, **keywords)
        finally:
            _cpu[label] += time.thread_time() - started
            _calls[label] += 1
            labels.discard(label)

    setattr(owner, name, timed)


PARTS: tuple[tuple[Any, str, str], ...] = (
    (runner.Runner, "run_family", "Hypothesis and Schemathesis families (with their requests)"),
    (families, "schemathesis_families", "  of which Schemathesis' families"),
    (families, "run_cases", "deterministic coverage families (with their requests)"),
    (runner.Runner, "exchange", "exchange: predict, send, compare, observe"),
    (client.Transport, "_send_once", "  send and read one request"),
    (runner, "predict", "  spec.predict"),
    (runner.Runner, "_observe", "  observation after a write (its listing included)"),
    (model.LiveModel, "reconcile", "    reconciling the listing with the model"),
    (runner.Runner, "cleanup", "cleanup"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("extra", nargs="*", help="more options for the CLI (after --)")
    arguments = parser.parse_args()
    for owner, name, label in PARTS:
        _wrap(owner, name, label)
    users = ["--user", "manager-id:manager-token:view-livechat-manager", "--user", "agent-id:agent-token"]
    with mock("admin-id", "admin-token", users) as (port, _):
        argv = [
            "--base-url", f"http://127.0.0.1:{port}", "--quiet", "--user-id", "admin-id",
            "--auth-token", "admin-token", "--limited-user-id", "agent-id",
            "--limited-auth-token", "agent-token", "--seed", str(arguments.seed), *arguments.extra,
        ]  # fmt: skip
        output = io.StringIO()
        started = time.process_time()
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(io.StringIO()):
            status = cli.main(argv)
        total = time.process_time() - started
    verdict = output.getvalue().strip().splitlines()[-1]
    print(f"# python -m contract_tests {' '.join(argv)}")
    print(f"# {verdict} (exit {status}); process CPU during the run {total:.2f} s")
    print(f"{'CPU s':>7} {'calls':>7} {'µs/call':>9}  part")
    for _, _, label in PARTS:
        if _calls[label]:
            print(f"{_cpu[label]:7.2f} {_calls[label]:7d} {_cpu[label] / _calls[label] * 1e6:9.0f}  {label}")


if __name__ == "__main__":
    main()
