"""One command for a demo page with the published livechat widget talking to the mock.

    .venv/bin/python tools/widget_demo.py [--port 3000] [--page-port 0] [--no-sample-trigger]
        [-- MOCK OPTIONS]

Fetches ``@rocket.chat/livechat`` 1.13.3 into its cache on first use (``tests.widget.fetch``), starts
``python -m mock_server`` on 127.0.0.1 (``--port``; options after ``--`` go to the mock, e.g.
``-- --profile 7.5``), serves a host page that embeds the widget with Rocket.Chat's own snippet
(``tests.widget.page``; ``SERVER_URL`` = the mock), creates a sample time-on-site trigger through the
public REST API unless ``--no-sample-trigger``, and prints the page's URL and the credentials for
creating more triggers. Ctrl-C (or SIGTERM) stops the page server and the mock.
"""

from __future__ import annotations

import argparse
import secrets
import signal
import sys
from pathlib import Path
from types import FrameType

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run as a script: make the repository's packages importable
    sys.path.insert(0, str(REPO_ROOT))

import httpx  # noqa: E402

from spec.permissions import ADMIN_PERMISSIONS  # noqa: E402
from spec.routes import TRIGGERS_PATH  # noqa: E402
from tests.mockserver import MockServer, start_mock  # noqa: E402
from tests.widget.fetch import VERSION, WidgetUnavailable, ensure_widget  # noqa: E402
from tests.widget.page import WidgetPageServer  # noqa: E402

SAMPLE_TRIGGER = {
    "name": "Demo welcome",
    "description": "created by tools/widget_demo.py",
    "enabled": True,
    "runOnce": False,
    "conditions": [{"name": "time-on-site", "value": "3"}],
    "actions": [
        {
            "name": "send-message",
            "params": {
                "sender": "custom",
                "name": "Demo",
                "msg": "Hi! This message comes from a trigger on the mock.",
            },
        }
    ],
}


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def create_sample_trigger(server: MockServer, headers: dict[str, str]) -> str:
    response = httpx.post(server.url(TRIGGERS_PATH), json=SAMPLE_TRIGGER, headers=headers, timeout=10)
    return f"POST {TRIGGERS_PATH} -> {response.status_code} {response.text}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=3000, help="the mock's port (0: a free one)")
    parser.add_argument("--page-port", type=int, default=0, help="the demo page's port (default: a free one)")
    parser.add_argument("--no-sample-trigger", action="store_true", help="start with no trigger")
    parser.add_argument("mock_options", nargs="*", help="options for mock_server, after --")
    arguments = parser.parse_args(argv)
    try:
        widget_dir = ensure_widget()
    except WidgetUnavailable as exc:
        print(f"widget_demo: {exc}", file=sys.stderr)
        return 1
    user_id, token = "demo-admin", secrets.token_urlsafe(18)
    credentials = f"{user_id}:{token}:{','.join(sorted(ADMIN_PERMISSIONS))}"
    try:
        # Development mode (no rate limiter), as a developer's own server runs: reloading the page more
        # than ten times a minute must not turn the widget's config request into a 429.
        server = start_mock(
            "--port", str(arguments.port), "--no-rate-limit", "--user", credentials, *arguments.mock_options
        )
    except RuntimeError as exc:
        print(f"widget_demo: {exc}", file=sys.stderr)
        return 1
    for signum in (signal.SIGINT, signal.SIGTERM):  # SIGINT too: a background job inherits it ignored
        signal.signal(signum, _stop)
    page_server: WidgetPageServer | None = None
    try:
        page_server = WidgetPageServer(widget_dir, server.base_url, port=arguments.page_port)
        headers = {"X-User-Id": user_id, "X-Auth-Token": token}
        print(server.banner.rstrip().replace(" (Ctrl+C to stop)", ""))
        print()
        print(f"Livechat widget demo (@rocket.chat/livechat {VERSION}, files from {widget_dir})")
        if not arguments.no_sample_trigger:
            print(f"  sample trigger: {create_sample_trigger(server, headers)} (shows after 3 s on the page)")
        print(f"  more triggers:  curl -X POST {server.url(TRIGGERS_PATH)} -H 'X-User-Id: {user_id}' \\")
        print(
            f"                    -H 'X-Auth-Token: {token}' -H 'Content-Type: application/json' -d '{{...}}'"
        )
        print("  reload the page after changing triggers: the widget reads them once, when it loads")
        print(f"Open {page_server.site_url}/ (Ctrl+C to stop)", flush=True)
        page_server.serve_forever()
    except KeyboardInterrupt:
        print("\nstopping", file=sys.stderr)
    finally:
        if page_server is not None:
            page_server.server_close()
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
