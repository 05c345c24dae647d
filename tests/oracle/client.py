"""A long-lived `node oracle.mjs` process and the Python side of its JSON Lines protocol."""

from __future__ import annotations

import contextlib
import json
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from tests.oracle.fetch import ORACLE_SCRIPT, OraclePaths, OracleUnavailable

Schema = Literal["post", "query", "webhook-test", "webhook-call", "parse"]


@dataclass(frozen=True)
class Request:
    schema: Schema
    text: str  # the JSON text that both sides parse


@dataclass(frozen=True)
class Answer:
    valid: bool
    messages: tuple[str, ...]
    errors: tuple[dict[str, str], ...]  # instancePath, schemaPath, keyword, message of each ajv error
    data: str | None  # JSON.stringify of the data after ajv coerced it in place; None on a parse error
    parse_error: str | None  # JSON.parse's message when the text is not JSON

    @property
    def message(self) -> str:
        """What Rocket.Chat puts before " [invalid-params]"."""
        return "\n ".join(self.messages)


class Oracle:
    """Starts the Node oracle once; `check` sends a batch and returns the answers in order."""

    def __init__(self, paths: OraclePaths) -> None:
        self.paths = paths
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the process)
        self._next_id = 0
        self.compared = 0
        self._process = subprocess.Popen(
            self._command(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            encoding="utf-8",
            bufsize=1 << 20,
        )
        assert self._process.stdout is not None
        ready_line = self._process.stdout.readline()
        try:
            ready = json.loads(ready_line)
        except ValueError:
            ready = None
        if not isinstance(ready, dict) or ready.get("ready") is not True:
            self._process.kill()
            self._process.wait()
            reason = f"the Node oracle did not start: {ready_line.strip()!r}{self._stderr_tail()}"
            self.close()
            raise OracleUnavailable(reason)
        self.versions: dict[str, str] = ready["versions"]
        self.instances: dict[str, str] = ready["instances"]

    def _command(self, *extra: str) -> list[str]:
        return [
            self.paths.node,
            str(ORACLE_SCRIPT),
            "--package",
            str(self.paths.package),
            "--node-modules",
            str(self.paths.node_modules),
            *extra,
        ]

    def _stderr_tail(self) -> str:
        self._stderr.seek(0)
        text = self._stderr.read().decode("utf-8", "replace").strip()
        return f"\n--- oracle stderr ---\n{text[-4000:]}" if text else ""

    def dump(self) -> dict[str, Any]:
        """What the oracle read from the package: versions, instances, options and schemas."""
        done = subprocess.run(
            self._command("--dump"), capture_output=True, text=True, check=False, timeout=120
        )
        if done.returncode != 0:
            raise OracleUnavailable(f"oracle --dump failed ({done.returncode}): {done.stderr.strip()}")
        dumped: dict[str, Any] = json.loads(done.stdout)
        return dumped

    def check(self, batch: Sequence[Request]) -> list[Answer]:
        process = self._process
        assert process.stdin is not None
        assert process.stdout is not None
        if process.poll() is not None:
            raise OracleUnavailable(
                f"the Node oracle has exited with {process.returncode}{self._stderr_tail()}"
            )
        first = self._next_id
        self._next_id += len(batch)
        lines = [
            json.dumps({"id": first + offset, "schema": request.schema, "text": request.text}) + "\n"
            for offset, request in enumerate(batch)
        ]
        # Written from another thread: the oracle answers while it reads, and both pipes are finite.
        failure: list[BaseException] = []

        def write() -> None:
            try:
                assert process.stdin is not None
                process.stdin.write("".join(lines))
                process.stdin.flush()
            except BaseException as exc:
                failure.append(exc)

        writer = threading.Thread(target=write, name="oracle-writer", daemon=True)
        writer.start()
        answers: list[Answer] = []
        for offset in range(len(batch)):
            line = process.stdout.readline()
            if not line:
                writer.join(timeout=5)
                raise OracleUnavailable(
                    f"the Node oracle stopped answering after {offset} of {len(batch)} requests"
                    f"{' (' + repr(failure[0]) + ')' if failure else ''}{self._stderr_tail()}"
                )
            reply = json.loads(line)
            if reply.get("id") != first + offset or "protocolError" in reply:
                raise AssertionError(f"oracle protocol error for request {first + offset}: {line.strip()}")
            answers.append(
                Answer(
                    valid=bool(reply.get("valid", False)),
                    messages=tuple(reply.get("messages", ())),
                    errors=tuple(reply.get("errors", ())),
                    data=reply.get("data"),
                    parse_error=reply.get("parseError"),
                )
            )
        writer.join()
        if failure:
            raise OracleUnavailable(f"writing to the Node oracle failed: {failure[0]!r}")
        self.compared += len(batch)
        return answers

    def close(self) -> None:
        process = self._process
        if process.stdin is not None and not process.stdin.closed:
            with contextlib.suppress(OSError):
                process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
        self._stderr.close()

    def __enter__(self) -> Oracle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
