"""spec.pointers: the one JSON Pointer and $ref resolver (contract, drift tool, oracle tests)."""

from __future__ import annotations

from typing import Any

import pytest

from spec import pointers
from spec.ajv import SchemaError
from spec.contract import contract_document, resolve_pointer

DOCUMENT: dict[str, Any] = {
    "a/b": {"m~n": 1},
    "list": [{"x": "first"}, {"x": "second"}],
    "loop": {"$ref": "#/loop2"},
    "loop2": {"$ref": "#/loop"},
    "alias": {"$ref": "#/alias2"},
    "alias2": {"$ref": "#/list/1"},
}


def test_escaping_round_trips_tilde_and_slash() -> None:
    assert pointers.pointer("a/b", "m~n", 0) == "/a~1b/m~0n/0"
    assert pointers.tokens("/a~1b/m~0n/0") == ["a/b", "m~n", "0"]
    # "~01" is the token "~1": ~1 is unescaped before ~0.
    assert pointers.unescape("~01") == "~1"
    assert pointers.tokens("") == []


def test_resolve_follows_keys_and_list_indexes() -> None:
    assert pointers.resolve(DOCUMENT, "#/a~1b/m~0n") == 1
    assert pointers.resolve(DOCUMENT, "#/list/1/x") == "second"


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("other.json#/a", "only local references"),
        ("#/list/2", "unresolvable"),
        ("#/list/x", "unresolvable"),
        ("#/a~1b/m~0n/deeper", "unresolvable"),
        ("#/missing", "unresolvable"),
    ],
)
def test_resolve_rejects_what_it_cannot_name(reference: str, message: str) -> None:
    with pytest.raises(pointers.PointerError, match=message):
        pointers.resolve(DOCUMENT, reference)


def test_follow_reports_where_the_target_lives_and_catches_cycles() -> None:
    assert pointers.follow(DOCUMENT, DOCUMENT["alias"], "/alias") == ({"x": "second"}, "/list/1")
    assert pointers.follow(DOCUMENT, {"x": 1}, "/here") == ({"x": 1}, "/here")
    with pytest.raises(pointers.PointerError, match="cycle"):
        pointers.follow(DOCUMENT, DOCUMENT["loop"])


def test_the_contracts_resolve_pointer_is_the_shared_one() -> None:
    document = contract_document()
    reference = "#/components/schemas/TriggerSaveRequest"
    assert resolve_pointer(document, reference) is pointers.resolve(document, reference)
    with pytest.raises(SchemaError, match="unresolvable reference '#/nowhere'"):
        resolve_pointer(document, "#/nowhere")
