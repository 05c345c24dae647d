"""A cheaper ``__init__`` for the frozen dataclasses made on every request.

A frozen dataclass's generated ``__init__`` sets each field with ``object.__setattr__`` (its own
``__setattr__`` refuses), a function call per field: a six-field ``Request`` takes about 0.7 µs to
make, most of it those calls. The mock makes half a dozen such records per request. ``quick_init``
gives a frozen dataclass an ``__init__`` with the same signature that stores the fields in the
instance's ``__dict__`` directly, which is what ``object.__setattr__`` ends up doing; everything
else (frozenness, equality, hashing, ``repr``, ``dataclasses.replace``, pickling) is the dataclass's
own. The generated one stays reachable as ``__init__.__wrapped__`` for the test that compares them.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")

_INSTANCE_DICT = "__instance_dict"


def quick_init(cls: type[T]) -> type[T]:
    """``cls`` (a frozen dataclass with a ``__dict__``) with the direct-store ``__init__``.

    Only the plain shape is taken: positional-or-keyword fields, each with no default or a plain
    default. Anything else (keyword-only fields, default factories, ``init=False``, ``InitVar``,
    ``__post_init__``, slots) raises ``TypeError`` here, at import, rather than behave differently.
    """
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen:
        raise TypeError(f"{cls.__qualname__}: quick_init is for frozen dataclasses")
    if cls.__dictoffset__ == 0 or hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__qualname__}: slots or __post_init__ are not supported")
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    if len(fields) != len(cls.__dataclass_fields__):  # type: ignore[attr-defined]
        raise TypeError(f"{cls.__qualname__}: InitVar or ClassVar pseudo-fields are not supported")
    namespace: dict[str, Any] = {}
    parameters: list[str] = []
    stores: list[str] = []
    for field in fields:
        if field.name in (_INSTANCE_DICT, "self") or field.name.startswith("_default_"):
            raise TypeError(f"{cls.__qualname__}.{field.name}: a name the generated __init__ uses")
        if not field.init or field.kw_only or field.default_factory is not dataclasses.MISSING:
            raise TypeError(f"{cls.__qualname__}.{field.name}: only plain fields are supported")
        if field.default is dataclasses.MISSING:
            parameters.append(field.name)
        else:
            namespace[f"_default_{field.name}"] = field.default
            parameters.append(f"{field.name}=_default_{field.name}")
        stores.append(f"    {_INSTANCE_DICT}[{field.name!r}] = {field.name}")
    source = "\n".join(
        [f"def __init__(self, {', '.join(parameters)}):", f"    {_INSTANCE_DICT} = self.__dict__", *stores]
    )
    exec(source, namespace)  # the same technique as dataclasses' own generated methods
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__wrapped__ = cls.__init__
    cls.__init__ = init  # type: ignore[method-assign]
    return cls
