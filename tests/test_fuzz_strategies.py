"""The payload strategies draw what their docstrings promise, judged by the contract's own validator."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings

from fuzz import bodies, mutations
from spec.contract import action_names, condition_names, senders, validate_post_body


@settings(max_examples=300, database=None)
@given(bodies.trigger_bodies())
def test_valid_bodies_are_valid(body: dict[str, Any]) -> None:
    result = validate_post_body(body)
    assert result.valid, result.message


@pytest.mark.parametrize("kind", bodies.INVALID_BODY_KINDS)
def test_each_invalid_kind_is_invalid(kind: str) -> None:
    @settings(max_examples=150, database=None)
    @given(bodies.invalid_bodies(kind))
    def check(body: Any) -> None:
        result = validate_post_body(body)
        assert not result.valid, f"{kind} drew a valid body: {body!r}"

    check()


def test_valid_bodies_cover_every_action_and_condition_kind() -> None:
    seen: dict[str, set[str]] = {"actions": set(), "conditions": set(), "senders": set()}

    @settings(max_examples=200, database=None, derandomize=True)
    @given(bodies.trigger_bodies())
    def draw(body: dict[str, Any]) -> None:
        seen["actions"].update(action["name"] for action in body["actions"])
        seen["conditions"].update(condition["name"] for condition in body["conditions"])
        seen["senders"].update(
            action["params"]["sender"]
            for action in body["actions"]
            if isinstance(action.get("params"), dict) and "sender" in action["params"]
        )

    draw()
    # Every kind the contract defines, not merely those the strategy happens to list.
    assert seen == {
        "actions": set(action_names()),
        "conditions": set(condition_names()),
        "senders": set(senders()),
    }


@settings(max_examples=100, database=None)
@given(bodies.trigger_bodies(action_lists=bodies.action_lists_with_params()))
def test_edits_of_some_kinds_are_those_kinds_of_all_edits(body: dict[str, Any]) -> None:
    # The conformance run derives only the kind it draws; it must get exactly those of the full list.
    assert validate_post_body(body).valid
    everything = mutations.edits(body, bodies.POST_BODY_SCHEMA)
    assert any(edit.kind == "one-of-mismatch" for edit in everything)  # what the action lists are for
    for kind in mutations.KINDS:
        only = mutations.edits(body, bodies.POST_BODY_SCHEMA, (kind,))
        wanted = [edit for edit in everything if edit.kind == kind]
        assert [(e.kind, e.path, e.detail) for e in only] == [(e.kind, e.path, e.detail) for e in wanted]
