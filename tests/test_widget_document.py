"""The widget routes' OpenAPI document: valid, written from spec (so it cannot drift from the
predictions), and served next to the triggers contract in the mock's Swagger UI document."""

from __future__ import annotations

from openapi_spec_validator import validate

from spec.contract import contract_document, served_document, widget_document
from spec.routes import CONFIG_PATH
from spec.widget import AGENT_NEXT_QUERY_SCHEMA, CONFIG_QUERY_SCHEMA
from tools.widget_document import render


def test_the_committed_document_is_what_the_generator_writes_from_spec() -> None:
    from spec.contract import WIDGET_PATH

    assert WIDGET_PATH.read_text(encoding="utf-8") == render(), (
        "run: .venv/bin/python tools/widget_document.py"
    )


def test_the_document_passes_openapi_spec_validator() -> None:
    validate(widget_document())
    validate(served_document())


def test_query_schemas_are_the_ones_spec_validates_with() -> None:
    schemas = widget_document()["components"]["schemas"]
    assert schemas["LivechatConfigQuery"] == CONFIG_QUERY_SCHEMA
    assert schemas["AgentNextQuery"] == AGENT_NEXT_QUERY_SCHEMA


def test_the_served_document_adds_the_widget_routes_and_keeps_the_contract() -> None:
    served = served_document()
    contract = contract_document()
    assert set(served["paths"]) == set(contract["paths"]) | set(widget_document()["paths"])
    for path, item in contract["paths"].items():
        assert served["paths"][path] == item
    assert CONFIG_PATH not in contract["paths"]  # the conformance run walks only triggers
