"""A/B comparison of mock checkouts (and the ceiling) by CPU µs per request, rounds alternating.

One command (see bench/README.md)::

    .venv/bin/python bench/compare.py --checkout before=/path/to/old --checkout after=. \\
        [--ceiling starlette] [--scenario post-valid] [--rounds 4] [--duration 4] [--connections 32]

``--scenario`` is one of bench/run.py's (``post-valid``, ``post-invalid``, ``get-list``) or
``post-and-list``: a valid POST and a GET list in turn on each connection (the probe is the POST).

A difference of a few µs per request is within what one run of ``bench/run.py`` moves between two
runs on a shared machine. This script takes the other way: in each round it starts every server in
turn (a fresh process each time, on core 0, wrk on core 1, 1 s of warm-up), so that a slow minute
of the machine falls on all of them alike, and prints every round's figures, then the median and
the best per server and each median as a ratio of the first server's. A checkout is a directory
holding this repository (a ``git worktree`` of another commit); its mock runs with this
interpreter, from that directory, so its own code is what is measured.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import (  # bench/run.py: the same servers' arguments, credentials, scenarios and helpers
    AUTH_TOKEN,
    BENCH_DIR,
    HOST,
    LUA_DIR,
    MOCK_PERMISSIONS,
    USER_ID,
    BenchError,
    Scenario,
    check_cores,
    ensure_wrk,
    free_port,
    process_tree,
    request,
    scenarios,
    seed_triggers,
    tree_cpu_s,
)

from spec.routes import TRIGGERS_PATH


@dataclass(frozen=True)
class Server:
    label: str
    argv: tuple[str, ...]
    """With ``{port}`` where the port goes."""
    cwd: Path


def mock_server(label: str, checkout: Path, seed: Path) -> Server:
    argv = (
        sys.executable, "-m", "mock_server", "--quiet", "--host", HOST, "--port", "{port}",
        "--seed-file", str(seed), "--user", f"{USER_ID}:{AUTH_TOKEN}:{MOCK_PERMISSIONS}",
    )  # fmt: skip
    return Server(label, argv, checkout)


def ceiling_server(app: str, seed: Path) -> Server:
    argv = (sys.executable, str(BENCH_DIR / "ceiling.py"), "--app", app, "--host", HOST, "--port", "{port}")
    return Server(f"ceiling-{app}", (*argv, "--seed-file", str(seed)), BENCH_DIR.parent)


def compared_scenarios() -> list[Scenario]:
    """bench/run.py's scenarios without a prefilled store, and valid POSTs and lists in turn."""
    own = [scenario for scenario in scenarios() if not scenario.prefill_posts]
    valid = next(scenario for scenario in own if scenario.key == "post-valid")
    title = "valid POST and GET list in turn"
    return [*own, dataclasses.replace(valid, key="post-and-list", title=title, lua="post_and_list.lua")]


