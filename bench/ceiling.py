"""The ceiling for the mock: HTTP and JSON only, on the same uvicorn, for the benchmark's three scenarios.

    .venv/bin/python bench/ceiling.py --app starlette|asgi --port 8000 --seed-file SEED.json

bench/run.py starts it like the mock (pinned to one core, fresh per run) to show what the mock costs on
top of serving HTTP at all. Two apps answer ``/api/v1/livechat/triggers`` with the same status, body
bytes and headers as the mock does in the three scenarios (its X-Request-Id too, as a fixed value of the
same length), doing only what any JSON server must:

- ``POST``: parse the body with ``json.loads``; an object with a ``description`` is stored (appended
  to a list) and answered ``{"success":true}``; anything else gets the mock's 400 body for the
  benchmark's invalid request (a fixed text);
- ``GET``: render the first 50 stored triggers, the count, offset and total with ``json.dumps``.

No authentication, permission, rate limit, validation, sorting, journal or exact JavaScript rendering:
that is what the mock adds. ``starlette`` is a bare Starlette app (one route); ``asgi`` is a raw ASGI
callable without any framework. Both run under ``mock_server.cli``'s own uvicorn configuration and
garbage-collector tuning, so the comparison is with the mock's own HTTP stack.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mock_server.app import tune_garbage_collector
from mock_server.cli import _uvicorn_config
from spec.predict import JSON_HEADERS
from spec.routes import TRIGGERS_PATH

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

PAGE = 50  # the server's default count
SAVED = b'{"success":true}'
# The mock's answer to bench/lua/post_invalid.lua (bench/run.py checks that both answer 400).
REJECTED = (
    b'{"success":false,"error":"must have required property \'description\' [invalid-params]",'
    b'"errorType":"invalid-params"}'
)
# Every answer of the mock carries an X-Request-Id (16 hex digits unless the client sent one): the
# ceiling writes a header of the same length, fixed, so both put the same bytes on the wire and only
# choosing the id is the mock's own work.
REQUEST_ID_HEADER = ("x-request-id", "0" * 16)
ANSWER_HEADERS = (*JSON_HEADERS, REQUEST_ID_HEADER)
HEADERS = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in ANSWER_HEADERS]


class Store:
    def __init__(self, triggers: list[Any]) -> None:
        self.triggers = triggers

    def post(self, body: bytes) -> tuple[int, bytes]:
        try:
            value = json.loads(body)
        except ValueError:
            return 400, REJECTED
        if isinstance(value, dict) and "description" in value:
            self.triggers.append(value)
            return 200, SAVED
        return 400, REJECTED

    def list(self) -> tuple[int, bytes]:
        page = self.triggers[:PAGE]
        total = len(self.triggers)
        answer = {"triggers": page, "count": len(page), "offset": 0, "total": total, "success": True}
        return 200, json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode()


def starlette_app(store: Store) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    headers = dict(ANSWER_HEADERS)

    async def triggers(request: Request) -> Response:
        if request.method == "POST":
            status, body = store.post(await request.body())
        else:
            status, body = store.list()
        return Response(body, status_code=status, headers=headers)

    return Starlette(routes=[Route(TRIGGERS_PATH, triggers, methods=["GET", "POST"])])


def asgi_app(store: Store) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        if scope["path"] != TRIGGERS_PATH:
            status, body = 404, b'{"success":false,"error":"not found"}'
        elif scope["method"] == "POST":
            chunks = []
            while True:
                message = await receive()
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    break
            status, body = store.post(b"".join(chunks))
        else:
            status, body = store.list()
        headers = [*HEADERS, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/ceiling.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--app", choices=("starlette", "asgi"), required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--seed-file", type=Path, help="a JSON array of stored triggers")
    options = parser.parse_args(argv)
    import uvicorn

    triggers = json.loads(options.seed_file.read_text(encoding="utf-8")) if options.seed_file else []
    store = Store(list(triggers))
    app = starlette_app(store) if options.app == "starlette" else asgi_app(store)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((options.host, options.port))
    tune_garbage_collector()
    uvicorn.Server(_uvicorn_config(app, 1)).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
