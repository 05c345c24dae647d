"""JSON Pointers (RFC 6901) and local ``$ref`` resolution: the one resolver every reader of a document uses.

The contract's validators (``spec.contract``), the drift tool (``spec.drift``) and the oracle tests all
follow ``$ref`` through these functions, so an escaping or indexing rule cannot differ between them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "PointerError",
    "escape",
    "follow",
    "pointer",
    "replaced",
    "resolve",
    "tokens",
    "unescape",
    "value_at",
]


class PointerError(LookupError):
    """A reference that is not local to the document, that points nowhere, or that loops."""


def escape(token: str | int) -> str:
    """One reference token as it is written inside a pointer (``~`` and ``/`` escaped)."""
    return str(token).replace("~", "~0").replace("/", "~1")


def unescape(token: str) -> str:
    # ~1 first: "~01" is the token "~1", not "/".
    return token.replace("~1", "/").replace("~0", "~")


def pointer(*parts: str | int) -> str:
    """The JSON Pointer naming ``parts`` (``""`` for the whole document)."""
    return "".join("/" + escape(part) for part in parts)


def tokens(json_pointer: str) -> list[str]:
    """The unescaped reference tokens of a JSON Pointer such as ``/a/b~1c`` (none for ``""``)."""
    return [unescape(raw) for raw in json_pointer.split("/")[1:]]


def resolve(document: Any, reference: str) -> Any:
    """The node a local reference (``#/components/schemas/X``) names in ``document``.

    List elements are addressed by index, as in the documents' ``parameters`` arrays.
    """
    if not reference.startswith("#/"):
        raise PointerError(f"only local references are supported, got {reference!r}")
    node = document
    for token in tokens(reference[1:]):
        if isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        elif isinstance(node, Mapping) and token in node:
            node = node[token]
        else:
            raise PointerError(f"unresolvable reference {reference!r}")
    return node


def follow(document: Any, node: Any, location: str = "") -> tuple[Any, str]:
    """``node`` with its chain of ``$ref`` followed, and the pointer where the target really lives.

    ``location`` is where ``node`` itself sits; it is returned unchanged when ``node`` is no reference.
    """
    seen: set[str] = set()
    while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
        reference: str = node["$ref"]
        if reference in seen:
            raise PointerError(f"$ref cycle through {reference!r}")
        seen.add(reference)
        node, location = resolve(document, reference), reference[1:]
    return node, location


def value_at(document: Any, path: Sequence[str | int]) -> Any:
    """The node under ``path`` (keys and list indexes, already unescaped)."""
    for part in path:
        document = document[part]
    return document


def replaced(document: Any, path: Sequence[str | int], value: Any) -> Any:
    """A copy of ``document`` with the node under ``path`` replaced by ``value``; only the containers
    on the path are copied, so ``document`` itself is never changed."""
    if not path:
        return value
    head, *rest = path
    if isinstance(document, list) and isinstance(head, int):
        copy_list = list(document)
        copy_list[head] = replaced(copy_list[head], rest, value)
        return copy_list
    copy_dict = dict(document)
    copy_dict[head] = replaced(copy_dict[head], rest, value)
    return copy_dict
