"""Filters and facets: what a search is narrowed and counted by, one entry each.

As vector kinds are (`policy_search.index.storage.vectors`), each filter and each facet is one
entry, and what serves it is built from the registries here:

- a filter is a key of `FilterOptions`, its entry (`FilterSpec`) in the key's annotation: the
  key and its type make the field of the query record (`records.SearchRequest`), so the app's
  validation and spec, the CLI's option and the client's keyword (`client.QueryOptions` is a
  `FilterOptions`) follow; its entry says what a value is (`values`), what it restricts
  (`condition`), its name for a person (`label`) and whether the query's text may say it
  (`syntax`, `source:UNGDC`);
- a facet is a `FacetSpec` in `FACETS`: its name becomes one of the values of `facets`, and the
  entry says what it counts (`counts`), how its values are ordered and named, and which filter
  its values are given to.

A condition is declared, not written: which kind of column an entry reads (`ArticleColumn`,
`ArticleTags`, `ArticleDate`, `ArticleYear`, `PassageCountries`). The SQL of each kind is written
once, in `policy_search.index.storage.catalog_filters`; how each kind of value is read and each
value named, once in `policy_search.search` (filters.py, facets.py). A new filter or facet over a
kind of column already read is its entry here, the page and tests; a new kind is also its SQL.

`GET /search/options` serves the registries (`records.SearchChoices`), so the page builds its
controls from them. Standard library only, as the records are.
"""

# No `from __future__ import annotations`: the entries in `FilterOptions`' annotations are built
# once, when the class is, not each time the annotations are read.

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Literal, TypedDict

from policy_search.patterns import DATE, LINE

__all__ = [
    "FACETS",
    "FILTERS",
    "MAX_ARTICLE_ID",
    "MAX_COUNTRIES",
    "RESTRICTIONS",
    "ArticleColumn",
    "ArticleDate",
    "ArticleTags",
    "ArticleYear",
    "Condition",
    "FacetSpec",
    "FilterOptions",
    "FilterSpec",
    "PassageCountries",
    "facet",
    "filter_spec",
]

MAX_ARTICLE_ID = 200  # characters of an article's id
MAX_COUNTRIES = 20  # countries one query may filter by

# -- conditions: which kind of column an entry reads (its SQL: index/storage/catalog_filters.py)
# -------------


@dataclass(frozen=True, slots=True)
class ArticleColumn:
    """A column of the article's row, its whole value: case-insensitively, unless `exact`."""

    column: str
    exact: bool = False


@dataclass(frozen=True, slots=True)
class ArticleTags:
    """The article's tags, each whole, case-insensitively."""


@dataclass(frozen=True, slots=True)
class ArticleDate:
    """The article's date as the interval it covers (2024: its first to its last day): `from`
    keeps the articles that end on or after a day, `to` those that start on or before it."""

    bound: Literal["from", "to"]


@dataclass(frozen=True, slots=True)
class ArticleYear:
    """The year the article's date starts in (undated articles have none)."""


@dataclass(frozen=True, slots=True)
class PassageCountries:
    """The countries the passage itself names (ISO 3166-1 alpha-2); counted, the articles with a
    counted passage that names it."""


Condition = ArticleColumn | ArticleTags | ArticleDate | ArticleYear | PassageCountries

# How a filter's value is read (search/filters.py): `text` as given; `source` by any of a source's
# names (whole, short, acronym); `date` an ISO 8601 year, month or day; `country` an ISO code or
# English name, kept as alpha-2; `years` a year or a range of them (`2020..2024`), narrowing the
# date filters.
Values = Literal["text", "source", "date", "country", "years"]

# -- filters -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class FilterSpec:
    """A filter: what its values are, what they restrict, and how the query's text says it."""

    description: str  # what the spec, the CLI's --help and the client say of it
    label: str  # its name for a person: "Source", "From date"
    condition: Condition | None  # None: it narrows other filters (`year:` the date range)
    values: Values = "text"
    syntax: str | None = None  # `name:value` in the query's text, an example; None: not there
    rules: Mapping[str, object] = field(default_factory=dict)  # as records' field metadata
    name: str = ""  # its key in FilterOptions (filled in by the registry, as is `many`)
    many: bool = False  # several values, any of which matches (a list: repeated)


_TEXT = {"max_length": 500}


