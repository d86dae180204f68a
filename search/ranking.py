"""The records a search returns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "ArticleRecord",
    "Explanation",
    "Hit",
    "IndexStats",
    "Ranking",
    "SearchResult",
    "SimilarArticle",
]


@dataclass(frozen=True, slots=True)
class ArticleRecord:
    """An article's metadata, and its text when asked for."""

    id: str
    title: str
    source: str | None
    author: str | None
    date: str | None
    url: str | None
    tags: tuple[str, ...]
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Explanation:
    """The two rankings behind a hit's score; a rank is None beyond each side's candidates."""

    dense_rank: int | None
    dense_score: float | None  # None: not computed (lexical mode)
    lexical_rank: int | None
    lexical_score: float | None  # None: not computed (dense mode)
    fusion: str  # "score" or "rrf" in hybrid mode, else "none"


@dataclass(frozen=True, slots=True)
class Hit:
    """One ranked passage with its article."""

    rank: int
    score: float
    passage_id: int
    start: int
    end: int
    text: str
    highlights: list[tuple[int, int]]
    article: ArticleRecord
    explanation: Explanation | None = None
    more: int | None = None  # grouped by article: how many more of its passages matched


@dataclass(frozen=True, slots=True)
class SearchResult:
    """The answer to one query."""

    query: str
    mode: str
    took_ms: float
    total: int
    hits: list[Hit]


@dataclass(frozen=True, slots=True)
class SimilarArticle:
    """An article near another one, with the cosine of its closest passage."""

    article: ArticleRecord
    score: float


@dataclass(frozen=True, slots=True)
class IndexStats:
    """What an index holds."""

    articles: int
    passages: int
    sources: list[tuple[str, int]]
    date_min: str | None
    date_max: str | None
    generation: int
    built_at: str
    model: str
    bytes_on_disk: int


@dataclass(frozen=True, slots=True)
class Ranking:
    """Candidates in rank order with both sides' evidence (ranks 1-based, 0 = not ranked)."""

    ids: np.ndarray
    scores: np.ndarray
    cosine: np.ndarray
    bm25: np.ndarray
    dense_ranks: np.ndarray
    lexical_ranks: np.ndarray
    total: int = 0  # passages that pass the floor: exact for words, within candidates for meaning
