"""Every reproducer a run prints, run with ``sh``, shows the deviation it was printed for.

A run against a broken mock (``--keep``, so that state deviations still show) writes its Markdown
report; each ``sh`` block in it is run as it stands, and its last answer must carry what the report
says the server got: the status, each header, each body or stored value.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from contract_tests.client import curl_command
from spec.model import Request
from tests.mockserver import running_mock
from tests.mutant_server import predictor_reference
from tests.test_conformance_run import CREDENTIALS, conformance

pytestmark = [
    pytest.mark.http,
    pytest.mark.skipif(
        shutil.which("curl") is None and not os.environ.get("CI"), reason="curl is not installed"
    ),
]

ENVIRONMENT = {
    "RC_USER_ID": "admin-id",
    "RC_AUTH_TOKEN": "admin-token",
    "RC_LIMITED_USER_ID": "agent-id",
    "RC_LIMITED_AUTH_TOKEN": "agent-token",
}
_BLOCK = re.compile(
    r"#### (?P<title>.*?)\n\n(?P<problems>(?:- .*\n)+)(?:.*?\n)*?"
    r"Reproduce \(POSIX sh\) \(its last answer shows it: status (?P<status>\d+)\):\n\n"
    r"```sh\n(?P<script>[\s\S]*?)\n```",
)
_GOT_VALUE = re.compile(r"(?:^|; |: )(\$[^:;]*): expected .*?, got (.+?)(?=; \$|\s\(trigger |$)")
_STORED_ID = re.compile(r'^the server stored a trigger no request should have created: \{"_id":"(\w+)"')
_HEADER = re.compile(r"^header ([\w-]+): expected .*?, got (None|'(.*)')$")


CHECKABLE = ("header ", "body: $", "stored trigger differs", "the server stored a trigger")
"""Problems whose got value the reproducer's last answer must show (statuses are always checked)."""


def _last_answer(output: bytes) -> tuple[int, dict[str, str], bytes]:
    start = output.rfind(b"HTTP/1.1 ")
    head, _, body = output[start:].partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


def _shows(problem: str, headers: dict[str, str], body: bytes) -> bool:
    stored = _STORED_ID.search(problem)
    if stored is not None:  # a trigger that should not be there: the listing shows it
        return stored.group(1).encode() in body
    header = _HEADER.match(problem)
    if header is not None:
        name, got = header.group(1), header.group(3)
        return headers.get(name) == got if header.group(2) != "None" else name not in headers
    values = _GOT_VALUE.findall(problem)
    checked = False
    for _path, got in values:
        fragment = got.split("…")[0]
        if not fragment or not fragment.isascii() or "unexpected key" in got:
            continue
        checked = True
        if fragment.encode() not in body:
            return False
    return checked or problem.startswith("status:")


@pytest.mark.parametrize(
    "mutant",
    ["wrong-message-join", "router-headers-on-middleware-answers", "missing-coercion", "delete-ignored"],
)
def test_each_printed_reproducer_shows_its_deviation_under_sh(mutant: str, tmp_path: Path) -> None:
    report = tmp_path / "report.md"
    with running_mock("--quiet", "--predictor", predictor_reference(mutant)) as server:
        result = conformance(
            server.base_url,
            *CREDENTIALS,
            "--profile",
            "8.3",
            "--seed",
            "1",
            "--max-examples",
            "10",
            "--no-schemathesis",
            "--keep",
            "--report",
            str(report),
        )
        assert result.returncode == 1, result.stdout + result.stderr
        text = report.read_text()
        blocks = list(_BLOCK.finditer(text))
        assert blocks, text[-3000:]
        shown = 0
        for block in blocks:
            script = block.group("script")
            assert script.count("curl -g ") == script.count("curl ") and "\\x" not in script
            run = subprocess.run(
                ["sh", "-c", script],
                env={**os.environ, **ENVIRONMENT},
                capture_output=True,
                timeout=60,
                check=False,
            )
            assert run.returncode == 0, (script, run.stderr)
            status, headers, body = _last_answer(run.stdout)
            assert status == int(block.group("status")), (block.group("title"), script, run.stdout[-500:])
            problems = [line[2:] for line in block.group("problems").splitlines()]
            checkable = [p for p in problems if p.startswith(CHECKABLE)]
            for problem in checkable:
                target = re.search(r"\(trigger (\w+)\)$", problem)
                if target is not None and target.group(1).encode() not in body and "_id" in script:
                    # An update whose target the run itself deleted later: --keep cannot bring it back.
                    continue
                assert _shows(problem, headers, body), (problem, script, run.stdout[-1500:])
                shown += 1
        assert shown > 0, text[-3000:]


def test_bodies_are_readable_and_exact_under_posix_printf(tmp_path: Path) -> None:
    body = '{"name":"café 100% it\'s \\\\ \\"q\\"","x":"\x01"}'.encode() + b"\xff\n"
    request = Request("POST", "/p", 'sort={"name":-1}', (("Content-Type", "application/json"),), body)
    command = curl_command("http://127.0.0.1:9", request)
    printf = command.split(" | curl ")[0]
    assert '"name":"café 100%% it' in printf and "\\001" in printf and "\\377" in printf
    assert "curl -g " in command and "'http://127.0.0.1:9/p?sort={\"name\":-1}'" in command
    written = subprocess.run(["sh", "-c", printf], capture_output=True, check=True).stdout
    assert written == body
