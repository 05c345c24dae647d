"""The mock's pieces in process: the stores' transaction logic and the predictor seam.

The HTTP behaviour is tested against real processes in ``test_mock_server_http.py``; these tests
cover what is hard to provoke from outside: a write that lands between another writer's read and
its write, and a predictor that fails.
"""

from __future__ import annotations

import asyncio
import json
import pickle
import random
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mock_server.app import create_app
from mock_server.service import MockService
from mock_server.settings import MockSettings
from mock_server.stores import MemoryStore, Overtaken, SqliteStore, Store
from spec.jsvalues import stringify
from spec.model import Change, DeleteTrigger, InsertTrigger, Request, StateView, Trigger, UpdateTrigger, User
from spec.predict import (
    DEFAULT_SORT,
    Environment,
    Outcome,
    default_sort_key,
    predict,
    sort_key,
    sort_triggers,
)
from spec.profiles import Profile

ADMIN = User("admin-id", "admin-token", frozenset({"view-livechat-manager", "api-bypass-rate-limit"}))
AUTH = {"X-User-Id": ADMIN.user_id, "X-Auth-Token": ADMIN.token}


def trigger(trigger_id: str, name: str) -> dict[str, Any]:
    return {"_id": trigger_id, "name": name}


def insert(trigger_id: str) -> Any:
    """A predict callback that inserts one trigger, whatever it sees."""

    def run(view: StateView) -> tuple[int, Sequence[Change]]:
        return len(view.all_triggers()), (InsertTrigger(trigger(trigger_id, trigger_id)),)

    return run


def test_sqlite_write_after_a_stale_read_is_predicted_again(tmp_path: Path) -> None:
    path = str(tmp_path / "state.sqlite")
    first = SqliteStore(path, [ADMIN], journal_size=10)
    second = SqliteStore(path, [ADMIN], journal_size=10)
    seen: list[int] = []

    def racing(view: StateView) -> tuple[int, Sequence[Change]]:
        count = len(view.all_triggers())
        seen.append(count)
        if len(seen) == 1:
            # Another process commits between this read and this write.
            second.transact(insert("from-second"))
        return count, (InsertTrigger(trigger(f"seen-{count}", "x")),)

    assert first.transact(racing) == 1
    assert seen == [0, 1]  # the stale prediction was thrown away and made again under the lock
    assert [t["_id"] for t in first.triggers()] == ["from-second", "seen-1"]
    first.close()
    second.close()


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_a_failing_prediction_changes_nothing_and_leaves_the_store_usable(tmp_path: Path, kind: str) -> None:
    store: Store = (
        MemoryStore([ADMIN], journal_size=10)
        if kind == "memory"
        else SqliteStore(str(tmp_path / "s.sqlite"), [ADMIN], journal_size=10)
    )

    def broken(view: StateView) -> tuple[int, Sequence[Change]]:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        store.transact(broken)
    assert store.transact(insert("after")) == 0
    assert [t["_id"] for t in store.triggers()] == ["after"]
    store.close()


