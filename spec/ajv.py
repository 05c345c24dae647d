"""A validator that reproduces ajv 8 exactly for the JSON Schema keywords the contract uses.

Rocket.Chat validates requests with ajv (draft 2020-12, ``allErrors: false``, ``coerceTypes: true``
for bodies and ``"array"`` for queries). The answer a client gets is the list of ajv's error messages,
so "valid or not" is not enough: which error comes first, and what coercion did to the data, must match
ajv's generated code.

Like ajv, this module compiles each schema to code: ``compile_schema`` generates the source of Python
functions that do exactly what ajv's generated JavaScript does for that schema and coercion mode,
compiles it once and caches it by its source text. The comments of the generator name the ajv
behaviour each piece of generated code mirrors. An unsupported keyword is a ``SchemaError`` at
compile time, never silently ignored.

Safety of the generated code: it is built only from the schema (a document of this repository), never
from request data; every string that comes from the schema (property names, enum values, messages)
enters the source through ``repr()``, types are checked against a fixed list before they choose a code
template, and numbers are checked to be integers. ``CompiledSchema.source`` shows the code.
"""

from __future__ import annotations

import hashlib
import json
import linecache
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Any, Literal, NamedTuple

from spec.jsvalues import js_number_to_string, js_string_to_number, to_js_value
from spec.model import JsonValue
from spec.records import quick_init

__all__ = [
    "ANNOTATION_KEYWORDS",
    "COERCIBLE_TYPES",
    "JS_TYPES",
    "SUPPORTED_KEYWORDS",
    "AjvError",
    "CoerceMode",
    "CompiledSchema",
    "SchemaError",
    "Validation",
    "coerce_scalar",
    "compile_schema",
    "follow_refs",
]

CoerceMode = Literal[False, True, "array"]

# Keywords that only annotate; ajv accepts and ignores them (``useDefaults`` is off, so ``default`` too).
ANNOTATION_KEYWORDS = frozenset(
    {"description", "title", "example", "examples", "default", "deprecated", "readOnly"}
)
SUPPORTED_KEYWORDS = frozenset(
    {
        "type",
        "nullable",
        "enum",
        "required",
        "additionalProperties",
        "properties",
        "minItems",
        "items",
        "oneOf",
    }
)
COERCIBLE_TYPES = ("string", "number", "integer", "boolean", "null")
JS_TYPES = ("string", "number", "integer", "boolean", "null", "array", "object")


class SchemaError(ValueError):
    """The schema uses something this validator cannot reproduce exactly."""


class AjvError(NamedTuple):
    """One of ajv's error objects (the fields Rocket.Chat's messages use). A tuple: a valid body
    makes some too (each failing ``oneOf`` branch), and a tuple is the cheapest to make."""

    instance_path: str
    keyword: str
    message: str


@quick_init
@dataclass(frozen=True)
class Validation:
    """The result of one validation: errors in ajv's order and the data after in-place coercion."""

    errors: tuple[AjvError, ...]
    data: JsonValue

    @property
    def valid(self) -> bool:
        return not self.errors

    @property
    def message(self) -> str:
        """The messages joined the way Rocket.Chat joins them (newline and space)."""
        return "\n ".join(error.message for error in self.errors)


# -- ajv's coercion (coerceData), one function per target type -----------------------------------------
# Each returns the coerced value, or _UNDEFINED when that type does not apply. Only the generated code
# calls them, and only after the value failed the type check (ajv coerces nothing that already fits).

_UNDEFINED: Any = object()


def _js_typeof(value: Any) -> str:
    if value is None or isinstance(value, (dict, list)):
        return "object"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return "string"


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float))


def _to_string(value: Any) -> Any:
    typeof = _js_typeof(value)
    if typeof == "number":
        return js_number_to_string(float(value))
    if typeof == "boolean":
        return "true" if value else "false"
    return "" if value is None else _UNDEFINED


