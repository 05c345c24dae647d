"""Hypothesis strategies for the external-service routes and the log-in/log-out flow.

Bodies come from the contract's schemas (``TriggerWebhookTestRequest``, ``TriggerWebhookCallRequest``)
through ``fuzz.bodies.from_schema``; invalid ones are valid ones broken by one ``fuzz.mutations`` edit.
Log-in bodies are the shapes ``loginCompatibility`` reads (docs/source-notes/identity.md §2). As
everywhere in ``fuzz``, no strategy here decides an answer: ``spec.predict`` does.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from hypothesis import strategies as st

from fuzz import bodies, mutations
from fuzz.requests import encode_json
from spec import contract
from spec.headers import AUTH_TOKEN_HEADER, CONTENT_TYPE, JSON_CONTENT_TYPE, USER_ID_HEADER
from spec.model import Headers, Request, password_digest
from spec.routes import (
    EXTERNAL_SERVICE_TEST_PATH,
    LOGIN_PATH,
    LOGOUT_PATH,
    ME_PATH,
    external_service_call_path,
)

__all__ = [
    "WEBHOOK_CALL_SCHEMA",
    "WEBHOOK_TEST_SCHEMA",
    "invalid_webhook_call_bodies",
    "invalid_webhook_test_bodies",
    "login_bodies",
    "login_request",
    "login_requests",
    "logout_requests",
    "me_requests",
    "session_headers",
    "webhook_call_bodies",
    "webhook_call_request",
    "webhook_call_requests",
    "webhook_test_bodies",
    "webhook_test_request",
    "webhook_test_requests",
    "wrong_login_bodies",
]

WEBHOOK_TEST_SCHEMA = mutations.resolve({"$ref": contract.WEBHOOK_TEST_SCHEMA})
WEBHOOK_CALL_SCHEMA = mutations.resolve({"$ref": contract.WEBHOOK_CALL_SCHEMA})


def webhook_test_bodies(
    *, urls: st.SearchStrategy[Any] | None = None, timeouts: st.SearchStrategy[Any] | None = None
) -> st.SearchStrategy[dict[str, Any]]:
    """Valid test-route bodies; ``urls``/``timeouts`` replace the drawn ``webhookUrl``/``timeout``."""
    overrides: dict[mutations.Path, st.SearchStrategy[Any]] = {}
    if urls is not None:
        overrides[("webhookUrl",)] = urls
    if timeouts is not None:
        overrides[("timeout",)] = timeouts
    drawn: st.SearchStrategy[dict[str, Any]] = bodies.from_schema(WEBHOOK_TEST_SCHEMA, overrides)
    return drawn


def webhook_call_bodies() -> st.SearchStrategy[dict[str, Any]]:
    drawn: st.SearchStrategy[dict[str, Any]] = bodies.from_schema(WEBHOOK_CALL_SCHEMA)
    return drawn


@st.composite
def _broken(draw: st.DrawFn, base: st.SearchStrategy[dict[str, Any]], schema: Mapping[str, Any]) -> Any:
    body = draw(base)
    available = mutations.edits(body, schema)
    if not available:
        return draw(st.nothing())
    kind = draw(st.sampled_from(sorted({edit.kind for edit in available})))
    edit = draw(st.sampled_from([edit for edit in available if edit.kind == kind]))
    return edit.apply(body, draw(bodies._edit_values(edit)))


def _rejected_by(validator: Any) -> Any:
    return lambda body: not validator(copy.deepcopy(body)).valid


def invalid_webhook_test_bodies(
    base: st.SearchStrategy[dict[str, Any]] | None = None,
) -> st.SearchStrategy[Any]:
    """Test-route bodies the validator rejects (one edit from a valid one)."""
    valid = base if base is not None else webhook_test_bodies()
    return _broken(valid, WEBHOOK_TEST_SCHEMA).filter(_rejected_by(contract.validate_webhook_test_body))


def invalid_webhook_call_bodies() -> st.SearchStrategy[Any]:
    return _broken(webhook_call_bodies(), WEBHOOK_CALL_SCHEMA).filter(
        _rejected_by(contract.validate_webhook_call_body)
    )


def _json(path: str, headers: Headers, body: Any) -> Request:
    return Request("POST", path, "", (*headers, (CONTENT_TYPE, JSON_CONTENT_TYPE)), encode_json(body))


def webhook_test_request(headers: Headers, body: Any) -> Request:
    return _json(EXTERNAL_SERVICE_TEST_PATH, headers, body)


def webhook_call_request(trigger_id: str, body: Any, headers: Headers = ()) -> Request:
    return _json(external_service_call_path(trigger_id), headers, body)


def login_request(body: Any) -> Request:
    return _json(LOGIN_PATH, (), body)


def webhook_test_requests(
    headers: Headers, body_strategy: st.SearchStrategy[Any]
) -> st.SearchStrategy[Request]:
    """``POST external-service/test`` with ``headers`` (the caller's credentials) and drawn bodies."""
    return body_strategy.map(lambda body: webhook_test_request(headers, body))


def webhook_call_requests(
    trigger_ids: st.SearchStrategy[str], body_strategy: st.SearchStrategy[Any], headers: Headers = ()
) -> st.SearchStrategy[Request]:
    """``POST :_id/external-service/call`` (no credentials by default: the route needs none)."""
    return st.tuples(trigger_ids, body_strategy).map(
        lambda drawn: webhook_call_request(drawn[0], drawn[1], headers)
    )


# -- log in, log out, me ---------------------------------------------------------------------------

LOGIN_SHAPES = ("user", "username", "user-object", "email-in-user", "hashed", "resume")
"""The body shapes ``login_bodies`` draws from (``loginCompatibility``'s branches)."""


def login_bodies(
    username: str, password: str, *, email: str | None = None, resume: str | None = None
) -> st.SearchStrategy[dict[str, Any]]:
    """Log-in bodies for one account, in every shape the server reads; each names ``password`` as
    given, so they succeed exactly when the password is right (``resume`` needs a token)."""
    digest = password_digest(password)
    shapes: list[dict[str, Any]] = [
        {"user": username, "password": password},
        {"username": username, "password": password},
        {"user": {"username": username}, "password": password},
        {"user": {"username": username}, "password": {"digest": digest, "algorithm": "sha-256"}},
    ]
    if email is not None:
        shapes.append({"user": email, "password": password})
    if resume is not None:
        shapes.append({"resume": resume})
    return st.sampled_from(shapes)


def wrong_login_bodies(username: str, password: str) -> st.SearchStrategy[dict[str, Any]]:
    """Bodies that must fail: another password, an unknown user, or options Meteor cannot route."""
    other = st.text(min_size=1, max_size=12).filter(lambda text: text != password)
    return st.one_of(
        other.map(lambda wrong: {"user": username, "password": wrong}),
        other.map(lambda wrong: {"username": username, "password": wrong}),
        st.just({"user": username + "-no-such-user", "password": password}),
        st.just({}),
    )


def login_requests(body_strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Request]:
    return body_strategy.map(login_request)


def session_headers(user_id: str, token: str) -> Headers:
    return ((USER_ID_HEADER, user_id), (AUTH_TOKEN_HEADER, token))


def logout_requests(user_id: str, token: str) -> st.SearchStrategy[Request]:
    """``POST`` and ``GET`` log-out (both exist) for one session."""
    headers = session_headers(user_id, token)
    return st.sampled_from(
        [Request("POST", LOGOUT_PATH, "", headers), Request("GET", LOGOUT_PATH, "", headers)]
    )


def me_requests(user_id: str, token: str) -> st.SearchStrategy[Request]:
    return st.just(Request("GET", ME_PATH, "", session_headers(user_id, token)))
