"""Hypothesis strategies for the JSON values of POST /api/v1/livechat/triggers bodies.

Valid strategies draw values the server accepts *after* ajv's type coercion (``coerceTypes: true``),
so they deliberately include numbers where strings are expected, ``"true"`` where booleans are, and so on.
Invalid strategies are grouped by the kind of mistake, each drawing bodies that fail validation for
exactly that reason; ``INVALID_BODY_KINDS`` names them so reports and corpora can say which kind failed.

Every strategy here draws plain Python JSON values (``dict``/``list``/``str``/``int``/``float``/``bool``/
``None``); the expected answer always comes from ``spec.predict``, never from these modules.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from spec import contract

__all__ = [
    "ACTION_NAMES",
    "CONDITION_NAMES",
    "INVALID_BODY_KINDS",
    "SENDERS",
    "actions",
    "booleans_coercible",
    "condition_values",
    "conditions",
    "external_service_actions",
    "external_service_params",
    "invalid_bodies",
    "non_object_bodies",
    "numbers_coercible",
    "send_message_actions",
    "send_message_params",
    "strings_coercible",
    "texts",
    "trigger_bodies",
]

# Read from the contract document, so the generators follow it when it changes.
CONDITION_NAMES = contract.condition_names()
ACTION_NAMES = contract.action_names()
SENDERS = contract.senders()
TOP_LEVEL_REQUIRED = contract.required_body_fields()


def texts(max_size: int = 24, min_size: int = 0) -> st.SearchStrategy[str]:
    """Short strings of any Unicode text, the empty string included (the schema has no ``minLength``)."""
    return st.text(min_size=min_size, max_size=max_size)


def _finite_numbers() -> st.SearchStrategy[int | float]:
    # JS has one number type; ints and floats both arrive as doubles, but their JSON text differs.
    return st.one_of(
        st.integers(min_value=-(2**53), max_value=2**53),
        st.floats(allow_nan=False, allow_infinity=False),
    )


def strings_coercible() -> st.SearchStrategy[Any]:
    """Values a ``type: string`` property accepts: strings, and the numbers and booleans ajv stringifies."""
    return st.one_of(texts(), _finite_numbers(), st.booleans())


def booleans_coercible() -> st.SearchStrategy[Any]:
    """Values a ``type: boolean`` property accepts: booleans, "true", "false", 1, 0 and null."""
    return st.sampled_from([True, False, "true", "false", 1, 0, None])


def numbers_coercible() -> st.SearchStrategy[Any]:
    """Values a ``type: number`` property accepts: numbers, numeric strings, booleans and ``null``."""
    return st.one_of(
        _finite_numbers(),
        st.integers(min_value=0, max_value=10**6).map(str),
        st.sampled_from([True, False, None, "1.5", " 42 ", "-7"]),
    )


def condition_values() -> st.SearchStrategy[Any]:
    """A condition's ``value``: ``string | null``, so also numbers and booleans coerced to strings."""
    return st.one_of(st.none(), strings_coercible())


def conditions(
    names: st.SearchStrategy[str] | None = None, values: st.SearchStrategy[Any] | None = None
) -> st.SearchStrategy[dict[str, Any]]:
    """One valid condition object ``{name, value}``."""
    return st.fixed_dictionaries(
        {
            "name": names if names is not None else st.sampled_from(CONDITION_NAMES),
            "value": values if values is not None else condition_values(),
        }
    )


def _object(
    required: dict[str, st.SearchStrategy[Any]], optional: dict[str, st.SearchStrategy[Any]]
) -> st.SearchStrategy[dict[str, Any]]:
    # fixed_dictionaries(optional=...) leaves keys out, which is the "absent" case of every optional key.
    return st.fixed_dictionaries(required, optional=optional)


def send_message_params() -> st.SearchStrategy[dict[str, Any]]:
    """A valid ``params`` object of a ``send-message`` action (``sender`` and ``msg`` required)."""
    return _object(
        {"sender": st.sampled_from(SENDERS), "msg": strings_coercible()},
        {"name": st.one_of(st.none(), strings_coercible())},
    )