def _to_number(value: Any, integer: bool) -> Any:
    typeof = _js_typeof(value)
    if typeof == "boolean":
        return 1.0 if value else 0.0
    if value is None:
        return 0.0
    if typeof == "string" and value:
        # ``data && data == +data``: the string converts to a number that is not NaN.
        number = js_string_to_number(value)
        if not math.isnan(number) and (not integer or number % 1 == 0):
            return number
    return _UNDEFINED


def _to_boolean(value: Any) -> Any:
    if value == "false" or value is None or (_is_number(value) and value == 0):
        return False
    if value == "true" or (_is_number(value) and value == 1):
        return True
    return _UNDEFINED


def _to_null(value: Any) -> Any:
    return None if value == "" or (_is_number(value) and value == 0) or value is False else _UNDEFINED


def _to_array(value: Any) -> Any:
    return [value] if _js_typeof(value) in ("string", "number", "boolean") or value is None else _UNDEFINED


_COERCERS: dict[str, Callable[[Any], Any]] = {
    "string": _to_string,
    "number": lambda value: _to_number(value, False),
    "integer": lambda value: _to_number(value, True),
    "boolean": _to_boolean,
    "null": _to_null,
    "array": _to_array,
}


def coerce_scalar(value: JsonValue, json_type: str, mode: CoerceMode = True) -> tuple[bool, JsonValue]:
    """What ajv's type coercion makes of ``value`` when a schema wants ``json_type``.

    Returns ``(True, coerced)`` when ajv would coerce the value to that type under ``coerceTypes: mode``
    (``"5"`` to the number ``5.0``, ``false`` to the string ``"false"``, ``null`` to ``0.0`` ...) and
    ``(False, value)`` when it would not, so the value fails the type check. Numbers come back as
    JavaScript holds them (floats). Only the types ajv coerces take part: ``"array"`` (wrapping a scalar)
    only under ``mode="array"``, never ``"object"``, and nothing when ``mode`` is ``False``. This is one
    step of validation, not a validation: a value that already has ``json_type`` is not for this function
    (ajv coerces only after the type check failed).
    """
    if not mode or not (json_type in COERCIBLE_TYPES or (mode == "array" and json_type == "array")):
        return False, value
    coerced: JsonValue = _COERCERS[json_type](value)
    if coerced is _UNDEFINED:
        return False, value
    return True, coerced


def _js_equal(value: Any, allowed: Any) -> bool:
    # ajv compares with ===, or deep equality for objects: a boolean never equals a number.
    if isinstance(value, bool) or isinstance(allowed, bool):
        return value is allowed
    if isinstance(value, (int, float)) and isinstance(allowed, (int, float)):
        return value == allowed
    if type(value) is not type(allowed):
        return False
    return bool(value == allowed)


def _enum_match(value: Any, allowed: tuple[Any, ...]) -> bool:
    return any(_js_equal(value, item) for item in allowed)


# -- the schema, checked and normalised -------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Schema:
    """One (sub)schema, checked: what the code generator needs and nothing it cannot reproduce."""

    types: tuple[str, ...]
    type_message: str
    enum: tuple[Any, ...] | None
    one_of: tuple[_Schema, ...]
    min_items: int | None
    items: _Schema | None
    required: tuple[str, ...]
    forbid_additional: bool
    properties: tuple[tuple[str, _Schema], ...]
    uses_array: bool
    uses_object: bool


def follow_refs(
    schema: Any, where: str, resolve_ref: Callable[[str], Mapping[str, Any]] | None
) -> Mapping[str, Any]:
    """The schema a (chain of) local ``$ref`` stands for, checked to use only the keywords supported
    here; ``where`` names it in errors."""
    seen: list[str] = []
    while isinstance(schema, Mapping) and "$ref" in schema:
        if len(schema) != 1:
            raise SchemaError(f"{where}: $ref beside other keywords is not supported")
        if resolve_ref is None:
            raise SchemaError(f"{where}: $ref {schema['$ref']!r} but no resolver was given")
        if schema["$ref"] in seen:
            raise SchemaError(f"{where}: recursive $ref {schema['$ref']!r} is not supported")
        seen.append(schema["$ref"])
        schema = resolve_ref(schema["$ref"])
    if not isinstance(schema, Mapping):
        raise SchemaError(f"{where}: a schema must be an object, got {type(schema).__name__}")
    unknown = set(schema) - SUPPORTED_KEYWORDS - ANNOTATION_KEYWORDS
    if unknown:
        raise SchemaError(f"{where}: unsupported keyword(s) {sorted(unknown)}")
    return schema


