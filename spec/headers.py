"""Header names and values the server's answers carry, and which of them the contract predicts."""

from __future__ import annotations

from spec.model import Headers

USER_ID_HEADER = "X-User-Id"
AUTH_TOKEN_HEADER = "X-Auth-Token"
"""The two credential headers of every authenticated route."""
LIVECHAT_TOKEN_HEADER = "X-RocketChat-Livechat-Token"
"""Sent to a trigger's webhook with the ``Livechat_secret_token`` setting, so the webhook can tell
the call comes from this server."""

CONTENT_TYPE = "content-type"
JSON_CONTENT_TYPE = "application/json"
CACHE_CONTROL = "cache-control"
PRAGMA = "pragma"
NO_CACHE_HEADERS: Headers = ((CACHE_CONTROL, "no-store"), (PRAGMA, "no-cache"))
"""What the router adds to an answer that comes back from a route's action."""

JSON_HEADERS: Headers = ((CONTENT_TYPE, JSON_CONTENT_TYPE), *NO_CACHE_HEADERS)
"""An answer the route's action returned, as the router sends it."""
MIDDLEWARE_JSON_HEADERS: Headers = ((CONTENT_TYPE, JSON_CONTENT_TYPE),)
"""An answer a middleware sends itself with Hono's ``c.json`` (never reaches the router's final handler)."""
HTML_ERROR_HEADERS: Headers = ((CONTENT_TYPE, "text/html; charset=utf-8"),)
HTML_PAGE_HEADERS: Headers = HTML_ERROR_HEADERS
"""Meteor's webapp serving the app page (6.13-7.4, a path the API does not route)."""
TEXT_PLAIN_HEADERS: Headers = ((CONTENT_TYPE, "text/plain; charset=UTF-8"),)
"""Hono's ``c.text`` (7.5+): its default not-found answer and the router's ``OPTIONS *``."""
ALLOW = "allow"

RATE_LIMIT_LIMIT = "x-ratelimit-limit"
RATE_LIMIT_REMAINING = "x-ratelimit-remaining"
RATE_LIMIT_RESET = "x-ratelimit-reset"
"""Epoch milliseconds at which the current window closes."""
RATE_LIMIT_RESET_TOLERANCE_MS = 2_000
"""How far a server's ``x-ratelimit-reset`` may lie from the predicted one: it is the server's clock
(window start + window length), which the prediction only knows to within the request's round trip
and the two clocks' offset."""

RATE_LIMIT_HEADERS = frozenset({RATE_LIMIT_LIMIT, RATE_LIMIT_REMAINING, RATE_LIMIT_RESET})
"""Predicted on a 429 only. A limited user's other answers may carry them too (the limiter sets them on
each call it counts), which the contract does not model, so only their values are contractual."""

CONTRACTUAL_HEADERS = frozenset({CONTENT_TYPE, CACHE_CONTROL, PRAGMA, *RATE_LIMIT_HEADERS})
"""Every header whose presence and value the contract predicts; the rest (date, etag, server...) vary
freely between deployments."""
