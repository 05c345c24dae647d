"""The walk: the published document and the contract side by side, every difference a finding.

Each ``compare_*``/``check_*`` method decides whether its part of the two documents differs and hands
the facts to ``add``; the wording of every finding comes from ``spec.drift.findings.WORDING``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal, TypeAlias

import openapi_spec_validator
from jsonschema.exceptions import ValidationError

from spec.ajv import CoerceMode, SchemaError, Validation, coerce_scalar, compile_schema
from spec.contract import resolve_pointer
from spec.drift import documents
from spec.drift.documents import Document, DocumentError, Json
from spec.drift.examples import (
    booleans_fixed,
    compact,
    dotted,
    errors,
    first_message,
    meta_schema_leaves,
    server_message,
    string_boolean_paths,
    walk_errors,
)
from spec.drift.findings import Drift, worded
from spec.drift.schemas import (
    BRANCH_REQUIRED,
    branch_label,
    describe_types,
    merge_branches,
    object_branches,
    sample_of,
    type_set,
    without_drift_keys,
)
from spec.jsvalues import stringify
from spec.pointers import pointer, replaced, value_at

Direction: TypeAlias = Literal["request", "response"]


@dataclass(frozen=True)
class _Target:
    """Where a published node sits, and which way its data flows (the server coerces only requests)."""

    location: str
    direction: Direction
    coerce: CoerceMode = True
    """How the server's ajv coerces request values here: ``"array"`` for the query, ``True`` for bodies."""


def _keys(keys: Sequence[str]) -> str:
    return ", ".join(f"`{key}`" for key in keys)


