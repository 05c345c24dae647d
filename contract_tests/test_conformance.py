"""The conformance checks as pytest tests: one test per group of check families.

Run with ``pytest --pyargs contract_tests --base-url URL --user-id ID --auth-token TOKEN``; without
``--base-url`` every test here skips.
"""

from __future__ import annotations

import pytest

from contract_tests.report import Results

GROUPS: dict[str, tuple[str, ...]] = {
    "invalid bodies": ("POST invalid",),
    "valid bodies and encodings": ("POST valid", "POST odd"),
    "list queries": ("GET list",),
    "get and delete by id": ("GET by id", "DELETE unknown"),
    "authentication": ("authentication",),
    "permission and check order": ("permission",),
    "state flows": ("state",),
    "schemathesis": ("schemathesis",),
}


@pytest.mark.parametrize("group", list(GROUPS))
def test_conformance(group: str, conformance_results: Results) -> None:
    prefixes = GROUPS[group]
    failures = [d for d in conformance_results.failures if d.family.startswith(prefixes)]
    checked = sum(f.checked for f in conformance_results.families.values() if f.name.startswith(prefixes))
    if group == "permission and check order" and not checked:
        pytest.skip("no --limited-user-id/--limited-auth-token")
    assert not failures, "\n\n".join(d.text() for d in failures)


def test_no_other_deviation(conformance_results: Results) -> None:
    """A deviation in a family that no group names still fails the run."""
    known = tuple(prefix for prefixes in GROUPS.values() for prefix in prefixes)
    others = [d for d in conformance_results.failures if not d.family.startswith(known)]
    assert not others, "\n\n".join(d.text() for d in others)
