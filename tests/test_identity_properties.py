"""Properties of the method's check() against the REST schema: whatever the REST route accepts (after
coercion) the method accepts too, and the method refuses any value with a Match error, never a crash."""

from __future__ import annotations

from typing import Any

from hypothesis import given, seed, settings

from fuzz import bodies
from spec.contract import validate_post_body
from spec.jsvalues import to_js_value
from spec.methods import check_trigger
from spec.triggers import SAVED_FIELDS


@seed(1212)
@settings(max_examples=150, database=None, deadline=None)
@given(bodies.trigger_bodies())
def test_what_the_rest_route_stores_the_method_accepts(body: dict[str, Any]) -> None:
    validation = validate_post_body(body)
    assert validation.valid
    coerced = validation.data
    assert isinstance(coerced, dict)
    saved = {field: coerced[field] for field in SAVED_FIELDS}
    assert check_trigger(saved) is None
    assert check_trigger({"_id": None, **saved}) is None


@seed(1212)
@settings(max_examples=300, database=None, deadline=None)
@given(bodies.json_values())
def test_any_value_is_checked_without_a_crash(value: Any) -> None:
    result = check_trigger(to_js_value(value))
    if result is not None:
        assert str(result.fields["message"]).startswith("Match error: ")
        assert result.fields["errorType"] == "Match.Error"
