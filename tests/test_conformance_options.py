"""One option table for the CLI and the pytest plugin, documented as it is, and a plugin that loads
next to pytest-base-url."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from contract_tests.__main__ import build_parser
from contract_tests.options import OPTIONS, options_from_values
from contract_tests.runner import Options, UsageError
from tests.mockserver import REPO_ROOT, running_mock

DOCS = REPO_ROOT / "docs" / "conformance.md"


def _values(**overrides: object) -> dict[str, object]:
    arguments = build_parser().parse_args(
        ["--base-url", "http://127.0.0.1:1", "--user-id", "u", "--auth-token", "t", "--seed", "3"]
    )
    return {**vars(arguments), **overrides}


def test_cli_defaults_are_the_table_and_the_options_dataclass() -> None:
    options = options_from_values(_values())
    defaults = Options(base_url="", user_id="", auth_token="")
    assert options.max_examples == defaults.max_examples == 100
    assert options.workers == defaults.workers == 1
    assert options.timeout_seconds == defaults.timeout_seconds == 30.0
    assert options.max_time_seconds is None and not options.keep and options.schemathesis
    for option in OPTIONS:
        if not option.flag and option.env is None and option.dest != "seed":
            assert build_parser().get_default(option.dest) == option.default, option.name


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"base_url": "localhost:3000"}, "expected http://"),
        ({"auth_token": None}, "--user-id and --auth-token"),
        ({"limited_user_id": "x"}, "go together"),
        ({"workers": 0}, "at least 1"),
        ({"max_time": 0.0}, "must be positive"),
        ({"profile": "9.9"}, "--profile"),
    ],
)
def test_validation_is_shared(override: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        options_from_values(_values(**override))


def test_the_docs_table_lists_every_option_with_its_default() -> None:
    text = DOCS.read_text()
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| `--")}
    for option in OPTIONS:
        row = rows.get(f"`{option.name}`")
        assert row is not None, option.name
        assert f"`--rc-{option.name[2:]}`" in row
        if not option.flag and option.default is not None:
            assert f"(default: {option.default})" in row, row
    help_text = build_parser().format_help()
    for option in OPTIONS:
        assert option.name in help_text
        if not option.flag and option.default is not None and option.env is None:
            assert f"(default: {option.default})" in " ".join(help_text.split())


def _site_with(directory: Path, *plugins: tuple[str, str, str]) -> Path:
    """A site directory whose dist-infos declare pytest11 plugins, as ``pip install`` would."""
    for distribution, entry, module in plugins:
        info = directory / f"{distribution}-0.0.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 0.0\n")
        (info / "entry_points.txt").write_text(f"[pytest11]\n{entry} = {module}\n")
    return directory


# pytest-base-url's plugin, as far as the clash goes: the same option and dest, no other behaviour.
BASE_URL_PLUGIN = """
def pytest_addoption(parser):
    parser.getgroup("base url").addoption("--base-url", metavar="url", default=None, help="base url")
"""


@pytest.mark.http
@pytest.mark.parametrize("order", ["base-url-first", "ours-first"])
def test_the_plugin_loads_and_runs_next_to_pytest_base_url(tmp_path: Path, order: str) -> None:
    theirs, ours = tmp_path / "theirs", tmp_path / "ours"
    (theirs / "pytest_base_url").mkdir(parents=True)
    (theirs / "pytest_base_url" / "__init__.py").write_text("")
    (theirs / "pytest_base_url" / "plugin.py").write_text(BASE_URL_PLUGIN)
    _site_with(theirs, ("pytest_base_url", "base_url", "pytest_base_url.plugin"))
    _site_with(ours, ("rc_triggers_contract", "rc_triggers_contract", "contract_tests.pytest_plugin"))
    # Entry points load in the order of the path: both orders must work.
    sites = [theirs, ours] if order == "base-url-first" else [ours, theirs]
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([*map(str, sites), str(REPO_ROOT)])}
    environment.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
    listed = subprocess.run(
        [sys.executable, "-m", "pytest", "--help"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert listed.returncode == 0, listed.stdout + listed.stderr
    for name in ("--rc-timeout", "--rc-insecure", "--rc-no-schemathesis", "--rc-base-url", "--user-id"):
        assert name in listed.stdout
    with running_mock("--quiet") as server:
        pytest_run = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--pyargs"]
        credentials = ["--user-id", "admin-id", "--auth-token", "admin-token"]
        small = ["--rc-max-examples", "5", "--rc-no-schemathesis", "--rc-timeout", "20", "--rc-seed", "1"]
        run = subprocess.run(
            [*pytest_run, "contract_tests", "--base-url", server.base_url, *credentials, *small],
            cwd=REPO_ROOT,
            env=environment,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
    # Without a limited user the permission group skips; every other group ran against the mock.
    assert run.returncode == 0, run.stdout + run.stderr
    assert "8 passed, 1 skipped" in run.stdout, run.stdout + run.stderr