async def _call(app: Any, method: str, path: str, **options: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mock") as client:
        return await client.request(method, path, **options)


@pytest.mark.parametrize("db", [False, True])
def test_predictor_seam_and_contract_errors(tmp_path: Path, db: bool) -> None:
    calls: list[str] = []

    def mutant(request: Request, state: StateView, profile: Profile, env: Environment) -> Outcome:
        calls.append(request.path)
        if request.path.endswith("/explode"):
            raise RuntimeError("the contract broke")
        return predict(request, state, profile, env)

    settings = MockSettings(users=(ADMIN,), quiet=True, db_path=str(tmp_path / "s.sqlite") if db else None)
    app = create_app(settings, predictor=mutant)
    failed = asyncio.run(_call(app, "GET", "/api/v1/livechat/triggers/explode", headers=AUTH))
    assert failed.status_code == 500
    assert failed.json()["errorType"] == "mock-contract-error"
    assert "the contract broke" in failed.json()["error"]
    listed = asyncio.run(_call(app, "GET", "/api/v1/livechat/triggers", headers=AUTH))
    assert listed.status_code == 200
    assert calls == ["/api/v1/livechat/triggers/explode", "/api/v1/livechat/triggers"]


# -- the stores' default-sort index and public subset against spec.predict ---------------------------


def _full_order(view: StateView) -> tuple[list[Any], bool]:
    # A plain list has no sorted_by hook: spec.predict sorts it in full.
    ordered, tied = sort_triggers(list(view.all_triggers()), DEFAULT_SORT)
    return list(ordered), tied


@pytest.mark.parametrize("reads", ["after-every-change", "after-bursts-of-inserts"])
@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_the_index_gives_exactly_spec_predicts_order_and_ties(tmp_path: Path, kind: str, reads: str) -> None:
    store: Store = (
        MemoryStore([ADMIN], journal_size=10)
        if kind == "memory"
        else SqliteStore(str(tmp_path / "s.sqlite"), [ADMIN], journal_size=10)
    )
    chooser = random.Random(8)
    names = ["b", "a", "ab", "é", "\U0001f600", "a\x00", "B", ""]
    ids: list[str] = []

    def insert(step: int) -> Change:
        trigger_id = (
            f"id{step}" if chooser.random() < 0.9 or not ids else chooser.choice(ids)
        )  # duplicates too
        ids.append(trigger_id)
        return InsertTrigger(
            {"_id": trigger_id, "name": chooser.choice(names), "enabled": chooser.random() < 0.5}
        )

    for step in range(300):
        roll = chooser.random()
        changes: list[Change]
        if reads == "after-bursts-of-inserts" and roll < 0.1:
            # Unread inserts pile up in the memory store's pending entries: a few are bisected into
            # the index on the next read, many are merged by one sort.
            changes = [insert(step * 1000 + n) for n in range(chooser.choice([2, 30, 64, 65, 140]))]
        elif roll < 0.5 or not ids:
            changes = [insert(step)]
        elif roll < 0.8:
            fields: Trigger = {"name": chooser.choice(names), "enabled": chooser.random() < 0.5}
            changes = [UpdateTrigger(chooser.choice(ids), fields)]
        else:
            changes = [DeleteTrigger(chooser.choice(ids))]
        if reads != "after-every-change" and chooser.random() < 0.7:

            def write(view: StateView, changes: list[Change] = changes) -> tuple[None, Sequence[Change]]:
                return None, changes  # written, not read

            store.transact(write)
            continue

        def check(view: StateView, changes: list[Change] = changes) -> tuple[None, Sequence[Change]]:
            expected, expected_tied = _full_order(view)
            found = view.all_triggers().sorted_by(DEFAULT_SORT)  # type: ignore[attr-defined]
            assert found is not None
            page, tied = found
            # The memory store hands a page over as the text stringify writes for each trigger.
            texts = page[3:8].as_json_texts()
            if kind == "memory":
                assert [text.text for text in texts] == [stringify(t) for t in expected[3:8]]
            else:
                assert texts is None
            assert (list(page), tied) == (expected, expected_tied)
            assert list(page[3:8]) == expected[3:8]
            public = [t for t in view.all_triggers() if t.get("enabled") is True]
            assert list(view.public_triggers()) == public  # type: ignore[attr-defined]
            return None, changes

        store.transact(check)
    assert len(store.triggers()) > 20
    store.close()


def _nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


def test_memory_rows_read_back_as_written_in_either_form() -> None:
    """Rows are kept in marshal form until a list shows them, then as stringify's text: whichever
    form a row is in, every read gives the trigger that was written, and a list its exact text."""
    store = MemoryStore([ADMIN], journal_size=10)
    shared: list[Any] = [1.5, "x"]
    written: list[Trigger] = [
        {"_id": "a", "name": "a", "value": -0.0, "big": 1e21, "small": 1e-7, "whole": 5.0, "n": None},
        {"_id": "b", "name": "b", "text": 'é\U0001f600\ud800"\\', "flags": [True, False]},
        {"_id": "b2", "name": "b2", "map": {"z": 1.0, "a": {}}, "list": [[], {}, 2**70]},
        {"_id": "c", "name": "c", "left": shared, "right": shared},  # one list in two fields
        {"_id": "d", "name": "d", "deep": _nested(2100)},  # beyond marshal's depth: kept as text
    ]
    texts = [stringify(t) for t in written]  # == on the deep one would exceed the recursion limit

    def write(view: StateView) -> tuple[None, Sequence[Change]]:
        return None, tuple(InsertTrigger(t) for t in written)

    def read(view: StateView) -> tuple[list[Trigger], Sequence[Change]]:
        return [t for t in (view.find_trigger(str(w["_id"])) for w in written) if t is not None], ()

    def listed(view: StateView) -> tuple[list[str], Sequence[Change]]:
        found = view.all_triggers().sorted_by(DEFAULT_SORT)  # type: ignore[attr-defined]
        assert found is not None
        texts = found[0][0:5].as_json_texts()
        return [text.text for text in texts], ()

    store.transact(write)
    # Read back, the shared list is two lists, as JSON.parse of the stored text would give.
    (copy,) = [t for t in store.transact(read) if t["_id"] == "c"]
    left = copy["left"]
    assert isinstance(left, list)
    left.append("changed")
    assert copy["right"] == shared
    assert [stringify(t) for t in store.transact(read)] == texts  # marshal rows (and the deep text)
    assert [stringify(t) for t in store.triggers()] == texts
    assert store.transact(read)[:4] == written[:4]
    assert store.transact(listed) == texts
    assert [stringify(t) for t in store.transact(read)] == texts  # text rows now
    assert store.transact(read)[:4] == written[:4]
    assert store.transact(listed) == texts

    def update(view: StateView) -> tuple[None, Sequence[Change]]:
        return None, (UpdateTrigger("a", {"name": "z", "value": 2.0}),)

    store.transact(update)  # an updated row is written again, in marshal form
    (updated,) = [t for t in store.triggers() if t["_id"] == "a"]
    assert updated["name"] == "z" and updated["value"] == 2.0
    assert store.transact(listed)[-1] == stringify(updated)


_JSON = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner, max_size=3),
    max_leaves=6,
)


