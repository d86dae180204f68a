"""Filters on article metadata, applied to the candidates before ranking."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from policy_search.index.article import date_range, normalise_date
from policy_search.index.catalog import Catalog, Conditions
from policy_search.index.view import ReadView
from policy_search.records import MAX_COUNTRIES, SearchRequest, short_source
from policy_search.search.errors import QueryError
from policy_search.search.query import Matching, ParsedQuery, year_range

__all__ = ["Filters", "source_names"]


@dataclass(frozen=True, slots=True)
class Filters:
    """Restrict a search to articles with this source, author, tag and date range, to one
    article, and to passages that name one of some countries.

    Text filters match whole values, case-insensitively; a source also by its short name or
    the acronym in its parentheses (`source_names`). Dates are ISO 8601 (a year alone is a
    date); an article matches a date range when its own date (a day, a month or a year) overlaps
    it, and an article without a date never matches a date filter. A range that ends before it
    starts matches nothing (as SQL's BETWEEN), rather than being an error. Countries are ISO
    3166-1 codes or English names, kept as alpha-2 codes; an unknown one is a QueryError.
    """

    source: str | None = None
    author: str | None = None
    tag: str | None = None
    date_from: str | None = None
    date_to: str | None = None
    country: tuple[str, ...] = ()
    article: str | None = None
    required: tuple[str, ...] = ()  # terms every passage holds (a phrase's)
    excluded: tuple[str, ...] = ()  # terms no passage holds (`-word`)
    excluded_countries: tuple[str, ...] = ()  # countries no passage names (`-Russia`)

    @classmethod
    def of(
        cls,
        request: SearchRequest,
        parsed: ParsedQuery | None = None,
        matching: Matching | None = None,
    ) -> Filters:
        """The filters a query record asks for (its fields of the same names), with the
        restrictions its text makes (`country:AZ`, `year:2020..2024`) and the terms its phrases
        and exclusions require and exclude."""
        values = {f.name: getattr(request, f.name) for f in dataclasses.fields(cls)
                  if hasattr(request, f.name)}  # fmt: skip
        if parsed is not None:
            _restrict(values, parsed.restrictions)
        if matching is not None:
            values.update(required=matching.required, excluded=matching.excluded,
                          excluded_countries=matching.excluded_countries)  # fmt: skip
        return cls(**values)

    def __post_init__(self) -> None:
        for name in ("date_from", "date_to"):
            value = getattr(self, name)
            try:
                object.__setattr__(self, name, normalise_date(value))
            except ValueError as exc:
                raise QueryError(f"{name}: {exc}") from None
        object.__setattr__(self, "country", _countries(tuple(self.country)))

    @property
    def empty(self) -> bool:
        """True when the date range ends before it starts: no article can match."""
        start, end = date_range(self.date_from)[0], date_range(self.date_to)[1]
        return bool(start and end and start > end)

    @property
    def active(self) -> bool:
        """True when any filter is set."""
        return any(
            (self.source, self.author, self.tag, self.date_from, self.date_to, self.country,
             self.article, self.required, self.excluded, self.excluded_countries)
        )  # fmt: skip

    def passage_ids(self, view: ReadView) -> np.ndarray | None:
        """The ids of every passage of every matching article, sorted; None when all articles
        match (a filter that excludes nothing costs nothing: no 200k ids through Python)."""
        if self.empty:
            return np.empty(0, dtype=np.int64)
        return view.read(
            Catalog.matching_passages,
            Conditions(
                sources=tuple(self._sources(view)), author=self.author, tag=self.tag,
                date_start=str(date_range(self.date_from)[0]) if self.date_from else None,
                date_end=str(date_range(self.date_to)[1]) if self.date_to else None,
                countries=self.country, article=self.article,
            ),
        )  # fmt: skip

    def excluded_ids(self, view: ReadView) -> np.ndarray | None:
        """The ids of the passages an exclusion removes by what they name (an excluded country,
        named any way), sorted; None when none."""
        if not self.excluded_countries:
            return None
        return view.read(Catalog.matching_passages, Conditions(countries=self.excluded_countries))

    def _sources(self, view: ReadView) -> list[str]:
        """The index's sources the source filter names (itself when it names none of them)."""
        if not self.source:
            return []
        wanted = self.source.strip().casefold()
        named = [s for s, _ in view.read(Catalog.sources) if wanted in source_names(s)]
        return named or [self.source]


def _restrict(values: dict[str, Any], restrictions: dict[str, list[str]]) -> None:
    """Add the query text's `field:value` restrictions to the request's filters, as the filters
    of those names: a source, author or tag once (the same as the filter's, if both are given),
    countries added to the filter's (any of them), years narrowing the filter's date range."""
    for name in ("source", "author", "tag"):
        given = list(dict.fromkeys(restrictions.get(name, [])))
        if len({v.casefold() for v in given}) > 1:
            raise QueryError(f"q: {name}: is given {len(given)} times; a search takes one {name}")
        if not given:
            continue
        if values.get(name) and values[name].casefold() != given[0].casefold():
            raise QueryError(
                f"q: {name}:{given[0]} and the {name} filter ({values[name]!r}) disagree: give one"
            )
        values[name] = given[0]
    countries = [*values.get("country", ()), *restrictions.get("country", [])]
    if len(countries) > MAX_COUNTRIES:
        raise QueryError(f"country: {len(countries)} countries; the limit is {MAX_COUNTRIES}")
    values["country"] = tuple(countries)
    if "year" in restrictions:
        low, high = year_range(restrictions["year"])
        values["date_from"] = _narrower(values.get("date_from"), low, end=False)
        values["date_to"] = _narrower(values.get("date_to"), high, end=True)


def _narrower(a: str | None, b: str | None, *, end: bool) -> str | None:
    """Of two range starts the later, of two range ends (`end`) the earlier; either may be
    absent."""
    if not a or not b:
        return a or b
    side = 1 if end else 0

    def day(value: str) -> str:
        try:
            return str(date_range(normalise_date(value))[side])
        except ValueError as exc:
            raise QueryError(f"date: {exc}") from None

    return (min if end else max)((a, b), key=day)


def source_names(source: str) -> set[str]:
    """The names a source filter may give a source, case-folded: whole, short (for display,
    `records.short_source`), and the acronym in its parentheses ("… Corpus (UNGDC), …")."""
    names = {source.strip(), short_source(source)}
    names.update(re.findall(r"\(([A-Z][A-Za-z0-9&.-]{1,15})\)", source))
    return {n.casefold() for n in names if n}


def _countries(values: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The countries as sorted alpha-2 codes, or QueryError naming the one not known."""
    if not values:
        return ()
    from policy_search.index.countries import resolve_country

    codes = set()
    for value in values:
        code = resolve_country(value)
        if code is None:
            raise QueryError(
                f"country: {value!r} is not a country this index knows: give an ISO 3166-1 "
                "alpha-2 or alpha-3 code or an English name (AZ, AZE or Azerbaijan)"
            )
        codes.add(code)
    return tuple(sorted(codes))
