"""CPU µs per request of the mock's ASGI app driven in process, next to the ceiling's and spec.predict alone.

    .venv/bin/python bench/inprocess.py [--number 3000] [--profile post-invalid] [--top 25]
    .venv/bin/python bench/inprocess.py --after-posts 50000   # GET list after 50,000 valid POSTs

No sockets and no uvicorn: each request is one call of the ASGI app with a prepared scope and a
``receive`` that hands over the body, so the figures are what the app itself costs per request,
without the HTTP stack that bench/run.py also measures. Three apps per scenario of bench/run.py:
``mock`` (``mock_server.app.create_app`` with the benchmark's user and 10 stored triggers, quiet),
``ceiling`` (bench/ceiling.py's raw ASGI app) and ``predict`` (``spec.predict.predict`` on the same
request, the contract's share of the mock). ``mock - predict`` is what the middleware, the store and
the journal add. ``--profile SCENARIO`` prints the mock's functions by own time (cProfile). The best of
``--repeat`` rounds of CPU time (``time.process_time``) is shown. Nothing here runs in the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import pstats
import shlex
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ceiling  # bench/ceiling.py
import run  # bench/run.py: scenarios, credentials, stored triggers

from mock_server.app import create_app
from mock_server.cli import build_parser, settings_from_arguments
from spec.jsvalues import to_js_value
from spec.model import Request, State, User
from spec.predict import Environment, predict
from spec.profiles import get_profile


def _cprofile() -> Any:
    """The standard library's cProfile: bench/profile.py, first on the path here, shadows the
    ``profile`` module that cProfile imports."""
    here = Path(__file__).resolve().parent
    saved = sys.path[:]
    sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != here]
    try:
        import cProfile
    finally:
        sys.path[:] = saved
    return cProfile


App = Callable[[MutableMapping[str, Any], Any, Any], Awaitable[None]]


def mock_app(seed_file: Path) -> App:
    arguments = build_parser().parse_args(
        [
            "--quiet",
            "--seed-file",
            str(seed_file),
            "--user",
            f"{run.USER_ID}:{run.AUTH_TOKEN}:{run.MOCK_PERMISSIONS}",
        ]
    )
    app: App = create_app(settings_from_arguments(arguments))
    return app


def http_scope(scenario: run.Scenario) -> dict[str, Any]:
    headers = [
        (b"host", b"127.0.0.1:3000"),
        (b"x-user-id", run.USER_ID.encode()),
        (b"x-auth-token", run.AUTH_TOKEN.encode()),
        (b"accept", b"application/json"),
    ]
    if scenario.body is not None:
        headers += [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(scenario.body)).encode()),
        ]
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": scenario.method,
        "scheme": "http",
        "path": run.TRIGGERS_PATH,
        "raw_path": run.TRIGGERS_PATH.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 3000),
        "state": {},
    }


async def call(app: App, scope: dict[str, Any], body: bytes) -> int:
    delivered = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(dict(scope), receive, send)
    return status


async def app_cpu_us(app: App, scenario: run.Scenario, number: int, repeat: int) -> tuple[int, float]:
    scope, body = http_scope(scenario), scenario.body or b""
    status = await call(app, scope, body)
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        for _ in range(number):
            await call(app, scope, body)
        best = min(best, (time.process_time() - started) / number * 1e6)
    return status, best


def predict_cpu_us(scenario: run.Scenario, number: int, repeat: int) -> tuple[int, float]:
    admin = User(run.USER_ID, run.AUTH_TOKEN, frozenset(run.MOCK_PERMISSIONS.split(",")))
    state = State(users=(admin,), triggers=tuple(to_js_value(trigger) for trigger in run.seed_triggers()))  # type: ignore[misc]
    headers = tuple((name.decode(), value.decode()) for name, value in http_scope(scenario)["headers"])
    request = Request(scenario.method, run.TRIGGERS_PATH, headers=headers, body=scenario.body or b"")
    profile, env = get_profile("8.3"), Environment(now_ms=1_764_000_000_000, new_trigger_id="0" * 24)
    status = predict(request, state, profile, env).answer.status
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        for _ in range(number):
            predict(request, state, profile, env)
        best = min(best, (time.process_time() - started) / number * 1e6)
    return status, best


async def list_after_posts(seed_file: Path, options: argparse.Namespace) -> None:
    """GET list on a mock that first answered ``--after-posts`` valid POSTs (the store's own growth)."""
    by_key = {scenario.key: scenario for scenario in run.scenarios()}
    post, listing = by_key["post-valid"], by_key["get-list"]
    app = mock_app(seed_file)
    scope, body = http_scope(post), post.body or b""
    page_posts = 40  # with the 10 seeded triggers: one full page of 50, the most a list renders
    for _ in range(page_posts):
        assert await call(app, scope, body) == 200
    _, page_us = await app_cpu_us(app, listing, options.number, options.repeat)
    for _ in range(options.after_posts - page_posts):
        assert await call(app, scope, body) == 200
    status, after_us = await app_cpu_us(app, listing, options.number, options.repeat)
    print(
        f"\nGET list (a full page of 50, default sort), mock µs: {page_us:.1f} after {page_posts} valid "
        f"POSTs (50 stored), {after_us:.1f} after {options.after_posts:,} (answer {status})"
    )


async def main_async(options: argparse.Namespace, seed_file: Path) -> None:
    print("| scenario | mock µs | ceiling (raw ASGI) µs | predict µs | mock - predict µs | answers |")
    print("|---|---|---|---|---|---|")
    for scenario in run.scenarios():
        if scenario.prefill_posts:
            continue  # a grown store: --after-posts, below
        # A fresh app per scenario, as bench/run.py starts a fresh server (valid POSTs grow the store).
        mock_status, mock_us = await app_cpu_us(mock_app(seed_file), scenario, options.number, options.repeat)
        store = ceiling.Store(run.seed_triggers())
        ceiling_status, ceiling_us = await app_cpu_us(
            ceiling.asgi_app(store), scenario, options.number, options.repeat
        )
        predict_status, predict_us = predict_cpu_us(scenario, options.number, options.repeat)
        print(
            f"| {scenario.title} | {mock_us:.1f} | {ceiling_us:.1f} | {predict_us:.1f} | "
            f"{mock_us - predict_us:.1f} | {mock_status}/{ceiling_status}/{predict_status} |"
        )
    if options.after_posts:
        await list_after_posts(seed_file, options)
    if options.profile:
        scenario = next(s for s in run.scenarios() if s.key == options.profile)
        app = mock_app(seed_file)
        profiler = _cprofile().Profile()
        profiler.enable()
        await app_cpu_us(app, scenario, options.number, 1)
        profiler.disable()
        print(f"\nmock, {scenario.title}: {options.number + 1} requests, functions by own time")
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(options.top)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--number", type=int, default=3000, help="requests per round (default 3000)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best is shown (default 3)")
    parser.add_argument("--profile", choices=[s.key for s in run.scenarios()], help="cProfile the mock")
    parser.add_argument(
        "--after-posts", type=int, default=0, help="also: GET list after this many valid POSTs (e.g. 50000)"
    )
    parser.add_argument("--top", type=int, default=25, help="functions shown by --profile (default 25)")
    options = parser.parse_args(argv)
    print(
        "$ "
        + shlex.join([".venv/bin/python", "bench/inprocess.py", *(sys.argv[1:] if argv is None else argv)])
    )
    print(f"mock at {run.source_version()}, Python {sys.version.split()[0]}\n")
    with tempfile.TemporaryDirectory(prefix="rc-triggers-inprocess-") as tmp:
        seed_file = Path(tmp) / "seed.json"
        seed_file.write_text(json.dumps(run.seed_triggers()), encoding="utf-8")
        asyncio.run(main_async(options, seed_file))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
