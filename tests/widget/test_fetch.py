"""The widget fetcher builds its cache from the registry, pinned by integrity, and rebuilds a bad one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.widget import fetch
from tests.widget.conftest import widget_unavailable


def _fetch_into(cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RC_WIDGET_CACHE", str(cache))
    try:
        return fetch.ensure_widget()
    except fetch.WidgetUnavailable as exc:
        widget_unavailable(str(exc))
        raise


def test_a_fresh_cache_holds_the_pinned_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "livechat"
    build = _fetch_into(cache, monkeypatch)
    assert build == cache / "package" / "build"
    assert json.loads((build.parent / "package.json").read_text("utf-8"))["version"] == fetch.VERSION
    for name in fetch.REQUIRED_FILES:
        assert (build / name).is_file()
    assert "<body>" in (build / "index.html").read_text("utf-8")  # where page.py puts SERVER_URL
    assert json.loads((cache / "complete.json").read_text("utf-8"))["integrity"] == fetch.INTEGRITY
    assert sorted(p.name for p in tmp_path.iterdir()) == [".livechat.lock", "livechat"]  # no building-* left


def test_a_cache_with_another_marker_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "livechat"
    (cache / "package" / "build").mkdir(parents=True)
    (cache / "complete.json").write_text(json.dumps({"package": fetch.PACKAGE, "version": "0.0.1"}), "utf-8")
    build = _fetch_into(cache, monkeypatch)
    for name in fetch.REQUIRED_FILES:
        assert (build / name).is_file()
    assert json.loads((cache / "complete.json").read_text("utf-8"))["version"] == fetch.VERSION
