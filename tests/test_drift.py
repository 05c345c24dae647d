"""The doc-drift report: the committed copy is current, and the finder finds what the page gets wrong."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from spec.contract import validate_post_body
from spec.drift import Drift, find_drift, load_document, main, render_json, render_markdown
from spec.drift.findings import WORDING, worded
from tests.mockserver import run_module

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "docs" / "doc-drift.md"
REGENERATE = "rc-triggers-drift --output docs/doc-drift.md"
BODY = "/paths/~1api~1v1~1livechat~1triggers/post/requestBody/content/application~1json"
SCHEMA = BODY + "/schema"


@pytest.fixture(scope="module")
def published() -> dict[str, Any]:
    return load_document(None, "published.openapi.json", "published")


@pytest.fixture(scope="module")
def contract() -> dict[str, Any]:
    return load_document(None, "contract.openapi.json", "contract")


@pytest.fixture(scope="module")
def drifts(published: dict[str, Any], contract: dict[str, Any]) -> list[Drift]:
    return find_drift(published, contract)


def only(drifts: list[Drift], kind: str, location: str) -> Drift:
    found = [drift for drift in drifts if drift.kind == kind and drift.location == location]
    assert len(found) == 1, f"expected one {kind} at {location}, found {found}"
    return found[0]


def test_committed_report_is_up_to_date(drifts: list[Drift]) -> None:
    assert REPORT.exists(), f"{REPORT.relative_to(ROOT)} is missing; generate it with: {REGENERATE}"
    assert REPORT.read_text(encoding="utf-8") == render_markdown(drifts), (
        f"docs/doc-drift.md is stale (the documents or spec/drift/ changed); regenerate: {REGENERATE}"
    )


def test_check_flags_a_stale_report_and_names_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "doc-drift.md"
    stale.write_text(REPORT.read_text(encoding="utf-8") + "a hand edit\n", encoding="utf-8")
    assert main(["--check", str(stale)]) == 1
    assert f"rc-triggers-drift --format markdown --output {stale}" in capsys.readouterr().err

    assert main(["--output", str(stale)]) == 0
    assert main(["--check", str(stale)]) == 0
    assert "up to date" in capsys.readouterr().out

    assert main(["--check", str(tmp_path / "absent.md")]) == 1


# ---- specific findings on the published page


def test_string_boolean_in_the_400_examples(drifts: list[Drift]) -> None:
    responses = "/paths/~1api~1v1~1livechat~1triggers/post/responses/400/content/application~1json/examples"
    for name in ("Example 1", "Example 2"):
        drift = only(drifts, "string-boolean", f"{responses}/{name}/value/success")
        assert drift.published == 'success: "false"'
        assert drift.server == "success: false"


def test_string_booleans_in_defaults_and_success_example(drifts: list[Drift]) -> None:
    assert (
        only(drifts, "string-boolean", SCHEMA + "/properties/enabled/default").published == 'default: "true"'
    )
    assert (
        only(drifts, "string-boolean", SCHEMA + "/properties/runOnce/default").published == 'default: "false"'
    )
    success = "/components/responses/trueSuccess/content/application~1json/examples/Success/value/success"
    assert only(drifts, "string-boolean", success).server == "success: true"


def test_missing_enums_on_condition_action_and_sender(drifts: list[Drift]) -> None:
    condition = only(drifts, "missing-enum", SCHEMA + "/properties/conditions/items/properties/name")
    assert condition.published == "any string"
    for value in ("time-on-site", "page-url", "chat-opened-by-visitor", "after-guest-registration"):
        assert value in condition.server
    action = only(drifts, "missing-enum", SCHEMA + "/properties/actions/items/properties/name")
    assert action.server == "one of: send-message, use-external-service"
    sender = only(
        drifts, "missing-enum", SCHEMA + "/properties/actions/items/properties/params/properties/sender"
    )
    assert sender.server == "one of: queue, custom"


def test_condition_value_type_mismatch(drifts: list[Drift]) -> None:
    drift = only(drifts, "type-mismatch", SCHEMA + "/properties/conditions/items/properties/value")
    assert drift.published == "number or string (oneOf)"
    assert drift.server.startswith("string or null")
    assert "coerces" in drift.explanation


def test_outdated_401_body(drifts: list[Drift]) -> None:
    response = "/components/responses/authorizationError/content/application~1json"
    example = only(drifts, "outdated-example", response + "/examples/Authorization Error/value")
    assert '"success":false' not in example.published
    assert example.server.startswith('{"success":false,"error":"You must be logged in to do this."')
    schema = only(drifts, "outdated-schema", response + "/schema")
    assert "success" in schema.server
    assert "error" in schema.server


def test_missing_operations(drifts: list[Drift]) -> None:
    missing = {drift.location for drift in drifts if drift.kind == "missing-operation"}
    assert missing == {
        "GET /api/v1/livechat/triggers",
        "GET /api/v1/livechat/triggers/{_id}",
        "DELETE /api/v1/livechat/triggers/{_id}",
    }


def test_missing_429(drifts: list[Drift]) -> None:
    drift = only(drifts, "missing-response", "/paths/~1api~1v1~1livechat~1triggers/post/responses")
    assert drift.published == "no 429 response"


def test_required_string_makes_the_document_invalid(drifts: list[Drift]) -> None:
    for name in ("AuthToken", "UserId"):
        drift = only(drifts, "invalid-openapi", f"/components/parameters/{name}/required")
        assert drift.published == 'required: "true"'
        assert "boolean" in drift.server


def test_request_example_rejected_by_own_schema_but_accepted_by_server(drifts: list[Drift]) -> None:
    drift = only(drifts, "example-rejected-by-own-schema", BODY + "/examples/Example 1/value")
    assert drift.published == 'enabled: "false"; runOnce: "true"'
    assert drift.server == "accepted after coercion to enabled: false; runOnce: true"


def test_structure_drifts(drifts: list[Drift]) -> None:
    only(drifts, "missing-oneof", SCHEMA + "/properties/actions/items")
    only(drifts, "missing-min-items", SCHEMA + "/properties/conditions")
    only(drifts, "missing-min-items", SCHEMA + "/properties/actions")
    only(drifts, "missing-additional-properties", SCHEMA)
    only(drifts, "not-nullable", SCHEMA + "/properties/_id")
    assert only(drifts, "missing-required", SCHEMA + "/properties/conditions/items").server == (
        "required: name, value"
    )
    params = only(drifts, "missing-required", SCHEMA + "/properties/actions/items/properties/params")
    assert "send-message: sender, msg" in params.server
    timeout = SCHEMA + "/properties/actions/items/properties/params/properties/serviceTimeout/example"
    assert only(drifts, "example-type-mismatch", timeout).published == 'example: "5000"'
    never = "/components/responses/permissionError/content/application~1json/examples/Unauthorized/value"
    assert '"unauthorized"' in only(drifts, "example-never-sent", never).published


# ---- the finder compares documents, it does not recite a list


def test_contract_against_itself_has_no_drift(contract: dict[str, Any]) -> None:
    assert find_drift(contract, contract) == []


def test_one_change_to_the_contract_gives_exactly_that_drift(contract: dict[str, Any]) -> None:
    condition_name = "/components/schemas/TriggerCondition/properties/name"

    changed = copy.deepcopy(contract)
    del changed["components"]["schemas"]["TriggerCondition"]["properties"]["name"]["enum"]
    assert [(d.kind, d.location) for d in find_drift(changed, contract)] == [("missing-enum", condition_name)]

    changed = copy.deepcopy(contract)
    changed["components"]["responses"]["Success"]["content"]["application/json"]["examples"]["Success"] = {
        "value": {"success": "true"}
    }
    found = find_drift(changed, contract)
    assert [d.kind for d in found] == ["string-boolean"]
    assert found[0].location.startswith("/components/responses/Success/")

    changed = copy.deepcopy(contract)
    del changed["paths"]["/api/v1/livechat/triggers/{_id}"]["delete"]
    assert [(d.kind, d.location) for d in find_drift(changed, contract)] == [
        ("missing-operation", "DELETE /api/v1/livechat/triggers/{_id}")
    ]

    changed = copy.deepcopy(contract)
    changed["paths"]["/api/v1/livechat/triggers"]["get"]["parameters"][0]["required"] = "false"
    found = find_drift(changed, contract)
    assert [(d.kind, d.location) for d in found] == [
        ("invalid-openapi", "/paths/~1api~1v1~1livechat~1triggers/get/parameters/0/required")
    ]


# ---- what the server does with a value comes from its validator (spec.ajv), not a copy of its rules

TIMEOUT = SCHEMA + "/properties/actions/items/properties/params/properties/serviceTimeout/example"


def _with_request_example(published: dict[str, Any], **changes: Any) -> dict[str, Any]:
    changed = copy.deepcopy(published)
    media = changed["paths"]["/api/v1/livechat/triggers"]["post"]["requestBody"]["content"][
        "application/json"
    ]
    media["examples"]["Example 1"]["value"].update(changes)
    return changed


def _server_verdict(value: Any) -> str:
    validation = validate_post_body(copy.deepcopy(value))
    return "accepted" if validation.valid else "rejected"


@pytest.mark.parametrize(
    ("changes", "server"),
    [
        # 0 and 1 are coerced to booleans; a plain == comparison took them for unchanged.
        ({"enabled": 0}, "accepted after coercion to enabled: false; runOnce: true"),
        ({"enabled": False, "runOnce": 1}, "accepted after coercion to runOnce: true"),
        # `params` is a nullable object, so ajv coerces "" to null.
        (
            {"enabled": False, "runOnce": True, "actions": [{"name": "send-message", "params": ""}]},
            "accepted after coercion to actions[0].params: null",
        ),
        (
            {"enabled": False, "runOnce": True, "actions": [{"name": "send-message", "params": "5"}]},
            "rejected: 400 actions[0].params: must be object",
        ),
        ({"conditions": "x"}, "rejected: 400 conditions: must be array"),
    ],
)
def test_request_example_verdict_is_the_server_validators(
    published: dict[str, Any], contract: dict[str, Any], changes: dict[str, Any], server: str
) -> None:
    changed = _with_request_example(published, **changes)
    drift = only(
        find_drift(changed, contract), "example-rejected-by-own-schema", BODY + "/examples/Example 1/value"
    )
    assert drift.server == server
    media = changed["paths"]["/api/v1/livechat/triggers"]["post"]["requestBody"]["content"][
        "application/json"
    ]
    assert server.startswith(_server_verdict(media["examples"]["Example 1"]["value"]))


@pytest.mark.parametrize(
    ("example", "server"),
    [
        ("5000", "5000 (number), the string is coerced"),
        # JavaScript's Number(): hexadecimal and blank strings are numbers, Python-only syntax is not.
        ("0x10", "16 (number), the string is coerced"),
        (" ", "0 (number), the string is coerced"),
        ("1_000", '"1_000" (number)'),
        ("ten", '"ten" (number)'),
    ],
)
def test_schema_example_is_coerced_as_the_server_coerces(
    published: dict[str, Any], contract: dict[str, Any], example: str, server: str
) -> None:
    changed = copy.deepcopy(published)
    schema = changed["paths"]["/api/v1/livechat/triggers"]["post"]["requestBody"]["content"][
        "application/json"
    ]
    schema = schema["schema"]["properties"]["actions"]["items"]["properties"]["params"]["properties"]
    schema["serviceTimeout"]["example"] = example
    assert only(find_drift(changed, contract), "example-type-mismatch", TIMEOUT).server == server


def test_query_parameter_values_are_coerced_as_the_query_is(contract: dict[str, Any]) -> None:
    # The server validates the query with coerceTypes: "array", which unwraps a one-item list.
    changed = copy.deepcopy(contract)
    count = changed["paths"]["/api/v1/livechat/triggers"]["get"]["parameters"][0]
    count["schema"] = {"type": "string", "example": ["5"]}
    location = "/paths/~1api~1v1~1livechat~1triggers/get/parameters/0/schema/example"
    drift = only(find_drift(changed, contract), "example-type-mismatch", location)
    assert drift.server == "5 (number or null), the string is coerced"


def test_response_example_shows_the_contract_type(contract: dict[str, Any]) -> None:
    # Responses are not validated by the server; their schemas use keywords its validator does not
    # compile (here `minimum`), and the example is still shown in the contract's type.
    changed = copy.deepcopy(contract)
    changed["components"]["schemas"]["TriggerList"]["properties"]["count"]["example"] = "5"
    location = "/components/schemas/TriggerList/properties/count/example"
    assert only(find_drift(changed, contract), "example-type-mismatch", location).server == "5 (integer)"


def test_output_is_sorted_and_deterministic(
    drifts: list[Drift], published: dict[str, Any], contract: dict[str, Any]
) -> None:
    assert drifts == sorted(drifts)
    assert len(set(drifts)) == len(drifts)
    published_before, contract_before = copy.deepcopy(published), copy.deepcopy(contract)
    again = find_drift(published, contract)
    assert (published, contract) == (published_before, contract_before), "find_drift mutated its input"
    assert render_markdown(again) == render_markdown(drifts)
    assert render_json(again) == render_json(drifts)


# ---- command line


def test_json_format_matches_the_findings(drifts: list[Drift], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["summary"]["total"] == len(drifts)
    assert [Drift(**item) for item in payload["drifts"]] == drifts
    assert json.loads(render_json(drifts)) == payload


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read"),
        ("{not json", "not valid JSON"),
        ('{"swagger": "2.0"}', "not an OpenAPI document"),
    ],
)
def test_bad_input_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    path = tmp_path / "doc.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    assert main(["--published", str(path)]) == 2
    error = capsys.readouterr().err
    assert message in error
    assert "published" in error


def test_invalid_contract_exits_2(
    tmp_path: Path, contract: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    broken = copy.deepcopy(contract)
    broken["paths"]["/api/v1/livechat/triggers"]["post"]["responses"] = "none"
    path = tmp_path / "contract.json"
    path.write_text(json.dumps(broken), encoding="utf-8")
    assert main(["--contract", str(path)]) == 2
    assert "contract document is not valid OpenAPI" in capsys.readouterr().err


def test_python_dash_m_runs_the_cli() -> None:
    result = run_module("spec.drift", "--check", str(REPORT), timeout=120)
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout


# ---- the wording table


def test_every_finding_is_worded_from_exactly_its_facts() -> None:
    facts = {"where": "query", "name": "count"}
    drift = worded("/x", "missing-parameter", "", facts)
    assert (drift.published, drift.server) == ("not documented", "query parameter `count`")
    assert (
        drift.explanation
        == "The server reads the query parameter `count`, but the page does not document it."
    )
    with pytest.raises(ValueError, match="worded from"):
        worded("/x", "missing-parameter", "", {"where": "query"})
    with pytest.raises(ValueError, match="worded from"):
        worded("/x", "missing-parameter", "", {**facts, "nmae": "count"})
    # The walker words every finding through the table: every kind in the report has a wording.
    assert {kind for kind, _ in WORDING} >= {
        line.split()[1] for line in REPORT.read_text(encoding="utf-8").splitlines() if line.startswith("## ")
    } - {"Summary"}


def test_without_the_drift_extra_the_cli_names_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "openapi_spec_validator", None)  # import fails as if not installed
    assert main(["--format", "json"]) == 2
    error = capsys.readouterr().err
    assert "needs openapi_spec_validator" in error and "pip install 'rc-triggers-contract[drift]'" in error


def test_the_console_script_runs() -> None:
    scripts = {point.name: point.value for point in metadata.entry_points(group="console_scripts")}
    assert scripts["rc-triggers-drift"] == "spec.drift.cli:main"
    script = Path(sys.executable).with_name("rc-triggers-drift")
    result = subprocess.run(
        [str(script), "--check", str(REPORT)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout


def test_a_document_the_walk_cannot_read_exits_2_without_a_traceback(
    tmp_path: Path, published: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    broken = copy.deepcopy(published)
    media = broken["paths"]["/api/v1/livechat/triggers"]["post"]["requestBody"]["content"]["application/json"]
    media["schema"]["properties"]["name"]["type"] = "unauthorized"  # no JSON type: strict validation fails
    path = tmp_path / "published.json"
    path.write_text(json.dumps(broken), encoding="utf-8")
    assert main(["--published", str(path)]) == 2
    error = capsys.readouterr().err
    assert error.startswith(
        "rc-triggers-drift: cannot compare these documents: the walk failed with UnknownType"
    )
    assert "Traceback" not in error
