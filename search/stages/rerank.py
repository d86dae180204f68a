"""The rerank stage: the learned ranker (the model itself is `search.rerank`) and every
candidate's confidence.

Hybrid mode keeps its fused order with a calibrated confidence, or, with `learned_order`, is
ordered by the ranker's score of each candidate's features; dense and lexical modes keep their
order, each with its own calibration. Without a ranker no hit has a confidence (0) and no floor
holds one back. A query in a language the model does not read matched by chance: its
confidence is capped at FOREIGN_CONFIDENCE.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np

from policy_search.search.features import FeatureSettings, candidate_features
from policy_search.search.language import LanguageGuess
from policy_search.search.ranking import Ranking
from policy_search.search.rerank import Ranker, reorder
from policy_search.search.stages.rank import Scoring, title_share

__all__ = ["FOREIGN_CONFIDENCE", "Reranking", "candidate_rows", "discount_foreign", "rerank"]

# The confidence of every hit of a query in a language the model does not read (language.py):
# its hits match by chance, below any confidence floor a person would set.
FOREIGN_CONFIDENCE = 0.05


@dataclass(frozen=True, slots=True)
class Reranking:
    """The learned ranker and its calibrations (None: none, and no confidence), and whether
    it orders hybrid mode (otherwise the fused order stands, its confidence calibrated)."""

    ranker: Ranker | None
    learned_order: bool = False

    def learns(self, mode: str) -> bool:
        """Whether the ranker orders this mode's candidates."""
        return mode == "hybrid" and self.ranker is not None and self.learned_order

    def fused_floor(self, mode: str, min_score: float | None) -> float | None:
        """The floor the fused ranking is held to: a min_score is a floor on the scores shown,
        the ranker's where it orders, which come after fusion (so none before it)."""
        return -np.inf if self.learns(mode) and min_score is not None else min_score


def rerank(
    scoring: Scoring,
    reranking: Reranking,
    ranking: Ranking,
    terms: list[str],
    mode: str,
    min_score: float | None = None,
) -> Ranking:
    """The fused ranking with each candidate's confidence, re-ordered by the ranker where it
    orders (then only the candidates whose new score meets `min_score`)."""
    ranking = _confident(scoring, reranking, ranking, terms, mode)
    if reranking.learns(mode) and min_score is not None:
        keep = int(np.count_nonzero(ranking.scores >= min_score))  # a prefix: by score
        ranking = ranking.take(np.arange(keep))  # a prefix: by score
    return ranking


def _confident(
    scoring: Scoring, reranking: Reranking, ranking: Ranking, terms: list[str], mode: str
) -> Ranking:
    """The ranking re-scored by the learned ranker (hybrid mode), with confidences."""
    ranker = reranking.ranker
    if ranker is None:  # no calibrations: no confidence (0 on the hits), and no floor
        return ranking
    if mode == "hybrid" and not reranking.learned_order:  # the fused order, its confidence
        articles = scoring.corpus.article_keys(ranking.ids)
        confidence = ranker.fused_confidence(ranking, len(set(terms)), articles)
        return dataclasses.replace(ranking, confidence=confidence)
    if mode != "hybrid":  # the plain halves keep their order
        confidence = ranker.confidence(mode, ranking.scores, len(set(terms)))
        return dataclasses.replace(ranking, confidence=confidence)
    rows = candidate_rows(scoring, ranking, terms, ranker.features)
    scores = ranker.score(rows)
    return reorder(ranking, scores, ranker.hybrid_confidence(rows, scores))


def candidate_rows(
    scoring: Scoring, ranking: Ranking, terms: list[str], settings: FeatureSettings
) -> np.ndarray:
    """What the ranker reads of each of the ranking's candidates (`search.features`)."""
    corpus = scoring.corpus
    return candidate_features(
        ranking, terms, corpus=corpus, passages=corpus.passage_rows,
        passage_count=corpus.passages, analyzer=scoring.analyzer,
        title_share=functools.partial(title_share, scoring), settings=settings,
    )  # fmt: skip


def discount_foreign(ranking: Ranking, language: LanguageGuess) -> Ranking:
    """The ranking, its confidence capped at FOREIGN_CONFIDENCE where the query's language is
    one the model does not read (it matched by chance)."""
    if language.foreign and ranking.confidence is not None:
        return dataclasses.replace(
            ranking, confidence=np.minimum(ranking.confidence, FOREIGN_CONFIDENCE)
        )
    return ranking
