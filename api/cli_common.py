"""What the `policy-search` commands share: settings, options, and turning errors into exits."""

from __future__ import annotations

import dataclasses
import functools
import sys
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

import click

from policy_search.api.settings import Settings

__all__ = [
    "count",
    "fail_cleanly",
    "index_dir_option",
    "json_option",
    "model_option",
    "record_options",
    "settings_from",
]

F = TypeVar("F", bound=Callable[..., Any])


def settings_from(**overrides: Any) -> Settings:
    """Environment first, then any flag that was given."""
    from pydantic import ValidationError

    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(
            f"POLICY_SEARCH_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}"
            for e in exc.errors()
        )
        raise click.UsageError(f"invalid setting: {problems}") from None


def count(n: int, noun: str) -> str:
    """ "1 article", "2 articles"."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def fail_cleanly(func: F) -> F:
    """Our errors become `error: …` on stderr and exit status 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from policy_search.index.errors import PolicySearchError

        try:
            return func(*args, **kwargs)
        except PolicySearchError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


index_dir_option = click.option(
    "--index-dir", type=click.Path(path_type=Path), default=None,
    help="Index directory [env POLICY_SEARCH_INDEX_DIR; default var/index].",
)  # fmt: skip
model_option = click.option(
    "--model", default=None,
    help="Embedding model path or name [env POLICY_SEARCH_MODEL; default all-MiniLM-L6-v2].",
)  # fmt: skip
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def record_options(
    record: type, *, skip: tuple[str, ...] = (), flags: Mapping[str, str] | None = None
) -> Callable[[F], F]:
    """One option per field of a request record (`SearchRequest`), so that a new field is a new
    flag with no edit here: `--date-from` for `date_from` (or the flag `flags` names), its type
    (a Literal is a choice, a bool a flag, a number its `ge`..`le` range), default and help
    (`description`) from the field. The command gets each value under the field's name."""
    hints = typing.get_type_hints(record)
    options = [
        _field_option(f, hints[f.name], (flags or {}).get(f.name))
        for f in dataclasses.fields(record)
        if f.name not in skip
    ]

    def decorate(func: F) -> F:
        for option in reversed(options):  # the record's order in --help
            func = option(func)
        return func

    return decorate


def _field_option(f: dataclasses.Field[Any], hint: Any, flag: str | None) -> Callable[[F], F]:
    declared = flag or "--" + f.name.replace("_", "-")
    kind = _without_none(hint)
    help_text = f.metadata.get("description")
    if kind is bool:
        return click.option(declared, f.name, is_flag=True, default=f.default, help=help_text)
    if typing.get_origin(kind) is list:  # repeated, or (choices) separated by commas
        (item,) = typing.get_args(kind)
        return click.option(
            declared, f.name, multiple=True, help=help_text,
            type=click.STRING if typing.get_origin(item) is Literal else _click_type(item, {}),
            callback=_choices(item) if typing.get_origin(item) is Literal else _as_list,
        )  # fmt: skip
    return click.option(
        declared, f.name, type=_click_type(kind, f.metadata), default=f.default,
        show_default=f.default is not None, help=help_text,
    )  # fmt: skip


def _as_list(ctx: click.Context, param: click.Parameter, values: tuple[Any, ...]) -> list[Any]:
    return list(values)


def _choices(kind: Any) -> Callable[[click.Context, click.Parameter, tuple[str, ...]], list[str]]:
    """A callback that reads `--facets year,country --facets tag` as a list of choices."""
    allowed = [str(v) for v in typing.get_args(kind)]

    def read(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> list[str]:
        chosen = [p.strip() for v in values for p in v.split(",") if p.strip()]
        for value in chosen:
            if value not in allowed:
                raise click.BadParameter(f"{value!r} is not one of {', '.join(allowed)}")
        return chosen

    return read


def _without_none(hint: Any) -> Any:
    """`str | None` is `str`: an option left out is the field's default."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        (kind,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return kind
    return hint


def _click_type(kind: Any, rules: Mapping[str, Any]) -> click.ParamType:
    if typing.get_origin(kind) is Literal:
        return click.Choice([str(value) for value in typing.get_args(kind)])
    if kind is int:
        return click.IntRange(rules.get("ge"), rules.get("le"))
    if kind is float:
        return click.FloatRange(rules.get("ge"), rules.get("le"))
    if kind is str:
        return click.STRING
    raise TypeError(f"no command-line type for {kind!r}")