def external_service_params() -> st.SearchStrategy[dict[str, Any]]:
    """A valid ``params`` object of a ``use-external-service`` action (url, timeout, fallback required)."""
    return _object(
        {
            "serviceUrl": strings_coercible(),
            "serviceTimeout": numbers_coercible(),
            "serviceFallbackMessage": strings_coercible(),
        },
        {"sender": st.sampled_from(SENDERS), "name": st.one_of(st.none(), strings_coercible())},
    )


def _action(name: str, params: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    # params may be absent, null or an object: all three are valid for both action kinds.
    return _object({"name": st.just(name)}, {"params": st.one_of(st.none(), params)})


def send_message_actions() -> st.SearchStrategy[dict[str, Any]]:
    """A valid ``send-message`` action, ``params`` present, absent or ``null``."""
    return _action("send-message", send_message_params())


def external_service_actions() -> st.SearchStrategy[dict[str, Any]]:
    """A valid ``use-external-service`` action, ``params`` present, absent or ``null``."""
    return _action("use-external-service", external_service_params())


def actions() -> st.SearchStrategy[dict[str, Any]]:
    """A valid action of either kind."""
    return st.one_of(send_message_actions(), external_service_actions())


def trigger_bodies(
    *,
    name: st.SearchStrategy[Any] | None = None,
    description: st.SearchStrategy[Any] | None = None,
    enabled: st.SearchStrategy[Any] | None = None,
    run_once: st.SearchStrategy[Any] | None = None,
    condition_lists: st.SearchStrategy[list[Any]] | None = None,
    action_lists: st.SearchStrategy[list[Any]] | None = None,
    trigger_id: st.SearchStrategy[Any] | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    """A valid POST body; each argument replaces the strategy of one property.

    ``trigger_id`` draws the ``_id`` value; by default ``_id`` is absent, ``null`` or ``""`` (all three
    insert); pass a strategy to always send ``_id`` with its values (e.g. ids of stored triggers).
    """
    required: dict[str, st.SearchStrategy[Any]] = {
        "name": name if name is not None else strings_coercible(),
        "description": description if description is not None else strings_coercible(),
        "enabled": enabled if enabled is not None else booleans_coercible(),
        "runOnce": run_once if run_once is not None else booleans_coercible(),
        "conditions": condition_lists
        if condition_lists is not None
        else st.lists(conditions(), min_size=1, max_size=3),
        "actions": action_lists if action_lists is not None else st.lists(actions(), min_size=1, max_size=3),
    }
    if trigger_id is not None:
        return st.fixed_dictionaries({**required, "_id": trigger_id})
    return st.fixed_dictionaries(required, optional={"_id": st.sampled_from([None, ""])})


# --- invalid bodies, one strategy per kind of mistake -------------------------------------------------

_UNCOERCIBLE_TO_STRING: st.SearchStrategy[Any] = st.one_of(
    st.just({}),
    st.just([]),
    st.lists(st.integers(), min_size=1, max_size=2),
    st.dictionaries(texts(3), texts(3)),
)
_UNCOERCIBLE_TO_BOOLEAN: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(["yes", "no", "TRUE", "", "1", 2, -1, 0.5]), st.just({}), st.just([True])
)
_UNCOERCIBLE_TO_NUMBER: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(["abc", "", "1,5", "0x", "five"]), st.just({}), st.just([1])
)
_NOT_ARRAY: st.SearchStrategy[Any] = st.one_of(
    st.integers(), texts(), st.booleans(), st.dictionaries(texts(3), st.integers(), max_size=2)
)
_NOT_OBJECT: st.SearchStrategy[Any] = st.one_of(
    # "", 0 and false are left out: ajv coerces them to null, which a nullable object accepts.
    st.integers().filter(bool),
    texts(min_size=1),
    st.just(True),
    st.lists(st.integers(), max_size=2),
)
_EXTRA_KEYS = st.text(min_size=1, max_size=8).filter(
    lambda key: (
        key not in {"name", "description", "enabled", "runOnce", "conditions", "actions", "_id"}
        and key
        not in {"value", "params", "sender", "msg", "serviceUrl", "serviceTimeout", "serviceFallbackMessage"}
    )
)


