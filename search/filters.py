"""Filters on article metadata, applied to the candidates before ranking."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from policy_search.index.article import date_range, normalise_date
from policy_search.index.view import ReadView
from policy_search.records import SearchRequest
from policy_search.search.errors import QueryError

__all__ = ["Filters"]


@dataclass(frozen=True, slots=True)
class Filters:
    """Restrict a search to articles with this source, author, tag and date range.

    Text filters match whole values, case-insensitively. Dates are ISO 8601 (a year alone is a
    date); an article matches a date range when its own date (a day, a month or a year) overlaps
    it, and an article without a date never matches a date filter. A range that ends before it
    starts matches nothing (as SQL's BETWEEN), rather than being an error.
    """

    source: str | None = None
    author: str | None = None
    tag: str | None = None
    date_from: str | None = None
    date_to: str | None = None

    @classmethod
    def of(cls, request: SearchRequest) -> Filters:
        """The filters a query record asks for (its fields of the same names)."""
        return cls(**{f.name: getattr(request, f.name) for f in dataclasses.fields(cls)})

    def __post_init__(self) -> None:
        for name in ("date_from", "date_to"):
            value = getattr(self, name)
            try:
                object.__setattr__(self, name, normalise_date(value))
            except ValueError as exc:
                raise QueryError(f"{name}: {exc}") from None

    @property
    def empty(self) -> bool:
        """True when the date range ends before it starts: no article can match."""
        start, end = date_range(self.date_from)[0], date_range(self.date_to)[1]
        return bool(start and end and start > end)

    @property
    def active(self) -> bool:
        """True when any filter is set."""
        return any((self.source, self.author, self.tag, self.date_from, self.date_to))

    def passage_ids(self, view: ReadView) -> np.ndarray | None:
        """The ids of every passage of every matching article, sorted; None when all articles
        match (a filter that excludes nothing costs nothing: no 200k ids through Python)."""
        if self.empty:
            return np.empty(0, dtype=np.int64)
        return view.matching_passages(
            source=self.source, author=self.author, tag=self.tag,
            date_start=str(date_range(self.date_from)[0]) if self.date_from else None,
            date_end=str(date_range(self.date_to)[1]) if self.date_to else None,
        )  # fmt: skip
