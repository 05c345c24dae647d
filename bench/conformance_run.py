"""What the default conformance run costs against a fresh local mock: requests, wall time, CPU.

    .venv/bin/python bench/conformance_run.py [--repeat 3] [--seed 1] [-- extra CLI options]

Each repetition starts a fresh mock (``bench/mockproc.py``: an admin holding the permissions of
``spec.permissions.ADMIN_PERMISSIONS``, plus a manager and a user without permissions), runs
``python -m contract_tests`` against it with the admin and the limited user, and prints the number of
requests the run checked, its wall time, the runner's CPU seconds (user + system of the child, from
``wait4``) and the mock's CPU seconds during the run (from ``/proc/PID/stat``, its start-up excluded).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mockproc import REPO, mock

_VERDICT = re.compile(r"^(\S[A-Z ]+) \(profile .*?\): (\d+) requests checked in ([0-9.]+) s", re.MULTILINE)


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of stat(5); after the ")" they are the 12th and 13th.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_once(seed: int, extra: list[str]) -> dict[str, float | int | str]:
    users = ["--user", "manager-id:manager-token:view-livechat-manager", "--user", "agent-id:agent-token"]
    with mock("admin-id", "admin-token", users) as (port, pid):
        command = [
            sys.executable, "-m", "contract_tests", "--base-url", f"http://127.0.0.1:{port}", "--quiet",
            "--user-id", "admin-id", "--auth-token", "admin-token",
            "--limited-user-id", "agent-id", "--limited-auth-token", "agent-token", "--seed", str(seed),
            *extra,
        ]  # fmt: skip
        mock_before = process_cpu_seconds(pid)
        started = time.monotonic()
        child = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert child.stdout is not None
        output = child.stdout.read().decode("utf-8", "replace")
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.monotonic() - started
        mock_cpu = process_cpu_seconds(pid) - mock_before
    found = _VERDICT.search(output)
    if found is None or os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"the run failed (exit {os.waitstatus_to_exitcode(status)}):\n{output[-3000:]}")
    return {
        "verdict": found.group(1),
        "requests": int(found.group(2)),
        "wall": wall,
        "runner_cpu": usage.ru_utime + usage.ru_stime,
        "mock_cpu": mock_cpu,
        "command": shlex.join(command),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("extra", nargs="*", help="more options for python -m contract_tests (after --)")
    arguments = parser.parse_args()
    load = os.getloadavg()[0]
    print(f"# {shlex.join([sys.executable, *sys.argv])}   (nproc {os.cpu_count()}, load {load:.2f})")
    for number in range(arguments.repeat):
        row = run_once(arguments.seed, arguments.extra)
        if number == 0:
            print(f"# runner: {row['command']}")
            print(f"{'verdict':<12} {'requests':>8} {'wall s':>7} {'runner CPU s':>12} {'mock CPU s':>10}")
        print(
            f"{row['verdict']:<12} {row['requests']:>8} {row['wall']:>7.2f} {row['runner_cpu']:>12.2f} "
            f"{row['mock_cpu']:>10.2f}"
        )


if __name__ == "__main__":
    main()
