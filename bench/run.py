"""Benchmark the mock server against Stoplight Prism 5.16 and against the ceiling of HTTP + JSON alone
(bench/ceiling.py: bare Starlette and raw ASGI on the mock's uvicorn) with wrk, each server on one core.

One command (see bench/README.md)::

    .venv/bin/python bench/run.py [--duration 10] [--connections 16]

It installs what is missing (Debian's ``wrk``; Prism into ``~/.cache/rc-triggers-contract/prism``),
then for every scenario and server: starts a fresh server on 127.0.0.1 pinned to one core
(``taskset -c 0``), checks its answer with one request, warms it up, runs ``wrk --latency`` from the
other core (``taskset -c 1``) for a bounded time, samples the peak RSS (VmHWM) of the server's
process tree, and stops it. It prints a table with requests/s, p50/p99 and peak RSS, the ratios
mock/Prism and mock/ceiling (req/s and CPU µs per request), and the exact commands; the same report
goes to ``bench/results/latest.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import http.client
import json
import os
import re
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path

from spec.headers import AUTH_TOKEN_HEADER, USER_ID_HEADER
from spec.permissions import ADMIN_PERMISSIONS
from spec.routes import TRIGGERS_PATH

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
LUA_DIR = BENCH_DIR / "lua"
RESULTS_DIR = BENCH_DIR / "results"
PUBLISHED_SPEC = REPO / "spec" / "documents" / "published.openapi.json"
CONTRACT_SPEC = REPO / "spec" / "documents" / "contract.openapi.json"

PRISM_VERSION = "5.16.0"
CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "rc-triggers-contract"
PRISM_PREFIX = CACHE_DIR / "prism"
PRISM_BIN = PRISM_PREFIX / "node_modules" / ".bin" / "prism"
PRISM_PACKAGE_JSON = PRISM_PREFIX / "node_modules" / "@stoplight" / "prism-cli" / "package.json"

HOST = "127.0.0.1"
USER_ID = "bench-admin"
AUTH_TOKEN = "bench-token"
MOCK_PERMISSIONS = ",".join(sorted(ADMIN_PERMISSIONS))
STORED_TRIGGERS = 10
GROWN_POSTS = 50_000
"""The ceiling issue's "GET list cost independent of how many triggers are stored beyond the page"."""
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
RSS_SAMPLE_INTERVAL_S = 0.25


class BenchError(Exception):
    """A problem the user can act on: printed as one message, no traceback."""


# -- scenarios and servers ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    lua: str
    method: str
    body: bytes | None
    mock_status: int
    """What the mock must answer; a run where it answers otherwise is an error."""
    prefill_posts: int = 0
    """Valid POSTs sent (one keep-alive connection) before the probe: the store's own growth."""
    storing_servers_only: bool = False
    """Run on the mock and the ceilings only (Prism stores nothing, so a grown store means nothing)."""


def _lua_body(script: str) -> bytes:
    """The POST body a Lua script sends (its ``wrk.body = '...' .. '...'`` concatenation)."""
    text = (LUA_DIR / script).read_text(encoding="utf-8")
    match = re.search(r"^wrk\.body = (.*?)\n\n", text, re.MULTILINE | re.DOTALL)
    if match is None:
        raise BenchError(f"bench/lua/{script}: no wrk.body assignment found")
    return "".join(re.findall(r"'([^']*)'", match.group(1))).encode()


def scenarios() -> list[Scenario]:
    return [
        Scenario("post-valid", "valid POST", "post_valid.lua", "POST", _lua_body("post_valid.lua"), 200),
        Scenario(
            "post-invalid", "invalid POST (no description)", "post_invalid.lua", "POST",
            _lua_body("post_invalid.lua"), 400,
        ),
        Scenario("get-list", f"GET list ({STORED_TRIGGERS} stored)", "get_list.lua", "GET", None, 200),
        Scenario(
            "get-list-grown", f"GET list after {GROWN_POSTS:,} valid POSTs", "get_list.lua", "GET", None, 200,
            prefill_posts=GROWN_POSTS, storing_servers_only=True,
        ),
    ]  # fmt: skip


@dataclasses.dataclass(frozen=True)
class ServerKind:
    key: str
    label: str
    spec: Path | None
    prism_silent: bool = False
    only: frozenset[str] | None = None
    """Scenario keys this server runs (None: all)."""
    ceiling: str | None = None
    """``--app`` of bench/ceiling.py: HTTP and JSON only, on the mock's uvicorn."""

    @property
    def is_mock(self) -> bool:
        return self.spec is None and self.ceiling is None

    @property
    def is_prism(self) -> bool:
        return self.spec is not None


