"""``Request.header``: Node's view of the request headers, built once per request."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from spec.model import Headers, Request, header_value

_NAMES = st.sampled_from(
    ["Content-Type", "content-type", "CONTENT-TYPE", "X-User-Id", "x-user-id", "X-Auth-Token", "Accept",
     "accept", "Host", "user-agent", "Cookie", "x-forwarded-for", "Authorization", "Content-Length"]
)  # fmt: skip
_HEADERS = st.lists(st.tuples(_NAMES, st.text(max_size=6)), max_size=8).map(tuple)


@settings(max_examples=500, derandomize=True, database=None)
@given(_HEADERS, _NAMES)
def test_header_is_header_value_whatever_the_case_and_repeats(headers: Headers, name: str) -> None:
    request = Request("GET", "/", headers=headers)
    for asked in (name, name.lower(), name.upper(), "x-missing"):
        assert request.header(asked) == header_value(headers, asked)


def test_repeats_are_joined_except_where_node_keeps_the_first() -> None:
    request = Request(
        "POST",
        "/",
        headers=(("Content-Type", "a"), ("content-type", "b"), ("Accept", "x"), ("ACCEPT", "y")),
    )
    assert request.header("content-type") == "a"
    assert request.header("accept") == "x, y"
    assert request.header("x-user-id") is None
