"""The query: GET and POST /search's fields, each with its rules, filters made from their
registry (`policy_search.facets`)."""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import policy_search.facets as _registry
from policy_search.patterns import QUERY
from policy_search.records.fields import (
    FACETS,
    MAX_CURSOR,
    MAX_K,
    MAX_OFFSET,
    MAX_QUERY_CHARS,
    Facet,
    Mode,
    Sort,
    _about,
)

_C = TypeVar("_C", bound=type)


def _with_filters(*, after: str) -> typing.Callable[[_C], _C]:
    """Give a request class a field for each filter (`policy_search.facets.FilterOptions`: its
    type, and its entry's description and rules), after the field `after`: a new filter is its
    entry alone. Applied before `@dataclass`, which then makes them fields like any other."""

    def add(cls: _C) -> _C:
        hints = typing.get_type_hints(_registry.FilterOptions)
        annotations: dict[str, Any] = {}
        for name, hint in inspect.get_annotations(cls).items():
            annotations[name] = hint
            if name == after:
                annotations.update((f.name, hints[f.name]) for f in _registry.FILTERS)
        for spec in _registry.FILTERS:
            about = _about(spec.description, **spec.rules)
            many = {"default_factory": list} if spec.many else {"default": None}
            setattr(cls, spec.name, field(metadata=about, **many))  # type: ignore[call-overload]
        cls.__annotations__ = annotations
        return cls

    return add


@dataclass(frozen=True, slots=True, kw_only=True)
@_with_filters(after="min_confidence")
class SearchRequest:
    """A query: GET /search's query parameters, or POST /search's JSON body.

    In a JSON body, `explain` and `group` are JSON booleans and `k`, `offset` and `min_score` JSON
    numbers (a query string carries them as text). Each filter is a field too, after
    `min_confidence`: one per key of `policy_search.facets.FilterOptions` (source, author, tag,
    date_from, date_to, country, article), made from its entry.
    """

    q: str = field(
        metadata=_about(
            "What to look for (some words, not only spaces).",
            min_length=1, max_length=MAX_QUERY_CHARS, pattern=QUERY,
        )
    )  # fmt: skip
    k: int = field(default=10, metadata=_about("How many passages to return.", ge=1, le=MAX_K))
    offset: int = field(
        default=0, metadata=_about("How many ranked passages to skip.", ge=0, le=MAX_OFFSET)
    )
    mode: Mode = field(
        default="hybrid",
        metadata=_about(
            "hybrid fuses meaning (dense) and exact words (lexical, BM25); dense or lexical "
            "use one side alone."
        ),
    )
    explain: bool = field(
        default=False, metadata=_about("Add each hit's dense and lexical rank and score.")
    )
    min_score: float | None = field(
        default=None,
        metadata=_about(
            "Drop hits scoring below this (on the mode's own scale). By default a passage must "
            "share a word with the query or be close in meaning.",
            ge=-1.0, le=1000.0,
        ),
    )  # fmt: skip
    min_confidence: float | None = field(
        default=None,
        metadata=_about(
            "Drop hits whose confidence (the probability that they answer the query) is below "
            "this; unset, the server's own floor. `total`, paging, facets and sorts count only "
            "what passes.",
            ge=0.0, le=1.0,
        ),
    )  # fmt: skip
    group: bool = field(
        default=False,
        metadata=_about("One hit per article (its best passage, and `more` other matches)."),
    )
    sort: Sort = field(
        default="relevance",
        metadata=_about(
            "relevance (the default), or newest or oldest article first (ties by relevance, "
            "undated articles last); the relevance floor and the filters hold in every order."
        ),
    )
    facets: list[Facet] = field(
        default_factory=list,
        metadata=_about(
            f"Count the matching articles by these (any of {', '.join(FACETS)}); in a "
            "query string repeat it or separate them with commas.",
            max_items=len(FACETS),
        ),
    )

    cursor: str | None = field(
        default=None,
        metadata=_about(
            "The `next_cursor` of the previous page: this page continues that ranking at the "
            "commit it was read from. Repeat the query's other fields (only `k` and `explain` "
            "may change) and leave `offset` out.",
            min_length=1,
            max_length=MAX_CURSOR,
        ),
    )

    @classmethod
    def of(cls, q: str | SearchRequest, options: Mapping[str, Any]) -> SearchRequest:
        """The query record: the text `q` with `options` (its other fields), or a record with
        `options` replacing its fields."""
        if isinstance(q, SearchRequest):
            return dataclasses.replace(q, **options) if options else q
        return cls(q=q, **options)
