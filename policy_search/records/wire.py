"""The records as JSON: `to_json` writes one, `parse` reads one strictly; and the one error
body."""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from policy_search.records.fields import _about


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorBody:
    """The one shape of every error, whatever raised it."""

    ok: Literal[False] = False
    error: str = field(metadata=_about("What went wrong, and what to do about it."))
    status: int = field(metadata=_about("The HTTP status, repeated."))


_R = TypeVar("_R")


# -- JSON --------------------------------------------------------------------------------


class WireError(ValueError):
    """JSON that is not the shape of the record it should be."""


def parse(record: type[_R], data: object, where: str = "the response") -> _R:
    """Read JSON `data` as `record`, strictly: WireError names the first value out of shape.

    Keys the record does not know are ignored; a missing key is its field's default, or null
    where the field may be null.
    """
    return typing.cast(_R, _record(record, data, where))


def to_json(record: object, *, drop_none: bool = False) -> dict[str, Any]:
    """A record as JSON-ready data (tuples as lists); `drop_none` leaves out null fields."""
    if not dataclasses.is_dataclass(record) or isinstance(record, type):
        raise TypeError(f"expected a wire record, not {type(record).__name__}")
    data = {f.name: _plain(getattr(record, f.name)) for f in dataclasses.fields(record)}
    return {k: v for k, v in data.items() if v is not None} if drop_none else data


def _plain(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_json(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


@functools.cache
def _hints(record: type) -> dict[str, Any]:
    return typing.get_type_hints(record)


def _record(record: type, data: object, where: str) -> object:
    if not isinstance(data, dict):
        raise WireError(f"{where} is {_kind(data)}, not an object")
    hints = _hints(record)
    values: dict[str, object] = {}
    for f in dataclasses.fields(record):
        hint = hints[f.name]
        if f.name in data:
            values[f.name] = _value(hint, data[f.name], f"{where}.{f.name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            if not _nullable(hint):
                raise WireError(f"{where} has no {f.name!r}")
            values[f.name] = None
    return record(**values)


def _nullable(hint: object) -> bool:
    return _is_union(hint) and type(None) in typing.get_args(hint)


def _is_union(hint: object) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def _value(hint: Any, value: object, where: str) -> object:
    origin = typing.get_origin(hint)
    if _is_union(hint):
        return _union(typing.get_args(hint), value, where)
    if origin is Literal:
        allowed = typing.get_args(hint)
        if any(value == a and type(value) is type(a) for a in allowed):
            return value
        raise WireError(f"{where} is {value!r}, not {' or '.join(map(repr, allowed))}")
    if origin is dict:
        if not isinstance(value, dict):
            raise WireError(f"{where} is {_kind(value)}, not an object")
        keys, values = typing.get_args(hint)
        return {_value(keys, k, where): _value(values, v, f"{where}.{k}") for k, v in value.items()}
    if origin in (list, Sequence):
        if not isinstance(value, list):
            raise WireError(f"{where} is {_kind(value)}, not a list")
        (item,) = typing.get_args(hint)
        return [_value(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is tuple:
        items = typing.get_args(hint)
        if not isinstance(value, list):
            raise WireError(f"{where} is {_kind(value)}, not a list")
        if len(value) != len(items):
            raise WireError(f"{where} has {len(value)} items, not {len(items)}")
        pairs = enumerate(zip(items, value, strict=True))
        return tuple(_value(t, v, f"{where}[{i}]") for i, (t, v) in pairs)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _record(hint, value, where)
    return _scalar(hint, value, where)


def _union(members: tuple[Any, ...], value: object, where: str) -> object:
    if value is None and type(None) in members:
        return None
    kinds = [m for m in members if m is not type(None)]
    for member in kinds[:-1]:
        try:
            return _value(member, value, where)
        except WireError:
            continue
    return _value(kinds[-1], value, where)


_SCALARS = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}


def _scalar(hint: type, value: object, where: str) -> object:
    ok = isinstance(value, hint) and not (hint is int and isinstance(value, bool))
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not ok:
        raise WireError(f"{where} is {_kind(value)}, not {_SCALARS.get(hint, hint.__name__)}")
    return value


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__