MOCK = ServerKind("mock", "mock (mock_server --quiet)", None)
# The ceiling (bench/ceiling.py): what HTTP and JSON alone cost on the same uvicorn.
CEILING_STARLETTE = ServerKind("ceiling-starlette", "ceiling: bare Starlette", None, ceiling="starlette")
CEILING_ASGI = ServerKind("ceiling-asgi", "ceiling: raw ASGI", None, ceiling="asgi")
CEILINGS = (CEILING_STARLETTE, CEILING_ASGI)
PRISM_DEFAULT = ServerKind("prism-default", "Prism default logging", PUBLISHED_SPEC)
PRISM_SILENT = ServerKind("prism-silent", "Prism -v silent", PUBLISHED_SPEC, prism_silent=True)
# The published spec has no GET operation, so Prism answers GET list with a 405 problem document.
# For a like-for-like list, Prism also serves the contract spec (which has GET and a list example).
PRISM_CONTRACT_DEFAULT = ServerKind(
    "prism-contract-default", "Prism default, contract spec", CONTRACT_SPEC, only=frozenset({"get-list"})
)
PRISM_CONTRACT_SILENT = ServerKind(
    "prism-contract-silent",
    "Prism -v silent, contract spec",
    CONTRACT_SPEC,
    prism_silent=True,
    only=frozenset({"get-list"}),
)
SERVERS = [
    MOCK, CEILING_STARLETTE, CEILING_ASGI, PRISM_DEFAULT, PRISM_SILENT, PRISM_CONTRACT_DEFAULT,
    PRISM_CONTRACT_SILENT,
]  # fmt: skip


@dataclasses.dataclass
class Measurement:
    scenario: Scenario
    server: ServerKind
    status: int
    requests: int
    duration_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    peak_rss_kib: int
    start_rss_kib: int
    foreign_cpu: float
    server_cpu_s: float
    """CPU seconds (user + system) the server's processes used during the measured run."""
    """Share of the two cores' time used by processes other than the server and wrk during the run."""
    processes: int
    socket_errors: int
    non_2xx: int
    server_command: str
    wrk_command: str
    note: str = ""
    runs_rps: tuple[float, ...] = ()
    """req/s of every repetition (``--repeat``); the figures are those of the median run."""

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def cpu_us_per_request(self) -> float:
        return self.server_cpu_s / self.requests * 1e6 if self.requests else 0.0


# -- installation --------------------------------------------------------------------------------------


def run_quiet(argv: Sequence[str], what: str, timeout: float = 600) -> None:
    try:
        completed = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise BenchError(f"{what}: {argv[0]} not found") from None
    except subprocess.TimeoutExpired:
        raise BenchError(f"{what}: `{shlex.join(argv)}` did not finish within {timeout:.0f} s") from None
    if completed.returncode != 0:
        raise BenchError(
            f"{what}: `{shlex.join(argv)}` exited with {completed.returncode}:\n"
            + tail(completed.stderr or completed.stdout)
        )


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if shutil.which("apt-get") is None:
        raise BenchError("wrk is not installed and apt-get is not available: install wrk by hand")
    if os.geteuid() != 0:
        raise BenchError("wrk is not installed: run `sudo apt-get install -y wrk` (needs root)")
    print("installing wrk (apt-get install -y wrk) ...", flush=True)
    try:
        run_quiet(["apt-get", "install", "-y", "-q", "wrk"], "installing wrk")
    except BenchError:
        run_quiet(["apt-get", "update", "-q"], "apt-get update")
        run_quiet(["apt-get", "install", "-y", "-q", "wrk"], "installing wrk")
    found = shutil.which("wrk")
    if not found:
        raise BenchError("apt-get installed wrk but it is not on PATH")
    return found


def installed_prism_version() -> str | None:
    try:
        version = json.loads(PRISM_PACKAGE_JSON.read_text(encoding="utf-8")).get("version")
    except (OSError, ValueError):
        return None
    return version if isinstance(version, str) and PRISM_BIN.exists() else None


def ensure_prism() -> Path:
    if installed_prism_version() == PRISM_VERSION:
        return PRISM_BIN
    if shutil.which("npm") is None or shutil.which("node") is None:
        raise BenchError("Prism needs Node.js and npm: `apt-get install -y nodejs npm`")
    print(f"installing @stoplight/prism-cli@{PRISM_VERSION} into {PRISM_PREFIX} ...", flush=True)
    PRISM_PREFIX.mkdir(parents=True, exist_ok=True)
    run_quiet(
        ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(PRISM_PREFIX),
         f"@stoplight/prism-cli@{PRISM_VERSION}"],
        "installing Prism",
    )  # fmt: skip
    if installed_prism_version() != PRISM_VERSION:
        raise BenchError(f"npm finished but {PRISM_BIN} (version {PRISM_VERSION}) is missing")
    return PRISM_BIN


