"""Request and response models of the HTTP API, named by direction."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    field_validator,
    model_validator,
)

from policy_search.index.build import BuildReport
from policy_search.patterns import ARTICLE_ID, DATE, LINE, PROSE, QUERY, TITLE, URL
from policy_search.search.filters import Filters
from policy_search.search.records import IndexStats
from policy_search.search.searcher import (
    MAX_K,
    MAX_OFFSET,
    MAX_QUERY_CHARS,
    ArticleRecord,
    Hit,
    SearchResult,
)

__all__ = [
    "ArticleIn",
    "ArticleOut",
    "ArticleResponse",
    "ErrorResponse",
    "ExplanationOut",
    "HealthResponse",
    "HitOut",
    "NewArticleIn",
    "PassageOut",
    "SearchBody",
    "SearchRequest",
    "SearchResponse",
    "SimilarOut",
    "SimilarResponse",
    "SourceCount",
    "StatsResponse",
    "WriteResponse",
]


class SearchRequest(BaseModel):
    """A query: the same fields as GET query parameters or a POST JSON body."""

    model_config = ConfigDict(extra="forbid")

    q: str = Field(
        ..., min_length=1, max_length=MAX_QUERY_CHARS, pattern=QUERY,
        description="What to look for (some words, not only spaces).",
    )  # fmt: skip
    k: int = Field(10, ge=1, le=MAX_K, description="How many passages to return.")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="How many ranked passages to skip.")
    mode: Literal["hybrid", "dense", "lexical"] = Field(
        "hybrid",
        description="hybrid fuses meaning (dense) and exact words (lexical, BM25); "
        "dense or lexical use one side alone.",
    )
    explain: bool = Field(False, description="Add each hit's dense and lexical rank and score.")
    min_score: float | None = Field(
        None,
        ge=-1.0,
        le=1000.0,
        description="Drop hits scoring below this (on the mode's own scale). By default a "
        "passage must share a word with the query or be close in meaning.",
    )

    source: str | None = Field(None, max_length=500, description="Only articles from this source.")
    author: str | None = Field(None, max_length=500, description="Only articles by this author.")
    tag: str | None = Field(None, max_length=500, description="Only articles with this tag.")
    date_from: str | None = Field(
        None, pattern=DATE,
        description="Only articles dated on or after: a year, month or day (2024, 2024-05, "
        "2024-05-01), or a date-time.",
    )  # fmt: skip
    date_to: str | None = Field(
        None, pattern=DATE, description="Only articles dated on or before (as date_from)."
    )
    group: bool = Field(
        False, description="One hit per article (its best passage, and `more` other matches)."
    )

    @field_validator("q")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the query is empty: give some words to search for")
        return value

    def filters(self) -> Filters:
        """The metadata filters (QueryError on a bad date)."""
        return Filters(
            source=self.source, author=self.author, tag=self.tag,
            date_from=self.date_from, date_to=self.date_to,
        )  # fmt: skip


class SearchBody(SearchRequest):
    """A query as a JSON body: as `SearchRequest`, but true and false are JSON booleans.

    A URL's query string carries `true` as text; a JSON body that says `"group": 0` is wrong.
    """

    explain: StrictBool = Field(
        False, description="Add each hit's dense and lexical rank and score."
    )
    group: StrictBool = Field(
        False, description="One hit per article (its best passage, and `more` other matches)."
    )

    @field_validator("k", "offset", "min_score", mode="before")
    @classmethod
    def _json_number(cls, value: object) -> object:
        # pydantic would read true as 1 and "5" as 5; in JSON those are not numbers.
        if isinstance(value, bool | str):
            raise ValueError("must be a JSON number")
        return value


class PassageOut(BaseModel):
    """A passage and where it sits in its article's text."""

    id: int
    text: str
    start: int = Field(description="Offset of the passage in the article text (inclusive).")
    end: int = Field(description="Offset of the passage's end in the article text (exclusive).")
    highlights: list[tuple[int, int]] = Field(
        description="Spans [start, end) inside `text` of words the query matched."
    )


