"""A query's candidates in rank order: the array work between the index and the hits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Ranking", "rank_order"]


def rank_order(ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Indices that sort by score descending, ties by passage id (a stable order for paging)."""
    return np.lexsort((ids, -scores))


@dataclass(frozen=True, slots=True)
class Ranking:
    """Candidates in rank order with both sides' evidence (ranks 1-based, 0 = not ranked).

    `cosine` and `dense_ranks` are the query's own, as asked; `feedback` is the cosine of the
    query moved by pseudo-relevance feedback, which the fused `scores` read (None without it).
    `confidence`: each candidate's probability of answering the query (`search.confidence`),
    non-increasing along the ranking (None before it is computed).
    """

    ids: np.ndarray
    scores: np.ndarray
    cosine: np.ndarray
    bm25: np.ndarray
    dense_ranks: np.ndarray
    lexical_ranks: np.ndarray
    # What paging yields: the candidates past the floor; in lexical mode every passage with a
    # query word (BM25 is exact over the whole index), candidate or not.
    total: int = 0
    feedback: np.ndarray | None = None
    confidence: np.ndarray | None = None

    def take(self, keep: np.ndarray) -> Ranking:
        """The candidates where `keep` (a mask, or positions in order) selects, in the same
        order; they are all that paging yields (`total`)."""
        feedback = self.feedback[keep] if self.feedback is not None else None
        confidence = self.confidence[keep] if self.confidence is not None else None
        ids = self.ids[keep]
        return Ranking(ids, self.scores[keep], self.cosine[keep], self.bm25[keep],
                       self.dense_ranks[keep], self.lexical_ranks[keep], len(ids), feedback,
                       confidence)  # fmt: skip