# Derandomized: the same examples on every machine; how fast a loaded machine draws them is no failure.
@settings(max_examples=300, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["name", "_id", "enabled"]), _JSON, max_size=3))
def test_the_index_key_is_the_default_sort_key(trigger: Trigger) -> None:
    assert default_sort_key(trigger) == sort_key(trigger, DEFAULT_SORT)


def test_a_name_of_another_kind_falls_back_to_the_full_sort(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "s.sqlite"), [ADMIN], journal_size=10)
    store.load([{"_id": "a", "name": "z"}, {"_id": "b", "name": 3.0}, {"_id": "c"}], replace=False)

    def check(view: StateView) -> tuple[None, Sequence[Change]]:
        assert view.all_triggers().sorted_by(DEFAULT_SORT) is None  # type: ignore[attr-defined]
        ordered, _ = sort_triggers(view.all_triggers(), DEFAULT_SORT)
        assert [t["_id"] for t in ordered] == ["c", "b", "a"]  # missing, number, string: BSON order
        return None, ()

    store.transact(check)
    store.close()


def test_databases_from_before_the_index_are_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TABLE triggers"
            " (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, doc TEXT NOT NULL)"
        )
        for trigger_id, name in (("x", "b"), ("y", "a"), ("z", "b")):
            connection.execute(
                "INSERT INTO triggers (id, doc) VALUES (?, ?)",
                (trigger_id, json.dumps({"_id": trigger_id, "name": name, "enabled": True})),
            )
    store = SqliteStore(str(path), [ADMIN], journal_size=10)

    def check(view: StateView) -> tuple[None, Sequence[Change]]:
        page, tied = view.all_triggers().sorted_by(DEFAULT_SORT)  # type: ignore[attr-defined]
        assert ([t["_id"] for t in page], tied, len(view.all_triggers())) == (["y", "x", "z"], True, 3)
        return None, ()

    store.transact(check)
    store.close()


