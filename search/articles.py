"""Ranking articles from their passages' scores.

An article's score is its passages' scores, best first, summed with a geometric decay:
`s1 + decay·s2 + decay²·s3 + …` over its best `top` passages. `decay = 0` is the best passage
alone (MaxP); `decay = 1, top = n` is the sum of the best n (SumP). A long speech that discusses
a topic in several passages then ranks above a short one that mentions it once, while one strong
passage still beats many faint ones (Dai & Callan, "Deeper text understanding for IR with
contextual neural language modeling", SIGIR 2019, compare MaxP, FirstP and SumP; Callan,
"Passage-level evidence in document retrieval", SIGIR 1994).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ArticleRanking", "ArticleSettings", "rank_articles"]


@dataclass(frozen=True, slots=True)
class ArticleSettings:
    """How passages' scores make an article's (module docstring)."""

    decay: float = 0.0
    top: int = 3
    facet_limit: int = 20  # values a facet lists, the most frequent first (years: every one)


@dataclass(frozen=True, slots=True)
class ArticleRanking:
    """Articles in rank order: each one's key, score, best passage's position and match count."""

    articles: np.ndarray  # the `article_of` keys, best first
    scores: np.ndarray
    best: np.ndarray  # position of each article's best passage in the passage ranking
    counts: np.ndarray  # how many of the ranked passages are the article's


def rank_articles(
    article_of: np.ndarray, scores: np.ndarray, settings: ArticleSettings
) -> ArticleRanking:
    """Rank the articles of a passage ranking (`article_of[i]`, `scores[i]`, best first).

    Ties keep the order of each article's best passage, so `decay = 0` is exactly the order of
    first appearance.
    """
    article_of = np.asarray(article_of)
    scores = np.asarray(scores, dtype=np.float64)
    if len(article_of) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return ArticleRanking(article_of[:0], np.zeros(0), empty, empty)
    keys, first, inverse, counts = np.unique(
        article_of, return_index=True, return_inverse=True, return_counts=True
    )
    total = scores[first].copy()
    if settings.decay > 0 and settings.top > 1:
        # The passages come best first, so a passage's place within its article is how many of
        # the article's passages came before it.
        order = np.argsort(inverse, kind="stable")
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        place = np.empty(len(inverse), dtype=np.int64)
        place[order] = np.arange(len(inverse)) - np.repeat(starts, counts)
        extra = (place > 0) & (place < settings.top)
        weights = np.power(settings.decay, place[extra])
        np.add.at(total, inverse[extra], weights * scores[extra])
    ranked = np.lexsort((first, -total))
    return ArticleRanking(keys[ranked], total[ranked], first[ranked], counts[ranked])
