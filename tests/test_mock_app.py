"""The mock's pieces in process: the stores' transaction logic and the predictor seam.

The HTTP behaviour is tested against real processes in ``test_mock_server_http.py``; these tests
cover what is hard to provoke from outside: a write that lands between another writer's read and
its write, and a predictor that fails.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from mock_server.app import create_app
from mock_server.settings import MockSettings
from mock_server.stores import MemoryStore, SqliteStore, Store
from spec.model import Change, InsertTrigger, Request, StateView, User
from spec.predict import Environment, Outcome, predict
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
