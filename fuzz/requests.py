"""Hypothesis strategies for whole HTTP requests, and requests labelled with the server's exact answer.

A request strategy draws ``spec.model.Request`` values: method, path, raw query, headers and raw body
bytes, exactly what reaches the server. ``labelled_requests`` pairs each with the answer that
``spec.predict.predict`` says the server gives, so a test can send the request anywhere and compare.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from hypothesis import strategies as st

from fuzz import bodies
from spec.headers import AUTH_TOKEN_HEADER, USER_ID_HEADER
from spec.model import Answer, Change, Headers, Request, State, User
from spec.routes import TRIGGERS_PATH

__all__ = [
    "BAD_ENCODINGS",
    "ENCODINGS",
    "TRIGGERS_PATH",
    "Credentials",
    "LabelledRequest",
    "auth_headers",
    "bad_sorts",
    "credentials",
    "delete_requests",
    "encode_json",
    "get_requests",
    "label",
    "labelled_requests",
    "list_queries",
    "list_requests",
    "malformed_post_requests",
    "post_requests",
    "sorts",
    "trigger_ids",
]


def encode_json(value: Any) -> bytes:
    """Compact UTF-8 JSON, the way browsers and ``JSON.stringify`` send it."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


# --- credentials ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    """One way of presenting credentials; ``label`` says which (``admin``, ``missing-token``, ...)."""

    label: str
    headers: Headers


def auth_headers(user: User) -> Headers:
    """The two headers that authenticate ``user``."""
    return ((USER_ID_HEADER, user.user_id), (AUTH_TOKEN_HEADER, user.token))


def credentials(
    admin: User, limited: User | None = None, *, valid_only: bool = False
) -> st.SearchStrategy[Credentials]:
    """Credential variants: the permitted user, the limited one, and every way of failing to log in.

    The failing variants are a missing header (each one, and both), a wrong token, an unknown user and
    empty values; ``valid_only`` keeps only the users' real credentials.
    """
    valid = [Credentials("admin", auth_headers(admin))]
    if limited is not None:
        valid.append(Credentials("limited", auth_headers(limited)))
    # Header names are case-insensitive in HTTP; the lower-case spelling must authenticate too.
    valid.append(
        Credentials("admin-lowercase-headers", tuple((k.lower(), v) for k, v in auth_headers(admin)))
    )
    if valid_only:
        return st.sampled_from(valid)
    failing = [
        Credentials("no-credentials", ()),
        Credentials("user-id-only", ((USER_ID_HEADER, admin.user_id),)),
        Credentials("token-only", ((AUTH_TOKEN_HEADER, admin.token),)),
        Credentials("wrong-token", ((USER_ID_HEADER, admin.user_id), (AUTH_TOKEN_HEADER, admin.token + "x"))),
        Credentials(
            "unknown-user", ((USER_ID_HEADER, admin.user_id + "-unknown"), (AUTH_TOKEN_HEADER, admin.token))
        ),
        Credentials("empty-values", ((USER_ID_HEADER, ""), (AUTH_TOKEN_HEADER, ""))),
    ]
    return st.sampled_from(valid + failing)


# --- request bodies on the wire ------------------------------------------------------------------------

Encoding = Callable[[Any], tuple[str | None, bytes]]
"""Turns a JSON value into (content type or ``None`` for no header, body bytes)."""


def _form(value: Any) -> tuple[str | None, bytes]:
    # Forms are flat: nested values travel as their JSON text, which the server keeps as a string.
    if not isinstance(value, dict):
        return "application/x-www-form-urlencoded", b""
    fields = {key: item if isinstance(item, str) else json.dumps(item) for key, item in value.items()}
    return "application/x-www-form-urlencoded", urlencode(fields).encode()


ENCODINGS: dict[str, Encoding] = {
    "json": lambda value: ("application/json", encode_json(value)),
    "json-charset": lambda value: ("application/json; charset=utf-8", encode_json(value)),
    "json-ascii-escaped": lambda value: ("application/json", json.dumps(value, indent=1).encode()),
}
"""Well-formed JSON encodings: the server must parse each to the same value."""

BAD_ENCODINGS: dict[str, Encoding] = {
    "text-plain": lambda value: ("text/plain", encode_json(value)),
    "no-content-type": lambda value: (None, encode_json(value)),
    "form-urlencoded": _form,
    "truncated-json": lambda value: ("application/json", encode_json(value)[:-1] or b"{"),
    "trailing-garbage": lambda value: ("application/json", encode_json(value) + b"}x"),
    # Bytes that are not UTF-8 inside a string: Node decodes them to U+FFFD and the JSON stays valid.
    "invalid-utf8": lambda value: ("application/json", encode_json(value).replace(b':"', b':"\xff\xfe', 1)),
    "empty-body": lambda value: ("application/json", b""),
    "single-quotes": lambda value: ("application/json", encode_json(value).replace(b'"', b"'")),
}
"""Odd encodings: wrong or missing content types, broken JSON, bytes that are not UTF-8, empty bodies."""


def _request(method: str, path: str, headers: Headers, query: str = "", body: bytes = b"") -> Request:
    return Request(method=method, path=path, query=query, headers=headers, body=body)


def post_requests(
    values: st.SearchStrategy[Any],
    creds: st.SearchStrategy[Credentials],
    encodings: Sequence[str] = tuple(ENCODINGS),
) -> st.SearchStrategy[Request]:
    """POST requests carrying a drawn JSON value in one of the named ``ENCODINGS``/``BAD_ENCODINGS``."""
    table = {**ENCODINGS, **BAD_ENCODINGS}
    names = st.sampled_from(list(encodings))

    @st.composite
    def build(draw: st.DrawFn) -> Request:
        cred = draw(creds)
        content_type, body = table[draw(names)](draw(values))
        headers = cred.headers + ((("Content-Type", content_type),) if content_type is not None else ())
        return _request("POST", TRIGGERS_PATH, headers, body=body)

    return build()