class ArticleOut(BaseModel):
    """An article's metadata."""

    id: str
    title: str
    source: str | None
    author: str | None
    date: str | None
    url: str | None
    tags: list[str]

    @classmethod
    def of(cls, article: ArticleRecord) -> ArticleOut:
        """From the searcher's record."""
        return cls(
            id=article.id, title=article.title, source=article.source, author=article.author,
            date=article.date, url=article.url, tags=list(article.tags),
        )  # fmt: skip


class ExplanationOut(BaseModel):
    """The two rankings behind a hit's score (a rank is null beyond that side's candidates)."""

    dense_rank: int | None
    dense_score: float | None = Field(
        description="Cosine similarity of query and passage (null in lexical mode)."
    )
    lexical_rank: int | None
    lexical_score: float | None = Field(
        description="BM25 score, 0 when no query word is in the passage (null in dense mode)."
    )
    fusion: str = Field(description="`score` or `rrf` in hybrid mode, else `none`.")


class HitOut(BaseModel):
    """One ranked passage."""

    rank: int
    score: float
    passage: PassageOut
    article: ArticleOut
    explain: ExplanationOut | None = None
    more: int | None = Field(
        None, description="With group=true: how many more passages of this article matched."
    )

    @classmethod
    def of(cls, hit: Hit) -> HitOut:
        """From the searcher's hit."""
        passage = PassageOut(
            id=hit.passage_id, text=hit.text, start=hit.start, end=hit.end,
            highlights=hit.highlights,
        )  # fmt: skip
        explain = None
        if hit.explanation is not None:
            explain = ExplanationOut(**dataclasses.asdict(hit.explanation))
        return cls(
            rank=hit.rank, score=hit.score, passage=passage, article=ArticleOut.of(hit.article),
            explain=explain, more=hit.more,
        )  # fmt: skip


class SearchResponse(BaseModel):
    """Ranked passages for a query."""

    query: str
    mode: str
    took_ms: float
    total: int = Field(
        description="How many passages pass the relevance floor: every passage with a query "
        "word counts, passages close in meaning only among the dense side's candidates (200, or "
        "offset + k if more). With group=true, how many articles among the candidates."
    )
    results: list[HitOut]

    @classmethod
    def of(cls, result: SearchResult) -> SearchResponse:
        """From the searcher's result."""
        return cls(
            query=result.query, mode=result.mode, took_ms=result.took_ms, total=result.total,
            results=[HitOut.of(h) for h in result.hits],
        )  # fmt: skip


class ArticleResponse(ArticleOut):
    """A whole article."""

    text: str

    @classmethod
    def of(cls, article: ArticleRecord) -> ArticleResponse:
        """From the searcher's record (with text)."""
        return cls(**ArticleOut.of(article).model_dump(), text=article.text or "")


class HealthResponse(BaseModel):
    """The service is up and an index is loaded."""

    ok: Literal[True] = True
    generation: int
    articles: int
    passages: int
    model: str
    built_at: str


class ErrorResponse(BaseModel):
    """The one shape of every error."""

    ok: Literal[False] = False
    error: str
    status: int


class SimilarOut(BaseModel):
    """An article near another one."""

    score: float = Field(description="Cosine of its closest passage to the article's centroid.")
    article: ArticleOut


class SimilarResponse(BaseModel):
    """Articles nearest to one article, not itself."""

    article_id: str
    results: list[SimilarOut]


class SourceCount(BaseModel):
    """A source and how many articles it has."""

    source: str
    articles: int


class StatsResponse(BaseModel):
    """What the index holds."""

    articles: int
    passages: int
    sources: list[SourceCount]
    date_min: str | None
    date_max: str | None
    generation: int
    built_at: str
    model: str
    bytes_on_disk: int

    @classmethod
    def of(cls, stats: IndexStats) -> StatsResponse:
        """From the searcher's stats."""
        data = dataclasses.asdict(stats)
        data["sources"] = [SourceCount(source=n, articles=c) for n, c in stats.sources]
        return cls(**data)