def measure(server: Server, wrk: str, scenario: Scenario, options: argparse.Namespace) -> tuple[float, str]:
    """CPU µs per request of one fresh ``server`` under wrk, and the command that started it."""
    port = free_port()
    argv = [part.replace("{port}", str(port)) for part in server.argv]
    command = ["taskset", "-c", str(options.server_core), *argv]
    process = subprocess.Popen(
        command, cwd=server.cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        for _ in range(300):
            if process.poll() is not None:
                error = process.stderr.read().decode()[-2000:] if process.stderr else ""
                raise BenchError(f"{server.label} exited before answering: {error}")
            try:
                status, _ = request(port, scenario.method, TRIGGERS_PATH, scenario.body)
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise BenchError(f"{server.label} did not answer on port {port}")
        if status != scenario.mock_status:
            raise BenchError(
                f"{server.label} answered {status}, not {scenario.mock_status}: a wrong comparison"
            )
        url = f"http://{HOST}:{port}{TRIGGERS_PATH}"
        base = ["taskset", "-c", str(options.load_core), wrk, "-t1", f"-c{options.connections}"]
        env = dict(os.environ, BENCH_LUA_DIR=str(LUA_DIR))
        script = ["-s", str(LUA_DIR / scenario.lua), url]
        subprocess.run([*base, "-d1s", *script], env=env, capture_output=True, check=False, timeout=60)
        pids = process_tree(process.pid)
        before = tree_cpu_s(pids)
        done = subprocess.run(
            [*base, f"-d{options.duration:g}s", *script],
            env=env, capture_output=True, text=True, check=False, timeout=options.duration + 60,
        )  # fmt: skip
        after = tree_cpu_s(pids)
        line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
        if line is None:
            raise BenchError(f"wrk printed no figures for {server.label}:\n{done.stdout}{done.stderr}")
        figures = json.loads(line.split(" ", 1)[1])
        requests = int(figures["requests"])
        return 1e6 * (after - before) / max(requests, 1), shlex.join(command)
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--checkout", action="append", default=[], metavar="LABEL=DIR", help="a mock to measure (repeatable)"
    )
    parser.add_argument("--ceiling", action="append", default=[], choices=("starlette", "asgi"))
    keys = [scenario.key for scenario in compared_scenarios()]
    parser.add_argument("--scenario", choices=keys, default="post-valid")
    parser.add_argument(
        "--rounds", type=int, default=4, help="rounds; every server once in each (default: 4)"
    )
    parser.add_argument("--duration", type=float, default=4.0, help="seconds measured per run (default: 4)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default: 32)")
    parser.add_argument("--server-core", type=int, default=0)
    parser.add_argument("--load-core", type=int, default=1)
    options = parser.parse_args(argv)
    if not options.checkout and not options.ceiling:
        parser.error("name at least one --checkout or --ceiling")
    if not 1 <= options.rounds <= 20 or not 1 <= options.duration <= 60:
        parser.error("--rounds must be 1-20 and --duration 1-60 s")
    return options


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_arguments(argv)
    try:
        check_cores(options.server_core, options.load_core)
        wrk = ensure_wrk()
        with tempfile.TemporaryDirectory(prefix="rc-triggers-compare-") as workdir:
            seed = Path(workdir) / "seed.json"
            seed.write_text(json.dumps(seed_triggers(), indent=1), encoding="utf-8")
            servers = []
            for entry in options.checkout:
                label, _, directory = entry.partition("=")
                checkout = Path(directory).resolve()
                if not label or not (checkout / "mock_server").is_dir():
                    raise BenchError(
                        f"--checkout {entry!r}: expected LABEL=DIR, DIR a checkout of this repository"
                    )
                servers.append(mock_server(label, checkout, seed))
            servers += [ceiling_server(app, seed) for app in options.ceiling]
            scenario = next(s for s in compared_scenarios() if s.key == options.scenario)
            figures: dict[str, list[float]] = {server.label: [] for server in servers}
            commands: dict[str, str] = {}
            for round_number in range(1, options.rounds + 1):
                cells = []
                for server in servers:
                    cpu_us, commands[server.label] = measure(server, wrk, scenario, options)
                    figures[server.label].append(cpu_us)
                    cells.append(f"{server.label} {cpu_us:.1f}")
                print(f"round {round_number}: " + "  ".join(cells), flush=True)
    except BenchError as error:
        print(f"bench/compare.py: {error}", file=sys.stderr)
        return 2
    first = statistics.median(figures[servers[0].label])
    print(f"\n{options.scenario}, CPU µs per request, {options.rounds} rounds of {options.duration:g} s, "
          f"{options.connections} connections:")  # fmt: skip
    for server in servers:
        values = figures[server.label]
        median = statistics.median(values)
        best = min(values)
        print(
            f"  {server.label:20s} median {median:6.1f}  best {best:6.1f}  {median / first:.3f}× of the first"
        )
    wrk_line = f"taskset -c {options.load_core} {wrk} -t1 -c{options.connections} -d{options.duration:g}s"
    print(f"\nCommands (wrk: {wrk_line} -s bench/lua/{scenario.lua} URL, BENCH_LUA_DIR=bench/lua):")
    for server in servers:
        print(f"  {server.label}: (cd {server.cwd} && {commands[server.label]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
