"""A drift finding, and the table that words every kind of finding.

The walker decides *that* something differs and gathers the facts (a location, the values involved);
how each kind of finding reads in the report is stated once here, as ``str.format`` templates over
those facts. A kind may have variants, chiefly by direction: a missing rule in a request schema means
the server rejects what clients send, in a response schema it means clients miss what the server sends.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

_MAX_TEXT = 140


@dataclass(frozen=True, order=True)
class Drift:
    """One disagreement between the published documentation and the server contract."""

    location: str
    """A JSON pointer into the published document, or an operation such as ``GET /api/v1/...``."""
    kind: str
    published: str
    server: str
    explanation: str


@dataclass(frozen=True)
class Wording:
    """How one kind (and variant) of finding reads: the report's three text columns as templates."""

    published: str
    server: str
    explanation: str

    def fields(self) -> frozenset[str]:
        """The names of the facts the templates use."""
        return frozenset(
            name
            for template in (self.published, self.server, self.explanation)
            for _, name, _, _ in string.Formatter().parse(template)
            if name
        )


_ALLOWED_VALUES_400 = "`must be equal to one of the allowed values`"
_SMALLEST_LIST = "The page and the server disagree on the smallest list."
_FEWER_ITEMS = (
    "Clients built from the page may send {fewer}, which the server rejects with 400 "
    "`must NOT have fewer than {minimum} items`."
)
_OWN_SCHEMA = 'The example "{name}" fails the page\'s own schema under strict validation'

