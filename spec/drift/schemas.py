"""What a schema admits, read the same way from either document so the two can be compared."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from spec.drift.documents import Document, Json

BRANCH_REQUIRED = "x-drift-required-by-branch"
"""A key the drift tool adds to merged contract schemas; never present in either document."""


def type_set(schema: Mapping[str, Json], document: Document) -> frozenset[str]:
    """The JSON types a schema admits; empty when it does not say (then it is not compared)."""
    declared = schema.get("type")
    types: set[str] = set()
    if isinstance(declared, str):
        types.add(declared)
    elif isinstance(declared, list):
        types.update(str(item) for item in declared)
    else:
        for keyword in ("oneOf", "anyOf"):
            for branch in schema.get(keyword, []) or []:
                branch_schema, _ = document.schema(branch)
                branch_types = type_set(branch_schema, document)
                if not branch_types:
                    return frozenset()
                types |= branch_types
    if types and schema.get("nullable") is True:
        types.add("null")
    return frozenset(types)


def describe_types(types: frozenset[str]) -> str:
    ordered = sorted(types - {"null"}) + (["null"] if "null" in types else [])
    return " or ".join(ordered)


def sample_of(json_type: str) -> Json:
    # A representative value of a JSON type, to ask whether the server's coercion maps that type.
    return {"number": 5, "integer": 5, "string": "x", "boolean": True, "null": None}.get(json_type, {})


def object_branches(schema: Mapping[str, Json], document: Document) -> list[dict[str, Json]] | None:
    """The alternatives of a ``oneOf`` whose members are object shapes (not a mere list of types)."""
    branches = schema.get("oneOf")
    if not isinstance(branches, list) or not branches:
        return None
    resolved = [document.schema(branch)[0] for branch in branches]
    if all(branch.get("type") == "object" or "properties" in branch for branch in resolved):
        return resolved
    return None


def branch_label(branch: Mapping[str, Json], index: int) -> str:
    # A branch is best named by the value that selects it, such as an action's fixed `name`.
    for prop in branch.get("required", []):
        enum = branch.get("properties", {}).get(prop, {}).get("enum")
        if isinstance(enum, list) and len(enum) == 1:
            return str(enum[0])
    return f"alternative {index + 1}"


def merge_branches(
    branches: Sequence[Mapping[str, Json]], labels: Sequence[str], document: Document
) -> dict[str, Json]:
    """One schema that admits what any branch admits, so a single published shape can be compared to it.

    Keys required by only some branches are kept per branch label (under ``BRANCH_REQUIRED``), so that
    a published shape requiring none of them is still reported.
    """
    merged: dict[str, Json] = {}
    types = {branch.get("type") for branch in branches}
    if len(types) == 1 and None not in types:
        merged["type"] = types.pop()
    if any(branch.get("nullable") is True for branch in branches):
        merged["nullable"] = True
    if all(isinstance(branch.get("enum"), list) for branch in branches):
        values = [value for branch in branches for value in branch["enum"]]
        merged["enum"] = [value for index, value in enumerate(values) if value not in values[:index]]
    if all(branch.get("additionalProperties") is False for branch in branches):
        merged["additionalProperties"] = False
    required_sets = [list(branch.get("required", [])) for branch in branches]
    if any(required_sets):
        merged["required"] = [key for key in required_sets[0] if all(key in other for other in required_sets)]
        if any(set(req) != set(merged["required"]) for req in required_sets):
            merged[BRANCH_REQUIRED] = [
                [label, req] for label, req in zip(labels, required_sets, strict=False)
            ]
    names: list[str] = []
    for branch in branches:
        names.extend(name for name in branch.get("properties", {}) if name not in names)
    if names:
        properties: dict[str, Json] = {}
        for name in names:
            holders = [
                (label, b)
                for label, b in zip(labels, branches, strict=False)
                if name in b.get("properties", {})
            ]
            parts = [document.schema(b["properties"][name])[0] for _, b in holders]
            properties[name] = (
                parts[0] if len(parts) == 1 else merge_branches(parts, [lab for lab, _ in holders], document)
            )
        merged["properties"] = properties
    return merged


def without_drift_keys(node: Json) -> Json:
    # Merged oneOf alternatives carry the drift tool's own bookkeeping, which is no schema keyword.
    if isinstance(node, Mapping):
        return {key: without_drift_keys(value) for key, value in node.items() if key != BRANCH_REQUIRED}
    if isinstance(node, list):
        return [without_drift_keys(item) for item in node]
    return node
