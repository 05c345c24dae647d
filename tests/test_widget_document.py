"""The widget routes in the contract document: written from spec (so the document cannot drift from the
predictions), marked as around the feature (the conformance run and the drift report leave them out)."""

from __future__ import annotations

from spec.contract import contract_document
from spec.routes import AGENT_INFO_ROUTE, AGENT_NEXT_ROUTE, CONFIG_PATH
from spec.widget import AGENT_NEXT_QUERY_SCHEMA, CONFIG_QUERY_SCHEMA
from tools.widget_document import AROUND_THE_FEATURE, TARGET, render

WIDGET_PATHS = (
    CONFIG_PATH,
    AGENT_NEXT_ROUTE.replace(":token", "{token}"),
    AGENT_INFO_ROUTE.replace(":rid", "{rid}").replace(":token", "{token}"),
)


def test_the_committed_document_is_what_the_generator_writes_from_spec() -> None:
    assert TARGET.read_text(encoding="utf-8") == render(), "run: .venv/bin/python tools/widget_document.py"


def test_the_widget_routes_are_unauthenticated_gets_around_the_feature() -> None:
    paths = contract_document()["paths"]
    for path in WIDGET_PATHS:
        operation = paths[path]["get"]
        assert operation[AROUND_THE_FEATURE] is True
        assert operation["security"] == []
        assert {"200", "400", "429"} <= set(operation["responses"])
        assert list(paths[path]) == ["get"]


def test_query_schemas_are_the_ones_spec_validates_with() -> None:
    schemas = contract_document()["components"]["schemas"]
    assert schemas["LivechatConfigQuery"] == CONFIG_QUERY_SCHEMA
    assert schemas["AgentNextQuery"] == AGENT_NEXT_QUERY_SCHEMA
