"""``spec.records.quick_init`` gives exactly the dataclass ``__init__`` it replaces, on every class
of the contract that uses it: same fields set, same defaults, same refusals."""

from __future__ import annotations

import dataclasses
import importlib
import pickle
import pkgutil
import re
from typing import Any

import pytest

import spec
from spec.records import quick_init


def _quick_classes() -> list[type[Any]]:
    found: dict[str, type[Any]] = {}
    for module_info in pkgutil.iter_modules(spec.__path__):
        module = importlib.import_module(f"spec.{module_info.name}")
        for value in vars(module).values():
            init = getattr(value, "__init__", None)
            if isinstance(value, type) and hasattr(init, "__wrapped__") and dataclasses.is_dataclass(value):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return [found[name] for name in sorted(found)]


QUICK = _quick_classes()


def test_the_hot_records_use_it() -> None:
    names = {cls.__name__ for cls in QUICK}
    assert {"Request", "Answer", "Outcome", "Environment", "InsertTrigger", "Validation"} <= names


def _made(cls: type[Any], init: Any, *args: Any, **kwargs: Any) -> dict[str, Any] | str:
    """The instance dict ``init`` leaves, or the TypeError it raises, with the function's qualified
    name (which differs: dataclasses' is ``__create_fn__.<locals>.__init__``) cut to ``__init__``."""
    instance = object.__new__(cls)
    try:
        init(instance, *args, **kwargs)
    except TypeError as error:
        return re.sub(r"^\S*__init__\(\)", "__init__()", str(error))
    return dict(vars(instance))


@pytest.mark.parametrize("cls", QUICK, ids=lambda cls: cls.__qualname__)
def test_same_instances_and_refusals_as_the_dataclass_init(cls: type[Any]) -> None:
    quick, original = cls.__init__, cls.__init__.__wrapped__
    fields = dataclasses.fields(cls)
    values = {field.name: object() for field in fields}
    required = [field.name for field in fields if field.default is dataclasses.MISSING]
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
        (tuple(values.values()), {}),  # all positional
        ((), dict(values)),  # all by keyword
        (tuple(values[name] for name in required), {}),  # defaults for the rest
        (tuple(values.values())[:-1], {}),  # one short: a default, or a refusal
        ((*values.values(), object()), {}),  # one too many
        ((), {**values, "not_a_field": 1}),
    ]
    if required:
        calls.append(((), {name: values[name] for name in required[1:]}))  # a required one missing
    for args, kwargs in calls:
        assert _made(cls, quick, *args, **kwargs) == _made(cls, original, *args, **kwargs)


@pytest.mark.parametrize("cls", QUICK, ids=lambda cls: cls.__qualname__)
def test_still_frozen_comparable_replaceable_and_picklable(cls: type[Any]) -> None:
    values = {field.name: (field.name, 1) for field in dataclasses.fields(cls)}
    record = cls(**values)
    assert record == cls(**values) and hash(record) == hash(cls(**values))
    first = dataclasses.fields(cls)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(record, first, "changed")
    changed = dataclasses.replace(record, **{first: "changed"})
    assert getattr(changed, first) == "changed" and changed != record
    assert pickle.loads(pickle.dumps(record)) == record


def test_shapes_it_does_not_take_are_refused_at_decoration() -> None:
    @dataclasses.dataclass
    class Mutable:
        a: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Slotted:
        a: int

    @dataclasses.dataclass(frozen=True)
    class Factory:
        a: list[int] = dataclasses.field(default_factory=list)

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class KeywordOnly:
        a: int

    @dataclasses.dataclass(frozen=True)
    class PostInit:
        a: int

        def __post_init__(self) -> None:
            pass

    # Fields named like the generated function's own locals (make_dataclass: no name mangling).
    clashes = [
        dataclasses.make_dataclass("Clash", [(name, int)], frozen=True)
        for name in ("__instance_dict", "_default_a")
    ]

    for cls in (Mutable, Slotted, Factory, KeywordOnly, PostInit, *clashes):
        with pytest.raises(TypeError):
            quick_init(cls)
