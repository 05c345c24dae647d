"""``spec.triggers.iso_timestamp``: ``Date.prototype.toISOString``, as ``_updatedAt`` is written."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from spec.triggers import iso_timestamp

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _expected(epoch_ms: int) -> str:
    moment = _EPOCH + timedelta(milliseconds=epoch_ms)  # exact integer arithmetic, no float
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@settings(max_examples=2_000, derandomize=True, database=None)
@given(
    st.one_of(
        st.integers(0, 253_402_300_799_999),
        st.integers(1_764_072_000_000, 1_764_072_003_000),  # repeats within a second (the cached text)
        st.sampled_from([0, 1, 999, 1000, 86_399_999, 951_782_400_000, 253_402_300_799_999]),
    )
)
def test_iso_timestamp_is_to_iso_string(epoch_ms: int) -> None:
    assert iso_timestamp(epoch_ms) == _expected(epoch_ms)


def test_seconds_in_turn_each_get_their_own_text() -> None:
    for epoch_ms in (1_000, 1_999, 2_000, 1_500, 59_999, 60_000):
        assert iso_timestamp(epoch_ms) == _expected(epoch_ms)


def test_before_1970_as_datetime_gives_it() -> None:
    assert iso_timestamp(-1) == "1969-12-31T23:59:59.999Z"
