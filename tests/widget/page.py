"""A tiny web server that plays the two parts of a Rocket.Chat deployment the mock does not serve.

* ``/``: a host page (the customer's site) with the embed snippet exactly as Rocket.Chat's
  Omnichannel > Installation page prints it (apps/meteor/client/views/omnichannel/installation/
  Installation.tsx): it loads ``<site>/livechat/rocketchat-livechat.min.js`` and passes
  ``<site>/livechat`` as the widget's URL; the loader opens that URL in an iframe.
* ``/livechat``: the widget's ``index.html`` with ``<script> SERVER_URL = '...'; </script>`` put right
  after ``<body>``, the way the server's ``/livechat`` route does (apps/meteor/app/livechat/server/
  livechat.ts with ``addServerUrlToIndex`` of apps/meteor/app/livechat/lib/Assets.ts). Here
  ``SERVER_URL`` is the mock, so every REST call of the widget goes to the mock.
* ``/livechat/<file>``: the widget's built files, as the server ships them in its public assets.

Only the API the widget talks to is the mock's; the page and the widget's files come from here, on
another port (the mock's default CORS policy allows ``http://127.0.0.1:*``).

    python -m tests.widget.page --server-url http://127.0.0.1:3000 [--port 0] [--widget-dir DIR]

prints ``Listening on http://127.0.0.1:PORT`` once it accepts connections.
"""

from __future__ import annotations

import argparse
import html
import json
import mimetypes
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

# The snippet as Installation.tsx builds it, with `${siteUrl}` left to fill in.
EMBED_SNIPPET = """<!-- Start of Rocket.Chat Livechat Script -->
\t<script type="text/javascript">
\t(function(w, d, s, u) {
\t\tw.RocketChat = function(c) { w.RocketChat._.push(c) }; w.RocketChat._ = []; w.RocketChat.url = u;
\t\tvar h = d.getElementsByTagName(s)[0], j = d.createElement(s);
\t\tj.async = true; j.src = '{site_url}/livechat/rocketchat-livechat.min.js?_=201903270000';
\t\th.parentNode.insertBefore(j, h);
\t})(window, document, 'script', '{site_url}/livechat');
\t</script>"""

HOST_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<link rel="icon" href="data:,">
<title>Livechat widget against the mock</title>
<style>body {{ font-family: sans-serif; margin: 2em; max-width: 40em; }} code {{ font-size: 90%; }}</style>
</head>
<body>
<h1>Livechat widget against the mock</h1>
<p>The published <code>@rocket.chat/livechat</code> widget (bottom right), embedded with Rocket.Chat's own
snippet. Its API server is the mock at <a href="{server_url}/docs/"><code>{server_url}</code></a>.</p>
{snippet}
</body>
</html>
"""


def host_page(site_url: str, server_url: str) -> bytes:
    snippet = EMBED_SNIPPET.replace("{site_url}", site_url)
    return HOST_PAGE.format(server_url=html.escape(server_url), snippet=snippet).encode("utf-8")


def widget_index(index_html: str, server_url: str) -> bytes:
    """What the server's /livechat route answers: index.html with SERVER_URL set first thing in <body>."""
    # json.dumps gives a quoted JS string literal; the server writes the URL in single quotes unescaped.
    literal = "'" + json.dumps(server_url)[1:-1].replace("'", "\\'").replace("</", "<\\/") + "'"
    return index_html.replace("<body>", f"<body><script> SERVER_URL = {literal}; </script>", 1).encode(
        "utf-8"
    )


class _Handler(BaseHTTPRequestHandler):
    server: WidgetPageServer

    def log_message(self, format: str, *args: object) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def _answer(self, *, send_body: bool) -> None:
        path = urlsplit(self.path).path
        site = self.server.site_url
        if path in ("/", "/index.html"):
            self._send(
                HTTPStatus.OK, "text/html; charset=utf-8", host_page(site, self.server.server_url), send_body
            )
        elif path in ("/livechat", "/livechat/"):
            body = widget_index(self.server.index_html, self.server.server_url)
            self._send(HTTPStatus.OK, "text/html; charset=utf-8", body, send_body)
        elif path.startswith("/livechat/") and (file := self.server.widget_file(path[len("/livechat/") :])):
            kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
            if kind.startswith("text/") or kind.endswith("javascript"):
                kind += "; charset=utf-8"
            self._send(HTTPStatus.OK, kind, file.read_bytes(), send_body)
        else:
            self._send(HTTPStatus.NOT_FOUND, "text/plain; charset=utf-8", b"not found\n", send_body)

    def _send(self, status: HTTPStatus, content_type: str, body: bytes, send_body: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if send_body:
            self.wfile.write(body)


class WidgetPageServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, widget_dir: Path, server_url: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.widget_dir = widget_dir.resolve()
        self.server_url = server_url.rstrip("/")
        self.index_html = (self.widget_dir / "index.html").read_text("utf-8")
        self.verbose = False
        super().__init__((host, port), _Handler)

    @property
    def site_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def widget_file(self, relative: str) -> Path | None:
        candidate = (self.widget_dir / relative).resolve()
        if self.widget_dir not in candidate.parents or not candidate.is_file():
            return None
        return candidate

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="widget-page", daemon=True)
        thread.start()
        return thread


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Serve a page embedding the livechat widget against a server."
    )
    parser.add_argument("--server-url", required=True, help="the API server the widget talks to (the mock)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--widget-dir", type=Path, help="the widget's build folder (default: fetch it)")
    parser.add_argument("--verbose", action="store_true", help="log each request on stderr")
    arguments = parser.parse_args(argv)
    widget_dir = arguments.widget_dir
    if widget_dir is None:
        from tests.widget.fetch import WidgetUnavailable, ensure_widget

        try:
            widget_dir = ensure_widget()
        except WidgetUnavailable as exc:
            print(f"widget: {exc}", file=sys.stderr)
            return 1
    server = WidgetPageServer(widget_dir, arguments.server_url, arguments.host, arguments.port)
    server.verbose = arguments.verbose
    print(f"Listening on {server.site_url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
