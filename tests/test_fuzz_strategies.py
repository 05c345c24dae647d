"""The payload strategies draw what their docstrings promise, judged by the contract's own validator."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fuzz import bodies
from spec.contract import validate_post_body


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


@settings(max_examples=50, database=None)
@given(st.data())
def test_valid_bodies_cover_every_action_and_condition_kind(data: st.DataObject) -> None:
    body = data.draw(
        bodies.trigger_bodies(action_lists=st.lists(bodies.actions("use-external-service"), min_size=1))
    )
    assert all(action["name"] == "use-external-service" for action in body["actions"])
