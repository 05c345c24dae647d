"""House rules: what each install brings, one version everywhere, the licence and the changelog.

The dependency sets are read from the installed distribution's metadata (what pip acts on), and every
third-party import of each package is checked against the install that is meant to provide it, so a
test tool cannot slip back into the mock's install, nor a package be imported that no extra declares.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import spec
from tests.mockserver import run_module

ROOT = Path(__file__).resolve().parent.parent
DISTRIBUTION = "rc-triggers-contract"
PROJECT_PACKAGES = {"spec", "mock_server", "fuzz", "contract_tests", "tests", "tools", "bench"}
TEST_TOOLS = {"schemathesis", "hypothesis", "pytest", "pytest-timeout", "hypothesis-graphql"}
EXTRAS = {"mock", "conformance", "drift", "test", "dev"}


def _requirements(extra: str | None) -> list[Requirement]:
    """The requirements of the base install (``extra=None``) or those one extra adds."""
    found = []
    for line in metadata.requires(DISTRIBUTION) or []:
        requirement = Requirement(line)
        marker = requirement.marker
        if extra is None:
            wanted = marker is None
        else:  # requirements with a marker that holds for this extra and not without it
            wanted = (
                marker is not None
                and marker.evaluate({"extra": extra})
                and not marker.evaluate({"extra": ""})
            )
        if wanted:
            found.append(requirement)
    return found


def _names(requirements: Iterable[Requirement]) -> set[str]:
    return {canonicalize_name(requirement.name) for requirement in requirements}


def _closure(requirements: Iterable[Requirement]) -> set[str]:
    """Every distribution those requirements install here, transitively (extras and markers applied)."""
    seen: set[str] = set()
    pending = list(requirements)
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        try:
            lines = metadata.requires(name) or []
        except metadata.PackageNotFoundError:  # pragma: no cover - then the import check below fails
            continue
        for line in lines:
            dependency = Requirement(line)
            wanted = [{"extra": extra} for extra in (*requirement.extras, "")]
            if dependency.marker is None or any(dependency.marker.evaluate(env) for env in wanted):
                pending.append(dependency)
    return seen


def test_the_base_install_is_the_mock_without_test_tools() -> None:
    base = _requirements(None)
    assert _names(base) == {"connexion", "flask", "starlette", "httpx"}
    assert not _closure(base) & TEST_TOOLS, "pip install . would bring a test tool"
    assert _requirements("mock") == [], "[mock] is the base install"


def test_each_extra_adds_what_its_commands_need() -> None:
    assert set(metadata.metadata(DISTRIBUTION).get_all("Provides-Extra") or []) == EXTRAS
    conformance = _names(_requirements("conformance"))
    assert conformance >= {"schemathesis", "hypothesis", "httpx", "pytest"}
    drift = _names(_requirements("drift"))
    assert drift == {"jsonschema", "openapi-spec-validator", "openapi-schema-validator"}
    test = _names(_requirements("test"))
    assert test >= conformance | drift | {"pytest-timeout"}
    assert _names(_requirements("dev")) >= test | {"ruff", "mypy", "tox"}


def _third_party_imports(paths: Iterable[Path]) -> dict[str, Path]:
    imports: dict[str, Path] = {}
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top not in sys.stdlib_module_names and top not in PROJECT_PACKAGES:
                    imports.setdefault(top, path)
    return imports


@pytest.mark.parametrize(
    ("package", "extras"),
    [
        ("mock_server", ()),
        ("spec", ()),
        ("spec/drift", ("drift",)),
        ("fuzz", ("conformance",)),
        ("contract_tests", ("conformance",)),
    ],
)
def test_every_import_is_provided_by_the_install_meant_for_it(package: str, extras: tuple[str, ...]) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    if package == "spec":  # the drift tool is its own extra
        files = [path for path in files if ROOT / "spec" / "drift" not in path.parents]
    installed = _closure([*_requirements(None), *(r for extra in extras for r in _requirements(extra))])
    providers = metadata.packages_distributions()
    for module, where in _third_party_imports(files).items():
        names = {canonicalize_name(name) for name in providers.get(module, [])}
        assert names & installed, (
            f"{where.relative_to(ROOT)} imports {module}, which the "
            f"{'base install' if not extras else '[' + ','.join(extras) + '] extra'} does not bring"
        )


def test_the_pytest_plugin_is_the_entry_point_and_works_without_the_conformance_extra(tmp_path: Path) -> None:
    plugins = {point.name: point.value for point in metadata.entry_points(group="pytest11")}
    assert plugins.get("rc_triggers_contract") == "contract_tests.pytest_plugin"
    blocked = ("schemathesis", "hypothesis", "httpx", "jsonschema", "openapi_spec_validator")
    # A pytest run as in an environment with only the mock (and pytest) installed: the conformance
    # packages cannot be imported, and the plugin is loaded as the entry point would load it.
    launcher = textwrap.dedent(
        f"""
        import importlib.abc, sys

        class Uninstalled(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {blocked!r}:
                    raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
                return None

        sys.meta_path.insert(0, Uninstalled())
        import pytest
        sys.exit(pytest.main(sys.argv[1:]))
        """
    )
    (tmp_path / "test_plain.py").write_text(
        "import pytest\n\n\ndef test_the_extra_is_really_missing():\n"
        "    with pytest.raises(ModuleNotFoundError):\n        import schemathesis  # noqa: F401\n\n\n"
        "def test_conformance(conformance_results):\n    pass\n",
        encoding="utf-8",
    )
    environment = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONPATH": str(ROOT)}
    environment.pop("CI", None)  # the plain run skips test_conformance (no --base-url), as it should

    def pytest_run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [
            sys.executable,
            "-c",
            launcher,
            "-p",
            "contract_tests.pytest_plugin",
            "-p",
            "no:cacheprovider",
        ]
        return subprocess.run(
            [*command, *args],
            cwd=tmp_path,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    plain = pytest_run("-q", "-rs", str(tmp_path))
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert "1 passed, 1 skipped" in plain.stdout, plain.stdout
    assert "--base-url" in pytest_run("--help").stdout
    asked = pytest_run(
        "-q", str(tmp_path), "--base-url", "http://127.0.0.1:9", "--user-id", "u", "--auth-token", "t"
    )
    assert asked.returncode != 0
    assert "pip install 'rc-triggers-contract[conformance]'" in asked.stdout + asked.stderr


def test_the_version_is_stated_once() -> None:
    assert metadata.version(DISTRIBUTION) == spec.__version__
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'dynamic = ["version"]' in pyproject and spec.__version__ not in pyproject
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## [{spec.__version__}]" in changelog or "## [Unreleased]" in changelog


@pytest.mark.parametrize("module", ["spec.drift", "mock_server", "contract_tests", "fuzz"])
def test_every_cli_reports_that_version(module: str) -> None:
    result = run_module(module, "--version", timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == spec.__version__, result.stdout


def test_licence_is_the_mit_licence_pyproject_declares() -> None:
    assert metadata.metadata(DISTRIBUTION)["License-Expression"] == "MIT"
    licence = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert licence.startswith("MIT License") and "rc-triggers-contract authors" in licence


def test_under_ci_a_skipped_test_fails_the_run(tmp_path: Path) -> None:
    skips = """
        import pytest

        @pytest.mark.skipif(True, reason="needs a unicorn")
        def test_marked():
            pass

        def test_called():
            pytest.skip("no unicorn here")

        @pytest.mark.xfail(strict=True)
        def test_expected_failure():
            assert False
    """
    (tmp_path / "test_skips.py").write_text(textwrap.dedent(skips), encoding="utf-8")

    def pytest_run(ci: str | None) -> subprocess.CompletedProcess[str]:
        environment = {key: value for key, value in os.environ.items() if key != "CI"}
        if ci is not None:
            environment["CI"] = ci
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider", "-q", "-rA"],
            cwd=tmp_path,
            env={**environment, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    local = pytest_run(None)
    assert local.returncode == 0 and "2 skipped, 1 xfailed" in local.stdout, local.stdout
    for ci in ("true", "1"):
        gate = pytest_run(ci)
        assert gate.returncode == 1, gate.stdout
        assert "skipped under CI, which runs every test: Skipped: needs a unicorn" in gate.stdout
        assert "skipped under CI, which runs every test: Skipped: no unicorn here" in gate.stdout
        assert "1 xfailed" in gate.stdout and "skipped" not in gate.stdout.splitlines()[-1]
    assert pytest_run("false").returncode == 0
