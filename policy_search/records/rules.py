"""`problems`: a request record checked against the rules in its fields' metadata."""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from policy_search.patterns import describe
from policy_search.records.wire import _hints, _is_union


def problems(record: object) -> list[str]:
    """What breaks the rules in a request record's field metadata (the ones the app validates
    and its spec states), in words: empty when the record is valid. For callers of the library
    that build a record themselves; the app has refused such a request before it gets here."""
    found = []
    kind: Any = type(record)
    hints = _hints(kind)
    for f in dataclasses.fields(kind):
        value = getattr(record, f.name)
        if value is None:
            continue
        if isinstance(value, list | tuple):
            found += _broken_items(f.name, value, _item_hint(hints[f.name]), f.metadata)
            continue
        found += _broken_value(f.name, value, hints[f.name], f.metadata)
    return found


def _broken_value(name: str, value: object, hint: Any, rules: Mapping[str, Any]) -> list[str]:
    """The rules a single value breaks: one of a Literal's values, or `_broken`'s."""
    if typing.get_origin(hint) is Literal:
        allowed = typing.get_args(hint)
        if value not in allowed:
            return [f"{name} must be one of {', '.join(allowed)}, not {value!r}"]
        return []
    return _broken(name, value, rules)


def _broken_items(
    name: str, items: Sequence[object], hint: Any, rules: Mapping[str, Any]
) -> list[str]:
    """The rules a list breaks: how many items it may have, then each item's own rules."""
    if "max_items" in rules and len(items) > rules["max_items"]:
        return [f"{name} has {len(items)} values; the limit is {rules['max_items']}"]
    each = rules.get("items", {})
    return [p for i, v in enumerate(items) for p in _broken_value(f"{name}[{i}]", v, hint, each)]


def _item_hint(hint: Any) -> Any:
    """The type of a list field's items (of its list member, in a union)."""
    for member in typing.get_args(hint) if _is_union(hint) else (hint,):
        if typing.get_origin(member) in (list, Sequence, tuple):
            return typing.get_args(member)[0]
    return Any


def _broken(name: str, value: object, rules: Mapping[str, Any]) -> list[str]:
    """The rules of one field (`min_length`, `max_length`, `pattern`, `ge`, `le`) it breaks."""
    if isinstance(value, str):
        if "min_length" in rules and len(value) < rules["min_length"]:
            return [f"{name} is empty" if not value else f"{name} is too short"]
        if "max_length" in rules and len(value) > rules["max_length"]:
            return [f"{name} is {len(value)} characters; the limit is {rules['max_length']}"]
        if "pattern" in rules and not re.search(rules["pattern"], value):
            return [f"{name} must be {describe(rules['pattern'])}"]
        return []
    if isinstance(value, int | float) and not isinstance(value, bool):
        low, high = rules.get("ge"), rules.get("le")
        if (low is not None and value < low) or (high is not None and value > high):
            return [f"{name} must be between {low} and {high}, not {value}"]
    return []