Mutation = Callable[[st.DrawFn, dict[str, Any]], Any]


@st.composite
def _mutated(draw: st.DrawFn, base: st.SearchStrategy[dict[str, Any]], mutate: Mutation) -> Any:
    # Start from a valid body, then apply one mistake: the error the server reports is then that mistake's.
    # Deep copy: the base strategy may share nested objects between draws (e.g. st.just values).
    return mutate(draw, json.loads(json.dumps(draw(base))))


def _missing_top_level(draw: st.DrawFn, body: dict[str, Any]) -> Any:
    del body[draw(st.sampled_from(TOP_LEVEL_REQUIRED))]
    return body


def _missing_in_condition(draw: st.DrawFn, body: dict[str, Any]) -> Any:
    condition = draw(st.sampled_from(body["conditions"]))
    del condition[draw(st.sampled_from(["name", "value"]))]
    return body


def _missing_in_action(draw: st.DrawFn, body: dict[str, Any]) -> Any:
    index = draw(st.integers(0, len(body["actions"]) - 1))
    action = body["actions"][index]
    kind = action["name"]
    where = draw(st.sampled_from(["name", "params"]))
    if where == "name":
        del action["name"]
    elif kind == "send-message":
        params = draw(send_message_params())
        del params[draw(st.sampled_from(["sender", "msg"]))]
        action["params"] = params
    else:
        params = draw(external_service_params())
        del params[draw(st.sampled_from(["serviceUrl", "serviceTimeout", "serviceFallbackMessage"]))]
        action["params"] = params
    return body


def _wrong_type(draw: st.DrawFn, body: dict[str, Any]) -> Any:
    where = draw(
        st.sampled_from(
            [
                "name",
                "description",
                "enabled",
                "runOnce",
                "_id",
                "condition-name",
                "condition-value",
                "msg",
                "serviceTimeout",
                "serviceUrl",
                "params",
            ]
        )
    )
    if where in {"name", "description", "_id"}:
        body[where] = draw(_UNCOERCIBLE_TO_STRING)
    elif where in {"enabled", "runOnce"}:
        body[where] = draw(_UNCOERCIBLE_TO_BOOLEAN)
    elif where.startswith("condition-"):
        draw(st.sampled_from(body["conditions"]))[where.removeprefix("condition-")] = draw(
            _UNCOERCIBLE_TO_STRING
        )
    elif where == "msg":
        body["actions"][0] = {
            "name": "send-message",
            "params": {**draw(send_message_params()), "msg": draw(_UNCOERCIBLE_TO_STRING)},
        }
    elif where == "params":
        body["actions"][0] = {"name": draw(st.sampled_from(ACTION_NAMES)), "params": draw(_NOT_OBJECT)}
    else:
        wrong = _UNCOERCIBLE_TO_NUMBER if where == "serviceTimeout" else _UNCOERCIBLE_TO_STRING
        body["actions"][0] = {
            "name": "use-external-service",
            "params": {**draw(external_service_params()), where: draw(wrong)},
        }
    return body


def _not_arrays(draw: st.DrawFn, body: dict[str, Any]) -> Any:
    body[draw(st.sampled_from(["conditions", "actions"]))] = draw(_NOT_ARRAY)
    return body


def _item_not_object(draw: st.DrawFn, body: dict[str, Any]) -> Any:
    key = draw(st.sampled_from(["conditions", "actions"]))
    items = body[key]
    items.insert(draw(st.integers(0, len(items))), draw(_NOT_OBJECT))
    return body


