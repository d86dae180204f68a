"""Combining the dense and lexical rankings into one.

Two methods, both over the union of each side's top candidates, with each candidate's exact score
on both sides:

- `score` (the default): `alpha · cosine + (1 − alpha) · bm25 / (bm25 + saturation)`. Both parts
  are absolute (no per-query normalisation), so the fused score means the same thing from one
  query to the next and a relevance floor on it is meaningful.
- `rrf`: reciprocal rank fusion, `Σ 1 / (rrf_k + rank)` over the sides a candidate is ranked on.

On SciFact's training judgments score fusion beat RRF by about two points of nDCG@10 (`make eval`
prints both); the parameters below were chosen there, never on the test judgments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["FusionSettings", "fuse", "reciprocal_rank", "saturate"]


@dataclass(frozen=True, slots=True)
class FusionSettings:
    """How hybrid mode fuses; chosen on SciFact train (see module docstring)."""

    method: Literal["score", "rrf"] = "score"
    alpha: float = 0.4  # weight of the dense cosine in score fusion
    saturation: float = 10.0  # BM25 s counts as s / (s + saturation)
    rrf_k: int = 60
    depth: int = 200  # candidates taken from each side
    # Dense pseudo-relevance feedback (Rocchio): the query vector moves towards the mean of its
    # `prf_passages` nearest passages by `prf_weight` before the dense side is searched.
    prf_weight: float = 0.0
    prf_passages: int = 5
    # Proximity: the best `proximity_depth` fused candidates gain `proximity` times the share of
    # the query's adjacent word pairs found within `proximity_window` words of each other.
    proximity: float = 0.0
    proximity_window: int = 1
    proximity_depth: int = 50
    # Title: a fused candidate gains `title` times the share of the query's words in its title.
    title: float = 0.0


def saturate(bm25: np.ndarray, saturation: float) -> np.ndarray:
    """Map BM25 scores (≥ 0, unbounded) onto [0, 1)."""
    bm25 = np.maximum(bm25, 0.0)
    return bm25 / (bm25 + saturation)


def reciprocal_rank(ranks: np.ndarray, k: int) -> np.ndarray:
    """1 / (k + rank) for 1-based ranks; 0 where the rank is 0 (not ranked on that side)."""
    ranks = np.asarray(ranks, dtype=np.float64)
    return np.where(ranks > 0, 1.0 / (k + np.maximum(ranks, 1)), 0.0)


def fuse(
    cosine: np.ndarray,
    bm25: np.ndarray,
    dense_ranks: np.ndarray,
    lexical_ranks: np.ndarray,
    settings: FusionSettings,
) -> np.ndarray:
    """Fused scores of candidates, given both sides' scores and 1-based ranks (0 = unranked)."""
    if settings.method == "rrf":
        return reciprocal_rank(dense_ranks, settings.rrf_k) + reciprocal_rank(
            lexical_ranks, settings.rrf_k
        )
    return settings.alpha * np.asarray(cosine, dtype=np.float64) + (1 - settings.alpha) * saturate(
        np.asarray(bm25, dtype=np.float64), settings.saturation
    )
