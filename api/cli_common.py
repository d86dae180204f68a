"""What the `policy-search` commands share: settings, options, and turning errors into exits."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from policy_search.api.settings import Settings
from policy_search.search.searcher import MODES

__all__ = [
    "MODES",
    "count",
    "fail_cleanly",
    "index_dir_option",
    "json_option",
    "model_option",
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
