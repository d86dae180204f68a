"""Request and response models of the HTTP API, named by direction."""

from __future__ import annotations

import dataclasses
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from search.searcher import MAX_K, MAX_OFFSET, MAX_QUERY_CHARS, ArticleRecord, Hit, SearchResult

__all__ = [
    "ArticleOut",
    "ArticleResponse",
    "ErrorResponse",
    "ExplanationOut",
    "HealthResponse",
    "HitOut",
    "PassageOut",
    "SearchRequest",
    "SearchResponse",
]


class SearchRequest(BaseModel):
    """A query: the same fields as GET query parameters or a POST JSON body."""

    model_config = ConfigDict(extra="forbid")

    q: str = Field(..., min_length=1, max_length=MAX_QUERY_CHARS, description="What to look for.")
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

    @field_validator("q")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the query is empty: give some words to search for")
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
            explain=explain,
        )  # fmt: skip


class SearchResponse(BaseModel):
    """Ranked passages for a query."""

    query: str
    mode: str
    took_ms: float
    total: int = Field(
        description="How many passages passed the relevance floor (of at most 200 candidates "
        "from each side, or offset + k if more)."
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