def test_offloaded_predictions_waiting_together_are_each_checked_for_conflicts() -> None:
    store = MemoryStore([ADMIN], journal_size=10)

    async def offload(work: Any) -> Any:  # stands in for the forked child: runs later, elsewhere
        await asyncio.sleep(0.01)
        return work()

    def own(trigger_id: str) -> Any:
        def run(view: StateView) -> tuple[str, Sequence[Change]]:
            view.find_trigger(trigger_id)  # reads only its own id: others' writes do not conflict
            return trigger_id, (InsertTrigger(trigger(trigger_id, trigger_id)),)

        return run

    async def run() -> list[Any]:
        calls = [store.transact_offloaded(own(f"t{i}"), offload, exclusive=False) for i in range(3)]
        calls.append(store.transact_offloaded(insert("lister"), offload, exclusive=False))
        return await asyncio.gather(*calls, return_exceptions=True)

    results = asyncio.run(run())
    assert results[:3] == ["t0", "t1", "t2"]
    assert isinstance(results[3], Overtaken)  # it listed the triggers, and they changed meanwhile
    assert [t["_id"] for t in store.triggers()] == ["t0", "t1", "t2"]


def test_sqlite_offloaded_prediction_reads_a_snapshot_and_checks_it_before_writing(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "s.sqlite"), [ADMIN], journal_size=10)
    store.load([trigger("a", "first"), trigger("b", "second")], replace=False)
    meddle: list[Any] = []

    async def offload(work: Any) -> Any:  # the child's answer crosses a pipe as a pickle
        answer = pickle.loads(pickle.dumps(work()))
        for write in meddle:
            store.transact(write)
        return answer

    def rename(view: StateView) -> tuple[int, Sequence[Change]]:
        found = view.find_trigger("a")  # not in the first snapshot: the child asks for it
        assert found is not None
        return len(view.all_triggers()), (UpdateTrigger("a", {"name": f"{found['name']}!"}),)

    assert asyncio.run(store.transact_offloaded(rename, offload, exclusive=False)) == 2
    assert [t["name"] for t in store.triggers()] == ["first!", "second"]
    writes = iter(range(100))
    meddle.append(lambda view: (None, (UpdateTrigger("a", {"name": f"changed {next(writes)}"}),)))
    with pytest.raises(Overtaken):  # every answer from the child comes after another write to "a"
        asyncio.run(store.transact_offloaded(rename, offload, exclusive=False))
    assert [t["name"] for t in store.triggers()] == ["changed 2", "second"]  # its own change not applied
    store.close()


def test_which_requests_are_answered_off_the_loop() -> None:
    store = MemoryStore([ADMIN], journal_size=10)
    service = MockService(MockSettings(users=(ADMIN,), quiet=True), store, predict)
    listing = Request("GET", "/api/v1/livechat/triggers", query="count=0", headers=tuple(AUTH.items()))
    config = Request("GET", "/api/v1/livechat/config")
    assert not service.is_heavy(listing)  # a small store: cheap anyway
    store.load([{"_id": f"t{i}", "name": "n", "enabled": True} for i in range(2_500)], replace=False)
    assert service.is_heavy(listing)
    assert service.is_heavy(config)
    assert not service.is_heavy(Request("GET", "/api/v1/livechat/triggers", query="count=50"))
    assert not service.is_heavy(Request("GET", "/api/v1/livechat/triggers"))  # the default page of 50
    assert service.is_heavy(Request("POST", "/api/v1/livechat/triggers", body=b" " * 40_000))