def _enum_violation(draw: st.DrawFn, body: dict[str, Any]) -> Any:
    where = draw(st.sampled_from(["condition-name", "action-name", "sender"]))
    other = draw(
        st.text(max_size=12).filter(lambda value: value not in CONDITION_NAMES + ACTION_NAMES + SENDERS)
    )
    if where == "condition-name":
        body["conditions"][0]["name"] = other
    elif where == "action-name":
        body["actions"][0] = {**body["actions"][0], "name": other}
    else:
        params = draw(st.one_of(send_message_params(), external_service_params()))
        kind = "send-message" if "msg" in params else "use-external-service"
        body["actions"][0] = {"name": kind, "params": {**params, "sender": other}}
    return body


def _empty_array(draw: st.DrawFn, body: dict[str, Any]) -> Any:
    body[draw(st.sampled_from(["conditions", "actions"]))] = []
    return body


def _additional_property(draw: st.DrawFn, body: dict[str, Any]) -> Any:
    where = draw(st.sampled_from(["body", "condition", "action", "params"]))
    key, value = draw(_EXTRA_KEYS), draw(st.one_of(st.integers(), texts(4), st.none()))
    if where == "body":
        body[key] = value
    elif where == "condition":
        draw(st.sampled_from(body["conditions"]))[key] = value
    elif where == "action":
        action = draw(st.sampled_from(body["actions"]))
        action[key] = value
    else:
        kind = draw(st.sampled_from(ACTION_NAMES))
        params = draw(send_message_params() if kind == "send-message" else external_service_params())
        body["actions"][0] = {"name": kind, "params": {**params, key: value}}
    return body


def _one_of_mismatch(draw: st.DrawFn, body: dict[str, Any]) -> Any:
    # Params of one action kind under the other kind's name: neither oneOf branch matches.
    kind = draw(st.sampled_from(ACTION_NAMES))
    params = draw(external_service_params()) if kind == "send-message" else draw(send_message_params())
    body["actions"][draw(st.integers(0, len(body["actions"]) - 1))] = {"name": kind, "params": params}
    return body


def non_object_bodies() -> st.SearchStrategy[Any]:
    """JSON values that are not objects: arrays (validated as is), strings, numbers, booleans and null."""
    return st.one_of(
        st.lists(st.one_of(st.integers(), texts(4)), max_size=3),
        st.lists(trigger_bodies(), min_size=1, max_size=1),
        texts(),
        _finite_numbers(),
        st.booleans(),
        st.none(),
    )


_MUTATIONS: dict[str, Mutation] = {
    "missing-required-top-level": _missing_top_level,
    "missing-required-condition": _missing_in_condition,
    "missing-required-action": _missing_in_action,
    "uncoercible-type": _wrong_type,
    "not-an-array": _not_arrays,
    "item-not-an-object": _item_not_object,
    "enum-violation": _enum_violation,
    "empty-array": _empty_array,
    "additional-property": _additional_property,
    "one-of-mismatch": _one_of_mismatch,
}

INVALID_BODY_KINDS: tuple[str, ...] = (*_MUTATIONS, "non-object-body")
"""The kinds of invalid body ``invalid_bodies`` draws, by name."""


def invalid_bodies(
    kind: str | None = None, base: st.SearchStrategy[dict[str, Any]] | None = None
) -> st.SearchStrategy[Any]:
    """Bodies the server rejects with 400: one kind from ``INVALID_BODY_KINDS``, or any kind when ``None``.

    All kinds but ``non-object-body`` take a valid body from ``base`` (default ``trigger_bodies()``) and
    break it in one place, so callers can keep their own conventions (names, ``enabled``) in the rest.
    """
    base = base if base is not None else trigger_bodies()
    if kind == "non-object-body":
        return non_object_bodies()
    if kind is not None:
        return _mutated(base, _MUTATIONS[kind])
    return st.one_of([*(_mutated(base, mutate) for mutate in _MUTATIONS.values()), non_object_bodies()])