def _parse(schema: Any, path: str, resolve_ref: Callable[[str], Mapping[str, Any]] | None) -> _Schema:
    where = path or "#"
    schema = follow_refs(schema, where, resolve_ref)
    raw_type = schema.get("type")
    if raw_type is not None and not isinstance(raw_type, (str, list)):
        raise SchemaError(f"{where}: unknown type {raw_type!r}")
    types = [raw_type] if isinstance(raw_type, str) else list(raw_type or [])
    if any(json_type not in JS_TYPES for json_type in types):
        raise SchemaError(f"{where}: unknown type {raw_type!r}")
    nullable = schema.get("nullable")
    if nullable is not None and not types:
        raise SchemaError(f'{where}: "nullable" cannot be used without "type"')
    if nullable is True and "null" not in types:
        types.append("null")
    enum = schema.get("enum")
    if enum is not None and not isinstance(enum, list):
        raise SchemaError(f"{where}: enum must be an array")
    min_items = schema.get("minItems")
    if min_items is not None and (type(min_items) is not int or min_items < 0):
        raise SchemaError(f"{where}: minItems must be a non-negative integer")
    required = schema.get("required", [])
    if not isinstance(required, list) or not all(isinstance(name, str) for name in required):
        raise SchemaError(f"{where}: required must be an array of strings")
    additional = schema.get("additionalProperties", True)
    if not isinstance(additional, bool):
        raise SchemaError(f"{where}: only boolean additionalProperties is supported")
    properties = schema.get("properties", {})
    if not isinstance(properties, Mapping) or not all(isinstance(name, str) for name in properties):
        raise SchemaError(f"{where}: properties must be an object")
    one_of = schema.get("oneOf", [])
    if not isinstance(one_of, list):
        raise SchemaError(f"{where}: oneOf must be an array")
    return _Schema(
        types=tuple(types),
        # ajv's type error quotes the schema's own ``type``: "must be string", "must be string,number".
        type_message="must be " + (",".join(raw_type) if isinstance(raw_type, list) else str(raw_type)),
        enum=tuple(enum) if enum is not None else None,
        one_of=tuple(
            _parse(branch, f"{path}/oneOf/{index}", resolve_ref) for index, branch in enumerate(one_of)
        ),
        min_items=min_items,
        items=_parse(schema["items"], f"{path}/items", resolve_ref) if "items" in schema else None,
        required=tuple(required),
        forbid_additional=additional is False,
        properties=tuple(
            (name, _parse(sub, f"{path}/properties/{name}", resolve_ref)) for name, sub in properties.items()
        ),
        # ajv's keyword groups, in its evaluation order (validation vocabulary before applicators).
        uses_array="minItems" in schema or "items" in schema,
        uses_object=any(keyword in schema for keyword in ("required", "additionalProperties", "properties")),
    )


# -- the code generator ----------------------------------------------------------------------------------

# A type test for a variable name, by JSON type. strictNumbers (ajv's default): NaN and ±Infinity are
# not numbers.
_TYPE_TESTS = {
    "string": "isinstance({0}, str)",
    "boolean": "({0} is True or {0} is False)",
    "null": "{0} is None",
    "object": "isinstance({0}, dict)",
    "array": "isinstance({0}, list)",
    "number": "(isinstance({0}, (int, float)) and not isinstance({0}, bool) and _isfinite({0}))",
    "integer": (
        "(isinstance({0}, (int, float)) and not isinstance({0}, bool) and _isfinite({0})"
        " and float({0}).is_integer())"
    ),
}
_ENUM_MESSAGE = "must be equal to one of the allowed values"
_ONE_OF_MESSAGE = "must match exactly one schema in oneOf"
_ADDITIONAL_MESSAGE = "must NOT have additional properties"
# Beyond these a subschema becomes a function of its own: CPython limits indentation (100 levels) and
# statically nested loops (20).
_MAX_INLINE_INDENT = 40
_MAX_INLINE_LOOPS = 8

