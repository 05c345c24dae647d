"""The corpus CLI: deterministic for a seed, and its expectations are what the mock answers."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.mockserver import run_module, running_mock


def write_corpus(path: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return run_module("fuzz", "--output", str(path), *arguments, timeout=120, check=True)


def test_same_seed_gives_a_byte_identical_file(tmp_path: Path) -> None:
    first, second, other = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    write_corpus(first, "--seed", "11", "--count", "300")
    write_corpus(second, "--seed", "11", "--count", "300")
    write_corpus(other, "--seed", "12", "--count", "300")
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes() != other.read_bytes()
    lines = [json.loads(line) for line in first.read_text().splitlines()]
    assert len(lines) == 300
    assert {"post-valid", "list", "credentials"} <= {line["kind"] for line in lines}
    assert any(line["kind"].startswith("post-invalid:") for line in lines)
    assert {200, 400, 401} <= {line["expected"]["status"] for line in lines}


def _body(fields: dict[str, Any]) -> bytes:
    if fields["body"] is not None:
        return str(fields["body"]).encode()
    return base64.b64decode(fields["body_base64"])


@pytest.mark.http
@pytest.mark.parametrize("profile", ["8.3", "6.13"])
def test_the_mock_answers_every_line_as_labelled(tmp_path: Path, profile: str) -> None:
    corpus = tmp_path / "corpus.jsonl"
    write_corpus(corpus, "--seed", "5", "--count", "400", "--profile", profile)
    lines = [json.loads(line) for line in corpus.read_text().splitlines()]
    compared = 0
    with (
        running_mock("--quiet", "--no-rate-limit", "--profile", profile) as server,
        server.client() as client,
    ):
        for line in lines:
            request = line["request"]
            query = f"?{request['query']}" if request["query"] else ""
            response = client.request(
                request["method"], request["path"] + query, headers=request["headers"], content=_body(request)
            )
            expected = line["expected"]
            assert response.status_code == expected["status"], line
            if b'"_updatedAt"' not in _body(expected):  # ids and times of created triggers are the server's
                assert response.content == _body(expected), line
                compared += 1
    print(
        f"corpus lines answered as labelled by the {profile} mock: {len(lines)} statuses, {compared} bodies"
    )
    assert compared > len(lines) // 2
