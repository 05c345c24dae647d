"""CPU µs per call of the contract's hot functions on the benchmark's own requests, in process.

    .venv/bin/python bench/micro.py [--number 2000] [--repeat 7]

No server and no sockets: this isolates what spec/ costs per request (JSON parsing, ajv validation,
JSON.stringify, and the whole ``spec.predict.predict``) from HTTP. The inputs are the bodies of
bench/lua/ (valid and invalid POST) and the list of 10 stored triggers of bench/run.py. Each figure is
the CPU time (``time.process_time``, so other processes on a shared machine disturb it little) of
``--number`` calls divided by ``--number``; the best and the median of ``--repeat`` such rounds are
printed. Nothing here runs in the test suite.
"""

from __future__ import annotations

import argparse
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import run  # bench/run.py: the scenarios' bodies and the stored triggers

from mock_server.stores import MemoryStore
from spec.contract import list_query_validator, post_body_validator
from spec.jsvalues import JsonText, parse_json, stringify, to_js_value
from spec.model import Request, State, User
from spec.parsing import parse_query
from spec.predict import Environment, predict
from spec.profiles import get_profile


def cpu_us_per_call(function: Callable[[], object], number: int, repeat: int) -> tuple[float, float]:
    """Best and median CPU µs per call over ``repeat`` rounds of ``number`` calls."""
    rounds = []
    for _ in range(repeat):
        started = time.process_time()
        for _ in range(number):
            function()
        rounds.append((time.process_time() - started) / number * 1e6)
    return min(rounds), statistics.median(rounds)


def cases() -> list[tuple[str, Callable[[], object]]]:
    bodies = {scenario.key: scenario.body for scenario in run.scenarios() if scenario.body is not None}
    valid_text = bodies["post-valid"].decode()
    invalid_text = bodies["post-invalid"].decode()
    valid_value = parse_json(valid_text)
    invalid_value = parse_json(invalid_text)
    post = post_body_validator()
    query = list_query_validator()
    # Validation in place: neither body needs coercion, so every call sees the same input.
    assert post.validate(valid_value, in_place=True).valid
    assert not post.validate(invalid_value, in_place=True).valid

    admin = User(run.USER_ID, run.AUTH_TOKEN, frozenset(run.MOCK_PERMISSIONS.split(",")))
    state = State(users=(admin,), triggers=tuple(to_js_value(trigger) for trigger in run.seed_triggers()))  # type: ignore[misc]
    profile = get_profile("8.3")
    env = Environment(now_ms=1_764_000_000_000, new_trigger_id="0" * 24)
    headers = (("X-User-Id", run.USER_ID), ("X-Auth-Token", run.AUTH_TOKEN), ("Accept", "application/json"))
    json_headers = (*headers, ("Content-Type", "application/json"))
    requests = {
        "post-valid": Request("POST", run.TRIGGERS_PATH, headers=json_headers, body=bodies["post-valid"]),
        "post-invalid": Request("POST", run.TRIGGERS_PATH, headers=json_headers, body=bodies["post-invalid"]),
        "get-list": Request("GET", run.TRIGGERS_PATH, headers=headers),
    }
    answers = {key: predict(request, state, profile, env).answer for key, request in requests.items()}
    for key, status in (("post-valid", 200), ("post-invalid", 400), ("get-list", 200)):
        assert answers[key].status == status, (key, answers[key])
    valid_answer = parse_json(answers["post-valid"].body.decode())
    invalid_answer = parse_json(answers["post-invalid"].body.decode())
    list_value = parse_json(answers["get-list"].body.decode())
    # The same list with numbers in it (use-external-service's serviceTimeout), as JSON.parse holds them.
    timed = parse_json(answers["get-list"].body.decode())
    assert isinstance(timed, dict) and isinstance(timed["triggers"], list)
    for trigger in timed["triggers"]:
        assert isinstance(trigger, dict)
        trigger["actions"] = [
            {
                "name": "use-external-service",
                "params": {"serviceUrl": "http://x", "serviceTimeout": 5000.0, "serviceFallbackMessage": "f"},
            }
        ]

    # The mock's in-memory store keeps each trigger as stringify's text and lists a page by copying it.
    store = MemoryStore((admin,), journal_size=10)
    store.load(state.triggers, replace=False)
    assert predict(requests["get-list"], store, profile, env).answer == answers["get-list"]
    texts = {**list_value, "triggers": [JsonText(stringify(t)) for t in list_value["triggers"]]}
    assert stringify(texts) == stringify(list_value)

    return [
        ("parse_json: valid POST body", lambda: parse_json(valid_text)),
        ("parse_json: invalid POST body", lambda: parse_json(invalid_text)),
        ("validate: valid POST body", lambda: post.validate(valid_value, in_place=True)),
        ("validate: invalid POST body", lambda: post.validate(invalid_value, in_place=True)),
        ("validate: list query (none)", lambda: query.validate(parse_query(""), in_place=True)),
        (
            "validate: list query count=10&offset=5 (coerced)",
            lambda: query.validate(parse_query("count=10&offset=5"), in_place=True),
        ),
        ("stringify: valid POST answer", lambda: stringify(valid_answer)),
        ("stringify: invalid POST answer", lambda: stringify(invalid_answer)),
        ("stringify: GET list answer (10 triggers)", lambda: stringify(list_value)),
        ("stringify: GET list, serviceTimeout numbers", lambda: stringify(timed)),
        ("stringify: GET list answer, triggers as JsonText", lambda: stringify(texts)),
        ("predict: valid POST", lambda: predict(requests["post-valid"], state, profile, env)),
        ("predict: invalid POST", lambda: predict(requests["post-invalid"], state, profile, env)),
        ("predict: GET list (10 stored)", lambda: predict(requests["get-list"], state, profile, env)),
        (
            "predict: GET list (10 stored, MemoryStore: texts)",
            lambda: predict(requests["get-list"], store, profile, env),
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--number", type=int, default=2000, help="calls per round (default 2000)")
    parser.add_argument("--repeat", type=int, default=7, help="rounds; best and median are shown (default 7)")
    parser.add_argument("--only", default="", help="run only the cases whose name contains this text")
    options = parser.parse_args(argv)
    command = shlex.join([".venv/bin/python", "bench/micro.py", *(sys.argv[1:] if argv is None else argv)])
    print(f"$ {command}")
    print(f"mock at {run.source_version()}, Python {platform.python_version()}")
    print()
    rows = []
    for name, function in cases():
        if options.only not in name:
            continue
        best, median = cpu_us_per_call(function, options.number, options.repeat)
        rows.append((name, f"{best:.2f}", f"{median:.2f}"))
    width = max(len(name) for name, _, _ in rows)
    print(f"| {'case':<{width}} | best µs | median µs |")
    print(f"|{'-' * (width + 2)}|---------|-----------|")
    for name, best_text, median_text in rows:
        print(f"| {name:<{width}} | {best_text:>7} | {median_text:>9} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
