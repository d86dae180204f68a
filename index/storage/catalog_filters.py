"""What a query's filters ask of the catalog (`Conditions`) and the SQL that each kind of
condition of `policy_search.facets` reads: a filter's WHERE, a facet's count."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from policy_search.facets import (
    ArticleColumn,
    ArticleDate,
    ArticleTags,
    ArticleYear,
    Condition,
    PassageCountries,
)
from policy_search.index.errors import IndexInternalError
from policy_search.index.storage.catalog_schema import METADATA

# What a facet of each kind of condition counts (policy_search.facets): each value and its count
# of the articles in a JSON array of rowids (per passage: of the passages' ids). INDEXED BY: the
# planner would read each article's row, text and all, where the index holds what is counted.
_FACETS_BY = "FROM json_each(?) h JOIN articles a{} ON a.rowid = h.value GROUP BY 1"
_FACETS_INDEX = " INDEXED BY articles_facets"
_FACETS_INDEXED = ("source", "date_start")  # the columns articles_facets holds


def _facet_sql(condition: Condition) -> tuple[str, bool]:
    """The SQL counting a facet that reads this kind of condition, and whether it reads
    passages' ids (else articles' rowids)."""
    match condition:
        case ArticleColumn(column=column):
            indexed = _FACETS_INDEX if column in _FACETS_INDEXED else ""
            return f"SELECT a.{_column(column)}, COUNT(*) " + _FACETS_BY.format(indexed), False
        case ArticleYear():
            sql = "SELECT substr(a.date_start, 1, 4), COUNT(*) " + _FACETS_BY.format(_FACETS_INDEX)
            return sql, False
        case ArticleTags():
            sql = ("SELECT t.tag, COUNT(*) FROM json_each(?) h JOIN article_tags t "
                   "ON t.article_rowid = h.value GROUP BY t.tag")  # fmt: skip
            return sql, False
        case PassageCountries():
            sql = ("SELECT c.country, COUNT(DISTINCT c.article) FROM json_each(?) h JOIN "
                   "passage_countries c ON c.passage = h.value GROUP BY c.country")  # fmt: skip
            return sql, True
    raise IndexInternalError(f"no facet reads {condition!r}")


def _where(condition: Condition, values: Sequence[str]) -> str:
    """The SQL condition of a filter of this kind that any of `values` meets (a date bound:
    every one), over `articles a` and `passages p`."""
    marks = ",".join("?" * len(values))
    match condition:
        case ArticleColumn(column=column, exact=exact):
            return f"a.{_column(column)} {'' if exact else 'COLLATE NOCASE '}IN ({marks})"
        case ArticleTags():  # article_tags.tag is NOCASE
            return ("EXISTS (SELECT 1 FROM article_tags t WHERE t.article_rowid = a.rowid "
                    f"AND t.tag IN ({marks}))")  # fmt: skip
        case ArticleDate(bound=bound):
            return " AND ".join(["a.date_end >= ?" if bound == "from" else "a.date_start <= ?"]
                                * len(values))  # fmt: skip
        case PassageCountries():
            return f"p.id IN (SELECT passage FROM passage_countries WHERE country IN ({marks}))"
    raise IndexInternalError(f"no filter reads {condition!r}")


def _column(name: str) -> str:
    """An article column's name, checked: it goes into SQL as written."""
    if name not in _ARTICLE_COLUMNS:
        raise IndexInternalError(f"the articles table has no column {name!r}")
    return name


_ARTICLE_COLUMNS = frozenset(METADATA.split(", "))


@dataclass(frozen=True, slots=True)
class Conditions:
    """What a query's filters ask of a passage: each condition (a kind of column of
    `policy_search.facets`) with the values any of which it must meet, all of them at once; the
    values as the catalog holds them (a date bound: a day; a country: an alpha-2 code). An empty
    one asks nothing."""

    terms: tuple[tuple[Condition, tuple[str, ...]], ...] = ()

    @classmethod
    def of(cls, *terms: tuple[Condition, Sequence[str]]) -> Conditions:
        """The conditions with values (those without ask nothing)."""
        return cls(tuple((c, tuple(values)) for c, values in terms if values))

    @property
    def per_passage(self) -> bool:
        """Whether a condition reads the passages themselves, not only their articles."""
        return any(isinstance(c, PassageCountries) for c, _ in self.terms)