class FilterOptions(TypedDict, total=False):
    """The filters of a query: each key a field of `records.SearchRequest` and a keyword of the
    client, its entry (`FilterSpec`) in its annotation. A value left out (None, empty) filters
    nothing; several filters hold together."""

    source: Annotated[str | None, FilterSpec(
        description="Only articles from this source.", label="Source",
        condition=ArticleColumn("source"), values="source",
        syntax='source:UNGDC or source:"World Israel News"', rules=_TEXT,
    )]  # fmt: skip
    author: Annotated[str | None, FilterSpec(
        description="Only articles by this author.", label="Author",
        condition=ArticleColumn("author"), syntax='author:"Ilham Aliyev"', rules=_TEXT,
    )]  # fmt: skip
    tag: Annotated[str | None, FilterSpec(
        description="Only articles with this tag.", label="Tag", condition=ArticleTags(),
        syntax="tag:energy", rules=_TEXT,
    )]  # fmt: skip
    date_from: Annotated[str | None, FilterSpec(
        description="Only articles dated on or after: a year, month or day (2024, 2024-05, "
        "2024-05-01), or a date-time.",
        label="From date", condition=ArticleDate("from"), values="date", rules={"pattern": DATE},
    )]  # fmt: skip
    date_to: Annotated[str | None, FilterSpec(
        description="Only articles dated on or before (as date_from).", label="To date",
        condition=ArticleDate("to"), values="date", rules={"pattern": DATE},
    )]  # fmt: skip
    country: Annotated[list[str], FilterSpec(
        description="Only passages that name one of these countries: ISO 3166-1 alpha-2 or "
        "alpha-3 codes or English names (`AZ`, `AZE`, `Azerbaijan`); repeat it for several.",
        label="Country", condition=PassageCountries(), values="country",
        syntax="country:AZ or country:Azerbaijan",
        rules={"max_items": MAX_COUNTRIES,
               "items": {"min_length": 1, "max_length": 100, "pattern": LINE}},
    )]  # fmt: skip
    article: Annotated[str | None, FilterSpec(
        description="Only passages of this article (its id).", label="Article",
        condition=ArticleColumn("id", exact=True),
        rules={"max_length": MAX_ARTICLE_ID, "pattern": LINE},
    )]  # fmt: skip


def _filters() -> tuple[FilterSpec, ...]:
    hints = typing.get_type_hints(FilterOptions, include_extras=True)
    return tuple(
        dataclasses.replace(spec, name=name, many=typing.get_origin(hint.__origin__) is list)
        for name, hint in hints.items()
        for spec in hint.__metadata__
        if isinstance(spec, FilterSpec)
    )


#: Every filter of a query, in the order of the query record's fields.
FILTERS: tuple[FilterSpec, ...] = _filters()

#: What the query's text may restrict by (`field:value`), in this order: the filters that have a
#: syntax, then `year:`, which narrows the date filters.
RESTRICTIONS: tuple[FilterSpec, ...] = (
    *(f for f in FILTERS if f.syntax),
    FilterSpec(
        name="year", description="Only articles dated in these years.", label="Year",
        condition=None, values="years", syntax="year:2023 or year:2020..2024",
    ),
)  # fmt: skip


def filter_spec(name: str) -> FilterSpec:
    """The filter or restriction of this name (KeyError when there is none)."""
    for spec in (*FILTERS, *RESTRICTIONS):
        if spec.name == name:
            return spec
    raise KeyError(name)


# -- facets ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class FacetSpec:
    """A facet: what it counts, how its values are ordered and named, and which filter (or
    restriction) its values are given to."""

    name: str
    label: str  # a heading: "Sources"
    counts: Condition
    filter: str  # a name in FILTERS or RESTRICTIONS
    # `value`: every value, in order (years); `count`: the most frequent first, cut at the
    # server's limit (`facets_more` says how many more).
    order: Literal["value", "count"] = "count"
    names: Literal["source", "country"] | None = None  # a value's name for display


#: Every facet, in the order `facets` lists them.
FACETS: tuple[FacetSpec, ...] = (
    FacetSpec(name="source", label="Sources", counts=ArticleColumn("source"), filter="source",
              names="source"),
    FacetSpec(name="year", label="Years", counts=ArticleYear(), filter="year", order="value"),
    FacetSpec(name="country", label="Countries", counts=PassageCountries(), filter="country",
              names="country"),
    FacetSpec(name="tag", label="Tags", counts=ArticleTags(), filter="tag"),
)  # fmt: skip


def facet(name: str) -> FacetSpec:
    """The facet of this name (KeyError when there is none)."""
    for spec in FACETS:
        if spec.name == name:
            return spec
    raise KeyError(name)
