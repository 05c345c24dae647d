"""A webhook receiver on a local port: what the external-service routes call during a run.

It answers by path (httpbin's shapes, so Rocket.Chat's own e2e test can use it too) and records every
request it gets, so a run can check what the server under test sent. ``result_for(path)`` is the
``spec.outbound.WebhookResult`` the receiver produces for a path: a run feeds it to
``spec.outbound.render`` to know the exact answer the server must give.

    POST /contents        200 {"contents": [{"msg": "hello", "order": 0}, ...]}  (a usable answer)
    POST /status/<code>   <code>, empty body
    POST /delay/<s>       waits <s> seconds (httpbin's unit), then 200 {"contents": [...]}
    POST /anything        200, a JSON echo of the request without "contents"
    POST /text            200 text/plain "not json"
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from spec.headers import CONTENT_TYPE
from spec.outbound import WebhookResponse, WebhookResult, WebhookTimeout

CONTENTS: list[dict[str, Any]] = [{"msg": "hello", "order": 0}, {"msg": "from the receiver", "order": 1}]
USABLE_PATH = "/contents"
NOT_JSON_PATH = "/text"
NO_CONTENTS_PATH = "/anything"


def status_path(code: int) -> str:
    return f"/status/{code}"


def delay_path(seconds: int) -> str:
    return f"/delay/{seconds}"


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    """Lower-case names."""
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class WebhookReceiver:
    """``with WebhookReceiver() as receiver: receiver.url(USABLE_PATH)``"""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.received: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                record = Received("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with receiver._lock:
                    receiver.received.append(record)
                status, content_type, payload, delay = receiver.answer_for(self.path, record)
                if delay:
                    time.sleep(delay)
                self.send_response(status)
                self.send_header(CONTENT_TYPE, content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        # shutdown() waits for the serving loop to look at its flag: every 50 ms, not the default 0.5 s
        # that every run would wait at the end of the external-service checks.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="webhook-receiver",
            daemon=True,
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        assert isinstance(host, str)
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def requests_to(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path == path]

    @staticmethod
    def answer_for(path: str, record: Received | None = None) -> tuple[int, str, bytes, float]:
        """(status, content type, body, delay in seconds) for ``path``."""
        usable = json.dumps({"contents": CONTENTS}).encode()
        if path == USABLE_PATH:
            return 200, "application/json", usable, 0.0
        if path == NOT_JSON_PATH:
            return 200, "text/plain", b"not json", 0.0
        if path == NO_CONTENTS_PATH:
            echo = {
                "method": "POST",
                "url": path,
                "data": record.body.decode("utf-8", "replace") if record else "",
            }
            return 200, "application/json", json.dumps(echo).encode(), 0.0
        kind, _, value = path.strip("/").partition("/")
        if kind == "status" and value.isdigit():
            return int(value), "text/plain", b"", 0.0
        if kind == "delay" and value.isdigit():
            return 200, "application/json", usable, float(value)
        return 404, "text/plain", b"no such receiver path", 0.0

    @classmethod
    def result_for(cls, path: str, timeout_ms: float) -> WebhookResult:
        """What a server that waits ``timeout_ms`` for the headers sees from this receiver (the echo
        of ``/anything`` varies with the request, its answer does not: it never has ``contents``).
        Callers keep delays far from the timeout: a delay close to it could end either way."""
        status, _, payload, delay = cls.answer_for(path)
        if delay * 1000 >= timeout_ms:
            return WebhookTimeout()
        return WebhookResponse(status, payload)


def main(argv: list[str] | None = None) -> int:
    """``python -m contract_tests.webhook_receiver [--host H] [--port P]``: the receiver on its own,
    e.g. as ``WEBHOOK_TEST_URL`` for Rocket.Chat's own e2e tests (Ctrl+C stops it)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m contract_tests.webhook_receiver")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    arguments = parser.parse_args(argv)
    receiver = WebhookReceiver(arguments.host, arguments.port)
    print(f"webhook receiver on {receiver.base_url}", flush=True)
    try:
        receiver._server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        receiver._server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