class _Finder:
    def __init__(self, published: Mapping[str, Json], contract: Mapping[str, Json]) -> None:
        self.pub = Document(published)
        self.con = Document(contract)
        self.found: dict[tuple[str, str, str, str], tuple[int, Drift]] = {}
        self.direction: Direction = "request"

    def add(self, location: str, kind: str, variant: str = "", **facts: str) -> None:
        drift = worded(location, kind, variant, facts)
        key = (drift.location, drift.kind, drift.published, drift.server)
        # A component shared by requests and responses is one finding; the request wording wins because
        # that is where the server rejects what the page allows.
        rank = 0 if self.direction == "request" else 1
        if key not in self.found or rank < self.found[key][0]:
            self.found[key] = (rank, drift)

    # ---- the document as a whole

    def run(self) -> list[Drift]:
        self.check_openapi_validity()
        self.compare_operations()
        return sorted(drift for _, drift in self.found.values())

    def check_openapi_validity(self) -> None:
        document = self.pub.document
        try:
            openapi_spec_validator.validate(document)
        except Exception as exc:  # the validator raises several unrelated types for a broken document
            leaves = meta_schema_leaves(document)
            if not leaves:
                first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                path = list(getattr(exc, "absolute_path", []) or [])
                self.add(pointer(*path), "invalid-openapi", "unreadable", error=first_line)
            for path, value, expected in leaves:
                self.add(
                    pointer(*path),
                    "invalid-openapi",
                    "keyword",
                    key=str(path[-1] if path else "(document)"),
                    value=compact(value),
                    version=str(document.get("openapi", "?")),
                    expected=expected,
                )

    def compare_operations(self) -> None:
        pub_ops = documents.operations(self.pub.document)
        con_ops = documents.operations(self.con.document)
        for key, (path, method, con_item, con_op) in con_ops.items():
            name = f"{method.upper()} {path}"
            if key not in pub_ops and documents.around_the_feature(con_op):
                continue  # log-in, permissions, settings...: not the page's subject, never on it
            if key not in pub_ops:
                self.add(
                    name,
                    "missing-operation",
                    summary=con_op.get("summary", "") or con_op.get("operationId", ""),
                    codes=", ".join(sorted(str(code) for code in con_op.get("responses", {}))),
                )
                continue
            pub_path, _, pub_item, pub_op = pub_ops[key]
            location = pointer("paths", pub_path, method)
            self.compare_operation(location, pub_item, pub_op, con_item, con_op)
        for key, (path, method, _, _) in pub_ops.items():
            if key not in con_ops:
                self.add(f"{method.upper()} {path}", "extra-operation")

    def compare_operation(
        self, location: str, pub_item: Json, pub_op: Json, con_item: Json, con_op: Json
    ) -> None:
        self.compare_parameters(location, pub_item, pub_op, con_item, con_op)
        self.compare_request_body(location, pub_op, con_op)
        self.compare_responses(location, pub_op, con_op)

    def compare_parameters(
        self, location: str, pub_item: Json, pub_op: Json, con_item: Json, con_op: Json
    ) -> None:
        self.direction = "request"
        pub_params = documents.parameters(self.pub, pub_item, pub_op, location)
        con_params = documents.parameters(self.con, con_item, con_op, "")
        # The contract models the auth headers as security schemes; a page listing them as header
        # parameters says the same thing, so they are not drift.
        security = documents.api_key_headers(self.con.document, con_op)
        for key, (param, param_location) in pub_params.items():
            where, name = key
            if key in con_params:
                con_param = con_params[key][0]
                if con_param.get("required") is True and param.get("required") is False:
                    self.add(param_location + "/required", "parameter-optional", where=where, name=name)
                if "schema" in param and "schema" in con_param:
                    self.compare_schema(
                        param["schema"],
                        _Target(param_location + "/schema", "request", "array" if where == "query" else True),
                        con_param["schema"],
                    )
            elif not (where == "header" and name.lower() in security):
                self.add(param_location, "extra-parameter", where=where, name=name)
        for where, name in con_params:
            if (where, name) not in pub_params:
                self.add(location + "/parameters", "missing-parameter", where=where, name=name)

    def compare_request_body(self, location: str, pub_op: Json, con_op: Json) -> None:
        if "requestBody" not in con_op:
            if "requestBody" in pub_op:
                self.add(location + "/requestBody", "extra-request-body")
            return
        con_body, _ = self.con.resolve(con_op["requestBody"], "")
        if "requestBody" not in pub_op:
            self.add(location, "missing-request-body")
            return
        pub_body, body_location = self.pub.resolve(pub_op["requestBody"], location + "/requestBody")
        if con_body.get("required") is True and pub_body.get("required") is not True:
            self.add(body_location, "request-body-optional")
        self.compare_content(body_location, pub_body, con_body, "request")

    def compare_responses(self, location: str, pub_op: Json, con_op: Json) -> None:
        pub_responses = pub_op.get("responses", {})
        con_responses = con_op.get("responses", {})
        for code in sorted(con_responses, key=str):
            con_response, _ = self.con.resolve(con_responses[code], "")
            if code not in pub_responses:
                sample = documents.first_example(self.con, con_response)
                self.add(
                    location + "/responses",
                    "missing-response",
                    code=str(code),
                    sent=f"{code} {compact(sample)}" if sample is not None else str(code),
                    description=con_response.get("description", "").split(".")[0],
                )
                continue
            pub_response, response_location = self.pub.resolve(
                pub_responses[code], location + pointer("responses", code)
            )
            self.compare_content(response_location, pub_response, con_response, "response")
        for code in sorted(pub_responses, key=str):
            if code not in con_responses:
                self.add(location + pointer("responses", code), "extra-response", code=str(code))

    def compare_content(
        self, location: str, pub_holder: Json, con_holder: Json, direction: Direction
    ) -> None:
        self.direction = direction
        pub_content = pub_holder.get("content", {}) or {}
        con_content = con_holder.get("content", {}) or {}
        for media in sorted(con_content):
            if media not in pub_content:
                self.add(location + "/content", "missing-media-type", media=media)
                continue
            media_location = location + pointer("content", media)
            pub_media, con_media = pub_content[media], con_content[media]
            if "schema" in pub_media and "schema" in con_media:
                self.compare_schema(
                    pub_media["schema"], _Target(media_location + "/schema", direction), con_media["schema"]
                )
            self.check_media_examples(media_location, pub_media, con_media, direction)

    # ---- schemas, keyword by keyword

    def compare_schema(self, pub_node: Json, target: _Target, con_node: Json) -> None:
        pub, location = self.pub.schema(pub_node, target.location)
        con, _ = self.con.schema(con_node)
        here = replace(target, location=location)
        self.check_schema_values(pub, here, con, con_node)

        pub_branches = object_branches(pub, self.pub)
        con_branches = object_branches(con, self.con)
        if con_branches is not None and pub_branches is None:
            if self.is_outdated_shape(pub, con_branches, here):
                return
            labels = [branch_label(branch, index) for index, branch in enumerate(con_branches)]
            self.add(
                location,
                "missing-oneof",
                properties=", ".join(pub.get("properties", {})) or "(none)",
                labels=", ".join(labels),
            )
            con = merge_branches(con_branches, labels, self.con)
        elif con_branches is not None and pub_branches is not None:
            if len(con_branches) != len(pub_branches):
                self.add(
                    location + "/oneOf",
                    "oneof-mismatch",
                    published=str(len(pub_branches)),
                    server=str(len(con_branches)),
                )
                return
            for index, branch in enumerate(pub["oneOf"]):
                self.compare_schema(
                    branch, replace(here, location=location + pointer("oneOf", index)), con["oneOf"][index]
                )
            return
        elif pub_branches is not None:
            self.add(location + "/oneOf", "extra-oneof", count=str(len(pub_branches)))
            return

        if not self.compare_types(pub, con, here):
            return
        self.compare_enum(pub, con, here)
        if "properties" in con or "required" in con or con.get("type") == "object":
            self.compare_object(pub, con, here)
        if con.get("type") == "array" or "items" in con:
            self.compare_array(pub, con, here)

    def is_outdated_shape(
        self, pub: Mapping[str, Json], con_branches: Sequence[Mapping[str, Json]], target: _Target
    ) -> bool:
        # The contract lists the shape the current release sends first; a published shape that matches
        # only a later (older) alternative documents a past release.
        keys = set(pub.get("properties", {}))
        if not keys or keys == set(con_branches[0].get("properties", {})):
            return False
        if not any(keys == set(branch.get("properties", {})) for branch in con_branches[1:]):
            return False
        current = con_branches[0]
        self.add(
            target.location,
            "outdated-schema",
            published=", ".join(pub.get("properties", {})),
            server=", ".join(current.get("properties", {})),
            missing=_keys([key for key in current.get("properties", {}) if key not in keys]),
        )
        return True

    def compare_types(self, pub: Mapping[str, Json], con: Mapping[str, Json], target: _Target) -> bool:
        """Reports a type difference; False when the types are unrelated, so comparing deeper is noise."""
        pub_types = type_set(pub, self.pub)
        con_types = type_set(con, self.con)
        if not pub_types or not con_types or pub_types == con_types:
            return True
        published, server = describe_types(pub_types), describe_types(con_types)
        if pub_types - {"null"} == con_types - {"null"}:
            kind = "not-nullable" if "null" in con_types else "extra-nullable"
            self.add(target.location, kind, published=published, server=server)
            return True
        only_published = sorted(pub_types - con_types)
        coercible = target.direction == "request" and all(
            any(coerce_scalar(sample_of(kind), wanted, target.coerce)[0] for wanted in con_types)
            for kind in only_published
        )
        self.add(
            target.location,
            "type-mismatch",
            "coerced" if coercible else "rejected",
            published=published,
            oneof=" (oneOf)" if "oneOf" in pub else "",
            server=server,
            only_published=" and ".join(only_published),
        )
        return pub_types & con_types != frozenset()

    def compare_enum(self, pub: Mapping[str, Json], con: Mapping[str, Json], target: _Target) -> None:
        con_enum = con.get("enum")
        if not isinstance(con_enum, list):
            return
        pub_enum = pub.get("enum")
        allowed = ", ".join(compact(value) if not isinstance(value, str) else value for value in con_enum)
        if not isinstance(pub_enum, list):
            self.add(
                target.location,
                "missing-enum",
                target.direction,
                types=describe_types(type_set(pub, self.pub)) or "value",
                allowed=allowed,
            )
        elif sorted(map(compact, pub_enum)) != sorted(map(compact, con_enum)):
            self.add(
                target.location + "/enum",
                "enum-mismatch",
                published=", ".join(map(compact, pub_enum)),
                allowed=allowed,
            )

    def compare_object(self, pub: Mapping[str, Json], con: Mapping[str, Json], target: _Target) -> None:
        location, direction = target.location, target.direction
        pub_required = list(pub.get("required", []) or [])
        con_required = list(con.get("required", []) or [])
        missing = [key for key in con_required if key not in pub_required]
        if missing:
            self.add(
                location,
                "missing-required",
                direction,
                published=", ".join(pub_required) or "(none)",
                server=", ".join(con_required),
                missing=_keys(missing),
                first=missing[0],
                them="it" if len(missing) == 1 else "them",
            )
        by_branch = con.get(BRANCH_REQUIRED)
        if isinstance(by_branch, list):
            gaps = [(label, [k for k in keys if k not in pub_required]) for label, keys in by_branch]
            if any(keys for _, keys in gaps):
                self.add(
                    location,
                    "missing-required",
                    "by-branch",
                    published=", ".join(pub_required) or "(none)",
                    server="; ".join(f"{label}: {', '.join(keys)}" for label, keys in by_branch),
                )
        if [key for key in pub_required if key not in con_required and not by_branch]:
            self.add(
                location,
                "extra-required",
                published=", ".join(pub_required),
                server=", ".join(con_required) or "(none)",
            )
        if con.get("additionalProperties") is False and pub.get("additionalProperties") is not False:
            self.add(location, "missing-additional-properties", direction)
        pub_properties: Mapping[str, Json] = pub.get("properties", {}) or {}
        con_properties: Mapping[str, Json] = con.get("properties", {}) or {}
        for name in con_properties:
            if name in pub_properties:
                self.compare_schema(
                    pub_properties[name],
                    replace(target, location=location + pointer("properties", name)),
                    con_properties[name],
                )
            elif direction == "request" or name in con_required:
                # An optional response key may belong to another operation sharing the schema, so only
                # keys the server always sends count as missing from a response.
                self.add(
                    location + "/properties",
                    "missing-property",
                    direction,
                    name=name,
                    types=self.con_types(con_properties[name]),
                )
        for name in pub_properties:
            if name not in con_properties and con_properties:
                self.add(
                    location + pointer("properties", name),
                    "extra-property",
                    name=name,
                    fate="rejected" if con.get("additionalProperties") is False else "ignored",
                )

    def con_types(self, node: Json) -> str:
        return describe_types(type_set(self.con.schema(node)[0], self.con))

    def compare_array(self, pub: Mapping[str, Json], con: Mapping[str, Json], target: _Target) -> None:
        con_min = con.get("minItems")
        pub_min = pub.get("minItems")
        if isinstance(con_min, int) and con_min != pub_min:
            fewer = "an empty list" if con_min == 1 else "fewer items"
            if pub_min is None:
                self.add(
                    target.location, "missing-min-items", target.direction, minimum=str(con_min), fewer=fewer
                )
            else:
                self.add(
                    target.location,
                    "min-items-mismatch",
                    target.direction,
                    published=str(pub_min),
                    minimum=str(con_min),
                    fewer=fewer,
                )
        if "items" in con and "items" in pub:
            self.compare_schema(
                pub["items"], replace(target, location=target.location + "/items"), con["items"]
            )

    # ---- example values

    def server_validation(self, con_node: Json, value: Json, target: _Target) -> Validation | None:
        """``value`` validated against a contract schema by the server's validator (``spec.ajv``).

        The result's ``data`` is the value after the server's type coercion and its ``errors`` are what
        remains after it. Requests are validated by the server, so a request schema the validator cannot
        reproduce is a ``DocumentError``; responses are not validated by the server, and their schemas
        may use keywords it does not compile (``allOf``, ``format``, ``minimum``): then the answer is
        None.
        """
        contract = dict(self.con.document)
        try:
            compiled = compile_schema(
                without_drift_keys(con_node),
                coerce=target.coerce,
                resolve_ref=lambda ref: resolve_pointer(contract, ref),
            )
        except SchemaError as exc:
            if target.direction == "response":
                return None
            raise DocumentError(
                f"the contract's request schema for {target.location} cannot be checked the way the "
                f"server checks it: {exc}"
            ) from None
        return compiled.validate(value)

    def check_schema_values(
        self, pub: Mapping[str, Json], target: _Target, con: Mapping[str, Json], con_node: Json
    ) -> None:
        """``default`` and ``example`` of a published schema, against that schema and the contract's.

        ``con`` is the contract schema flattened for comparing, ``con_node`` the node as the contract has
        it, which is what the server's validator compiles.
        """
        own_schema = self.pub.inline({k: v for k, v in pub.items() if k not in ("default", "example")})
        con_schema = self.con.inline(con)
        for keyword in ("default", "example"):
            if keyword not in pub:
                continue
            value = pub[keyword]
            location = f"{target.location}/{keyword}"
            own = errors(value, own_schema)
            theirs = errors(value, con_schema) if con_schema else []
            if string_boolean_paths([*own, *theirs]):
                self.add(
                    location,
                    "string-boolean",
                    "schema",
                    keyword=keyword,
                    value=compact(value),
                    boolean=str(value),
                )
            elif own:
                checked = self.server_validation(con_node, value, target)
                if checked is None:
                    # A response schema the server's validator does not compile: show the value coerced
                    # to the contract's type alone.
                    only_type = {key: con[key] for key in ("type", "nullable") if key in con}
                    checked = self.server_validation(only_type, value, target)
                coerced = value if checked is None else checked.data
                accepted = target.direction == "request" and checked is not None and checked.valid
                self.add(
                    location,
                    "example-type-mismatch",
                    "coerced" if accepted else "rejected",
                    keyword=keyword,
                    value=compact(value),
                    coerced=stringify(coerced),
                    types=describe_types(type_set(con, self.con)),
                    message=own[0].message,
                )
            elif theirs:
                self.add(
                    location,
                    "example-rejected-by-server",
                    "schema",
                    keyword=keyword,
                    value=compact(value),
                    message=first_message(theirs),
                )

    def check_media_examples(
        self, location: str, pub_media: Json, con_media: Json, direction: Direction
    ) -> None:
        examples = list(documents.media_examples(self.pub, pub_media, location))
        if not examples or "schema" not in pub_media:
            return
        own_schema = self.pub.inline(pub_media["schema"])
        con_schema = self.con.inline(con_media.get("schema", {}))
        con_examples = [(name, value) for name, value, _ in documents.media_examples(self.con, con_media, "")]
        branches = object_branches(self.con.schema(con_media.get("schema", {}))[0], self.con)
        inline_branches = [self.con.inline(branch) for branch in branches or []]

        def current_shape(value: Json) -> bool:
            return not inline_branches or not errors(value, inline_branches[0])

        shows_current = any(current_shape(booleans_fixed(value, own_schema)) for _, value, _ in examples)
        for name, value, value_location in examples:
            own = errors(value, own_schema)
            theirs = errors(value, con_schema)
            if direction == "request":
                self.check_request_example(
                    location=value_location,
                    name=name,
                    value=value,
                    own=own,
                    theirs=theirs,
                    con_node=con_media.get("schema", {}),
                )
                continue
            fixed_paths = string_boolean_paths([*own, *theirs])
            for path in fixed_paths:
                self.add(
                    value_location + pointer(*path),
                    "string-boolean",
                    "example",
                    path=dotted(path),
                    value=compact(value_at(value, path)),
                    boolean=str(value_at(value, path)),
                )
            fixed = booleans_fixed(value, own_schema)
            for path in fixed_paths:
                fixed = replaced(fixed, list(path), value_at(value, path) == "true")
            remaining = errors(fixed, con_schema)
            if (
                inline_branches
                and not current_shape(fixed)
                and not shows_current
                and any(not errors(fixed, branch) for branch in inline_branches[1:])
            ):
                current_name, current_value = next(
                    ((n, v) for n, v in con_examples if current_shape(v)), ("", None)
                )
                older = next((n for n, v in con_examples if v == fixed), "")
                self.add(
                    value_location,
                    "outdated-example",
                    value=compact(value),
                    older=f" (the {older} body)" if older else "",
                    current=compact(current_value),
                    current_name=f" ({current_name})" if current_name else "",
                )
                continue
            if remaining:
                self.add(
                    value_location,
                    "example-rejected-by-server",
                    "response",
                    value=compact(value),
                    message=first_message(remaining),
                )
                continue
            fixed_bodies = {compact(v) for _, v in con_examples}
            if len(fixed_bodies) == 1 and compact(fixed) not in fixed_bodies:
                # The contract documents a single body for this answer: the server always sends exactly it.
                self.add(
                    value_location,
                    "example-never-sent",
                    value=compact(value),
                    body=fixed_bodies.pop(),
                    name=name,
                )

    def check_request_example(
        self,
        *,
        location: str,
        name: str,
        value: Json,
        own: Sequence[ValidationError],
        theirs: Sequence[ValidationError],
        con_node: Json,
    ) -> None:
        if not own and not theirs:
            return
        checked = self.server_validation(con_node, value, _Target(location, "request"))
        if checked is None:  # only a response schema may be one the server's validator does not compile
            raise DocumentError(f"no server validation for the request example at {location}")
        coerced = checked.data
        left = not checked.valid
        offending = [tuple(error.absolute_path) for error in walk_errors(list(own or theirs))]
        paths = [path for index, path in enumerate(offending) if path not in offending[:index]]
        shown = "; ".join(f"{dotted(path)}: {compact(value_at(value, path))}" for path in paths if path)
        if left:
            server = "rejected: 400 " + server_message(checked, value)
        else:
            changed = [
                path
                for path in paths
                if path and stringify(value_at(coerced, path)) != stringify(value_at(value, path))
            ]
            shown_coerced = "; ".join(f"{dotted(p)}: {stringify(value_at(coerced, p))}" for p in changed)
            server = "accepted after coercion" + (f" to {shown_coerced}" if changed else "")
        if own:
            variant = "rejected" if left else "accepted"
            self.add(
                location,
                "example-rejected-by-own-schema",
                variant,
                shown=shown or compact(value),
                server=server,
                name=name,
            )
        else:
            self.add(
                location,
                "example-rejected-by-server",
                "request",
                shown=shown or compact(value),
                server=server,
                name=name,
            )


def find_drift(published: Mapping[str, Json], contract: Mapping[str, Json]) -> list[Drift]:
    """Every disagreement between the published document and the contract, sorted by location."""
    return _Finder(published, contract).run()
