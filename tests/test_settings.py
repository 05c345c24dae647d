"""mock_server.settings: the option parsers and the JSON that carries the settings to worker processes."""

from __future__ import annotations

import pytest

from mock_server.settings import (
    SETTINGS_ENVIRONMENT_VARIABLE,
    Clock,
    IdSource,
    MockSettings,
    SettingsError,
    check_cors_origin,
    parse_user,
)
from spec.model import User


@pytest.mark.parametrize(
    ("text", "clock", "described"),
    [
        ("real", Clock(), "real time"),
        ("fixed:1764072000123", Clock("step", 1764072000123, 0), "fixed at 1764072000123 ms"),
        ("fixed:-5", Clock("step", -5, 0), "fixed at -5 ms"),  # before 1970 is still a time
        ("step:1000:250", Clock("step", 1000, 250), "starts at 1000 ms, +250 ms per request"),
        ("step:1000", Clock("step", 1000, 0), "fixed at 1000 ms"),  # a step of 0 is a fixed clock
    ],
)
def test_clock_parse(text: str, clock: Clock, described: str) -> None:
    assert Clock.parse(text) == clock
    assert clock.describe() == described


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fixed:1:2", "'fixed' takes one number"),
        ("fixed", "expected 'real'"),
        ("step:x", "expected 'real'"),
        ("step:1:-2", "expected 'real'"),  # no clock runs backwards
        ("Real", "expected 'real'"),
        (" real", "expected 'real'"),
        ("fixed:1.5", "expected 'real'"),
    ],
)
def test_clock_parse_rejects(text: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message) as raised:
        Clock.parse(text)
    assert repr(text) in str(raised.value), "the message quotes what was given"


@pytest.mark.parametrize(
    ("text", "ids", "described"),
    [
        ("random", IdSource(), "random"),
        ("sequential", IdSource("sequential", 1), f"sequential from {1:024x}"),
        ("sequential:0", IdSource("sequential", 0), "sequential from " + "0" * 24),
        ("sequential:255", IdSource("sequential", 255), f"sequential from {255:024x}"),
    ],
)
def test_id_source_parse(text: str, ids: IdSource, described: str) -> None:
    assert IdSource.parse(text) == ids
    assert ids.describe() == described


@pytest.mark.parametrize("text", ["sequential:", "sequential:-1", "sequential:ff", "uuid", "sequential:1:2"])
def test_id_source_parse_rejects(text: str) -> None:
    with pytest.raises(SettingsError, match=r"expected 'random' or 'sequential\[:START\]'"):
        IdSource.parse(text)


@pytest.mark.parametrize(
    ("text", "user"),
    [
        ("u1:t1", User("u1", "t1", frozenset())),
        ("u1:t1:", User("u1", "t1", frozenset())),
        ("u1:t1:view-livechat-manager", User("u1", "t1", frozenset({"view-livechat-manager"}))),
        ("u1:t1: a , b ,,", User("u1", "t1", frozenset({"a", "b"}))),  # blanks and empty items dropped
    ],
)
def test_parse_user(text: str, user: User) -> None:
    assert parse_user(text) == user


@pytest.mark.parametrize("text", ["u1", ":t1", "u1:", "u1:t1:p:extra", ""])
def test_parse_user_rejects(text: str) -> None:
    with pytest.raises(SettingsError, match="expected ID:TOKEN"):
        parse_user(text)


@pytest.mark.parametrize(
    "origin",
    [
        "*",
        "http://localhost:5173",
        "http://localhost:*",
        "https://app.example.com",
        "https://*.example.com",
        "https://*.example.com:8443",
        "http://127.0.0.1:*",
        "http://[::1]:3000",
        "null",
    ],
)
def test_check_cors_origin_accepts(origin: str) -> None:
    assert check_cors_origin(origin) == origin


@pytest.mark.parametrize(
    "origin",
    [
        "localhost:5173",  # no scheme
        "ftp://example.com",
        "http://example.com/",  # an origin has no path
        "http://example.com:abc",
        "http://ex:ample.com",
        "http://",
        "http://exa mple.com",
        "**",
        "",
    ],
)
def test_check_cors_origin_rejects(origin: str) -> None:
    with pytest.raises(SettingsError, match=r"expected '\*', 'null' .* or SCHEME://HOST"):
        check_cors_origin(origin)


def test_settings_survive_the_json_round_trip_to_a_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = MockSettings(
        host="127.0.0.2",
        port=0,
        profile="6.13",
        users=(User("a", "b", frozenset({"x", "y"})), User("c", "d", frozenset())),
        seed_triggers=({"_id": "1", "name": "n", "conditions": [{"name": "page-url", "value": None}]},),
        seed_source="seed.json",
        db_path="/tmp/state.sqlite",
        db_is_temporary=True,
        workers=3,
        cors_origins=("http://localhost:*", "https://*.example.com"),
        quiet=True,
        rate_limit=False,
        clock=Clock.parse("step:5:7"),
        ids=IdSource.parse("sequential:9"),
        max_body_bytes=1024,
        journal_size=5,
        docs_path="/swagger",
        predictor="tests.mutants:skip_auth",
    )
    assert MockSettings.from_json(settings.to_json()) == settings
    # The defaults too: no seed (None, not an empty tuple) and no users.
    assert MockSettings.from_json(MockSettings().to_json()) == MockSettings()
    monkeypatch.setenv(SETTINGS_ENVIRONMENT_VARIABLE, settings.to_json())
    assert MockSettings.from_environment() == settings


def test_settings_from_an_environment_without_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SETTINGS_ENVIRONMENT_VARIABLE, raising=False)
    with pytest.raises(SettingsError, match=f"{SETTINGS_ENVIRONMENT_VARIABLE} is not set"):
        MockSettings.from_environment()
