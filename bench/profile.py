"""Where the mock's time goes: py-spy samples of the mock under the benchmark's wrk load.

    .venv/bin/python bench/profile.py [--duration 12] [--scenario get-list] [--top 25]

For each scenario: starts the mock exactly as bench/run.py does (pinned to one core, 10 stored
triggers), runs wrk on the other core, attaches ``py-spy record`` (installed into the running
interpreter's environment with pip if missing) for the middle of the run, and prints the frames
with the largest inclusive and self share of the samples. Collapsed stacks go to
``bench/results/profile-SCENARIO.txt`` (flamegraph.pl or speedscope read them), the summary to
``bench/results/profile.md``. The figures wrk prints here are disturbed by the sampling: use
bench/run.py for throughput.
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run  # bench/run.py, next to this file

_SITE = re.compile(r".*/site-packages/")
_LINE = re.compile(r":\d+\)$")


def ensure_py_spy() -> str:
    candidate = Path(sys.executable).with_name("py-spy")
    if candidate.exists():
        return str(candidate)
    found = shutil.which("py-spy")
    if found:
        return found
    print("installing py-spy into this environment (pip install py-spy) ...", flush=True)
    run.run_quiet([sys.executable, "-m", "pip", "install", "-q", "py-spy"], "installing py-spy")
    if candidate.exists():
        return str(candidate)
    raise run.BenchError("pip installed py-spy but its executable was not found next to the interpreter")


def _frame(text: str) -> str:
    text = _SITE.sub("", text).replace(str(run.REPO) + "/", "")
    return _LINE.sub(")", text)


def summarise(collapsed: Path, top: int) -> tuple[int, list[tuple[float, str]], list[tuple[float, str]]]:
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text(encoding="utf-8").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [_frame(frame) for frame in stack.split(";")]
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    if not total:
        raise run.BenchError(f"py-spy recorded no samples in {collapsed}")

    def share(counter: collections.Counter[str]) -> list[tuple[float, str]]:
        # Frames in every sample (the interpreter's and uvicorn's entry points) say nothing.
        ranked = [(frame, count) for frame, count in counter.most_common() if count < total]
        return [(count / total, frame) for frame, count in ranked[:top]]

    return total, share(inclusive), share(own)


def profile(bench: run.Bench, scenario: run.Scenario, py_spy: str, duration: float, top: int) -> list[str]:
    output = run.RESULTS_DIR / f"profile-{scenario.key}.txt"
    output.parent.mkdir(parents=True, exist_ok=True)
    sampled = max(1.0, duration - 3)
    with bench.running(run.MOCK) as server:
        if scenario.prefill_posts:
            bench.prefill(server, scenario.prefill_posts)
        status, _ = run.request(server.port, scenario.method, run.TRIGGERS_PATH, scenario.body)
        load: dict[str, object] = {}

        def drive() -> None:
            try:
                load["figures"] = bench.run_wrk(scenario, server.port, duration)[0]
            except run.BenchError as error:
                load["error"] = error

        driver = threading.Thread(target=drive)
        driver.start()
        spy = subprocess.run(
            ["taskset", "-c", str(bench.options.load_core), py_spy, "record",
             "--pid", str(server.process.pid), "--duration", f"{sampled:g}", "--rate", "200",
             "--format", "raw", "-o", str(output)],
            capture_output=True, text=True, timeout=duration + 60, check=False,
        )  # fmt: skip
        driver.join()
    if spy.returncode != 0:
        raise run.BenchError(
            f"py-spy failed (exit {spy.returncode}); it needs ptrace rights (root or CAP_SYS_PTRACE):\n"
            + run.tail(spy.stderr + spy.stdout)
        )
    if "error" in load:
        raise load["error"]  # type: ignore[misc]
    figures = load["figures"]
    assert isinstance(figures, dict)
    total, inclusive, own = summarise(output, top)
    rps = figures["requests"] / (figures["duration_us"] / 1e6)
    return [
        f"## {scenario.title} (answer {status}; {rps:,.0f} req/s while sampled; {total} samples)",
        "",
        f"Collapsed stacks: bench/results/{output.name}",
        "",
        *run.table(["inclusive", "frame"], [[f"{share:.1%}", f"`{frame}`"] for share, frame in inclusive]),
        "",
        *run.table(["self", "frame"], [[f"{share:.1%}", f"`{frame}`"] for share, frame in own]),
        "",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/profile.py", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--duration", type=float, default=12.0, help="seconds of load per scenario (default: 12)"
    )
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default: 16)")
    parser.add_argument("--scenario", action="append", choices=[s.key for s in run.scenarios()])
    parser.add_argument("--top", type=int, default=25, help="frames listed per table (default: 25)")
    options = parser.parse_args(argv)
    if not 4 <= options.duration <= 120:
        parser.error("--duration must be 4-120 s")
    bench_options = run.parse_arguments(["--connections", str(options.connections), "--warmup", "0"])
    lines = ["# Where the mock's time goes (py-spy)", ""]
    try:
        run.check_cores(bench_options.server_core, bench_options.load_core)
        wrk = run.ensure_wrk()
        py_spy = ensure_py_spy()
        with tempfile.TemporaryDirectory(prefix="rc-triggers-profile-") as tmp:
            bench = run.Bench(bench_options, Path(tmp), wrk, None)
            for scenario in run.scenarios():
                if options.scenario and scenario.key not in options.scenario:
                    continue
                print(f"… profiling {scenario.title}", flush=True)
                lines += profile(bench, scenario, py_spy, options.duration, options.top)
    except run.BenchError as error:
        print(f"profile: error: {error}", file=sys.stderr)
        return 1
    text = "\n".join(lines)
    print(text)
    target = run.RESULTS_DIR / "profile.md"
    target.write_text(text, encoding="utf-8")
    print(f"(written to {target})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
