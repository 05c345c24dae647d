"""spec.parsing.parse_query against the real ``qs`` (run by Node) on generated query strings.

The queries are built from the pieces qs treats specially — brackets (also percent-encoded), ``=``
inside keys and values, ``+`` and percent escapes (valid, truncated, invalid UTF-8), repeated keys,
array indexes around the array limit, nesting past the depth limit, empty and prototype names — and
both sides must give the same JSON text (key order included).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spec.jsvalues import stringify
from spec.parsing import parse_query
from tests.conftest import ORACLE_REPORT, oracle_unavailable
from tests.oracle.fetch import OracleUnavailable
from tests.oracle.qs import qs_parse

pytestmark = pytest.mark.oracle

NAMES = ["a", "b", "count", "offset", "sort", "0", "1", "7", "", "__proto__", "toString", "constructor"]
INDEXES = ["", "0", "1", "5", "20", "21", "01", "-1", "x", "b", "__proto__", "hasOwnProperty", "[", "a]"]
VALUES = [
    "",
    "1",
    "x",
    "a+b",
    "%2B",
    "%20",
    "caf%C3%A9",
    "%E0%A4%A",
    "%FF",
    "%",
    "=",
    "a=b",
    "[]",
    "toString",
]

_segments = st.lists(st.sampled_from(INDEXES).map(lambda index: f"[{index}]"), max_size=7).map("".join)
_keys = st.one_of(
    st.tuples(st.sampled_from(NAMES), _segments).map("".join),
    st.sampled_from(["[a]", "]", "[", "a[", "a]b", "%5Ba%5D", "a%5B0%5D", "a[b]c[d]", "+", "a%20b"]),
)
_pairs = st.tuples(_keys, st.one_of(st.none(), st.sampled_from(VALUES))).map(
    lambda pair: pair[0] if pair[1] is None else f"{pair[0]}={pair[1]}"
)
_queries = st.lists(_pairs, max_size=6).map("&".join)

COUNT = 6000


def _generated() -> list[str]:
    drawn: list[str] = []

    @settings(max_examples=COUNT, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(_queries)
    def collect(query: str) -> None:
        drawn.append(query)

    collect()
    return drawn


def test_parse_query_answers_as_qs_does() -> None:
    queries = _generated()
    try:
        expected = qs_parse(queries)
    except OracleUnavailable as exc:
        oracle_unavailable(str(exc))
    mismatches = [
        (query, want, stringify(parse_query(query)))
        for query, want in zip(queries, expected, strict=True)
        if stringify(parse_query(query)) != want
    ]
    ORACLE_REPORT.append(f"qs oracle: {len(queries)} query strings compared")
    assert not mismatches, "\n".join(f"{q!r}: qs {w}, spec {g}" for q, w, g in mismatches[:20])
