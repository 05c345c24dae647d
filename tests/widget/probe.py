"""Find out what the published widget asks of the server: load it against a mock and record everything.

    .venv/bin/python -m tests.widget.probe [--out-dir reports/widget-probe] [--wait 8]
        [--patch-config FILE] [--fake PATH=FILE ...] [--triggers custom,queue,disabled]

Starts ``python -m mock_server --port 0 --quiet --user probe-id:probe-token:view-livechat-manager,
api-bypass-rate-limit``, creates three triggers through ``POST /api/v1/livechat/triggers`` (time-on-site
1 s with ``sender: custom``, the same with ``sender: queue``, and a disabled one), serves the host page
of ``tests.widget.page``, loads it in headless chromium and waits ``--wait`` seconds. Writes
``recording.json`` (every request with its status and, for the API, the answer's body; console
messages; page errors; websocket frames), ``screenshot.png`` and ``iframe.html`` (the widget's DOM)
to the output folder and prints a summary.

``--patch-config FILE`` and ``--fake`` are for exploring only (what would the widget do next if the
mock answered this?): the first deep-merges a JSON object into the mock's config answer in the
browser, the second answers every request whose URL contains PATH with the JSON in FILE (status
200). Nothing else changes any answer: without them the widget sees the mock exactly.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Route, sync_playwright

from tests.mockserver import MockServer, start_mock
from tests.widget.browser import Recording, chromium_context, ensure_chromium
from tests.widget.fetch import VERSION, ensure_widget
from tests.widget.page import WidgetPageServer

REPO_ROOT = Path(__file__).resolve().parents[2]
PROBE_USER = ("probe-id", "probe-token", "view-livechat-manager,api-bypass-rate-limit")
TRIGGER_PATH = "/api/v1/livechat/triggers"


def trigger_body(
    name: str, sender: str, message: str, *, enabled: bool = True, seconds: str = "1"
) -> dict[str, Any]:
    params: dict[str, str] = {"sender": sender, "msg": message}
    if sender == "custom":
        params["name"] = "Probe Bot"
    return {
        "name": name,
        "description": f"{sender} sender, time on site {seconds} s",
        "enabled": enabled,
        "runOnce": False,
        "conditions": [{"name": "time-on-site", "value": seconds}],
        "actions": [{"name": "send-message", "params": params}],
    }


PROBE_TRIGGERS = (
    trigger_body("custom", "custom", "Hello from a custom sender"),
    trigger_body("queue", "queue", "Hello from the queue"),
    trigger_body("disabled", "custom", "A disabled trigger says this", enabled=False),
)


def create_triggers(server: MockServer, headers: dict[str, str], names: list[str]) -> list[str]:
    answers = []
    with server.client() as client:
        for body in (body for body in PROBE_TRIGGERS if body["name"] in names):
            response = client.post(TRIGGER_PATH, json=body, headers=headers)
            answers.append(f"POST {TRIGGER_PATH} {body['name']!r} -> {response.status_code} {response.text}")
    return answers


def _merge(base: Any, patch: Any) -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for key, value in patch.items():
            merged[key] = _merge(base.get(key), value)
        return merged
    return patch


def _fake_answer(text: str) -> Callable[[Route], None]:
    # One parameter only: Playwright passes (route, request) to a handler that takes two.
    def answer(route: Route) -> None:
        if route.request.method == "OPTIONS":
            route.fallback()
            return
        headers = {"content-type": "application/json", "access-control-allow-origin": "*"}
        route.fulfill(status=200, body=text, headers=headers)

    return answer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out-dir", type=Path, default=REPO_ROOT / "reports" / "widget-probe")
    parser.add_argument("--wait", type=float, default=8.0, help="seconds to watch the page after it loaded")
    parser.add_argument(
        "--patch-config", type=Path, help="JSON object merged into the config answer (exploring)"
    )
    parser.add_argument(
        "--replace-config", action="store_true", help="with --patch-config: the config is FILE, not merged"
    )
    parser.add_argument("--fake", action="append", default=[], metavar="PATH=FILE", help="exploring only")
    parser.add_argument(
        "--mock-arg", action="append", default=[], help="extra mock_server option (repeatable)"
    )
    parser.add_argument(
        "--triggers",
        default=",".join(body["name"] for body in PROBE_TRIGGERS),
        help="which of the probe's triggers to create (comma-separated; default: all three)",
    )
    parser.add_argument("--mock-log", action="store_true", help="keep the mock's request log (no --quiet)")
    arguments = parser.parse_args(argv)
    out_dir: Path = arguments.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    chromium = ensure_chromium(install=False)
    widget_dir = ensure_widget()
    user_id, token, permissions = PROBE_USER
    quiet = [] if arguments.mock_log else ["--quiet"]
    server = start_mock(*quiet, "--user", f"{user_id}:{token}:{permissions}", *arguments.mock_arg)
    page_server = WidgetPageServer(widget_dir, server.base_url)
    page_server.start()
    recording = Recording()
    try:
        created = create_triggers(
            server, {"X-User-Id": user_id, "X-Auth-Token": token}, arguments.triggers.split(",")
        )
        with sync_playwright() as playwright, chromium_context(playwright, chromium) as context:
            page = context.pages[0] if context.pages else context.new_page()
            recording.attach(page)
            if arguments.patch_config is not None:
                patch = json.loads(arguments.patch_config.read_text("utf-8"))

                def patch_config(route: Route) -> None:
                    answer = route.fetch()
                    body = answer.json()
                    body["config"] = patch if arguments.replace_config else _merge(body["config"], patch)
                    route.fulfill(response=answer, body=json.dumps(body))

                page.route(f"{server.base_url}/api/v1/livechat/config*", patch_config)
            for fake in arguments.fake:
                fragment, _, file = fake.partition("=")
                page.route(re.compile(re.escape(fragment)), _fake_answer(Path(file).read_text("utf-8")))
            started = time.monotonic()
            page.goto(page_server.site_url + "/", wait_until="load")
            page.wait_for_timeout(arguments.wait * 1000)
            recording.collect_bodies()
            page.screenshot(path=str(out_dir / "screenshot.png"))
            frame = next((f for f in page.frames if "/livechat" in f.url), None)
            iframe_html = frame.content() if frame is not None else "(no widget iframe)"
            (out_dir / "iframe.html").write_text(iframe_html, "utf-8")
            elapsed = time.monotonic() - started
        journal = httpx.get(server.url("/__mock__/journal"), timeout=10).json()
    finally:
        page_server.shutdown()
        page_server.server_close()
        server.stop()
    recording.write(out_dir / "recording.json")
    (out_dir / "journal.json").write_text(json.dumps(journal, indent=1) + "\n", "utf-8")
    (out_dir / "mock.log").write_text(server.log(), "utf-8")
    print(f"widget @rocket.chat/livechat {VERSION} from {widget_dir}")
    print(f"mock {server.base_url}  page {page_server.site_url}  watched {elapsed:.1f} s")
    for line in created:
        print(line)
    print("requests to the mock, in order:")
    for exchange in recording.api_exchanges(server.base_url):
        body = (exchange.response_body or exchange.failure or "")[:300]
        print(f"  {exchange.method} {exchange.url[len(server.base_url) :]} -> {exchange.status} {body}")
    print("websocket:")
    for event in recording.sockets:
        print(f"  {event.event} {event.url} {event.data[:200]}")
    print("console errors and page errors:")
    for error in recording.errors():
        print(f"  {error[:400]}")
    texts = [body["actions"][0]["params"]["msg"] for body in PROBE_TRIGGERS]
    for text in texts:
        print(f"message {text!r} in the widget: {text in iframe_html}")
    print(f"written: {out_dir}/recording.json journal.json mock.log screenshot.png iframe.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
