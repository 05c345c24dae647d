"""mock_server.cors: which origins a ``--cors-origin`` pattern admits, and the headers the mock adds."""

from __future__ import annotations

import pytest

from mock_server.cors import ALLOWED_METHODS, DEFAULT_ALLOWED_HEADERS, EXPOSED_HEADERS, CorsPolicy
from mock_server.settings import DEFAULT_CORS_ORIGINS


@pytest.mark.parametrize(
    ("pattern", "allowed", "refused"),
    [
        ("*", ["http://evil.example", "null", "https://a.b:1"], [""]),
        (
            "http://localhost:5173",
            ["http://localhost:5173", "HTTP://LOCALHOST:5173"],  # scheme and host are case-insensitive
            ["http://localhost:5174", "http://localhost", "https://localhost:5173", "http://localhost:51730"],
        ),
        (
            "http://localhost:*",
            ["http://localhost", "http://localhost:1", "http://localhost:65535"],
            [
                "http://localhost:",
                "http://localhost:123456",
                "http://localhost.evil.example",
                "https://localhost",
            ],
        ),
        (
            "https://*.example.com",
            ["https://app.example.com", "https://a.b.example.com"],
            [
                "https://example.com",  # the wildcard needs a subdomain
                "https://app.example.com:8443",  # no port in the pattern: the default port only
                "https://appexample.com",
                "https://app.example.com.evil.example",
                "http://app.example.com",
            ],
        ),
        ("https://*.example.com:8443", ["https://app.example.com:8443"], ["https://app.example.com"]),
        (
            "https://app.example.com",
            ["https://app.example.com"],
            ["https://appXexample.com", "https://app.example.co"],  # dots are literal, not regex
        ),
        ("null", ["null"], ["nul", "nulls", "http://null"]),  # the origin of file:// pages
    ],
)
def test_origin_patterns(pattern: str, allowed: list[str], refused: list[str]) -> None:
    policy = CorsPolicy([pattern])
    assert [origin for origin in allowed if not policy.allows(origin)] == []
    assert [origin for origin in refused if policy.allows(origin)] == []


def test_default_origins_are_the_loopback_names_on_any_port() -> None:
    policy = CorsPolicy(DEFAULT_CORS_ORIGINS)
    for origin in ("http://localhost:5173", "http://127.0.0.1:8080", "http://localhost"):
        assert policy.allows(origin), origin
    for origin in ("https://localhost:5173", "http://192.168.1.2:5173", "http://localhost.example.com"):
        assert not policy.allows(origin), origin


def test_several_patterns_allow_the_union() -> None:
    policy = CorsPolicy(["http://localhost:3000", "https://*.example.com"])
    assert policy.allows("http://localhost:3000") and policy.allows("https://x.example.com")
    assert not policy.allows("http://localhost:3001")
    assert not CorsPolicy([]).allows("http://localhost:3000")


def test_response_headers() -> None:
    policy = CorsPolicy(["http://localhost:*"])
    assert policy.response_headers("http://localhost:5173") == (
        ("access-control-allow-origin", "http://localhost:5173"),
        ("access-control-expose-headers", EXPOSED_HEADERS),
        ("vary", "Origin"),
    )
    # A refused origin gets no grant, but Vary still tells caches the answer depends on Origin.
    assert policy.response_headers("http://evil.example") == (("vary", "Origin"),)
    assert policy.response_headers(None) == ()


def test_preflight_headers_echo_the_requested_headers() -> None:
    policy = CorsPolicy(["http://localhost:*"])
    headers = dict(policy.preflight_headers("http://localhost:5173", "content-type,x-custom"))
    assert headers["access-control-allow-origin"] == "http://localhost:5173"
    assert headers["access-control-allow-methods"] == ALLOWED_METHODS
    assert headers["access-control-allow-headers"] == "content-type,x-custom"
    assert int(headers["access-control-max-age"]) > 0
    assert "Origin" in headers["vary"] and "Access-Control-Request-Headers" in headers["vary"]
    fallback = dict(policy.preflight_headers("http://localhost:5173", None))
    assert fallback["access-control-allow-headers"] == DEFAULT_ALLOWED_HEADERS
