"""The former ``spec.ajv``, an interpreter over schema data: the oracle of tests/test_ajv_compiled.py.

``spec.ajv`` now generates Python source for each schema (as ajv generates JavaScript). This module is the
interpreter it replaced, unchanged in its semantics: every branch mirrors one piece of ajv's generated code,
and it was proven against the real ajv by tests/test_oracle_differential.py before the compiler existed.
The compiled validators must give the same errors, order, messages and in-place coercion on any input.
It shares with ``spec.ajv`` the result types (``AjvError``, ``Validation``, ``SchemaError``) and the
schema front end (the keywords supported, how a ``$ref`` is followed: ``spec.ajv.follow_refs``); what a
schema means (type checks, coercion, enum equality, the order of errors) it states on its own, so that
it stays an independent oracle of the compiled code.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from spec.ajv import (
    COERCIBLE_TYPES,
    JS_TYPES,
    AjvError,
    CoerceMode,
    SchemaError,
    Validation,
    follow_refs,
)
from spec.jsvalues import js_number_to_string, js_string_to_number, to_js_value
from spec.model import JsonValue

__all__ = ["InterpretedSchema", "interpret_schema"]

# Keywords of each type group, in ajv's evaluation order (validation vocabulary before applicators).
_GROUP_KEYWORDS = {
    "array": ("minItems", "items"),
    "object": ("required", "additionalProperties", "properties"),
}


_UNDEFINED: Any = object()


class _Context:
    """Per-validation state: the accumulated errors (ajv's ``vErrors``) and the coercion mode."""

    __slots__ = ("coerce", "composite", "errors")

    def __init__(self, coerce: CoerceMode) -> None:
        self.coerce = coerce
        self.errors: list[AjvError] = []
        # Inside oneOf (ajv's compositeRule) errors are collected instead of returned at once.
        self.composite = False


def _js_typeof(value: Any) -> str:
    if value is None or isinstance(value, (dict, list)):
        return "object"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return "string"


def _has_type(value: Any, json_type: str) -> bool:
    # ajv's checkDataType with strictNumbers (the default): non-finite numbers are not numbers.
    if json_type == "string":
        return isinstance(value, str)
    if json_type == "boolean":
        return isinstance(value, bool)
    if json_type == "null":
        return value is None
    if json_type == "object":
        return isinstance(value, dict)
    if json_type == "array":
        return isinstance(value, list)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return False
    return json_type == "number" or float(value).is_integer()


def _is_zero(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and value == 0


def _coerce(value: Any, json_type: str) -> Any:
    """One branch of ajv's coerceData: the coerced value, or _UNDEFINED when this type does not apply."""
    typeof = _js_typeof(value)
    if json_type == "string":
        if typeof == "number":
            return js_number_to_string(float(value))
        if typeof == "boolean":
            return "true" if value else "false"
        return "" if value is None else _UNDEFINED
    if json_type in ("number", "integer"):
        if typeof == "boolean":
            return 1.0 if value else 0.0
        if value is None:
            return 0.0
        if typeof == "string" and value:
            # ``data && data == +data``: the string converts to a number that is not NaN.
            number = js_string_to_number(value)
            if not math.isnan(number) and (json_type == "number" or number % 1 == 0):
                return number
        return _UNDEFINED
    if json_type == "boolean":
        if value == "false" or value is None or (_is_zero(value)):
            return False
        if value == "true" or (
            not isinstance(value, bool) and isinstance(value, (int, float)) and value == 1
        ):
            return True
        return _UNDEFINED
    if json_type == "null":
        return None if value == "" or _is_zero(value) or value is False else _UNDEFINED
    if json_type == "array":
        return [value] if typeof in ("string", "number", "boolean") or value is None else _UNDEFINED
    return _UNDEFINED


class _Node:
    """One compiled (sub)schema."""

    def __init__(self, schema: Mapping[str, Any], compile_child: Callable[[Any], _Node], path: str) -> None:
        raw_type = schema.get("type")
        types = [raw_type] if isinstance(raw_type, str) else list(raw_type or [])
        if any(json_type not in JS_TYPES for json_type in types):
            raise SchemaError(f"{path or '#'}: unknown type {raw_type!r}")
        nullable = schema.get("nullable")
        if nullable is not None and not types:
            raise SchemaError(f'{path or "#"}: "nullable" cannot be used without "type"')
        if nullable is True and "null" not in types:
            types.append("null")
        self.types = tuple(types)
        # ajv's type error quotes the schema's own ``type``: "must be string", "must be string,number".
        self.type_message = "must be " + (",".join(raw_type) if isinstance(raw_type, list) else str(raw_type))
        self.enum: tuple[Any, ...] | None = tuple(schema["enum"]) if "enum" in schema else None
        self.one_of = tuple(
            compile_child((branch, f"{path}/oneOf/{index}"))
            for index, branch in enumerate(schema.get("oneOf", ()))
        )
        self.min_items: int | None = schema.get("minItems")
        self.items = compile_child((schema["items"], f"{path}/items")) if "items" in schema else None
        self.required: tuple[str, ...] = tuple(schema.get("required", ()))
        additional = schema.get("additionalProperties", True)
        if not isinstance(additional, bool):
            raise SchemaError(f"{path or '#'}: only boolean additionalProperties is supported")
        self.forbid_additional = additional is False
        self.properties = {
            name: compile_child((sub, f"{path}/properties/{name}"))
            for name, sub in dict(schema.get("properties", {})).items()
        }
        self.group_in_use = {
            group: any(keyword in schema for keyword in keywords)
            for group, keywords in _GROUP_KEYWORDS.items()
        }
        self.coerce_cache: dict[CoerceMode, tuple[str, ...]] = {}

    def _coerce_to(self, mode: CoerceMode) -> tuple[str, ...]:
        cached = self.coerce_cache.get(mode)
        if cached is None:
            cached = tuple(
                json_type
                for json_type in self.types
                if mode and (json_type in COERCIBLE_TYPES or (mode == "array" and json_type == "array"))
            )
            self.coerce_cache[mode] = cached
        return cached

    def validate(self, data: Any, parent: Any, key: Any, path: str, context: _Context) -> bool:
        errors = context.errors
        types = self.types
        coerce_to = self._coerce_to(context.coerce)
        # coerceAndCheckDataType: a lone non-coercible type with rules of its own is checked in its group.
        check_types = bool(types) and not (
            not coerce_to and len(types) == 1 and self.group_in_use.get(types[0], False)
        )
        if check_types and not any(_has_type(data, json_type) for json_type in types):
            if not coerce_to:
                return self._type_error(data, parent, key, path, context)
            candidate = data
            coerced = _UNDEFINED
            if context.coerce == "array" and isinstance(candidate, list) and len(candidate) == 1:
                # ajv unwraps a one-element array and keeps the element if it already has the right type.
                # With several types (e.g. nullable) ajv's test joins "is type" checks with && and so never
                # holds: the element then goes through the coercions below instead.
                candidate = candidate[0]
                if len(types) == 1 and _has_type(candidate, types[0]):
                    coerced = candidate
            for json_type in coerce_to:
                if coerced is not _UNDEFINED:
                    break
                coerced = _coerce(candidate, json_type)
            if coerced is _UNDEFINED:
                return self._type_error(data, parent, key, path, context)
            data = coerced
            if parent is not None:
                parent[key] = coerced
        # The keyword groups, in ajv's order: untyped (enum, oneOf), then array, then object.
        if self.enum is not None and not any(_js_equal(data, allowed) for allowed in self.enum):
            errors.append(AjvError(path, "enum", "must be equal to one of the allowed values"))
            return False
        if self.one_of and not self._validate_one_of(data, parent, key, path, context):
            return False
        if self.group_in_use["array"]:
            if isinstance(data, list):
                if not self._validate_array(data, path, context):
                    return False
            elif not check_types and types == ("array",):
                errors.append(AjvError(path, "type", self.type_message))
                return False
        if self.group_in_use["object"]:
            if isinstance(data, dict):
                return self._validate_object(data, path, context)
            if not check_types and types == ("object",):
                errors.append(AjvError(path, "type", self.type_message))
                return False
        return True

    def _type_error(self, data: Any, parent: Any, key: Any, path: str, context: _Context) -> bool:
        context.errors.append(AjvError(path, "type", self.type_message))
        if context.composite:
            # In a composite rule ajv's type check does not return: the first keyword group the schema
            # uses still runs (only the groups after it are guarded by "no new errors").
            if self.enum is not None:
                if not any(_js_equal(data, allowed) for allowed in self.enum):
                    context.errors.append(
                        AjvError(path, "enum", "must be equal to one of the allowed values")
                    )
            elif self.one_of:
                self._validate_one_of(data, parent, key, path, context)
            elif self.group_in_use["array"]:
                if isinstance(data, list):
                    self._validate_array(data, path, context)
            elif self.group_in_use["object"] and isinstance(data, dict):
                self._validate_object(data, path, context)
        return False

    def _validate_one_of(self, data: Any, parent: Any, key: Any, path: str, context: _Context) -> bool:
        errors = context.errors
        errors_before = len(errors)
        passing = 0
        was_composite = context.composite
        context.composite = True
        for branch in self.one_of:
            # Every branch sees the data as earlier branches left it: coercion is in place.
            current = parent[key] if parent is not None else data
            if branch.validate(current, parent, key, path, context):
                passing += 1
        context.composite = was_composite
        if passing == 1:
            del errors[errors_before:]
            return True
        errors.append(AjvError(path, "oneOf", "must match exactly one schema in oneOf"))
        return False

    def _validate_array(self, data: list[Any], path: str, context: _Context) -> bool:
        if self.min_items is not None and len(data) < self.min_items:
            context.errors.append(
                AjvError(path, "minItems", f"must NOT have fewer than {self.min_items} items")
            )
            return False
        if self.items is not None:
            items = self.items
            for index in range(len(data)):
                if not items.validate(data[index], data, index, f"{path}/{index}", context):
                    return False
        return True

    def _validate_object(self, data: dict[str, Any], path: str, context: _Context) -> bool:
        errors = context.errors
        for name in self.required:
            if name not in data:
                errors.append(AjvError(path, "required", f"must have required property '{name}'"))
                return False
        if self.forbid_additional:
            properties = self.properties
            for name in data:
                if name not in properties:
                    errors.append(
                        AjvError(path, "additionalProperties", "must NOT have additional properties")
                    )
                    return False
        for name, node in self.properties.items():
            if name in data and not node.validate(
                data[name], data, name, f"{path}/{_pointer(name)}", context
            ):
                return False
        return True


def _pointer(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def _js_equal(value: Any, allowed: Any) -> bool:
    # ajv compares with ===, or deep equality for objects: a boolean never equals a number.
    if isinstance(value, bool) or isinstance(allowed, bool):
        return value is allowed
    if isinstance(value, (int, float)) and isinstance(allowed, (int, float)):
        return value == allowed
    if type(value) is not type(allowed):
        return False
    return bool(value == allowed)


@dataclass(frozen=True)
class InterpretedSchema:
    """A schema turned into a tree of nodes; ``validate`` never changes its argument."""

    root: _Node
    coerce: CoerceMode

    def validate(self, data: JsonValue, *, in_place: bool = False) -> Validation:
        """Validate; coercion works on a copy unless ``in_place`` (ajv itself mutates its argument)."""
        working = data if in_place else to_js_value(data)
        holder = [working]
        context = _Context(self.coerce)
        self.root.validate(working, holder, 0, "", context)
        return Validation(errors=tuple(context.errors), data=holder[0])


def interpret_schema(
    schema: Mapping[str, Any],
    *,
    coerce: CoerceMode,
    resolve_ref: Callable[[str], Mapping[str, Any]] | None = None,
) -> InterpretedSchema:
    """Build the node tree of ``schema``; local ``$ref`` nodes are inlined through ``resolve_ref``."""

    def compile_child(entry: tuple[Any, str]) -> _Node:
        sub, path = entry
        return _Node(follow_refs(sub, path or "#", resolve_ref), compile_child, path)

    return InterpretedSchema(root=compile_child((schema, "")), coerce=coerce)