def malformed_post_requests(creds: st.SearchStrategy[Credentials]) -> st.SearchStrategy[Request]:
    """POSTs of valid trigger bodies under every bad encoding or content type (and raw junk bytes)."""
    junk = post_requests(st.none(), creds, ["json"]).flatmap(
        lambda request: st.binary(max_size=32).map(lambda raw: _replace_body(request, raw))
    )
    return st.one_of(post_requests(bodies.trigger_bodies(), creds, tuple(BAD_ENCODINGS)), junk)


def _replace_body(request: Request, body: bytes) -> Request:
    return Request(request.method, request.path, request.query, request.headers, body, request.client_address)


# --- list queries -------------------------------------------------------------------------------------

SORT_FIELDS = ("name", "description", "enabled", "runOnce", "_updatedAt", "_id")


def sorts() -> st.SearchStrategy[str]:
    """Valid ``sort`` texts: JSON objects mapping trigger fields to 1 or -1."""
    return st.dictionaries(
        st.sampled_from(SORT_FIELDS), st.sampled_from([1, -1]), min_size=1, max_size=2
    ).map(lambda spec: json.dumps(spec, separators=(",", ":")))


def bad_sorts() -> st.SearchStrategy[str]:
    """``sort`` texts the server rejects with ``error-invalid-sort`` (not JSON, or values other than ±1)."""
    return st.one_of(
        st.sampled_from(["{name:1}", "name", '{"name":2}', '{"name":"asc"}', "[]", "1", "{", '{"name":0}']),
        st.text(min_size=1, max_size=8).filter(lambda text: not text.strip().startswith("{")),
    )


def _numbers_text() -> st.SearchStrategy[str]:
    return st.one_of(st.integers(0, 150).map(str), st.sampled_from(["abc", "", "1.5", " 3", "1e1", "-1"]))


def list_queries() -> st.SearchStrategy[str]:
    """Raw query strings for the list route: count/offset/sort present or not, bad values, unknown keys."""
    # Built once, not per draw: Hypothesis validates every new strategy the first time it draws from it.
    numbers, sort_texts = _numbers_text(), st.one_of(sorts(), sorts(), bad_sorts())
    unknown_keys = st.sampled_from(["foo", "query", "fields", "Count"])

    @st.composite
    def build(draw: st.DrawFn) -> str:
        pairs: list[tuple[str, str]] = []
        if draw(st.booleans()):
            pairs.append(("count", draw(numbers)))
        if draw(st.booleans()):
            pairs.append(("offset", draw(numbers)))
        if draw(st.booleans()):
            pairs.append(("sort", draw(sort_texts)))
        if draw(st.integers(0, 9)) == 0:
            pairs.append((draw(unknown_keys), "1"))
        pairs = draw(st.permutations(pairs))
        return "&".join(f"{quote(key)}={quote(value, safe='')}" for key, value in pairs)

    return build()


def list_requests(
    creds: st.SearchStrategy[Credentials], queries: st.SearchStrategy[str] | None = None
) -> st.SearchStrategy[Request]:
    """GET list requests with drawn query strings."""
    return st.builds(
        lambda cred, query: _request("GET", TRIGGERS_PATH, cred.headers, query=query),
        creds,
        queries if queries is not None else list_queries(),
    )


# --- single triggers by id ---------------------------------------------------------------------------


def trigger_ids(known: Sequence[str] = ()) -> st.SearchStrategy[str]:
    """Path ids: one of ``known`` (ids of stored triggers) or ids no server holds."""
    unknown = st.one_of(
        st.text(alphabet="0123456789abcdef", min_size=24, max_size=24).map(lambda text: "f" + text[1:]),
        st.text(alphabet="ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz23456789", min_size=17, max_size=17),
    ).map(lambda text: "no-such-" + text)
    return st.one_of(st.sampled_from(list(known)), unknown) if known else unknown


def get_requests(
    creds: st.SearchStrategy[Credentials], ids: st.SearchStrategy[str]
) -> st.SearchStrategy[Request]:
    """GET one trigger by id."""
    return st.builds(
        lambda cred, _id: _request("GET", f"{TRIGGERS_PATH}/{quote(_id)}", cred.headers), creds, ids
    )


def delete_requests(
    creds: st.SearchStrategy[Credentials], ids: st.SearchStrategy[str]
) -> st.SearchStrategy[Request]:
    """DELETE one trigger by id."""
    return st.builds(
        lambda cred, _id: _request("DELETE", f"{TRIGGERS_PATH}/{quote(_id)}", cred.headers), creds, ids
    )


# --- labelling ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelledRequest:
    """A request with the answer the server must give and what it must store, from ``spec.predict``."""

    request: Request
    expected: Answer
    changes: tuple[Change, ...]
    operation: str


Predictor = Callable[..., Any]


def label(
    request: Request, state: State, profile: Any, env: Any, predictor: Predictor | None = None
) -> LabelledRequest:
    """Label one request with its predicted outcome (``predictor`` defaults to ``spec.predict.predict``)."""
    if predictor is None:
        from spec.predict import predict

        predictor = predict
    outcome = predictor(request, state, profile, env)
    return LabelledRequest(request, outcome.answer, tuple(outcome.changes), outcome.operation)


def labelled_requests(
    requests: st.SearchStrategy[Request], state: State, profile: Any, env: Any
) -> st.SearchStrategy[LabelledRequest]:
    """Requests drawn from ``requests``, each labelled with its answer against ``state``."""
    return requests.map(lambda request: label(request, state, profile, env))
