"""The shapes the HTTP API receives and sends, defined once for the app and the client.

Every request and response body is a frozen dataclass here, named as its JSON is shaped. A field's
`metadata` holds what the OpenAPI spec says of it (`description`) and, in requests, the rules a
value must meet (`min_length`, `max_length`, `ge`, `le`, `pattern`; `items` for each element of
a list), as plain data under the names pydantic's `Field` gives them. The app builds its
validation and its spec from these (`policy_search.api.schemas`); the client builds its
requests from them and reads every answer with `parse`, which refuses JSON of the wrong shape.

Standard library only (and `policy_search.patterns`, itself standard library only): importing this
needs neither httpx nor pydantic.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import policy_search.facets as _registry
from policy_search.facets import MAX_ARTICLE_ID, MAX_COUNTRIES
from policy_search.patterns import ARTICLE_ID, DATE, LINE, PROSE, QUERY, TITLE, URL, describe

__all__ = [
    "CITE_STYLES",
    "EXPORT_FORMATS",
    "FACETS",
    "MAX_ARTICLE_ID",
    "MAX_COUNTRIES",
    "MAX_CURSOR",
    "MAX_K",
    "MAX_OFFSET",
    "MAX_QUERY_CHARS",
    "MODES",
    "QUERY_FIELDS",
    "SORTS",
    "Article",
    "ArticleInput",
    "ArticleMeta",
    "ArticlePassage",
    "ArticleReplacement",
    "Choice",
    "Citation",
    "CiteRequest",
    "CiteStyle",
    "ErrorBody",
    "Explanation",
    "ExportFormat",
    "Facet",
    "FacetChoice",
    "FacetCount",
    "FilterChoice",
    "FormatInfo",
    "Formats",
    "Health",
    "Hit",
    "Mode",
    "Passage",
    "QueryReading",
    "Restriction",
    "SearchChoices",
    "SearchRequest",
    "SearchResult",
    "Similar",
    "SimilarResult",
    "Snippet",
    "Sort",
    "SourceCount",
    "Stats",
    "StyleInfo",
    "WireError",
    "WriteResult",
    "parse",
    "problems",
    "short_source",
    "to_json",
]

# The limits of a request, for the app's validation and spec, the searcher and the client alike.
MAX_QUERY_CHARS = 1000
MAX_K = 100
MAX_OFFSET = 10_000
# MAX_ARTICLE_ID and MAX_COUNTRIES (countries one query may filter by): policy_search.facets.
MAX_CURSOR = 512  # a cursor's characters (api/cursors.py makes them, about 150)

Mode = Literal["hybrid", "dense", "lexical"]
MODES: tuple[str, ...] = typing.get_args(Mode)
Sort = Literal["relevance", "newest", "oldest"]
SORTS: tuple[str, ...] = typing.get_args(Sort)
# How each is offered to a person (the page's "Match by …" and "Order").
MODE_LABELS = {"hybrid": "both", "dense": "meaning", "lexical": "words"}
SORT_LABELS = {"relevance": "Best match first", "newest": "Newest first", "oldest": "Oldest first"}
# The facets (`facets=`) and the fields a query's text may restrict by (`country:AZ`,
# `year:2020..2024`), as its filters do: from their registries (policy_search.facets). Checked
# as choices at run time (the spec's enum, the CLI's choices, `problems`); plain text to mypy,
# which cannot read a Literal built from a registry.
FACETS: tuple[str, ...] = tuple(f.name for f in _registry.FACETS)
QUERY_FIELDS: tuple[str, ...] = tuple(f.name for f in _registry.RESTRICTIONS)
if TYPE_CHECKING:
    Facet = str
    QueryField = str
else:
    Facet = Literal[FACETS]
    QueryField = Literal[QUERY_FIELDS]
# The output formats of an export (`format=` on /search) and the styles of a citation; each is
# an entry of the app's renderer registry (policy_search.api.render), which checks it has these.
ExportFormat = Literal["csv", "jsonl", "bibtex", "ris"]
EXPORT_FORMATS: tuple[str, ...] = typing.get_args(ExportFormat)
CiteStyle = Literal["apa", "chicago", "mla", "bibtex", "ris"]
CITE_STYLES: tuple[str, ...] = typing.get_args(CiteStyle)
_R = TypeVar("_R")


def _about(description: str, **rules: object) -> dict[str, object]:
    """A field's metadata: its description for the spec, and the rules a request must meet."""
    return {"description": description, **rules}


