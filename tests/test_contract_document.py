"""The contract document is valid OpenAPI and loads in the tools built on it."""

from __future__ import annotations

import json

import pytest
from openapi_spec_validator import validate

from spec.contract import CONTRACT_PATH, PUBLISHED_PATH, contract_document

OPERATIONS = {
    ("post", "/api/v1/livechat/triggers"),
    ("get", "/api/v1/livechat/triggers"),
    ("get", "/api/v1/livechat/triggers/{_id}"),
    ("delete", "/api/v1/livechat/triggers/{_id}"),
}
AROUND_THE_FEATURE = {
    ("post", "/api/v1/login"),
    ("get", "/api/v1/logout"),
    ("post", "/api/v1/logout"),
    ("get", "/api/v1/me"),
    ("get", "/api/v1/permissions.listAll"),
    ("post", "/api/v1/permissions.update"),
    ("get", "/api/v1/settings/{_id}"),
    ("post", "/api/v1/settings/{_id}"),
    ("post", "/api/v1/method.call/{method}"),
}
"""Routes a client needs around the trigger routes (issue 12), marked ``x-rc-around-feature``."""
WIDGET = {
    ("get", "/api/v1/livechat/config"),
    ("get", "/api/v1/livechat/agent.next/{token}"),
    ("get", "/api/v1/livechat/agent.info/{rid}/{token}"),
}
"""The livechat widget's routes (issue 11), also around the feature; they need no log-in."""


def test_contract_passes_openapi_spec_validator() -> None:
    validate(contract_document())


def test_contract_documents_the_four_operations_with_their_error_statuses() -> None:
    paths = contract_document()["paths"]
    found = {(method, path) for path, item in paths.items() for method in item if method != "parameters"}
    assert found == OPERATIONS | AROUND_THE_FEATURE | WIDGET
    for method, path in AROUND_THE_FEATURE | WIDGET:
        assert paths[path][method]["x-rc-around-feature"] is True
        assert {"200", "429"} <= set(paths[path][method]["responses"])
        if (method, path) != ("post", "/api/v1/login") and (method, path) not in WIDGET:
            assert "401" in paths[path][method]["responses"]
    for method, path in OPERATIONS:
        assert {"200", "401", "403"} <= set(paths[path][method]["responses"])
    assert "400" in paths["/api/v1/livechat/triggers"]["post"]["responses"]


def test_contract_examples_use_real_booleans() -> None:
    text = CONTRACT_PATH.read_text()
    assert '"true"' not in text
    assert '"false"' not in text


def test_published_page_is_kept_verbatim() -> None:
    page = (PUBLISHED_PATH.parent / "published-page.md").read_text()
    assert PUBLISHED_PATH.read_text().rstrip("\n") in page
    json.loads(PUBLISHED_PATH.read_text())


def test_contract_loads_in_connexion() -> None:
    from connexion import FlaskApp

    app = FlaskApp(__name__)
    app.add_api(CONTRACT_PATH, resolver=lambda _operation_id: lambda: None)


def test_contract_loads_in_schemathesis() -> None:
    import schemathesis
    from schemathesis.core.result import Ok

    schema = schemathesis.openapi.from_path(str(CONTRACT_PATH))
    results = list(schema.get_all_operations())
    assert all(isinstance(result, Ok) for result in results), results
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert {(op.method.lower(), op.path) for op in operations} == OPERATIONS | AROUND_THE_FEATURE | WIDGET


def test_the_conformance_run_generates_requests_for_the_trigger_operations_only() -> None:
    from contract_tests.schemathesis_bridge import load_operations

    assert {(op.method.lower(), op.path) for op in load_operations()} == OPERATIONS


@pytest.mark.parametrize("name", ["TriggerSaveRequest", "TriggerListQuery"])
def test_request_schemas_forbid_unknown_keys(name: str) -> None:
    assert contract_document()["components"]["schemas"][name]["additionalProperties"] is False
