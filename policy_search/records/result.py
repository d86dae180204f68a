"""What a search answers: its hits (passage, snippet, article, explanation), how the query was
read, facet counts; and the articles similar to one."""

from __future__ import annotations

from dataclasses import dataclass, field

from policy_search.records.article import ArticleMeta, Passage, Snippet
from policy_search.records.fields import _ALWAYS_SENT, QUERY_FIELDS, QueryField, _about, _listed


@dataclass(frozen=True, slots=True, kw_only=True)
class Explanation:
    """The evidence behind a hit's score: each side's rank and score for the query as asked.

    Every candidate is scored on both sides, so a score can be there without a rank: a passage
    the lexical side proposed has its cosine computed too, but no rank on the dense side.
    """

    dense_rank: int | None = field(
        metadata=_about(
            "Rank among the dense side's own candidates (its nearest passages to the query); "
            "null when the passage was not one of them, or in lexical mode."
        )
    )
    dense_score: float | None = field(
        metadata=_about(
            "Cosine similarity of the query as asked and the passage (null in lexical mode)."
        )
    )
    lexical_rank: int | None = field(
        metadata=_about(
            "Rank among the lexical side's own candidates (by BM25); null when the passage was "
            "not one of them, or in dense mode."
        )
    )
    lexical_score: float | None = field(
        metadata=_about("BM25 score, 0 when no query word is in the passage (null in dense mode).")
    )
    feedback_score: float | None = field(
        default=None,
        metadata=_about(
            "Hybrid mode with feedback: the cosine of the passage with the query moved toward "
            "the best fused passages, which is what the fused score used (null otherwise)."
        ),
    )
    fusion: str = field(metadata=_about("`score` or `rrf` in hybrid mode, else `none`."))


@dataclass(frozen=True, slots=True, kw_only=True)
class Hit:
    """One ranked passage with its article."""

    rank: int = field(metadata=_about("1 for the best passage, counting from the first page."))
    score: float = field(metadata=_about("The passage's score, on the mode's own scale."))
    confidence: float = field(
        default=0.0,
        metadata=_about(
            "The probability (0–1) that the passage answers the query, calibrated on judged "
            "queries the ranker was trained on; comparable across queries and modes."
        ),
    )
    passage: Passage
    snippet: Snippet = field(
        metadata=_about(
            "The two or three sentences of the passage around the query's words (or, matched "
            "by meaning alone, nearest to the query), at most about 60 words."
        )
    )
    article: ArticleMeta
    explain: Explanation | None = field(
        default=None, metadata=_about("With explain=true: the rankings behind the score.")
    )
    more: int | None = field(
        default=None,
        metadata=_about("With group=true: how many more passages of this article matched."),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class FacetCount:
    """One value of a facet and how many matching articles have it."""

    value: str = field(metadata=_about("The value, as its filter takes it (a year, ISO code, …)."))
    count: int = field(metadata=_about("How many matching articles have it."))
    name: str | None = field(
        default=None,
        metadata=_about("Its name for display: a country's English name, a source's short name."),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Restriction:
    """A `field:value` of the query's text: it restricts the search as the filter of that name."""

    name: QueryField = field(metadata=_about(f"The field: {_listed(QUERY_FIELDS, 'or')}."))
    value: str = field(metadata=_about("Its value as given (a year range as `2020..2024`)."))


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryReading:
    """How the query's text was read: what it requires, excludes and restricts, and the free
    words ranked by meaning and by words."""

    __pydantic_config__ = _ALWAYS_SENT

    words: list[str] = field(
        default_factory=list, metadata=_about("The free words, as given, in order.")
    )
    phrases: list[str] = field(
        default_factory=list,
        metadata=_about(
            "Quoted phrases every hit holds: their words side by side and in order (as the index "
            "reads words: case, inflections and stop words aside)."
        ),
    )
    excluded: list[str] = field(
        default_factory=list,
        metadata=_about('Words and phrases (`-word`, `-"a phrase"`, `NOT word`) no hit holds.'),
    )
    restrictions: list[Restriction] = field(
        default_factory=list,
        metadata=_about("`field:value` restrictions, applied as the filters of the same names."),
    )
    text: str = field(
        default="",
        metadata=_about(
            "What is ranked by meaning and by words: the free words and phrases, without the "
            "syntax, the exclusions or the restrictions."
        ),
    )
    language: str | None = field(
        default=None,
        metadata=_about(
            "The language the text seems to be in (ISO 639-1), null when too short to tell."
        ),
    )
    notices: list[str] = field(
        default_factory=list,
        metadata=_about(
            "What was read otherwise than typed, or cannot be trusted (a quote left open, an "
            "unknown field, a language the model does not read)."
        ),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchResult:
    """A page of ranked passages for a query, and how many passed the relevance floor."""

    query: str = field(metadata=_about("The query as asked."))
    mode: str = field(metadata=_about("The mode that ranked: hybrid, dense or lexical."))
    took_ms: float = field(metadata=_about("How long the search took, in milliseconds."))
    total: int = field(
        metadata=_about(
            "Exactly how many hits paging through this query yields (every page is a slice of "
            "one ranking): the passages past the relevance floor among each side's best 200 "
            "candidates in hybrid and dense modes; in lexical mode every passage with a query "
            "word, up to the deepest page a request reaches (offset 10,000 + k 100). With "
            "group=true, how many articles among each side's best 1,000 candidates."
        )
    )
    results: list[Hit] = field(metadata=_about("This page of hits, best first."))
    facets: dict[str, list[FacetCount]] = field(
        default_factory=dict,
        metadata=_about(
            "With `facets`: for each facet asked, its values with how many of the matching "
            "articles (every one paging yields, past the relevance floor and under the filters) "
            "have it. Years in order, all of them; the others by count, the largest first, cut "
            "at the server's limit."
        ),
    )
    facets_more: dict[str, int] = field(
        default_factory=dict,
        metadata=_about("For each facet asked, how many more values it has past the limit."),
    )
    reading: QueryReading = field(
        default_factory=QueryReading,
        metadata=_about("How the query's text was read (its phrases, exclusions, restrictions)."),
    )
    loose: int = field(
        default=0,
        metadata=_about(
            "How many more hits (articles with group=true) passed the relevance floor but not the "
            "confidence floor: loosely related, neither counted in `total` nor paged."
        ),
    )
    next_cursor: str | None = field(
        default=None,
        metadata=_about(
            "Where the next page of this very ranking starts: send it back as `cursor` (with the "
            "same query) for the next page, read at the same commit of the index whatever was "
            "written since; null on the last page. It lasts the server's cursor window after "
            "this page."
        ),
    )

    @property
    def hits(self) -> list[Hit]:
        """This page of hits, best first (`results`)."""
        return self.results


@dataclass(frozen=True, slots=True, kw_only=True)
class Similar:
    """An article near another one, and how near."""

    score: float = field(
        metadata=_about("Cosine of its closest passage to the article's centroid.")
    )
    article: ArticleMeta


@dataclass(frozen=True, slots=True, kw_only=True)
class SimilarResult:
    """The articles nearest to one article, not itself."""

    article_id: str = field(metadata=_about("The article asked about."))
    results: list[Similar] = field(metadata=_about("The nearest articles, nearest first."))