def _listed(names: Sequence[str], last: str) -> str:
    """ "a, b or c"."""
    return f"{', '.join(names[:-1])} {last} {names[-1]}" if len(names) > 1 else "".join(names)


# -- responses ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Passage:
    """A passage, its `[start, end)` place in the article text, and matched-word spans."""

    id: int = field(metadata=_about("The passage's id in the index."))
    text: str = field(metadata=_about("The passage's text: `article.text[start:end]`."))
    start: int = field(metadata=_about("Offset of the passage in the article text (inclusive)."))
    end: int = field(
        metadata=_about("Offset of the passage's end in the article text (exclusive).")
    )
    highlights: list[tuple[int, int]] = field(
        metadata=_about("Spans [start, end) inside `text` of words the query matched.")
    )
    countries: list[str] = field(
        default_factory=list,
        metadata=_about("ISO 3166-1 alpha-2 codes of the countries the passage names."),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Snippet:
    """The few sentences of a passage that answer the query: a span of the passage's text."""

    text: str = field(metadata=_about("The sentences: `passage.text[start:end]`."))
    start: int = field(metadata=_about("Offset of the snippet in the passage text (inclusive)."))
    end: int = field(metadata=_about("Offset of its end in the passage text (exclusive)."))
    highlights: list[tuple[int, int]] = field(
        metadata=_about(
            "Spans [start, end) inside the snippet's `text` of words the query matched."
        )
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class ArticlePassage:
    """Where one of an article's passages lies in its text, and the countries it names."""

    id: int = field(metadata=_about("The passage's id in the index."))
    start: int = field(metadata=_about("Offset of the passage in the article text (inclusive)."))
    end: int = field(metadata=_about("Offset of its end in the article text (exclusive)."))
    countries: list[str] = field(
        default_factory=list,
        metadata=_about("ISO 3166-1 alpha-2 codes of the countries the passage names."),
    )


def short_source(source: str) -> str:
    """A source's short name, for display and for the source filter: the words before its first
    parenthesis or comma ("United Nations General Debate Corpus (UNGDC), Jankin, …" → "United
    Nations General Debate Corpus"), cut at a word to at most 40 characters."""
    short = re.split(r"\s*[(,;]", source, maxsplit=1)[0].strip() or source.strip()
    if len(short) <= 40:
        return short
    cut = short[:40].rsplit(" ", 1)[0].rstrip(" -–:")
    return (cut or short[:40]) + "…"


# Responses always carry every field, defaults or not: pydantic (which documents the records in
# the app's spec) reads this from a dataclass, so that the spec says so. A plain dict here.
_ALWAYS_SENT = {"json_schema_serialization_defaults_required": True}


@dataclass(frozen=True, slots=True, kw_only=True)
class ArticleMeta:
    """An article's metadata."""

    __pydantic_config__ = _ALWAYS_SENT

    id: str = field(metadata=_about("The article's stable id."))
    title: str = field(metadata=_about("The article's title."))
    source: str | None = field(default=None, metadata=_about("Who published it."))
    author: str | None = field(default=None, metadata=_about("Who wrote it."))
    date: str | None = field(default=None, metadata=_about("When: ISO 8601, a year, month or day."))
    url: str | None = field(default=None, metadata=_about("Where it was published."))
    tags: list[str] = field(default_factory=list, metadata=_about("Its tags."))
    source_name: str | None = field(
        default=None,
        metadata=_about(
            "The source's short name, for display (the source filter takes it too); derived "
            "from `source`."
        ),
    )

    def __post_init__(self) -> None:
        # Always derived, so that a copy with another source (dataclasses.replace) is right.
        object.__setattr__(self, "source_name", short_source(self.source) if self.source else None)


@dataclass(frozen=True, slots=True, kw_only=True)
class Article(ArticleMeta):
    """A whole article: its metadata and text. The index stores it (`policy_search.index`
    reads files into it, `make_article` checks it), the API serves it with its passages."""

    text: str = field(metadata=_about("The article's text; passages' offsets point into it."))
    passages: list[ArticlePassage] = field(
        default_factory=list,
        metadata=_about("Its passages in order, as the index holds them (served articles)."),
    )


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


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceCount:
    """A source and how many articles it has."""

    source: str
    articles: int
    source_name: str | None = field(
        default=None, metadata=_about("Its short name, for display (the source filter takes it).")
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "source_name", short_source(self.source))  # always derived


@dataclass(frozen=True, slots=True, kw_only=True)
class Stats:
    """What the index holds."""

    articles: int
    passages: int
    sources: list[SourceCount] = field(metadata=_about("Sources, most articles first."))
    date_min: str | None = field(metadata=_about("The earliest article's date."))
    date_max: str | None = field(metadata=_about("The latest article's date."))
    generation: int = field(metadata=_about("The served commit; every write adds one."))
    built_at: str = field(metadata=_about("When that commit was made (ISO 8601, UTC)."))
    model: str = field(metadata=_about("The embedding model the index was built with."))
    bytes_on_disk: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Health:
    """The service is up and an index is loaded: its generation, counts and model."""

    ok: Literal[True] = True
    generation: int = field(metadata=_about("The served commit; every write adds one."))
    articles: int
    passages: int
    model: str = field(metadata=_about("The embedding model the index was built with."))
    built_at: str = field(metadata=_about("When the served commit was made (ISO 8601, UTC)."))


@dataclass(frozen=True, slots=True, kw_only=True)
class WriteResult:
    """A write that is durable and served: the ids written and the new generation's counts."""

    ok: Literal[True] = True
    ids: list[str] = field(metadata=_about("The articles written or removed."))
    generation: int = field(metadata=_about("The commit that holds the write."))
    articles: int = field(metadata=_about("Articles in the index after the write."))
    passages: int = field(metadata=_about("Passages in the index after the write."))
    added: list[str] = field(metadata=_about("Ids that are new."))
    updated: list[str] = field(metadata=_about("Ids whose article was replaced."))
    removed: list[str] = field(metadata=_about("Ids that are gone."))


@dataclass(frozen=True, slots=True, kw_only=True)
class Citation:
    """The exact words of an article, a link that shows them, and the article cited in a style."""

    __pydantic_config__ = _ALWAYS_SENT

    article: ArticleMeta = field(metadata=_about("The article cited."))
    style: CiteStyle = field(metadata=_about("The style of `text`."))
    text: str = field(
        metadata=_about(
            "The citation in that style, as plain text (BibTeX and RIS: the whole entry)."
        )
    )
    italics: list[tuple[int, int]] = field(
        default_factory=list,
        metadata=_about("Spans [start, end) of `text` the style sets in italics."),
    )
    quote: str = field(
        default="",
        metadata=_about(
            "The words quoted: `article.text[start:end]`; empty for the whole article."
        ),
    )
    start: int | None = field(
        default=None, metadata=_about("Offset of the quote in the article text (inclusive).")
    )
    end: int | None = field(
        default=None, metadata=_about("Offset of the quote's end in the article text (exclusive).")
    )
    permalink: str = field(
        metadata=_about("A link to the web page showing the article with the quote highlighted.")
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class FormatInfo:
    """An output format of an export: `format=` on /search."""

    name: ExportFormat = field(metadata=_about("What `format=` takes."))
    label: str = field(metadata=_about("Its name for display."))
    media_type: str = field(metadata=_about("The export's Content-Type."))
    extension: str = field(metadata=_about("The file name's extension, without the dot."))


@dataclass(frozen=True, slots=True, kw_only=True)
class StyleInfo:
    """A citation style: `style=` on /articles/{id}/cite."""

    name: CiteStyle = field(metadata=_about("What `style=` takes."))
    label: str = field(metadata=_about("Its name for display (the edition followed)."))


@dataclass(frozen=True, slots=True, kw_only=True)
class Formats:
    """What the API can write: export formats and citation styles."""

    formats: list[FormatInfo] = field(metadata=_about("Export formats, in display order."))
    styles: list[StyleInfo] = field(metadata=_about("Citation styles, in display order."))
    export_limit: int = field(metadata=_about("The most hits one export holds."))


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorBody:
    """The one shape of every error, whatever raised it."""

    ok: Literal[False] = False
    error: str = field(metadata=_about("What went wrong, and what to do about it."))
    status: int = field(metadata=_about("The HTTP status, repeated."))


# -- requests ----------------------------------------------------------------------------

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


@dataclass(frozen=True, slots=True, kw_only=True)
class Choice:
    """One value a request field may take, and its name for a person."""

    name: str = field(metadata=_about("The value, as the field takes it."))
    label: str = field(metadata=_about("Its name in a menu (the page's wording)."))


@dataclass(frozen=True, slots=True, kw_only=True)
class FacetChoice:
    """A facet a search may count by (`facets`), as `policy_search.facets` declares it."""

    name: str = field(metadata=_about("The value of `facets` that asks for it."))
    label: str = field(metadata=_about("A heading for its values."))
    order: Literal["value", "count"] = field(
        metadata=_about(
            "value: every value, in order (years); count: the most frequent first, cut at the "
            "server's limit (`facets_more` says how many more)."
        )
    )
    filter: str = field(
        metadata=_about("The filter (or `field:` of the query's text) its values are given to.")
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class FilterChoice:
    """A filter a search may be narrowed by, or a `field:` the query's text may say."""

    name: str = field(metadata=_about("The request field (or the query text's `name:`)."))
    label: str = field(metadata=_about("Its name for a person."))
    many: bool = field(metadata=_about("Whether it takes several values (any of them)."))
    request: bool = field(
        metadata=_about("Whether it is a field of the request (else only the query's `name:`).")
    )
    syntax: str | None = field(
        metadata=_about("How the query's text says it (an example), or null when it cannot.")
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchChoices:
    """What a search offers (GET /search/options): its modes, orders, facets and filters, so
    that a page or a client builds its controls from the server's own lists."""

    modes: list[Choice] = field(metadata=_about("The values of `mode`, the default first."))
    sorts: list[Choice] = field(metadata=_about("The values of `sort`, the default first."))
    facets: list[FacetChoice] = field(metadata=_about("The values of `facets`."))
    filters: list[FilterChoice] = field(
        metadata=_about("The filters, request fields and the query text's `field:`s alike.")
    )

    @classmethod
    def offered(cls) -> SearchChoices:
        """The choices of this server: its records' and registries' own lists."""
        fields = {f.name for f in _registry.FILTERS}
        specs = {f.name: f for f in (*_registry.FILTERS, *_registry.RESTRICTIONS)}
        return cls(
            modes=[Choice(name=m, label=MODE_LABELS[m]) for m in MODES],
            sorts=[Choice(name=s, label=SORT_LABELS[s]) for s in SORTS],
            facets=[FacetChoice(name=f.name, label=f.label, order=f.order, filter=f.filter)
                    for f in _registry.FACETS],
            filters=[FilterChoice(name=f.name, label=f.label, many=f.many,
                                  request=f.name in fields, syntax=f.syntax)
                     for f in specs.values()],
        )  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class CiteRequest:
    """GET /articles/{id}/cite's query parameters: the span quoted and the style.

    Without `start` and `end` the article is cited whole; with them, `[start, end)` must be a
    non-empty span of the article's text (character offsets, as a passage's).
    """

    start: int | None = field(
        default=None, metadata=_about("Offset of the quote in the article text (inclusive).", ge=0)
    )
    end: int | None = field(
        default=None,
        metadata=_about("Offset of the quote's end in the article text (exclusive).", ge=1),
    )
    style: CiteStyle = field(
        default="apa",
        metadata=_about(
            "apa (APA 7), chicago (Chicago 17th, notes and bibliography: the bibliography "
            "entry), mla (MLA 9), bibtex or ris."
        ),
    )


_NEW_ID = (
    "Stable id: letters, digits and `. _ : / @ + -`, starting with a letter or digit, no empty, "
    "`.` or `..` part between slashes, not ending in `/similar` or `/cite`. Derived from `url` "
    "when absent."
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ArticleInput:
    """An article to add, or only a `url`: the page to fetch and extract the article from.

    Anything but a `url` alone needs `title` and `text`; a new article also needs an `id`, or a
    `url` to derive one from.
    """

    id: str | None = field(
        default=None,
        metadata=_about(_NEW_ID, max_length=MAX_ARTICLE_ID, pattern=ARTICLE_ID),
    )
    title: str | None = field(
        default=None,
        metadata=_about("Required unless only `url` is given.", max_length=1000, pattern=TITLE),
    )
    text: str | None = field(
        default=None, metadata=_about("Required unless only `url` is given.", pattern=PROSE)
    )
    source: str | None = field(
        default=None, metadata=_about("Who published it.", max_length=500, pattern=LINE)
    )
    author: str | None = field(
        default=None, metadata=_about("Who wrote it.", max_length=500, pattern=LINE)
    )
    date: str | None = field(
        default=None,
        metadata=_about("When: ISO 8601, a year, month or day.", max_length=40, pattern=DATE),
    )
    url: str | None = field(
        default=None,
        metadata=_about(
            "Where it was published; alone, the page to fetch.", max_length=2000, pattern=URL
        ),
    )
    # A list's items and the comma-separated string have rules of their own.
    tags: Sequence[str] | str | None = field(
        default=None,
        metadata=_about(
            "Tags: a list, or one comma-separated string.",
            max_length=5000, pattern=LINE, items={"max_length": 500, "pattern": LINE},
        ),
    )  # fmt: skip

    @property
    def is_url_only(self) -> bool:
        """Only a URL: fetch the page and extract the article."""
        return self.url is not None and self.title is None and self.text is None

    def incomplete(self) -> str | None:
        """What the article lacks (title and text, unless it is only a url), or None."""
        if self.is_url_only:
            return None
        missing = [name for name in ("title", "text") if getattr(self, name) is None]
        if not missing:
            return None
        return f"missing {' and '.join(missing)}: give title and text, or only a url to fetch"

    def unnamed(self) -> str | None:
        """Why a new article has no id (neither `id` nor `url`), or None."""
        if self.id is None and self.url is None:
            return "give the article an `id` (or a `url` to derive one from)"
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class ArticleReplacement(ArticleInput):
    """The article to store under the URL's id, or only a `url`: the page to fetch.

    Anything but a `url` alone needs `title` and `text`; the URL names the article.
    """

    # The URL names the article a PUT writes: an id in its body may only repeat it, so the spec
    # marks it read-only (clients need not send it).
    id: str | None = field(
        default=None,
        metadata=_about(
            "The URL's id; if sent, it must be the same.",
            max_length=MAX_ARTICLE_ID, pattern=ARTICLE_ID, json_schema_extra={"readOnly": True},
        ),
    )  # fmt: skip


# -- rules --------------------------------------------------------------------------------


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


# -- JSON --------------------------------------------------------------------------------


class WireError(ValueError):
    """JSON that is not the shape of the record it should be."""


def parse(record: type[_R], data: object, where: str = "the response") -> _R:
    """Read JSON `data` as `record`, strictly: WireError names the first value out of shape.

    Keys the record does not know are ignored; a missing key is its field's default, or null
    where the field may be null.
    """
    return typing.cast(_R, _record(record, data, where))


def to_json(record: object, *, drop_none: bool = False) -> dict[str, Any]:
    """A record as JSON-ready data (tuples as lists); `drop_none` leaves out null fields."""
    if not dataclasses.is_dataclass(record) or isinstance(record, type):
        raise TypeError(f"expected a wire record, not {type(record).__name__}")
    data = {f.name: _plain(getattr(record, f.name)) for f in dataclasses.fields(record)}
    return {k: v for k, v in data.items() if v is not None} if drop_none else data


def _plain(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_json(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


@functools.cache
def _hints(record: type) -> dict[str, Any]:
    return typing.get_type_hints(record)


def _record(record: type, data: object, where: str) -> object:
    if not isinstance(data, dict):
        raise WireError(f"{where} is {_kind(data)}, not an object")
    hints = _hints(record)
    values: dict[str, object] = {}
    for f in dataclasses.fields(record):
        hint = hints[f.name]
        if f.name in data:
            values[f.name] = _value(hint, data[f.name], f"{where}.{f.name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            if not _nullable(hint):
                raise WireError(f"{where} has no {f.name!r}")
            values[f.name] = None
    return record(**values)


def _nullable(hint: object) -> bool:
    return _is_union(hint) and type(None) in typing.get_args(hint)


def _is_union(hint: object) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def _value(hint: Any, value: object, where: str) -> object:
    origin = typing.get_origin(hint)
    if _is_union(hint):
        return _union(typing.get_args(hint), value, where)
    if origin is Literal:
        allowed = typing.get_args(hint)
        if any(value == a and type(value) is type(a) for a in allowed):
            return value
        raise WireError(f"{where} is {value!r}, not {' or '.join(map(repr, allowed))}")
    if origin is dict:
        if not isinstance(value, dict):
            raise WireError(f"{where} is {_kind(value)}, not an object")
        keys, values = typing.get_args(hint)
        return {_value(keys, k, where): _value(values, v, f"{where}.{k}") for k, v in value.items()}
    if origin in (list, Sequence):
        if not isinstance(value, list):
            raise WireError(f"{where} is {_kind(value)}, not a list")
        (item,) = typing.get_args(hint)
        return [_value(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is tuple:
        items = typing.get_args(hint)
        if not isinstance(value, list):
            raise WireError(f"{where} is {_kind(value)}, not a list")
        if len(value) != len(items):
            raise WireError(f"{where} has {len(value)} items, not {len(items)}")
        pairs = enumerate(zip(items, value, strict=True))
        return tuple(_value(t, v, f"{where}[{i}]") for i, (t, v) in pairs)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _record(hint, value, where)
    return _scalar(hint, value, where)


def _union(members: tuple[Any, ...], value: object, where: str) -> object:
    if value is None and type(None) in members:
        return None
    kinds = [m for m in members if m is not type(None)]
    for member in kinds[:-1]:
        try:
            return _value(member, value, where)
        except WireError:
            continue
    return _value(kinds[-1], value, where)


_SCALARS = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}


def _scalar(hint: type, value: object, where: str) -> object:
    ok = isinstance(value, hint) and not (hint is int and isinstance(value, bool))
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not ok:
        raise WireError(f"{where} is {_kind(value)}, not {_SCALARS.get(hint, hint.__name__)}")
    return value


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__
