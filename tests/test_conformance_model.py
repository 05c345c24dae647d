"""``LiveModel.reconcile``: what the runner believes the server stores, corrected by what it lists."""

from __future__ import annotations

import pytest

from contract_tests.model import PENDING_ID_PREFIX, Incomplete, LiveModel
from spec.model import Trigger, User

PREFIX = "rc-contract-0123abcd "


def _model() -> LiveModel:
    return LiveModel(User("admin-id", "admin-token"), None, PREFIX)


def _trigger(trigger_id: str, number: int, **fields: object) -> Trigger:
    trigger: Trigger = {
        "_id": trigger_id,
        "name": f"{PREFIX}{number:05d} n",
        "description": "d",
        "enabled": False,
        "_updatedAt": "2026-01-01T00:00:00.000Z",
    }
    trigger.update(fields)  # type: ignore[arg-type]
    return trigger


def test_a_pending_insert_takes_the_servers_id_and_timestamp() -> None:
    model = _model()
    model.own = [_trigger(f"{PENDING_ID_PREFIX}1", 1)]
    listed = _trigger("server-id", 1, _updatedAt="2026-02-02T00:00:00.000Z")
    assert model.reconcile([listed], set()) == []
    assert model.own == [listed]
    assert model.own_ids() == ["server-id"]


def test_a_stored_value_that_differs_is_reported_once_by_path_then_believed() -> None:
    model = _model()
    model.own = [_trigger("a", 1)]
    listed = _trigger("a", 1, enabled="false")
    problems = model.reconcile([listed], set())
    assert problems == [
        'stored trigger differs from the contract: $.enabled: expected false, got "false" (trigger a)'
    ]
    assert model.own == [listed]
    assert model.reconcile([listed], set()) == []


def test_a_missing_own_trigger_is_gone_only_in_a_complete_listing() -> None:
    model = _model()
    model.own = [_trigger("a", 1), _trigger("b", 2)]
    assert model.reconcile([_trigger("b", 2)], set(), complete=False) == []
    assert model.own_ids() == ["a", "b"]  # a partial listing says nothing about "a"
    problems = model.reconcile([_trigger("b", 2)], set(), complete=True)
    assert problems == ["a trigger is gone although nothing deleted it: a"]
    assert model.own_ids() == ["b"]


def test_a_partial_listing_without_what_must_be_found_asks_for_a_complete_one() -> None:
    model = _model()
    model.own = [_trigger(f"{PENDING_ID_PREFIX}1", 1)]
    with pytest.raises(Incomplete):
        model.reconcile([], set(), complete=False)
    model.own = [_trigger("a", 1)]
    with pytest.raises(Incomplete):
        model.reconcile([], {"a"}, complete=False)  # updated: its new _updatedAt must be read


def test_an_update_takes_the_new_timestamp_and_an_unexpected_trigger_is_reported() -> None:
    model = _model()
    model.own = [_trigger("a", 1)]
    updated = _trigger("a", 1, _updatedAt="2026-03-03T00:00:00.000Z")
    extra = _trigger("x", 7)
    problems = model.reconcile([updated, extra], {"a"})
    assert problems == [
        "the server stored a trigger no request should have created: "
        + '{"_id":"x","name":"rc-contract-0123abcd 00007 n","description":"d","enabled":false,'
        '"_updatedAt":"2026-01-01T00:00:00.000Z"}'
    ]
    assert model.own == [updated, extra]


def test_a_complete_listing_replaces_the_foreign_triggers() -> None:
    model = _model()
    model.foreign = [{"_id": "f1", "name": "someone's"}]
    foreign: Trigger = {"_id": "f2", "name": "someone else's"}
    assert model.reconcile([foreign], set(), complete=True) == []
    assert model.foreign == [foreign]
    assert model.reconcile([], set(), complete=False) == [] and model.foreign == [foreign]