_PathPart = tuple[bool, str]  # (is_literal, text): literal text, or a Python expression giving text


def _pointer(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def _path_source(parts: tuple[_PathPart, ...]) -> str:
    """A Python expression for an instance path made of literal and computed parts."""
    pieces: list[str] = []
    literal = ""
    for is_literal, text in parts:
        if is_literal:
            literal += text
        else:
            if literal:
                pieces.append(repr(literal))
                literal = ""
            pieces.append(text)
    if literal or not pieces:
        pieces.append(repr(literal))
    return " + ".join(pieces)


@dataclass
class _Place:
    """Where generated code for a subschema runs: its data variable, parent and key, path, nesting."""

    data: str
    parent: str
    key: str
    path: tuple[_PathPart, ...]
    indent: int
    loops: int
    composite: bool
    """Inside ``oneOf`` (ajv's compositeRule): a type error does not end the subschema at once."""


class _Generator:
    def __init__(self, mode: CoerceMode) -> None:
        self.mode = mode
        self.constants: list[str] = []
        self.functions: list[list[str]] = []
        self.function_names: dict[tuple[int, bool], str] = {}
        self.counter = 0

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def constant(self, source: str) -> str:
        name = f"_K{len(self.constants)}"
        self.constants.append(f"{name} = {source}")
        return name

    def function(self, node: _Schema, composite: bool, *, root: bool = False) -> str:
        """A function ``(d, p, k, path, errors) -> bool`` validating ``node``; False on the first error."""
        cache_key = (id(node), composite)
        name = self.function_names.get(cache_key)
        if name is not None:
            return name
        name = "validate" if root else self.fresh("_v")
        self.function_names[cache_key] = name
        body: list[str] = []
        # The root's path is "" (a constant); other functions get theirs as the argument ``path``.
        path: tuple[_PathPart, ...] = () if root else ((False, "path"),)
        self.node(body, node, _Place("d", "p", "k", path, 1, 0, composite))
        self.functions.append([f"def {name}(d, p, k, path, errors):", *body, "    return True"])
        return name

    def source(self, root: _Schema) -> str:
        self.function(root, False, root=True)
        lines = [
            "# Generated by spec.ajv.compile_schema: one schema, coerceTypes " + repr(self.mode) + ".",
            *self.constants,
        ]
        for function in reversed(self.functions):
            lines += ["", "", *function]
        return "\n".join(lines) + "\n"

    # Each method appends statements at ``place.indent``; ``return False`` ends the validation of the
    # enclosing function (a oneOf branch or the root), as every failure in ajv's code does.

    def emit(self, out: list[str], indent: int, line: str) -> None:
        out.append("    " * indent + line)

    def error(self, out: list[str], indent: int, place: _Place, keyword: str, message: str) -> None:
        path = _path_source(place.path)
        self.emit(out, indent, f"errors.append(_new_error(({path}, {keyword!r}, {message!r})))")

    def type_test(self, variable: str, types: tuple[str, ...]) -> str:
        tests = [_TYPE_TESTS[json_type].format(variable) for json_type in types]
        return tests[0] if len(tests) == 1 else "(" + " or ".join(tests) + ")"

    def enum_test(self, variable: str, enum: tuple[Any, ...]) -> str:
        if all(type(item) is str for item in enum):
            # ``===`` against strings only: the same str type and equal text.
            members = self.constant("frozenset((" + "".join(repr(item) + ", " for item in enum) + "))")
            return f"(type({variable}) is str and {variable} in {members})"
        try:
            text = json.dumps(list(enum), allow_nan=True)
        except (TypeError, ValueError):
            raise SchemaError("enum values must be JSON values") from None
        values = self.constant(f"tuple(_json_loads({text!r}))")
        return f"_enum_match({variable}, {values})"

    def node(self, out: list[str], node: _Schema, place: _Place) -> None:
        types = node.types
        mode = self.mode
        coerce_to = tuple(
            json_type
            for json_type in types
            if mode and (json_type in COERCIBLE_TYPES or (mode == "array" and json_type == "array"))
        )
        uses = {"array": node.uses_array, "object": node.uses_object}
        # coerceAndCheckDataType: a lone non-coercible type with rules of its own is checked in its group.
        check_types = bool(types) and not (not coerce_to and len(types) == 1 and uses.get(types[0], False))
        data, indent = place.data, place.indent
        if check_types:
            self.emit(out, indent, f"if not {self.type_test(data, types)}:")
            if not coerce_to:
                self.type_error(out, node, replace_indent(place, indent + 1))
            else:
                self.coercion(out, node, coerce_to, replace_indent(place, indent + 1))
        # The keyword groups, in ajv's order: untyped (enum, oneOf), then array, then object.
        if node.enum is not None:
            self.emit(out, indent, f"if not {self.enum_test(data, node.enum)}:")
            self.error(out, indent + 1, place, "enum", _ENUM_MESSAGE)
            self.emit(out, indent + 1, "return False")
        if node.one_of:
            self.one_of(out, node, place, result_matters=True)
        if node.uses_array:
            self.emit(out, indent, f"if isinstance({data}, list):")
            self.block(out, indent + 1, lambda: self.array(out, node, replace_indent(place, indent + 1)))
            if not check_types and types == ("array",):
                self.emit(out, indent, "else:")
                self.error(out, indent + 1, place, "type", node.type_message)
                self.emit(out, indent + 1, "return False")
        if node.uses_object:
            self.emit(out, indent, f"if isinstance({data}, dict):")
            self.block(out, indent + 1, lambda: self.object(out, node, replace_indent(place, indent + 1)))
            if not check_types and types == ("object",):
                self.emit(out, indent, "else:")
                self.error(out, indent + 1, place, "type", node.type_message)
                self.emit(out, indent + 1, "return False")

    def block(self, out: list[str], indent: int, emit_body: Callable[[], None]) -> None:
        before = len(out)
        emit_body()
        if len(out) == before:
            self.emit(out, indent, "pass")

    def coercion(self, out: list[str], node: _Schema, coerce_to: tuple[str, ...], place: _Place) -> None:
        """ajv's coerceData after a failed type check, then the type error if nothing applied."""
        indent = place.indent
        candidate = place.data
        coerced = self.fresh("x")
        if self.mode == "array":
            self.emit(out, indent, f"{coerced} = _U")
            # ajv unwraps a one-element array and keeps the element if it already has the right type.
            # With several types (e.g. nullable) ajv's test joins "is type" checks with && and so never
            # holds: the element then goes through the coercions below instead.
            candidate = self.fresh("c")
            self.emit(out, indent, f"{candidate} = {place.data}")
            self.emit(out, indent, f"if isinstance({place.data}, list) and len({place.data}) == 1:")
            self.emit(out, indent + 1, f"{candidate} = {place.data}[0]")
            if len(node.types) == 1:
                self.emit(out, indent + 1, f"if {self.type_test(candidate, node.types)}:")
                self.emit(out, indent + 2, f"{coerced} = {candidate}")
        for position, json_type in enumerate(coerce_to):
            if position == 0 and self.mode != "array":
                self.emit(out, indent, f"{coerced} = _coerce_{json_type}({candidate})")
                continue
            self.emit(out, indent, f"if {coerced} is _U:")
            self.emit(out, indent + 1, f"{coerced} = _coerce_{json_type}({candidate})")
        self.emit(out, indent, f"if {coerced} is _U:")
        self.type_error(out, node, replace_indent(place, indent + 1))
        self.emit(out, indent, f"{place.data} = {coerced}")
        self.emit(out, indent, f"{place.parent}[{place.key}] = {coerced}")

    def type_error(self, out: list[str], node: _Schema, place: _Place) -> None:
        indent, data = place.indent, place.data
        self.error(out, indent, place, "type", node.type_message)
        if place.composite:
            # In a composite rule ajv's type check does not return: the first keyword group the schema
            # uses still runs (only the groups after it are guarded by "no new errors").
            if node.enum is not None:
                self.emit(out, indent, f"if not {self.enum_test(data, node.enum)}:")
                self.error(out, indent + 1, place, "enum", _ENUM_MESSAGE)
            elif node.one_of:
                self.one_of(out, node, place, result_matters=False)
            # A value that failed the type test is no array (object) when the schema allows arrays
            # (objects): that group cannot run then, and its code is left out.
            elif node.uses_array:
                if "array" not in node.types:
                    self.emit(out, indent, f"if isinstance({data}, list):")
                    self.block(
                        out, indent + 1, lambda: self.array(out, node, replace_indent(place, indent + 1))
                    )
            elif node.uses_object and "object" not in node.types:
                self.emit(out, indent, f"if isinstance({data}, dict):")
                self.block(out, indent + 1, lambda: self.object(out, node, replace_indent(place, indent + 1)))
        self.emit(out, indent, "return False")

    def one_of(self, out: list[str], node: _Schema, place: _Place, *, result_matters: bool) -> None:
        indent = place.indent
        before, passing = self.fresh("b"), self.fresh("n")
        self.emit(out, indent, f"{before} = len(errors)")
        self.emit(out, indent, f"{passing} = 0")
        path = _path_source(place.path)
        if any(not is_literal for is_literal, _ in place.path):
            path_variable = self.fresh("path")
            self.emit(out, indent, f"{path_variable} = {path}")
            path = path_variable
        for branch in node.one_of:
            function = self.function(branch, True)
            # Every branch sees the data as earlier branches left it: coercion is in place.
            self.emit(
                out,
                indent,
                f"if {function}({place.parent}[{place.key}], {place.parent}, {place.key}, {path}, errors):",
            )
            self.emit(out, indent + 1, f"{passing} += 1")
        self.emit(out, indent, f"if {passing} == 1:")
        self.emit(out, indent + 1, f"del errors[{before}:]")
        self.emit(out, indent, "else:")
        self.error(out, indent + 1, place, "oneOf", _ONE_OF_MESSAGE)
        if result_matters:
            self.emit(out, indent + 1, "return False")

    def array(self, out: list[str], node: _Schema, place: _Place) -> None:
        indent, data = place.indent, place.data
        if node.min_items is not None:
            self.emit(out, indent, f"if len({data}) < {node.min_items!r}:")
            self.error(out, indent + 1, place, "minItems", f"must NOT have fewer than {node.min_items} items")
            self.emit(out, indent + 1, "return False")
        if node.items is not None:
            index, item = self.fresh("i"), self.fresh("d")
            self.emit(out, indent, f"for {index} in range(len({data})):")
            self.emit(out, indent + 1, f"{item} = {data}[{index}]")
            child = _Place(
                item,
                data,
                index,
                (*place.path, (True, "/"), (False, f"str({index})")),
                indent + 1,
                place.loops + 1,
                place.composite,
            )
            self.child(out, node.items, child)

    def object(self, out: list[str], node: _Schema, place: _Place) -> None:
        indent, data = place.indent, place.data
        required = tuple(dict.fromkeys(node.required))
        checks = indent
        if len(required) > 1:
            # One set test for the common case, all present; only when one is missing do the tests
            # one by one find the first, whose error ajv reports.
            names = "".join(repr(name) + ", " for name in required)
            self.emit(out, indent, f"if not ({data}.keys() >= {self.constant(f'frozenset(({names}))')}):")
            checks = indent + 1
        for name in required:
            self.emit(out, checks, f"if {name!r} not in {data}:")
            self.error(out, checks + 1, place, "required", f"must have required property '{name}'")
            self.emit(out, checks + 1, "return False")
        if node.forbid_additional:
            if node.properties:
                names = "".join(repr(name) + ", " for name, _ in node.properties)
                known = self.constant(f"frozenset(({names}))")
                self.emit(out, indent, f"if not ({data}.keys() <= {known}):")
            else:
                self.emit(out, indent, f"if {data}:")
            self.error(out, indent + 1, place, "additionalProperties", _ADDITIONAL_MESSAGE)
            self.emit(out, indent + 1, "return False")
        for name, sub in node.properties:
            value = self.fresh("d")
            if name in required:  # known to be there: a missing one has ended the validation above
                self.emit(out, indent, f"{value} = {data}[{name!r}]")
                inner = indent
            else:
                self.emit(out, indent, f"if {name!r} in {data}:")
                self.emit(out, indent + 1, f"{value} = {data}[{name!r}]")
                inner = indent + 1
            child = _Place(
                value,
                data,
                repr(name),
                (*place.path, (True, "/" + _pointer(name))),
                inner,
                place.loops,
                place.composite,
            )
            self.child(out, sub, child)

    def child(self, out: list[str], node: _Schema, place: _Place) -> None:
        if place.indent <= _MAX_INLINE_INDENT and place.loops <= _MAX_INLINE_LOOPS:
            self.block(out, place.indent, lambda: self.node(out, node, place))
            return
        function = self.function(node, place.composite)
        path = _path_source(place.path)
        call = f"{function}({place.data}, {place.parent}, {place.key}, {path}, errors)"
        self.emit(out, place.indent, f"if not {call}:")
        self.emit(out, place.indent + 1, "return False")


def replace_indent(place: _Place, indent: int) -> _Place:
    return _Place(place.data, place.parent, place.key, place.path, indent, place.loops, place.composite)


_Validator = Callable[[Any, Any, Any, str, list[AjvError]], bool]

_NAMESPACE: dict[str, Any] = {
    # An AjvError without the NamedTuple's Python-level __new__: a valid body makes errors too (one
    # per failing oneOf branch).
    "_new_error": partial(tuple.__new__, AjvError),
    "_U": _UNDEFINED,
    "_isfinite": math.isfinite,
    "_enum_match": _enum_match,
    "_json_loads": json.loads,
    **{f"_coerce_{json_type}": coercer for json_type, coercer in _COERCERS.items()},
}


@lru_cache(maxsize=256)
def _load(source: str) -> _Validator:
    """Compile generated source once; the same source (schema and mode) reuses the function."""
    filename = f"<spec.ajv schema {hashlib.sha256(source.encode()).hexdigest()[:12]}>"
    # Tracebacks through generated code show its lines.
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    namespace = dict(_NAMESPACE)
    exec(compile(source, filename, "exec"), namespace)
    function: _Validator = namespace["validate"]
    return function


@dataclass(frozen=True)
class CompiledSchema:
    """A compiled schema; ``validate`` never changes its argument unless told to."""

    coerce: CoerceMode
    source: str = field(repr=False)
    """The generated Python code (``validate`` is its entry point)."""
    function: _Validator = field(repr=False, compare=False)

    def validate(self, data: JsonValue, *, in_place: bool = False) -> Validation:
        """Validate; coercion works on a copy unless ``in_place`` (ajv itself mutates its argument)."""
        working = data if in_place else to_js_value(data)
        holder = [working]
        errors: list[AjvError] = []
        self.function(working, holder, 0, "", errors)
        return Validation(errors=tuple(errors), data=holder[0])


def compile_schema(
    schema: Mapping[str, Any],
    *,
    coerce: CoerceMode,
    resolve_ref: Callable[[str], Mapping[str, Any]] | None = None,
) -> CompiledSchema:
    """Compile ``schema`` for ``coerceTypes: coerce``; local ``$ref`` nodes are inlined through
    ``resolve_ref``."""
    if coerce not in (False, True, "array"):
        raise SchemaError(f"coerce must be False, True or 'array', not {coerce!r}")
    source = _Generator(coerce).source(_parse(schema, "", resolve_ref))
    return CompiledSchema(coerce=coerce, source=source, function=_load(source))
