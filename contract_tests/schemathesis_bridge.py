"""Schemathesis 4 on the contract document, with the coercion rules taught to it.

Schemathesis draws cases from ``spec/documents/contract.openapi.json`` (positive and negative). Each
case is turned into a ``spec.model.Request`` and sent by the runner like any other request, so it is
also checked for the exact predicted answer. Schemathesis' own response checks run on the answer too.

Its ``negative_data_rejection`` check is left out on purpose: a schema-negative body such as
``{"enabled": "true"}`` is *valid* for the server, whose ajv coerces it. In its place
``coercion_aware_rejection`` asks ``spec.predict`` whether the server must reject the case.
A Schemathesis complaint about an answer that matches the prediction exactly is reported as a
warning (the document does not describe that answer), never as a failure of the server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from contract_tests.checks import Observed
from spec.contract import CONTRACT_PATH
from spec.drift.documents import around_the_feature
from spec.headers import CONTENT_TYPE, JSON_CONTENT_TYPE
from spec.model import Answer, Request

__all__ = [
    "CONTRACT_DOCUMENT",
    "case_to_request",
    "coercion_aware_rejection",
    "load_operations",
    "schemathesis_findings",
]

CONTRACT_DOCUMENT = CONTRACT_PATH


def load_operations(document: Path = CONTRACT_DOCUMENT) -> Iterator[Any]:
    """The contract's trigger operations as Schemathesis ``APIOperation`` objects. Those marked
    ``x-rc-around-feature`` (log-in, permissions, settings, ``method.call``) are left out: generated
    requests to them would change a shared server for everyone (issue 12 asks for an explicit option)."""
    import schemathesis
    from schemathesis.core.result import Err

    schema = schemathesis.openapi.from_path(document)
    for result in schema.get_all_operations():
        if isinstance(
            result, Err
        ):  # the contract document is tested to load cleanly; say which part does not
            raise result.err()
        operation = result.ok()
        if not around_the_feature(operation.definition.raw):
            yield operation


def case_to_request(case: Any, base_url: str) -> Request:
    """The exact request Schemathesis would send for ``case``, as a ``spec.model.Request``."""
    kwargs = case.as_transport_kwargs(base_url=base_url)
    url = urlsplit(kwargs["url"])
    base_path = urlsplit(base_url).path.rstrip("/")
    path = url.path[len(base_path) :] if base_path and url.path.startswith(base_path) else url.path
    params = kwargs.get("params") or {}
    query = "&".join(part for part in (url.query, urlencode(params, doseq=True)) if part)
    headers = [(str(k), str(v)) for k, v in (kwargs.get("headers") or {}).items()]
    if "json" in kwargs:
        try:
            body = json.dumps(kwargs["json"], ensure_ascii=False, separators=(",", ":")).encode()
        except UnicodeEncodeError:  # lone surrogates: send them escaped, as JavaScript would
            body = json.dumps(kwargs["json"], separators=(",", ":")).encode()
        if not any(k.lower() == CONTENT_TYPE for k, _ in headers):
            headers.append((CONTENT_TYPE, JSON_CONTENT_TYPE))
    else:
        raw = kwargs.get("data") or kwargs.get("content") or b""
        body = (
            raw.encode()
            if isinstance(raw, str)
            else bytes(raw)
            if isinstance(raw, (bytes, bytearray))
            else b""
        )
    return Request(
        method=str(kwargs["method"]).upper(), path=path, query=query, headers=tuple(headers), body=body
    )


def coercion_aware_rejection(case: Any, expected: Answer, observed: Observed) -> list[str]:
    """A negative case must be rejected only when the contract (with coercion) rejects it."""
    meta = getattr(case, "meta", None)
    mode = getattr(getattr(meta, "generation", None), "mode", None)
    if str(getattr(mode, "value", mode)) != "negative":
        return []
    if expected.status >= 400 and 200 <= observed.status < 300:
        return [
            f"negative data accepted with {observed.status}; the contract rejects it with {expected.status}"
        ]
    return []


def schemathesis_findings(case: Any, request: Request, observed: Observed, base_url: str) -> list[str]:
    """What Schemathesis' own response checks say about the answer (empty when they all pass)."""
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    response = httpx.Response(
        observed.status,
        headers=list(observed.headers),
        content=observed.body,
        request=httpx.Request(request.method, base_url.rstrip("/") + request.path),
    )
    response.elapsed = timedelta(seconds=observed.elapsed_seconds)  # read by the response-time check
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
        response_headers_conformance,
    ]
    from schemathesis.core.failures import FailureGroup

    try:
        case.validate_response(response, checks=checks)
    except FailureGroup as group:  # a BaseExceptionGroup: "except Exception" would not catch it
        return [_one_line(failure) for failure in group.exceptions][:6]
    except AssertionError as failure:  # a single Failure
        return [_one_line(failure)]
    return []


def _one_line(failure: BaseException) -> str:
    title = getattr(failure, "title", None) or type(failure).__name__
    message = str(getattr(failure, "message", "") or "").strip()
    # The message starts with the gist ("'total' is a required property") and goes on with dumps.
    gist = next((line.strip() for line in message.splitlines() if line.strip()), "")
    return f"{title}: {gist}"[:240] if gist else str(title)[:240]
