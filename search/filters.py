"""Filters on article metadata, applied to the candidates before ranking.

Which filters there are, what their values are and what they restrict is their registry's
(`policy_search.facets`); this module reads each *kind* of value (`FilterSpec.values`) once, and
hands the index the conditions as its catalog names them (`Conditions`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from policy_search.facets import FILTERS, RESTRICTIONS, ArticleDate, FilterSpec
from policy_search.index.readers.article import date_range, normalise_date
from policy_search.index.storage.catalog import Catalog, Conditions
from policy_search.index.storage.view import ReadView
from policy_search.records import SearchRequest, short_source
from policy_search.search.errors import QueryError
from policy_search.search.query import Matching, ParsedQuery, year_range

__all__ = ["Filters", "source_names"]

_SPECS = {spec.name: spec for spec in FILTERS}


@dataclass(frozen=True, slots=True, init=False)
class Filters:
    """Restrict a search by its filters (`policy_search.facets.FILTERS`: a source, author, tag,
    date range, article, and passages that name one of some countries).

    Text filters match whole values, case-insensitively; a source also by its short name or
    the acronym in its parentheses (`source_names`). Dates are ISO 8601 (a year alone is a
    date); an article matches a date range when its own date (a day, a month or a year) overlaps
    it, and an article without a date never matches a date filter. A range that ends before it
    starts matches nothing (as SQL's BETWEEN), rather than being an error. Countries are ISO
    3166-1 codes or English names, kept as alpha-2 codes; an unknown one is a QueryError.
    """

    # Each filter's name and values, read (none: not set); a tuple, so that filters are a key.
    values: tuple[tuple[str, tuple[str, ...]], ...]
    required: tuple[str, ...]  # terms every passage holds (a phrase's)
    excluded: tuple[str, ...]  # terms no passage holds (`-word`)
    excluded_countries: tuple[str, ...]  # countries no passage names (`-Russia`)

    def __init__(
        self,
        *,
        required: tuple[str, ...] = (),
        excluded: tuple[str, ...] = (),
        excluded_countries: tuple[str, ...] = (),
        **given: Any,
    ) -> None:
        """The filters of these names (as the query record's fields) and the query's terms."""
        unknown = given.keys() - _SPECS.keys()
        if unknown:
            raise TypeError(f"no filter named {', '.join(sorted(unknown))}")
        values = tuple((name, _read(spec, given.get(name))) for name, spec in _SPECS.items())
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "required", tuple(required))
        object.__setattr__(self, "excluded", tuple(excluded))
        object.__setattr__(self, "excluded_countries", tuple(excluded_countries))

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
        values = {name: getattr(request, name) for name in _SPECS}
        if parsed is not None:
            _restrict(values, parsed.restrictions)
        terms: dict[str, Any] = {}
        if matching is not None:
            terms.update(required=matching.required, excluded=matching.excluded,
                         excluded_countries=matching.excluded_countries)  # fmt: skip
        return cls(**values, **terms)

    @property
    def empty(self) -> bool:
        """True when the date range ends before it starts: no article can match."""
        starts = [d for spec, d in self._days() if spec.condition == ArticleDate("from")]
        ends = [d for spec, d in self._days() if spec.condition == ArticleDate("to")]
        return bool(starts and ends and max(starts) > min(ends))

    @property
    def active(self) -> bool:
        """True when any filter is set."""
        return any(values for _, values in self.values) or any(
            (self.required, self.excluded, self.excluded_countries)
        )

    def conditions(self, view: ReadView) -> Conditions | None:
        """What the filters ask of the articles and passages, with the values as the catalog
        holds them; None when nothing can match (an empty date range)."""
        if self.empty:
            return None
        return Conditions.of(*((spec.condition, self._held(spec, view)) for spec in FILTERS
                               if spec.condition is not None))  # fmt: skip

    def excluded_ids(self, view: ReadView) -> np.ndarray | None:
        """The ids of the passages an exclusion removes by what they name (an excluded country,
        named any way), sorted; None when none."""
        condition = _COUNTRIES.condition
        if not self.excluded_countries or condition is None:
            return None
        return view.read(
            Catalog.matching_passages, Conditions.of((condition, self.excluded_countries))
        )

    def _days(self) -> list[tuple[FilterSpec, str]]:
        """Each date filter's day as the catalog compares it: the first day of a `from`, the
        last of a `to`."""
        return [(spec, day) for spec in FILTERS if spec.values == "date"
                for day in self._held(spec, None)]  # fmt: skip

    def _held(self, spec: FilterSpec, view: ReadView | None) -> list[str]:
        """A filter's values as the catalog holds them (sources: of the index, needs `view`)."""
        values = dict(self.values)[spec.name]
        if spec.values == "source" and view is not None:
            return _sources(values, view)
        if spec.values == "date":
            side = 0 if spec.condition == ArticleDate("from") else 1
            return [str(date_range(v)[side]) for v in values]
        return list(values)


_COUNTRIES = next(spec for spec in FILTERS if spec.values == "country")


def _read(spec: FilterSpec, value: Any) -> tuple[str, ...]:
    """A filter's value as given (one, a list, or none), read as its kind of value says."""
    given = tuple(value) if isinstance(value, list | tuple) else (value,) if value else ()
    if spec.values == "date":
        try:
            return tuple(d for v in given if (d := normalise_date(v)))
        except ValueError as exc:
            raise QueryError(f"{spec.name}: {exc}") from None
    if spec.values == "country":
        return _countries(spec.name, given)
    return given


def _sources(values: tuple[str, ...], view: ReadView) -> list[str]:
    """The index's sources a source filter names (itself when it names none of them)."""
    found = []
    for value in values:
        wanted = value.strip().casefold()
        found += [s for s, _ in view.read(Catalog.sources) if wanted in source_names(s)] or [value]
    return found


def _restrict(values: dict[str, Any], restrictions: dict[str, list[str]]) -> None:
    """Add the query text's `field:value` restrictions to the request's filters, as the filters
    of those names: a single-valued one once (the same as the filter's, if both are given), a
    list's values added to the filter's (any of them), years narrowing the date range."""
    for spec in RESTRICTIONS:
        if spec.values == "years":
            if spec.name in restrictions:
                _narrow(values, *year_range(restrictions[spec.name]))
        elif spec.many:
            _extend(spec, values, restrictions.get(spec.name, []))
        else:
            _once(spec.name, values, restrictions.get(spec.name, []))


def _once(name: str, values: dict[str, Any], restricted: list[str]) -> None:
    given = list(dict.fromkeys(restricted))
    if len({v.casefold() for v in given}) > 1:
        raise QueryError(f"q: {name}: is given {len(given)} times; a search takes one {name}")
    if not given:
        return
    if values.get(name) and values[name].casefold() != given[0].casefold():
        raise QueryError(
            f"q: {name}:{given[0]} and the {name} filter ({values[name]!r}) disagree: give one"
        )
    values[name] = given[0]


def _extend(spec: FilterSpec, values: dict[str, Any], restricted: list[str]) -> None:
    joined = [*(values.get(spec.name) or ()), *restricted]
    limit = spec.rules.get("max_items")
    if isinstance(limit, int) and len(joined) > limit:
        noun = spec.label.lower()
        nouns = noun[:-1] + "ies" if noun.endswith("y") else noun + "s"
        raise QueryError(f"{spec.name}: {len(joined)} {nouns}; the limit is {limit}")
    values[spec.name] = joined


def _narrow(values: dict[str, Any], low: str | None, high: str | None) -> None:
    """The date filters narrowed to the years `low`..`high` (either may be open)."""
    for spec in FILTERS:
        if spec.condition == ArticleDate("from"):
            values[spec.name] = _narrower(values.get(spec.name), low, end=False)
        elif spec.condition == ArticleDate("to"):
            values[spec.name] = _narrower(values.get(spec.name), high, end=True)


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


def _countries(name: str, values: tuple[str, ...]) -> tuple[str, ...]:
    """The countries as sorted alpha-2 codes, or QueryError naming the one not known."""
    if not values:
        return ()
    from policy_search.index.analysis.countries import resolve_country

    codes = set()
    for value in values:
        code = resolve_country(value)
        if code is None:
            raise QueryError(
                f"{name}: {value!r} is not a country this index knows: give an ISO 3166-1 "
                "alpha-2 or alpha-3 code or an English name (AZ, AZE or Azerbaijan)"
            )
        codes.add(code)
    return tuple(sorted(codes))