def node_version() -> str:
    try:
        return subprocess.run(
            ["node", "--version"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def check_cores(server_core: int, load_core: int) -> None:
    if shutil.which("taskset") is None:
        raise BenchError("taskset is missing (Debian package util-linux)")
    available = os.sched_getaffinity(0)
    missing = sorted({server_core, load_core} - available)
    if missing:
        raise BenchError(
            f"core(s) {missing} not available to this process (available: {sorted(available)}); "
            "pass --server-core and --load-core"
        )
    if server_core == load_core:
        raise BenchError("--server-core and --load-core must differ")


# -- helpers -------------------------------------------------------------------------------------------


def tail(text: str, lines: int = 15) -> str:
    kept = text.strip().splitlines()[-lines:]
    return "\n".join("    " + line for line in kept) if kept else "    (no output)"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def request(
    port: int, method: str, path: str, body: bytes | None = None, timeout: float = 5.0
) -> tuple[int, bytes]:
    headers = {USER_ID_HEADER: USER_ID, AUTH_TOKEN_HEADER: AUTH_TOKEN, "Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (via /proc/PID/task/TID/children)."""
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            with contextlib.suppress(OSError, ValueError):
                stack.extend(int(child) for child in (task / "children").read_text().split())
    return found


def vm_hwm_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cores_busy_s(cores: Sequence[int]) -> float:
    """CPU seconds of process time (user, nice, system) and hypervisor steal on ``cores`` (/proc/stat).

    Interrupt and softirq time is left out: loopback networking under load is mostly softirq work
    that the benchmark causes itself and that no process is charged for."""
    busy = 0
    for line in Path("/proc/stat").read_text().splitlines():
        name, *fields = line.split()
        if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cores:
            user, nice, system, _idle, _iowait, _irq, _softirq, steal = (int(v) for v in fields[:8])
            busy += user + nice + system + steal
    return busy / CLOCK_TICKS


def tree_cpu_s(pids: Sequence[int]) -> float:
    """user+system CPU seconds of the given processes (those still alive)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class RssSampler:
    """Keeps the highest VmHWM seen for every process of a tree (children may come and go)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peaks: dict[int, int] = {}
        self.start_kib = 0
        """VmHWM before the load: start-up and the probe request only."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def sample(self) -> None:
        for pid in process_tree(self.pid):
            value = vm_hwm_kib(pid)
            if value is not None:
                self.peaks[pid] = max(value, self.peaks.get(pid, 0))

    def _loop(self) -> None:
        while not self._stop.wait(RSS_SAMPLE_INTERVAL_S):
            self.sample()

    def __enter__(self) -> RssSampler:
        self.sample()
        self.start_kib = self.total_kib
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    @property
    def total_kib(self) -> int:
        return sum(self.peaks.values())


# -- servers -------------------------------------------------------------------------------------------


@dataclasses.dataclass
class RunningServer:
    kind: ServerKind
    process: subprocess.Popen[bytes]
    port: int
    command: str
    stdout_path: Path
    stderr_path: Path

    def output_tail(self) -> str:
        parts = []
        for path in (self.stderr_path, self.stdout_path):
            with contextlib.suppress(OSError):
                text = path.read_text(encoding="utf-8", errors="replace")
                if text.strip():
                    parts.append(f"  {path.name}:\n{tail(text)}")
        return "\n".join(parts) or "    (no output)"


class Bench:
    def __init__(self, options: argparse.Namespace, workdir: Path, wrk: str, prism: Path | None) -> None:
        self.options = options
        self.workdir = workdir
        self.wrk = wrk
        self.prism = prism
        self.notes: list[str] = []
        self.prism_specs: dict[Path, Path] = {}
        """Spec given to Prism for each spec of the repo (a repaired copy if Prism refused it)."""
        self.seed_file = workdir / "seed.json"
        self.seed_file.write_text(json.dumps(seed_triggers(), indent=1), encoding="utf-8")
        self._run_number = 0

    # The commands -----------------------------------------------------------------------------------

    def server_argv(self, kind: ServerKind, port: int, spec: Path | None = None) -> list[str]:
        pin = ["taskset", "-c", str(self.options.server_core)]
        if kind.is_mock:
            return [
                *pin, sys.executable, "-m", "mock_server", "--quiet", "--host", HOST, "--port", str(port),
                "--seed-file", str(self.seed_file), "--user", f"{USER_ID}:{AUTH_TOKEN}:{MOCK_PERMISSIONS}",
            ]  # fmt: skip
        if kind.ceiling is not None:
            return [
                *pin, sys.executable, str(BENCH_DIR / "ceiling.py"), "--app", kind.ceiling, "--host", HOST,
                "--port", str(port), "--seed-file", str(self.seed_file),
            ]  # fmt: skip
        assert self.prism is not None and kind.spec is not None
        argv = [*pin, str(self.prism), "mock", "-h", HOST, "-p", str(port)]
        if kind.prism_silent:
            argv += ["-v", "silent"]
        return [*argv, str(spec or kind.spec)]

    def wrk_argv(self, scenario: Scenario, port: int, duration: float) -> list[str]:
        return [
            "taskset", "-c", str(self.options.load_core), self.wrk,
            f"-t{self.options.threads}", f"-c{self.options.connections}", f"-d{duration:g}s",
            f"--timeout={self.options.wrk_timeout:g}s", "--latency",
            "-s", str(LUA_DIR / scenario.lua), f"http://{HOST}:{port}{TRIGGERS_PATH}",
        ]  # fmt: skip

    # Starting and stopping ------------------------------------------------------------------------------

    def start(self, kind: ServerKind, spec: Path | None = None) -> RunningServer:
        port = free_port()
        argv = self.server_argv(kind, port, spec)
        self._run_number += 1
        stem = f"{self._run_number:02d}-{kind.key}"
        stdout_path = self.workdir / f"{stem}.stdout.log"
        stderr_path = self.workdir / f"{stem}.stderr.log"
        env = dict(os.environ)
        env.pop("NODE_ENV", None)  # NODE_ENV=production would turn on Prism's --multiprocess
        with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
            process = subprocess.Popen(
                argv,
                cwd=REPO,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=env,
                start_new_session=True,
            )
        server = RunningServer(kind, process, port, shlex.join(argv), stdout_path, stderr_path)
        try:
            self.wait_ready(server)
        except BaseException:
            self.stop(server)
            raise
        return server

    def wait_ready(self, server: RunningServer) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        path = "/__mock__/health" if server.kind.is_mock else TRIGGERS_PATH
        while time.monotonic() < deadline:
            code = server.process.poll()
            if code is not None:
                raise BenchError(
                    f"{server.kind.label} exited with {code} before it answered.\n"
                    f"  command: {server.command}\n{server.output_tail()}"
                )
            with contextlib.suppress(OSError, http.client.HTTPException):
                status, _ = request(server.port, "GET", path, timeout=2)
                if not server.kind.is_mock or status == 200:
                    return
            time.sleep(0.2)
        raise BenchError(
            f"{server.kind.label} did not answer on port {server.port} within {START_TIMEOUT_S:.0f} s.\n"
            f"  command: {server.command}\n{server.output_tail()}"
        )

    def stop(self, server: RunningServer) -> None:
        if server.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.process.pid, signal.SIGINT)
            try:
                server.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(server.process.pid, signal.SIGKILL)
                server.process.wait(STOP_TIMEOUT_S)
        # Children left in the group (none expected): end them too, by group id.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(server.process.pid, signal.SIGKILL)

    @contextlib.contextmanager
    def running(self, kind: ServerKind) -> Iterator[RunningServer]:
        server = self.start_prism(kind) if kind.is_prism else self.start(kind)
        try:
            if kind.is_mock:
                self.seed_mock(server)
            yield server
        finally:
            self.stop(server)

    def start_prism(self, kind: ServerKind) -> RunningServer:
        """Prism on the repo's spec; if it refuses the document, on a minimally repaired copy."""
        assert kind.spec is not None
        spec = self.prism_specs.get(kind.spec, kind.spec)
        try:
            return self.start(kind, spec)
        except BenchError as refused:
            if spec != kind.spec:
                raise
            repaired = self.repair_spec(kind.spec)
            if repaired is None:
                raise
            self.prism_specs[kind.spec] = repaired
            self.notes.append(
                f"Prism refused {kind.spec.relative_to(REPO)}; it was given a repaired temporary copy "
                f'{repaired} (header parameters\' `"required": "true"` made booleans). Prism said:\n'
                + str(refused)
            )
            return self.start(kind, repaired)

    def repair_spec(self, spec: Path) -> Path | None:
        document = json.loads(spec.read_text(encoding="utf-8"))
        changed = 0

        def fix(node: object) -> None:
            nonlocal changed
            if isinstance(node, dict):
                if node.get("in") in ("header", "query", "path", "cookie") and isinstance(
                    node.get("required"), str
                ):
                    node["required"] = node["required"].strip().lower() == "true"
                    changed += 1
                for value in node.values():
                    fix(value)
            elif isinstance(node, list):
                for value in node:
                    fix(value)

        fix(document)
        if not changed:
            return None
        target = self.workdir / f"repaired-{spec.name}"
        target.write_text(json.dumps(document, indent=2), encoding="utf-8")
        return target

    def seed_mock(self, server: RunningServer) -> None:
        """Make sure the mock holds exactly the 10 seed triggers (--seed-file, else the control endpoint)."""
        stored = self.mock_trigger_count(server)
        if stored == STORED_TRIGGERS:
            return
        status, body = request(
            server.port, "POST", "/__mock__/triggers?replace=true", self.seed_file.read_bytes()
        )
        after = self.mock_trigger_count(server)
        if status != 200 or after != STORED_TRIGGERS:
            raise BenchError(
                f"could not store {STORED_TRIGGERS} triggers in the mock: --seed-file left {stored}, "
                f"POST /__mock__/triggers?replace=true answered {status} {body[:200]!r} and left {after}"
            )
        note = (
            f"the mock's --seed-file left {stored} triggers stored (expected {STORED_TRIGGERS}); "
            "the harness loaded them with POST /__mock__/triggers?replace=true"
        )
        if note not in self.notes:
            self.notes.append(note)

    def mock_trigger_count(self, server: RunningServer) -> int | None:
        try:
            status, body = request(server.port, "GET", "/__mock__/health")
            count = json.loads(body).get("triggers") if status == 200 else None
        except (OSError, http.client.HTTPException, ValueError, AttributeError):
            return None
        return count if isinstance(count, int) else None

    # Measuring ----------------------------------------------------------------------------------------

    def run_wrk(self, scenario: Scenario, port: int, duration: float) -> tuple[dict[str, float], str, str]:
        argv = self.wrk_argv(scenario, port, duration)
        env = {
            **os.environ,
            "BENCH_LUA_DIR": str(LUA_DIR),
            "BENCH_USER_ID": USER_ID,
            "BENCH_AUTH_TOKEN": AUTH_TOKEN,
        }
        try:
            completed = subprocess.run(
                argv, capture_output=True, text=True, env=env, timeout=duration + 60, check=False
            )
        except subprocess.TimeoutExpired:
            raise BenchError(f"wrk did not finish: {shlex.join(argv)}") from None
        match = re.search(r"^BENCH_JSON (\{.*\})$", completed.stdout, re.MULTILINE)
        if completed.returncode != 0 or match is None:
            raise BenchError(
                f"wrk failed (exit {completed.returncode}): {shlex.join(argv)}\n"
                + tail(completed.stderr + completed.stdout)
            )
        figures: dict[str, float] = json.loads(match.group(1))
        command = "BENCH_LUA_DIR=bench/lua " + shlex.join(argv).replace(str(LUA_DIR), "bench/lua")
        return figures, command, completed.stdout

    def prefill(self, server: RunningServer, posts: int) -> str:
        """Send ``posts`` valid POSTs over one keep-alive connection; a note on how long it took."""
        body = _lua_body("post_valid.lua")
        headers = {
            "X-User-Id": USER_ID, "X-Auth-Token": AUTH_TOKEN, "Content-Type": "application/json",
            "Accept": "application/json",
        }  # fmt: skip
        started = time.monotonic()
        connection = http.client.HTTPConnection(HOST, server.port, timeout=30)
        try:
            for sent in range(posts):
                connection.request("POST", TRIGGERS_PATH, body, headers)
                response = connection.getresponse()
                answer = response.read()
                if response.status != 200:
                    raise BenchError(
                        f"{server.kind.label} answered valid POST {sent + 1} of {posts} with "
                        f"{response.status}: {answer[:300]!r}"
                    )
        finally:
            connection.close()
        return f"{posts:,} valid POSTs sent before the probe ({time.monotonic() - started:.1f} s)"

    def measure(self, scenario: Scenario, kind: ServerKind) -> Measurement:
        with self.running(kind) as server:
            prefilled = self.prefill(server, scenario.prefill_posts) if scenario.prefill_posts else ""
            status, answer = request(server.port, scenario.method, TRIGGERS_PATH, scenario.body)
            if not kind.is_prism and status != scenario.mock_status:
                raise BenchError(
                    f"{kind.label} answered {scenario.title} with {status} "
                    f"(expected {scenario.mock_status}): {answer[:300]!r}"
                )
            cores = (self.options.server_core, self.options.load_core)
            with RssSampler(server.process.pid) as rss:
                if self.options.warmup > 0:
                    self.run_wrk(scenario, server.port, self.options.warmup)
                pids = process_tree(server.process.pid)
                before = (cores_busy_s(cores), tree_cpu_s(pids), children_cpu_s(), time.monotonic())
                figures, command, raw = self.run_wrk(scenario, server.port, self.options.duration)
                after = (cores_busy_s(cores), tree_cpu_s(pids), children_cpu_s(), time.monotonic())
            busy, server_cpu, wrk_cpu, wall = (b - a for a, b in zip(before, after, strict=True))
            foreign = max(0.0, busy - server_cpu - wrk_cpu) / (len(cores) * wall) if wall > 0 else 0.0
            note = prefilled
            if kind.is_mock and scenario.key == "post-valid":
                note = f"{self.mock_trigger_count(server)} triggers stored at the end"
            elif kind.ceiling is not None and scenario.key == "post-valid":
                note = f"{int(figures['requests'])}+ triggers stored at the end (warm-up not counted)"
            if server.process.poll() is not None:
                raise BenchError(f"{kind.label} died during the run.\n{server.output_tail()}")
        raw_dir = RESULTS_DIR / "raw"
        raw_dir.mkdir(parents=True, exist_ok=True)
        (raw_dir / f"{scenario.key}--{kind.key}.txt").write_text(
            f"# server: {server.command}\n# wrk: {command}\n# probe answer: {status}\n\n{raw}",
            encoding="utf-8",
        )
        socket_errors = int(figures["connect"] + figures["read"] + figures["write"] + figures["timeout"])
        return Measurement(
            scenario=scenario,
            server=kind,
            status=status,
            requests=int(figures["requests"]),
            duration_s=figures["duration_us"] / 1e6,
            p50_ms=figures["p50_us"] / 1000,
            p99_ms=figures["p99_us"] / 1000,
            max_ms=figures["max_us"] / 1000,
            peak_rss_kib=rss.total_kib,
            start_rss_kib=rss.start_kib,
            foreign_cpu=foreign,
            server_cpu_s=server_cpu,
            processes=len(rss.peaks),
            socket_errors=socket_errors,
            non_2xx=int(figures["status"]),
            server_command=server.command,
            wrk_command=command,
            note=note,
        )


def seed_triggers() -> list[dict[str, object]]:
    return [
        {
            "_id": f"benchtrigger{index:012d}",
            "name": f"bench-trigger-{index}",
            "description": f"benchmark trigger number {index}",
            "enabled": index % 3 != 0,
            "runOnce": index % 2 == 0,
            "conditions": [{"name": "time-on-site", "value": str(10 + index)}],
            "actions": [
                {"name": "send-message", "params": {"sender": "queue", "msg": f"Hello from trigger {index}"}}
            ],
            "_updatedAt": f"2026-11-{index + 1:02d}T12:00:00.000Z",
        }
        for index in range(STORED_TRIGGERS)
    ]


# -- the report ------------------------------------------------------------------------------------------


def source_version() -> str:
    """The commit the mock was run from, and whether mock_server/ or spec/ had uncommitted changes."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "mock_server", "spec"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return commit + (" with uncommitted changes in mock_server/ or spec/" if dirty else "")


def ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.2f}×" if denominator else "n/a"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(header[i]), *(len(row[i]) for row in rows)) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(cells)) + " |"

    return [
        line(header),
        "|" + "|".join("-" * (width + 2) for width in widths) + "|",
        *(line(r) for r in rows),
    ]


def report(
    results: list[Measurement], options: argparse.Namespace, notes: list[str], started: datetime
) -> str:
    out = [
        "# Mock server vs Stoplight Prism " + PRISM_VERSION + " and the HTTP + JSON ceiling",
        "",
        f"Run {started:%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores; servers on core {options.server_core}, "
        f"wrk on core {options.load_core}; {options.duration:g} s per run after {options.warmup:g} s "
        "warm-up, "
        f"{options.connections} connections, {options.threads} wrk thread(s); a fresh server per run"
        + (f", median of {options.repeat} runs." if options.repeat > 1 else "."),
        "",
        f"Mock: commit {source_version()}; Python {sys.version.split()[0]}. Prism {PRISM_VERSION} on "
        f"Node {node_version()}.",
        "",
        "## Figures",
        "",
    ]
    rows = []
    for m in results:
        rows.append(
            [
                m.scenario.title,
                m.server.label,
                str(m.status),
                f"{m.rps:,.0f}",
                f"{m.p50_ms:.2f}",
                f"{m.p99_ms:.2f}",
                f"{m.peak_rss_kib / 1024:.1f}" + (f" ({m.processes} procs)" if m.processes > 1 else ""),
                f"{m.start_rss_kib / 1024:.1f}",
                f"{m.cpu_us_per_request:,.0f}",
                f"{m.foreign_cpu:.0%}",
                f"{m.requests:,}",
                str(m.socket_errors),
            ]
        )
    out += table(
        [
            "scenario",
            "server",
            "answer",
            "req/s",
            "p50 ms",
            "p99 ms",
            "peak RSS MiB",
            "before load",
            "CPU µs/req",
            "other CPU",
            "requests",
            "sock err",
        ],
        rows,
    )
    by_key = {(m.scenario.key, m.server.key): m for m in results}
    ratio_rows = []
    for scenario in scenarios():
        mock = by_key.get((scenario.key, MOCK.key))
        if mock is None:
            continue
        pairs = [(PRISM_DEFAULT, PRISM_SILENT, "published spec")]
        if scenario.key == "get-list":
            pairs.append((PRISM_CONTRACT_DEFAULT, PRISM_CONTRACT_SILENT, "contract spec"))
        for default_kind, silent_kind, spec_label in pairs:
            default, silent = (
                by_key.get((scenario.key, default_kind.key)),
                by_key.get((scenario.key, silent_kind.key)),
            )
            if default is None and silent is None:
                continue
            verdict = []
            if default is not None:
                verdict.append("req/s ok" if mock.rps >= default.rps else "req/s BELOW")
                verdict.append("p99 ok" if mock.p99_ms <= default.p99_ms else "p99 WORSE")
            verdict.append("RSS ok" if mock.peak_rss_kib <= 80 * 1024 else "RSS OVER")
            ratio_rows.append(
                [
                    scenario.title,
                    f"Prism on {spec_label}"
                    + (f" (answers {default.status})" if default and default.status != mock.status else ""),
                    ratio(mock.rps, default.rps) if default else "-",
                    ratio(mock.rps, silent.rps) if silent else "-",
                    ratio(mock.p99_ms, default.p99_ms) if default else "-",
                    ratio(mock.p99_ms, silent.p99_ms) if silent else "-",
                    ", ".join(verdict),
                ]
            )
    if ratio_rows:
        out += [
            "",
            "## Ratios (mock ÷ Prism; targets: req/s ≥ 1.0× Prism default, p99 not worse, RSS ≤ 80 MiB)",
            "",
        ]
        out += table(
            [
                "scenario", "compared with", "req/s ÷ default", "req/s ÷ silent", "p99 ÷ default",
                "p99 ÷ silent", "vs targets",
            ],
            ratio_rows,
        )  # fmt: skip
    ceiling_rows = []
    for scenario in scenarios():
        mock = by_key.get((scenario.key, MOCK.key))
        for kind in CEILINGS:
            ceiling = by_key.get((scenario.key, kind.key))
            if mock is None or ceiling is None:
                continue
            rps_ratio = mock.rps / ceiling.rps if ceiling.rps else 0.0
            cpu_ratio = mock.cpu_us_per_request / ceiling.cpu_us_per_request if ceiling.requests else 0.0
            ceiling_rows.append(
                [
                    scenario.title,
                    kind.label,
                    f"{mock.rps:,.0f} / {ceiling.rps:,.0f}",
                    f"{rps_ratio:.2f}×",
                    f"{mock.cpu_us_per_request:,.0f} / {ceiling.cpu_us_per_request:,.0f}",
                    f"{cpu_ratio:.2f}×",
                    f"{mock.cpu_us_per_request - ceiling.cpu_us_per_request:+,.0f}",
                    ("req/s ok" if rps_ratio >= 0.8 else "req/s BELOW")
                    + (", CPU ok" if cpu_ratio <= 1.25 else ", CPU OVER"),
                ]
            )
    if ceiling_rows:
        out += [
            "",
            "## The ceiling (mock ÷ HTTP + JSON only on the same uvicorn; targets: req/s ≥ 0.8×, "
            "CPU per request ≤ 1.25×)",
            "",
        ]
        out += table(
            [
                "scenario", "ceiling", "req/s mock / ceiling", "req/s ratio", "CPU µs/req mock / ceiling",
                "CPU ratio", "mock's extra µs", "vs targets",
            ],
            ceiling_rows,
        )  # fmt: skip
    out += ["", "## Notes", ""]
    out.append(
        "- peak RSS = VmHWM (kernel high-water mark) of the server process, summed over its process tree, "
        "sampled every 0.25 s and at the end; it includes start-up. "
        "`before load` is the same figure after start-up and one probe request, before warm-up."
    )
    out.append(
        "- `answer` is the status of one probe request before the run; `sock err` counts wrk's connect/read/"
        "write/timeout errors. Raw wrk output: bench/results/raw/."
    )
    out.append(
        "- the published spec has no GET operation: Prism answers GET list with a 405 problem document, so "
        "GET list is also measured against Prism serving the contract spec (a 200 list example)."
    )
    out.append(
        "- the ceiling (bench/ceiling.py) answers the three scenarios with the mock's status, body bytes and "
        "headers using only json.loads/json.dumps and a list (no authentication, validation, sorting, "
        "journal or exact JavaScript rendering), under mock_server.cli's uvicorn configuration and GC "
        "tuning: a bare Starlette app with one route, and a raw ASGI callable without a framework."
    )
    out.append(
        "- Prism's default logging goes to a file (stdout redirected), not to a terminal; the mock runs "
        "with --quiet (no request log)."
    )
    out.append(
        "- `CPU µs/req` = the server's own CPU time (user + system, all its processes) during the measured "
        "run divided by the requests answered: the cost of one request, and much less disturbed by other "
        "load than req/s."
    )
    out.append(
        "- `other CPU` = share of the two cores' time taken by processes other than the server and wrk "
        "during the measured run (from /proc/stat); above ~5% the figures are disturbed: rerun on an idle "
        "machine, or with --repeat 3."
    )
    busy = [m for m in results if m.foreign_cpu > 0.05]
    if busy:
        out.append(
            f"- WARNING: {len(busy)} of {len(results)} runs shared the cores with other processes (up to "
            f"{max(m.foreign_cpu for m in busy):.0%}); their figures understate the server."
        )
    for m in results:
        if len(m.runs_rps) > 1:
            out.append(
                f"- {m.scenario.title}, {m.server.label}: req/s of the {len(m.runs_rps)} runs: "
                + ", ".join(f"{value:,.0f}" for value in m.runs_rps)
            )
    for m in results:
        if m.note:
            out.append(f"- {m.scenario.title}, {m.server.label}: {m.note}")
    out += [f"- {note}" for note in notes]
    out += ["", "## Commands", "", "```"]
    for m in results:
        out += [f"# {m.scenario.title} / {m.server.label}", m.server_command, m.wrk_command, ""]
    out += ["```", ""]
    return "\n".join(out)


# -- main --------------------------------------------------------------------------------------------------


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    keys = [s.key for s in scenarios()]
    server_keys = [s.key for s in SERVERS]
    parser = argparse.ArgumentParser(
        prog="bench/run.py",
        description="Benchmark the mock server against Stoplight Prism with wrk "
        "(servers pinned to one core).",
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measured run (default: 10)")
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="warm-up seconds before each run (default: 2)"
    )
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default: 16)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default: 1, one core)")
    parser.add_argument(
        "--wrk-timeout", type=float, default=5.0, help="wrk socket timeout, seconds (default: 5)"
    )
    parser.add_argument(
        "--server-core", type=int, default=0, help="core the server is pinned to (default: 0)"
    )
    parser.add_argument("--load-core", type=int, default=1, help="core wrk is pinned to (default: 1)")
    parser.add_argument("--scenario", action="append", choices=keys, help="run only these (repeatable)")
    parser.add_argument("--server", action="append", choices=server_keys, help="run only these (repeatable)")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per scenario and server; the median is shown (default: 1)"
    )
    parser.add_argument("--no-install", action="store_true", help="fail instead of installing wrk or Prism")
    parser.add_argument(
        "--output",
        type=Path,
        default=RESULTS_DIR / "latest.md",
        help="report file (default: bench/results/latest.md)",
    )
    options = parser.parse_args(argv)
    if not 1 <= options.duration <= 600 or not 0 <= options.warmup <= 60:
        parser.error("--duration must be 1-600 s and --warmup 0-60 s")
    if not 1 <= options.repeat <= 10:
        parser.error("--repeat must be 1-10")
    if not 1 <= options.connections <= 1000 or not 1 <= options.threads <= options.connections:
        parser.error("--connections must be 1-1000 and --threads 1..connections")
    return options


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_arguments(argv)
    started = datetime.now(timezone.utc)
    chosen_scenarios = [s for s in scenarios() if not options.scenario or s.key in options.scenario]
    chosen_servers = [s for s in SERVERS if not options.server or s.key in options.server]
    needs_prism = any(s.is_prism for s in chosen_servers)
    try:
        if sys.platform != "linux":
            raise BenchError("this benchmark reads /proc and uses taskset: it runs on Linux only")
        check_cores(options.server_core, options.load_core)
        if options.no_install:
            wrk = shutil.which("wrk") or ""
            if not wrk:
                raise BenchError("wrk is not installed (--no-install)")
            if needs_prism and installed_prism_version() != PRISM_VERSION:
                raise BenchError(f"Prism {PRISM_VERSION} is not in {PRISM_PREFIX} (--no-install)")
            prism = PRISM_BIN if needs_prism else None
        else:
            wrk = ensure_wrk()
            prism = ensure_prism() if needs_prism else None
        results: list[Measurement] = []
        with tempfile.TemporaryDirectory(prefix="rc-triggers-bench-") as tmp:
            bench = Bench(options, Path(tmp), wrk, prism)
            for scenario in chosen_scenarios:
                for kind in chosen_servers:
                    if kind.only is not None and scenario.key not in kind.only:
                        continue
                    if scenario.storing_servers_only and kind.is_prism:
                        continue
                    print(f"… {scenario.title} / {kind.label}", flush=True)
                    runs = []
                    for repetition in range(options.repeat):
                        runs.append(bench.measure(scenario, kind))
                        if options.repeat > 1:
                            print(f"  run {repetition + 1}: {runs[-1].rps:,.0f} req/s", flush=True)
                    runs.sort(key=lambda run: run.rps)
                    measurement = runs[len(runs) // 2]
                    measurement.runs_rps = tuple(run.rps for run in runs)
                    print(
                        f"  {measurement.rps:,.0f} req/s, p50 {measurement.p50_ms:.2f} ms, "
                        f"p99 {measurement.p99_ms:.2f} ms, "
                        f"peak RSS {measurement.peak_rss_kib / 1024:.1f} MiB "
                        f"(answer {measurement.status}; other processes used "
                        f"{measurement.foreign_cpu:.0%} of the two cores)",
                        flush=True,
                    )
                    results.append(measurement)
            notes = bench.notes
    except BenchError as error:
        print(f"bench: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    text = report(results, options, notes, started)
    print()
    print(text)
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(text, encoding="utf-8")
    print(f"(written to {options.output})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
