"""Fetch the published validator (rest-typings 8.8.1, ajv 8.20.0, ajv-formats 3.0.1) into a cache.

The cache lives outside the repository: ``$RC_ORACLE_CACHE`` or
``~/.cache/rc-triggers-contract/oracle-8.8.1``. Layout once complete::

    <cache>/tarballs/*.tgz               what `npm pack` fetched
    <cache>/rest-typings/package/...     the extracted @rocket.chat/rest-typings tarball
    <cache>/node_modules/{ajv,ajv-formats,...}
    <cache>/complete.json                written last; its presence means the cache is usable

`@rocket.chat/rest-typings` is only packed and untarred (installing it fails on its dependency tree);
ajv and ajv-formats are installed from their packed tarballs. Building happens in a temporary folder
beside the cache under an exclusive lock, and the folder is renamed into place at the end, so parallel
test processes neither collide nor ever see a half-built cache.

    python -m tests.oracle.fetch        fetch (if needed) and print the cache folder
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REST_TYPINGS = ("@rocket.chat/rest-typings", "8.8.1")
AJV = ("ajv", "8.20.0")
AJV_FORMATS = ("ajv-formats", "3.0.1")
PACKAGES = (REST_TYPINGS, AJV, AJV_FORMATS)
ORACLE_SCRIPT = Path(__file__).with_name("oracle.mjs")
COMMAND_TIMEOUT = 600.0


class OracleUnavailable(RuntimeError):
    """The oracle cannot be built or started here (no Node/npm, no registry, broken cache...)."""


@dataclass(frozen=True)
class OraclePaths:
    cache: Path
    package: Path  # the extracted rest-typings `package/` folder
    node_modules: Path
    node: str


def cache_dir() -> Path:
    configured = os.environ.get("RC_ORACLE_CACHE")
    if configured:
        return Path(configured).expanduser().resolve()
    return Path.home() / ".cache" / "rc-triggers-contract" / f"oracle-{REST_TYPINGS[1]}"


def find_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise OracleUnavailable(
            f"`{name}` was not found on PATH: the ajv oracle needs Node.js (20 or newer) and npm "
            f"to run the published Rocket.Chat validator"
        )
    return found


def _run(command: list[str], cwd: Path, what: str) -> str:
    try:
        done = subprocess.run(
            command,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise OracleUnavailable(
            f"{what}: `{' '.join(command)}` took more than {COMMAND_TIMEOUT:.0f} s"
        ) from exc
    if done.returncode != 0:
        raise OracleUnavailable(
            f"{what}: `{' '.join(command)}` exited with {done.returncode} in {cwd}\n"
            f"--- stderr ---\n{done.stderr.strip()[-4000:]}\n--- stdout ---\n{done.stdout.strip()[-2000:]}"
        )
    return done.stdout


@contextmanager
def _exclusive(lock_file: Path) -> Iterator[None]:
    import fcntl

    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _expected_marker() -> dict[str, str]:
    return dict(PACKAGES)


def _installed_version(node_modules: Path, name: str) -> str | None:
    try:
        return str(json.loads((node_modules / name / "package.json").read_text("utf-8"))["version"])
    except (OSError, ValueError, KeyError):
        return None


def _complete(cache: Path) -> bool:
    try:
        marker = json.loads((cache / "complete.json").read_text("utf-8"))
    except (OSError, ValueError):
        return False
    return (
        marker == _expected_marker()
        and (cache / "rest-typings" / "package" / "dist" / "v1" / "omnichannel.js").is_file()
        and (cache / "rest-typings" / "package" / "dist" / "v1" / "Ajv.js").is_file()
        and _installed_version(cache / "node_modules", AJV[0]) == AJV[1]
        and _installed_version(cache / "node_modules", AJV_FORMATS[0]) == AJV_FORMATS[1]
    )


def _extract(archive: Path, destination: Path) -> None:
    with tarfile.open(archive, "r:gz") as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(destination, filter="data")
        else:  # Python < 3.12 without the backported filters: refuse unsafe members by hand
            for member in tar.getmembers():
                target = (destination / member.name).resolve()
                if not (member.isfile() or member.isdir()) or destination.resolve() not in target.parents:
                    raise OracleUnavailable(f"{archive.name}: refusing to extract member {member.name!r}")
            tar.extractall(destination)


def cached_build(
    cache: Path, complete: Callable[[Path], bool], build: Callable[[Path], None], what: str
) -> Path:
    """``cache``, built first if ``complete`` says it is not: ``build`` fills a fresh folder beside it
    (under an exclusive lock, so that parallel test processes build it once), which replaces the cache
    only once ``complete`` accepts it. ``what`` names the cache in the error."""
    if complete(cache):
        return cache
    with _exclusive(cache.parent / f".{cache.name}.lock"):
        if complete(cache):
            return cache
        cache.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{cache.name}.building-", dir=cache.parent))
        try:
            work.chmod(0o755)
            build(work)
            if not complete(work):
                raise OracleUnavailable(f"the {what} built in {work} is incomplete or has wrong versions")
            if cache.exists():
                shutil.rmtree(cache)
            work.rename(cache)
        finally:
            if work.exists():
                shutil.rmtree(work, ignore_errors=True)
    return cache


def _build(work: Path, npm: str) -> None:
    tarballs = work / "tarballs"
    tarballs.mkdir()
    specs = [f"{name}@{version}" for name, version in PACKAGES]
    packed = json.loads(_run([npm, "pack", "--json", *specs], tarballs, "npm pack") or "[]")
    files = {f"{entry['name']}@{entry['version']}": tarballs / entry["filename"] for entry in packed}
    missing = [spec for spec in specs if spec not in files or not files[spec].is_file()]
    if missing:
        reported = sorted(files)
        raise OracleUnavailable(f"npm pack did not produce {', '.join(missing)} (it reported {reported})")

    (work / "rest-typings").mkdir()
    _extract(files[specs[0]], work / "rest-typings")

    (work / "package.json").write_text(
        json.dumps({"name": "rc-triggers-oracle-cache", "private": True}) + "\n", "utf-8"
    )
    _run(
        [
            npm,
            "install",
            "--no-audit",
            "--no-fund",
            "--no-package-lock",
            "--ignore-scripts",
            f"./tarballs/{files[specs[1]].name}",
            f"./tarballs/{files[specs[2]].name}",
        ],
        work,
        "npm install of ajv and ajv-formats",
    )
    (work / "complete.json").write_text(json.dumps(_expected_marker()) + "\n", "utf-8")


def ensure_oracle() -> OraclePaths:
    """Return the cache (building it first if needed); raise OracleUnavailable with the reason."""
    node = find_tool("node")
    npm = find_tool("npm")
    cache = cached_build(cache_dir(), _complete, lambda work: _build(work, npm), "oracle cache")
    return OraclePaths(
        cache=cache,
        package=cache / "rest-typings" / "package",
        node_modules=cache / "node_modules",
        node=node,
    )


def main() -> int:
    try:
        paths = ensure_oracle()
    except OracleUnavailable as exc:
        print(f"oracle: {exc}", file=sys.stderr)
        return 1
    print(paths.cache)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
