"""Debian's chromium driven by Playwright (from PyPI), and a recorder of what a page does on the network.

Playwright's own browser downloads are not possible here, so it drives ``/usr/bin/chromium``
(``apt-get install -y chromium``) through ``executable_path``, always with a fresh user-data-dir so
that no widget state (the visitor token, fired runOnce triggers in local storage) leaks between runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only types: the default test run collects these modules without playwright installed
    from playwright.sync_api import (
        BrowserContext,
        ConsoleMessage,
        Page,
        Playwright,
        Request,
        Response,
        WebSocket,
    )

CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",  # root in a container: the sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser")
INSTALL_COMMAND = ("apt-get", "install", "-y", "chromium")


class ChromiumUnavailable(RuntimeError):
    """No chromium binary, and it could not (or may not) be installed."""


def find_chromium() -> str | None:
    configured = os.environ.get("RC_CHROMIUM")
    for candidate in (configured, *CHROMIUM_CANDIDATES):
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


def ensure_chromium(*, install: bool) -> str:
    """The chromium executable; with ``install`` a missing one is installed with apt-get first."""
    found = find_chromium()
    if found is not None:
        return found
    if not install:
        raise ChromiumUnavailable(f"chromium was not found; install it with `{' '.join(INSTALL_COMMAND)}`")
    apt = shutil.which("apt-get")
    if apt is None:
        raise ChromiumUnavailable("chromium was not found and there is no apt-get to install it")
    for attempt in range(30):  # another process may hold the dpkg lock for a while
        done = subprocess.run(
            [apt, *INSTALL_COMMAND[1:]],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        if done.returncode == 0:
            break
        output = done.stdout + done.stderr
        if "Unable to locate package" in output and attempt == 0:
            subprocess.run([apt, "update"], capture_output=True, timeout=900, check=False)
            continue
        if "lock" not in output.lower():
            raise ChromiumUnavailable(
                f"`{' '.join(INSTALL_COMMAND)}` failed ({done.returncode}): {output[-2000:]}"
            )
        time.sleep(10)
    found = find_chromium()
    if found is None:
        raise ChromiumUnavailable(f"`{' '.join(INSTALL_COMMAND)}` ran but no chromium is on PATH")
    return found


@contextmanager
def chromium_context(playwright: Playwright, executable: str) -> Iterator[BrowserContext]:
    """A persistent context on a fresh, temporary user-data-dir, closed and removed afterwards."""
    profile = Path(tempfile.mkdtemp(prefix="widget-chromium-"))
    context = playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=executable,
        headless=True,
        args=list(CHROMIUM_ARGS),
        viewport={"width": 1000, "height": 760},
    )
    try:
        yield context
    finally:
        context.close()
        shutil.rmtree(profile, ignore_errors=True)


@dataclass
class Exchange:
    """One HTTP request the page made and what came back."""

    method: str
    url: str
    resource: str
    frame: str
    request_headers: dict[str, str]
    request_body: str | None
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: str | None = None
    failure: str | None = None


@dataclass
class SocketEvent:
    url: str
    event: str  # opened, sent, received, error, closed
    data: str = ""


@dataclass
class Recording:
    exchanges: list[Exchange] = field(default_factory=list)
    console: list[dict[str, str]] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    sockets: list[SocketEvent] = field(default_factory=list)
    _pending: dict[int, tuple[Exchange, Request]] = field(default_factory=dict, repr=False)
    _responses: list[tuple[Exchange, Response]] = field(default_factory=list, repr=False)

    def attach(self, page: Page) -> None:
        page.on("request", self._on_request)
        page.on("response", self._on_response)
        page.on("requestfailed", self._on_failed)
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.page_errors.append(f"{error.name}: {error.message}"))
        page.on("websocket", self._on_socket)

    def _on_request(self, request: Request) -> None:
        frame = request.frame.url if request.resource_type != "document" else "(navigation)"
        exchange = Exchange(
            request.method,
            request.url,
            request.resource_type,
            frame,
            dict(request.headers),
            request.post_data,
        )
        self.exchanges.append(exchange)
        self._pending[id(request)] = (exchange, request)

    def _on_response(self, response: Response) -> None:
        entry = self._pending.get(id(response.request))
        if entry is None:
            return
        exchange = entry[0]
        exchange.status = response.status
        exchange.response_headers = dict(response.headers)
        self._responses.append((exchange, response))

    def _on_failed(self, request: Request) -> None:
        entry = self._pending.get(id(request))
        if entry is not None:
            entry[0].failure = request.failure or "failed"

    def _on_console(self, message: ConsoleMessage) -> None:
        self.console.append(
            {"type": message.type, "text": message.text, "url": message.location.get("url", "")}
        )

    def _on_socket(self, socket: WebSocket) -> None:
        url = socket.url
        self.sockets.append(SocketEvent(url, "opened"))
        socket.on("framesent", lambda data: self.sockets.append(SocketEvent(url, "sent", str(data)[:500])))
        socket.on(
            "framereceived", lambda data: self.sockets.append(SocketEvent(url, "received", str(data)[:500]))
        )
        socket.on("socketerror", lambda error: self.sockets.append(SocketEvent(url, "error", str(error))))
        socket.on("close", lambda _socket: self.sockets.append(SocketEvent(url, "closed")))

    def collect_bodies(self, *, only_api: bool = True) -> None:
        """Read the answers' bodies (outside the event handlers, where reading could dead-lock)."""
        for exchange, response in self._responses:
            if exchange.response_body is not None or (only_api and "/api/" not in exchange.url):
                continue
            try:
                exchange.response_body = response.body().decode("utf-8", errors="replace")
            except Exception as exc:  # the body may be gone (redirect, preflight): say so in the record
                exchange.response_body = f"<body unavailable: {type(exc).__name__}>"
        self._responses = [(e, r) for e, r in self._responses if e.response_body is None]

    def api_exchanges(self, server_url: str) -> list[Exchange]:
        return [exchange for exchange in self.exchanges if exchange.url.startswith(server_url)]

    def errors(self) -> list[str]:
        return [m["text"] for m in self.console if m["type"] == "error"] + self.page_errors

    def to_json(self) -> dict[str, Any]:
        return {
            "exchanges": [asdict(exchange) for exchange in self.exchanges],
            "console": self.console,
            "page_errors": self.page_errors,
            "sockets": [asdict(event) for event in self.sockets],
        }

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=1) + "\n", "utf-8")