WORDING: Final[Mapping[tuple[str, str], Wording]] = MappingProxyType(
    {
        # ---- the document as a whole
        ("invalid-openapi", "unreadable"): Wording(
            "{error}",
            "a valid OpenAPI document",
            "Tools that load OpenAPI (validators, code and mock generators) refuse the published document.",
        ),
        ("invalid-openapi", "keyword"): Wording(
            "{key}: {value}",
            "n/a (OpenAPI {version} requires {expected})",
            "`{key}` is {value} where OpenAPI requires {expected}, so the published document is invalid "
            "and tools that validate it first (code generators, mock servers) refuse to load it.",
        ),
        # ---- operations, parameters, bodies, responses
        ("missing-operation", ""): Wording(
            "not documented",
            "{summary} (answers {codes})",
            "The server routes this operation, but the published page does not document it, so clients "
            "and generated SDKs do not know it exists.",
        ),
        ("extra-operation", ""): Wording(
            "documented",
            "no such route",
            "The page documents an operation the server does not route; calls to it fail.",
        ),
        ("parameter-optional", ""): Wording(
            "required: false",
            "required",
            "The server needs the {where} parameter `{name}` but the page marks it optional.",
        ),
        ("extra-parameter", ""): Wording(
            "{where} parameter `{name}`",
            "not read",
            "The page documents a parameter the server does not take.",
        ),
        ("missing-parameter", ""): Wording(
            "not documented",
            "{where} parameter `{name}`",
            "The server reads the {where} parameter `{name}`, but the page does not document it.",
        ),
        ("extra-request-body", ""): Wording(
            "a request body", "no body read", "The page documents a body that the server ignores."
        ),
        ("missing-request-body", ""): Wording(
            "no request body",
            "a JSON body",
            "The server validates a request body the page does not document.",
        ),
        ("request-body-optional", ""): Wording(
            "body optional (no `required: true`)",
            "body required",
            "The page leaves the body optional, but without one the server answers 400 "
            "`must have required property 'name'`.",
        ),
        ("missing-response", ""): Wording(
            "no {code} response",
            "{sent}",
            "The server can answer {code} ({description}), but the page does not say so, so clients are "
            "not prepared for it.",
        ),
        ("extra-response", ""): Wording(
            "{code} response",
            "never answers {code}",
            "The page documents a {code} answer the server never sends.",
        ),
        ("missing-media-type", ""): Wording(
            "not documented",
            "{media}",
            "The server sends or takes `{media}`, which the page does not document.",
        ),
        # ---- schemas: alternatives
        ("missing-oneof", ""): Wording(
            "one object with the properties {properties}",
            "exactly one of: {labels}",
            "The server accepts exactly one of several shapes, each with its own required keys; a single "
            "merged shape lets clients mix them and get 400 `must match exactly one schema in oneOf`.",
        ),
        ("oneof-mismatch", ""): Wording(
            "{published} alternatives",
            "{server} alternatives",
            "The page and the server disagree on how many shapes this value can take.",
        ),
        ("extra-oneof", ""): Wording(
            "one of {count} shapes",
            "a single shape",
            "The page offers alternatives the server does not accept.",
        ),
        ("outdated-schema", ""): Wording(
            "properties {published}",
            "properties {server}",
            "The page describes the body of an older release; the current server also sends {missing}.",
        ),
        # ---- schemas: types and values
        ("not-nullable", ""): Wording(
            "{published}",
            "{server}",
            "The server accepts and may hold `null` here, but the page does not allow it.",
        ),
        ("extra-nullable", ""): Wording(
            "{published}", "{server}", "The page allows `null`, which the server rejects here."
        ),
        ("type-mismatch", "coerced"): Wording(
            "{published}{oneof}",
            "{server} (coerced)",
            "The page declares {published} but the server takes {server}: it coerces {only_published} "
            "values before validating and stores the coerced value, so a client reads back another type.",
        ),
        ("type-mismatch", "rejected"): Wording(
            "{published}{oneof}",
            "{server}",
            "The page declares {published} but the server rejects {only_published} values with 400.",
        ),
        ("missing-enum", "request"): Wording(
            "any {types}",
            "one of: {allowed}",
            "The page does not restrict the value to the allowed set, so clients built from it send other "
            f"values, which the server rejects with 400 {_ALLOWED_VALUES_400}.",
        ),
        ("missing-enum", "response"): Wording(
            "any {types}",
            "one of: {allowed}",
            "The page does not restrict the value to the allowed set, so clients cannot rely on the only "
            "values the server sends.",
        ),
        ("enum-mismatch", ""): Wording(
            "one of: {published}",
            "one of: {allowed}",
            "The page and the server disagree on the allowed values.",
        ),
        # ---- schemas: objects and arrays
        ("missing-required", "request"): Wording(
            "required: {published}",
            "required: {server}",
            "Clients built from the page may leave out {missing}, which the server rejects with 400 "
            "`must have required property '{first}'`.",
        ),
        ("missing-required", "response"): Wording(
            "required: {published}",
            "required: {server}",
            "The server always sends {missing}, but the page marks {them} optional.",
        ),
        ("missing-required", "by-branch"): Wording(
            "required: {published}",
            "{server}",
            "Each alternative requires its own keys, which the page does not say, so clients may leave "
            "them out and get 400 from the server.",
        ),
        ("extra-required", ""): Wording(
            "required: {published}",
            "required: {server}",
            "The page requires keys the server does not insist on.",
        ),
        ("missing-additional-properties", "request"): Wording(
            "other keys allowed",
            "no other keys (additionalProperties: false)",
            "Clients built from the page may send unknown keys, which the server rejects with 400 "
            "`must NOT have additional properties`.",
        ),
        ("missing-additional-properties", "response"): Wording(
            "other keys allowed",
            "no other keys (additionalProperties: false)",
            "The server sends no other keys, which the page does not say.",
        ),
        ("missing-property", "request"): Wording(
            "no `{name}`",
            "`{name}`: {types}",
            "The server accepts `{name}`, which the page does not document.",
        ),
        ("missing-property", "response"): Wording(
            "no `{name}`",
            "`{name}`: {types}",
            "The server sends `{name}`, which the page does not document.",
        ),
        ("extra-property", ""): Wording(
            "`{name}`",
            "{fate}",
            "The page documents `{name}`, which the server does not know.",
        ),
        ("missing-min-items", "request"): Wording("any length", "minItems: {minimum}", _FEWER_ITEMS),
        ("missing-min-items", "response"): Wording("any length", "minItems: {minimum}", _SMALLEST_LIST),
        ("min-items-mismatch", "request"): Wording(
            "minItems: {published}", "minItems: {minimum}", _FEWER_ITEMS
        ),
        ("min-items-mismatch", "response"): Wording(
            "minItems: {published}", "minItems: {minimum}", _SMALLEST_LIST
        ),
        # ---- a schema's own default and example
        ("string-boolean", "schema"): Wording(
            "{keyword}: {value}",
            "{keyword}: {boolean}",
            "The {keyword} is the string {value}, not the JSON boolean {boolean}, so it contradicts the "
            "declared boolean type and misleads anyone copying it.",
        ),
        ("example-type-mismatch", "coerced"): Wording(
            "{keyword}: {value}",
            "{coerced} ({types}), the string is coerced",
            "The {keyword} has the wrong JSON type for its own schema ({message}); the server happens to "
            "coerce it, but a strict client or validator rejects it.",
        ),
        ("example-type-mismatch", "rejected"): Wording(
            "{keyword}: {value}",
            "{coerced} ({types})",
            "The {keyword} has the wrong JSON type for its own schema ({message}).",
        ),
        ("example-rejected-by-server", "schema"): Wording(
            "{keyword}: {value}", "{message}", "The server would not accept this {keyword}."
        ),
        # ---- request and response examples
        ("example-rejected-by-own-schema", "accepted"): Wording(
            "{shown}",
            "{server}",
            _OWN_SCHEMA + ", yet the real server accepts it because it coerces types before validating, "
            "so the page contradicts itself and hides that coercion happens.",
        ),
        ("example-rejected-by-own-schema", "rejected"): Wording(
            "{shown}", "{server}", _OWN_SCHEMA + ", and the server rejects it too."
        ),
        ("example-rejected-by-server", "request"): Wording(
            "{shown}",
            "{server}",
            'The example "{name}" matches the page\'s schema, but the server does not accept it.',
        ),
        ("string-boolean", "example"): Wording(
            "{path}: {value}",
            "{path}: {boolean}",
            "The example shows the string {value} where the server sends a JSON boolean, so code written "
            "from the example tests for a string and never matches.",
        ),
        ("outdated-example", ""): Wording(
            "{value}{older}",
            "{current}{current_name}",
            "The example is the body an older release sent; current servers send another shape, so "
            "clients written against the page miss keys the server now sends.",
        ),
        ("example-rejected-by-server", "response"): Wording(
            "{value}", "{message}", "The server never sends a body of this shape."
        ),
        ("example-never-sent", ""): Wording(
            "{value}",
            "{body}",
            'The example "{name}" shows a body the server never sends for this status.',
        ),
    }
)


def _short(text: str) -> str:
    # Keep table cells readable; the full values are in the documents the report names.
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"


def _kind_fields() -> dict[str, frozenset[str]]:
    fields: dict[str, frozenset[str]] = {}
    for (kind, _), wording in WORDING.items():
        fields[kind] = fields.get(kind, frozenset()) | wording.fields()
    return fields


_KIND_FIELDS: Final = _kind_fields()


def worded(location: str, kind: str, variant: str, facts: Mapping[str, str]) -> Drift:
    """The finding of ``kind`` (and ``variant``) at ``location``, worded from ``facts`` by the table.

    The facts must include every field the wording uses and nothing that no wording of the kind uses,
    so a misspelt or forgotten fact fails at once instead of printing a wrong report.
    """
    wording = WORDING[kind, variant]
    if not wording.fields() <= set(facts) <= _KIND_FIELDS[kind]:
        raise ValueError(
            f"{kind} ({variant or 'no variant'}) is worded from {sorted(wording.fields())}, "
            f"given {sorted(facts)}"
        )
    return Drift(
        location,
        kind,
        _short(wording.published.format_map(facts)),
        _short(wording.server.format_map(facts)),
        wording.explanation.format_map(facts),
    )
