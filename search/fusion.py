"""Combining the dense and lexical rankings into one.

Two methods, both over the union of each side's top candidates, with each candidate's exact score
on both sides:

- `score` (the default): `alpha · cosine + (1 − alpha) · bm25 / (bm25 + saturation)`. Both parts
  are absolute (no per-query normalisation), so the fused score means the same thing from one
  query to the next and a relevance floor on it is meaningful.
- `rrf`: reciprocal rank fusion, `Σ 1 / (rrf_k + rank)` over the sides a candidate is ranked on.

Then hybrid mode moves the query vector towards its fused ranking's best passages (dense
pseudo-relevance feedback: Rocchio, "Relevance feedback in information retrieval", 1971, on dense
vectors as in Li et al., "Pseudo relevance feedback with deep language models and dense
retrievers: successes and pitfalls", TOIS 2023) and scores the same candidates again: the lexical
scores stay, the cosine is the moved vector's, and the relevance floor the candidates passed
(on the query's own cosine) stands. Feedback from the fused ranking, not the dense one, is what
helped: its top passages are more often on topic. Searching the dense side again with the moved
vector scored the same as re-scoring, at twice the FAISS time.

The fusion's weight and saturation were chosen on SciFact's training judgments (score fusion beat
RRF there by about two points of nDCG@10); the feedback on the tune half of the judged policy
questions (bench/judged/), kept because it helped on their report half too and left SciFact's test
figure as it was (0.4 lower on its training queries). Never on a test or report half alone.
`bench/judged/levers.py` measures every lever tried, these and the ones left off (proximity,
title, per-query BM25 scaling), on all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["FusionSettings", "fuse", "reciprocal_rank", "saturate"]


@dataclass(frozen=True, slots=True)
class FusionSettings:
    """How hybrid mode fuses (see the module docstring for how each default was chosen)."""

    method: Literal["score", "rrf"] = "score"
    alpha: float = 0.4  # weight of the dense cosine in score fusion
    saturation: float = 10.0  # BM25 s counts as s / (s + saturation)
    # `max`: BM25 divided by the query's best candidate's instead (per-query, not absolute)
    lexical_scale: Literal["saturate", "max"] = "saturate"
    rrf_k: int = 60
    depth: int = 200  # candidates taken from each side
    # Dense pseudo-relevance feedback (Rocchio): the query vector plus `prf_weight` times the mean
    # of the top `prf_passages` passages of the fused ranking (`hybrid`) or of the dense side
    # alone (`dense`, which searches again), normalised, scores the candidates. 0 turns it off.
    prf_weight: float = 1.0
    prf_passages: int = 3
    prf_source: Literal["dense", "hybrid"] = "hybrid"
    prf_search: bool = False  # True: search the dense side again; False: re-score the candidates
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
    bm25 = np.maximum(np.asarray(bm25, dtype=np.float64), 0.0)
    if settings.lexical_scale == "max":
        lexical = bm25 / max(float(bm25.max(initial=0.0)), 1e-12)
    else:
        lexical = saturate(bm25, settings.saturation)
    return settings.alpha * np.asarray(cosine, dtype=np.float64) + (1 - settings.alpha) * lexical
