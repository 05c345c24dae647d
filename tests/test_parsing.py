"""spec.parsing.parse_query: query strings read with the semantics of the ``qs`` parser.

The expected values are what ``qs.parse`` (qs 6.13.0, Node) answers for each query, checked by hand
when these tests were written; tests/test_parsing_qs_differential.py compares thousands of generated
queries with the real qs.
"""

from __future__ import annotations

from typing import Any

import pytest

from spec.parsing import parse_query


@pytest.mark.parametrize(
    ("query", "parsed"),
    [
        # repeats: a repeated key becomes a list, in order
        ("a=1&a=2", {"a": ["1", "2"]}),
        ("count=5&count=6&offset[x]=1", {"count": ["5", "6"], "offset": {"x": "1"}}),
        ("a=1&a[]=2", {"a": ["1", "2"]}),
        ("a=1&a[b]=2", {"a": ["1", {"b": "2"}]}),
        # brackets: [] and small indexes make lists, names make objects
        ("a[]=1", {"a": ["1"]}),
        ("a[]=1&a[]=2", {"a": ["1", "2"]}),
        ("a[0]=x", {"a": ["x"]}),
        ("a[1]=x", {"a": ["x"]}),  # sparse lists are compacted
        ("a[]=1&a[5]=2", {"a": ["1", "2"]}),
        ("a[b]=1&a[c]=2", {"a": {"b": "1", "c": "2"}}),
        ("a[b]=1&a[b]=2", {"a": {"b": ["1", "2"]}}),
        ("a%5Bb%5D=1", {"a": {"b": "1"}}),  # brackets may be percent-encoded
        ("a[%5F]=1", {"a": {"_": "1"}}),
        ("a[=1", {"a[": "1"}),  # an unclosed bracket is part of the name
        ("a]=1", {"a]": "1"}),
        # the array limit: an index above 20 is an object key
        ("a[20]=x", {"a": ["x"]}),
        ("a[21]=x", {"a": {"21": "x"}}),
        # prototype keys are dropped (allowPrototypes is off), at the top and inside brackets
        ("__proto__=1&b=2", {"b": "2"}),
        ("toString=1", {}),
        ("hasOwnProperty=x", {}),
        ("a[constructor]=1", {}),
        # decoding: '+' is a space, %2B a plus; malformed percent-encoding is kept as it is
        ("a=b+c&d=%2B", {"a": "b c", "d": "+"}),
        ("a%20b=c%20d", {"a b": "c d"}),
        ("a=caf%C3%A9", {"a": "café"}),
        ("a=%E0%A4%A", {"a": "%E0%A4%A"}),
        ("a=%FF", {"a": "%FF"}),
        ("a=%", {"a": "%"}),
        ("%ZZ=1", {"%ZZ": "1"}),
        # pairs: empty ones are skipped, a bare key is "", only the first '=' splits
        ("&&a=1&", {"a": "1"}),
        ("a", {"a": ""}),
        ("a==b", {"a": "=b"}),
        ("a=1=2", {"a": "1=2"}),
        ("sort=%7B%22name%22%3A1%7D", {"sort": '{"name":1}'}),
        # qs's finer points: a leading bracket names the key, an empty key is dropped, five bracket
        # levels deep, a value merged into an object, a list merged with an object is an object
        ("[count]=5", {"count": "5"}),
        ("=1", {}),
        ("sort[a][b]=1", {"sort": {"a": {"b": "1"}}}),
        ("count[b]=1&count=2", {"count": {"b": "1", "2": True}}),
        ("a[0]=1&a[b]=2", {"a": {"0": "1", "b": "2"}}),
        ("a[]=1&a=2&a[x]=3", {"a": {"0": "1", "1": "2", "x": "3"}}),
        ("a[b][c][d][e][f][g][h]=1", {"a": {"b": {"c": {"d": {"e": {"f": {"[g][h]": "1"}}}}}}}),
        ("a[b]=1&a=", {"a": {"b": "1"}}),
        # merging lists skips the holes of a sparse one, as Array.prototype.forEach does
        ("a=x&a=y&a[][1][0]=z", {"a": ["x", "y", ["z"]]}),
    ],
)
def test_parse_query_reads_as_qs_does(query: str, parsed: dict[str, Any]) -> None:
    assert parse_query(query) == parsed


def test_the_array_limit_is_on_indexes_not_on_repeats() -> None:
    repeated = "&".join(f"a={n}" for n in range(1, 23))
    bracketed = "&".join(f"a[]={n}" for n in range(1, 23))
    expected = {"a": [str(n) for n in range(1, 23)]}
    assert parse_query(repeated) == expected
    assert parse_query(bracketed) == expected


def test_keys_come_out_in_javascript_property_order() -> None:
    # Integer-like keys first, ascending, then the others in insertion order (as JSON.stringify shows).
    assert list(parse_query("b=1&2=x&a=2&1=y")) == ["1", "2", "b", "a"]
