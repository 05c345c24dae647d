"""Fetch the published livechat widget (``@rocket.chat/livechat`` 1.13.3) into a cache outside the repo.

Why 1.13.3: it is the newest version on npm (``npm view @rocket.chat/livechat dist-tags`` answers
``latest: '1.13.3'``, published from the standalone RocketChat/Rocket.Chat.Livechat repository). Since
the widget moved into the monorepo (``packages/livechat``), its ``package.json`` says
``"private": true``: newer widgets ship only inside a server build and are never published. So this is
the one widget a frontend developer can ``npm install``, and the integrity below pins its exact bytes.

The cache is ``$RC_WIDGET_CACHE`` or ``~/.cache/rc-triggers-contract/livechat-1.13.3``. Layout once
complete::

    <cache>/livechat-1.13.3.tgz     what `npm pack` fetched (its sha512 checked against INTEGRITY)
    <cache>/package/build/...       the built widget: index.html, rocketchat-livechat.min.js, chunks
    <cache>/complete.json           written last; its presence means the cache is usable

The tarball is only packed and untarred, never installed: the build folder is all a browser needs, and
no npm script of the package runs. Building happens beside the cache under an exclusive lock and the
folder is renamed into place at the end, with the helpers of ``tests.oracle.fetch``.

    python -m tests.widget.fetch      fetch (if needed) and print the build folder
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from tests.oracle.fetch import OracleUnavailable, _extract, _run, cached_build

PACKAGE = "@rocket.chat/livechat"
VERSION = "1.13.3"
# From `npm view @rocket.chat/livechat@1.13.3 dist.integrity`; npm pack reports the same for what it fetched.
INTEGRITY = "sha512-gEX3V2Cr+7Nr+j4CFwBBX7R/1mZxWvnmpbz/jc+gJOa7zKJOdyv4waLc5RegmoubxpNlzbpbMiNkwg5GQuhyWA=="
# Files the embedding path needs: the loader the host page includes, and the iframe's page.
REQUIRED_FILES = ("rocketchat-livechat.min.js", "index.html")


class WidgetUnavailable(RuntimeError):
    """The widget cannot be fetched here (no npm, no registry, a tarball that is not the pinned one...)."""


def cache_dir() -> Path:
    configured = os.environ.get("RC_WIDGET_CACHE")
    if configured:
        return Path(configured).expanduser().resolve()
    return Path.home() / ".cache" / "rc-triggers-contract" / f"livechat-{VERSION}"


def _marker() -> dict[str, str]:
    return {"package": PACKAGE, "version": VERSION, "integrity": INTEGRITY}


def _complete(cache: Path) -> bool:
    try:
        marker = json.loads((cache / "complete.json").read_text("utf-8"))
    except (OSError, ValueError):
        return False
    build = cache / "package" / "build"
    return marker == _marker() and all((build / name).is_file() for name in REQUIRED_FILES)


def _build(work: Path, npm: str) -> None:
    spec = f"{PACKAGE}@{VERSION}"
    packed = json.loads(_run([npm, "pack", "--json", spec], work, "npm pack") or "[]")
    entry = next((item for item in packed if item.get("id") == spec), None)
    if entry is None or not (work / entry["filename"]).is_file():
        raise WidgetUnavailable(f"npm pack did not produce {spec} (it reported {packed!r:.500})")
    if entry.get("integrity") != INTEGRITY:
        raise WidgetUnavailable(
            f"{spec} from the registry has integrity {entry.get('integrity')!r}, not the pinned {INTEGRITY!r}"
        )
    tarball = work / entry["filename"]
    _extract(tarball, work)
    tarball.rename(work / f"livechat-{VERSION}.tgz")
    (work / "complete.json").write_text(json.dumps(_marker()) + "\n", "utf-8")


def ensure_widget() -> Path:
    """Return the widget's build folder (fetching it first if needed); raise WidgetUnavailable."""
    cache = cache_dir()
    if not _complete(cache):
        npm = shutil.which("npm")
        if npm is None:
            raise WidgetUnavailable(f"`npm` was not found on PATH: it is needed to fetch {PACKAGE}@{VERSION}")
        try:
            cached_build(cache, _complete, lambda work: _build(work, npm), f"widget cache ({REQUIRED_FILES})")
        except OracleUnavailable as exc:  # npm, the archive or the finished folder
            raise WidgetUnavailable(str(exc)) from exc
    return cache / "package" / "build"


def main() -> int:
    try:
        build = ensure_widget()
    except WidgetUnavailable as exc:
        print(f"widget: {exc}", file=sys.stderr)
        return 1
    print(build)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