# What OpenAPI can say of the rules `ArticleIn` checks: a fetch is a `url` alone; anything else
# needs a title and a text.
_FETCH = {
    "title": "fetch",
    "required": ["url"],
    "properties": {"url": {"type": "string"}, "title": {"type": "null"}, "text": {"type": "null"}},
}
_FIELDS = {
    "title": "fields",
    "required": ["title", "text"],
    "properties": {"title": {"type": "string"}, "text": {"type": "string"}},
}
# A new article also needs an id, given or derived from its url.
_IDENTIFIED = {
    "anyOf": [
        {"required": ["id"], "properties": {"id": {"type": "string"}}},
        {"required": ["url"], "properties": {"url": {"type": "string"}}},
    ]
}


class ArticleIn(BaseModel):
    """An article to add or replace; or only `url`, to fetch and extract the page."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"anyOf": [_FETCH, _FIELDS]})

    # The URL names the article a PUT writes: an id in its body may only repeat it, so the spec
    # marks it read-only (clients need not send it).
    id: str | None = Field(
        None, max_length=200, pattern=ARTICLE_ID, json_schema_extra={"readOnly": True},
        description="The URL's id; if sent, it must be the same.",
    )  # fmt: skip
    title: str | None = Field(None, max_length=1000, pattern=TITLE)
    text: str | None = Field(None, pattern=PROSE)
    source: str | None = Field(None, max_length=500, pattern=LINE)
    author: str | None = Field(None, max_length=500, pattern=LINE)
    date: str | None = Field(None, max_length=40, pattern=DATE)
    url: str | None = Field(None, max_length=2000, pattern=URL)
    tags: (
        list[Annotated[str, Field(max_length=500, pattern=LINE)]]
        | Annotated[str, Field(max_length=5000, pattern=LINE)]
        | None
    ) = Field(None, description="Tags: a list, or one comma-separated string.")

    @model_validator(mode="after")
    def _complete(self) -> ArticleIn:
        if self.is_url_only:
            return self
        missing = [name for name in ("title", "text") if getattr(self, name) is None]
        if missing:
            raise ValueError(
                f"missing {' and '.join(missing)}: give title and text, or only a url to fetch"
            )
        return self

    @property
    def is_url_only(self) -> bool:
        """Only a URL: fetch the page and extract the article."""
        return self.url is not None and self.title is None and self.text is None


class NewArticleIn(ArticleIn):
    """An article to add: as `ArticleIn`, with an `id` or a `url` to derive one from."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"anyOf": [_FETCH, {**_FIELDS, **_IDENTIFIED}]}
    )

    id: str | None = Field(
        None, max_length=200, pattern=ARTICLE_ID,
        description="Stable id: letters, digits and `. _ : / @ + -`, starting with a letter or "
        "digit, no empty, `.` or `..` part between slashes, not ending in `/similar`. Derived "
        "from `url` when absent.",
    )  # fmt: skip

    @model_validator(mode="after")
    def _identified(self) -> NewArticleIn:
        if self.id is None and self.url is None:
            raise ValueError("give the article an `id` (or a `url` to derive one from)")
        return self


class WriteResponse(BaseModel):
    """A write that is durable and visible to searches."""

    ok: Literal[True] = True
    ids: list[str] = Field(description="The articles written or removed.")
    generation: int
    articles: int
    passages: int
    added: list[str]
    updated: list[str]
    removed: list[str]

    @classmethod
    def of(cls, report: BuildReport, ids: list[str]) -> WriteResponse:
        """From the index's report."""
        return cls(
            ids=ids, generation=report.generation, articles=report.articles,
            passages=report.passages, added=report.added, updated=report.updated,
            removed=report.removed,
        )  # fmt: skip
