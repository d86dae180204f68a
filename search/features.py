"""What the learned ranker reads of each hybrid candidate: its evidence, one row of numbers.

A query's fused ranking (`Ranking`) already holds both sides' scores and ranks; this module adds
what the passage's words say about it, read from the passage's text for the best `text_depth`
candidates (in fused order): the share of the query's distinct words it holds (plain and weighted
by idf), the share of the query's adjacent word pairs found side by side (a phrase) and within a
few words (proximity), and the article's title; then the article's other passages among the
candidates, and each score beside the query's best (so that one query's scores can be compared
with another's, which calibration needs).

Phrase and proximity follow `Analyzer.pairs_near`'s rule (a pair is found when the second word
follows the first with fewer than `window` indexed words between them), counted here on the
passage's stems, which the word shares need anyway: one reading of the text instead of three
(0.05 ms a passage instead of 0.4; tests/search/test_rerank.py checks both agree).

Candidates past `text_depth` keep zeros for the text's features and a 0 `read` flag, the same at
training and at query time (`bench/train_ranker.py` builds its rows with this module), so the
model learns what an unread candidate is worth rather than being told it holds no word.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from policy_search.index.storage.catalog import PassageRow
from policy_search.index.storage.lexical import Analyzer
from policy_search.search.corpus import Corpus
from policy_search.search.fusion import FusionSettings, fuse
from policy_search.search.ranking import Ranking

__all__ = ["FEATURES", "FeatureSettings", "candidate_features"]

FEATURES: tuple[str, ...] = (
    "cosine",  # the query's own cosine
    "feedback",  # the cosine of the query moved by pseudo-relevance feedback (own without it)
    "bm25",  # raw BM25, log(1 + s)
    "bm25_saturated",  # s / (s + 10)
    "dense_rank",  # 1-based, ties sharing the best; ABSENT where the side did not propose it
    "lexical_rank",
    "fused",  # score fusion as shipped (alpha 0.4, saturation 10) of feedback cosine and BM25
    "terms",  # share of the query's distinct words in the passage
    "terms_idf",  # the same, each word weighted by its idf
    "phrase",  # share of the query's adjacent word pairs found side by side
    "near",  # ... found within NEAR_WINDOW words, in order
    "title",  # share of the query's distinct words in the article's title
    "article_passages",  # the article's passages among the candidates
    "article_other",  # the best fused score of the article's other candidates (0: none)
    "cosine_gap",  # cosine − the query's best candidate's
    "feedback_gap",
    "bm25_share",  # BM25 / the query's best candidate's
    "fused_gap",
    "query_terms",  # distinct words in the query
    "read",  # 1 where the text's features were read (the best `text_depth` candidates)
)
ABSENT = 10_000  # the rank of a candidate a side did not propose
NEAR_WINDOW = 5
# The fusion the `fused` feature reads: fixed, so that a searcher's own fusion settings (RRF,
# another weight) never change what the model was trained on.
_SHIPPED = FusionSettings()


@dataclass(frozen=True, slots=True)
class FeatureSettings:
    """How many candidates have their text read (the phrase, proximity and word features)."""

    text_depth: int = 10


def candidate_features(
    ranking: Ranking,
    terms: list[str],
    *,
    corpus: Corpus,
    passages: Callable[[list[int]], dict[int, PassageRow]],
    passage_count: int,
    analyzer: Analyzer,
    title_share: Callable[[np.ndarray, list[str]], np.ndarray],
    settings: FeatureSettings,
) -> np.ndarray:
    """One row of FEATURES for each of the ranking's candidates, in its order."""
    n = len(ranking.ids)
    out = np.zeros((n, len(FEATURES)), dtype=np.float64)
    if n == 0:
        return out
    col = {name: j for j, name in enumerate(FEATURES)}
    cosine = ranking.cosine.astype(np.float64)
    feedback = cosine if ranking.feedback is None else ranking.feedback.astype(np.float64)
    bm25 = np.maximum(ranking.bm25.astype(np.float64), 0.0)
    fused = fuse(feedback, bm25, ranking.dense_ranks, ranking.lexical_ranks, _SHIPPED)
    out[:, col["cosine"]] = cosine
    out[:, col["feedback"]] = feedback
    out[:, col["bm25"]] = np.log1p(bm25)
    out[:, col["bm25_saturated"]] = bm25 / (bm25 + _SHIPPED.saturation)
    out[:, col["dense_rank"]] = _tied_ranks(feedback, ranking.dense_ranks > 0)
    out[:, col["lexical_rank"]] = _tied_ranks(bm25, ranking.lexical_ranks > 0)
    out[:, col["fused"]] = fused
    out[:, col["cosine_gap"]] = cosine - cosine.max()
    out[:, col["feedback_gap"]] = feedback - feedback.max()
    out[:, col["bm25_share"]] = bm25 / max(float(bm25.max()), 1e-9)
    out[:, col["fused_gap"]] = fused - fused.max()
    distinct = list(dict.fromkeys(terms))
    out[:, col["query_terms"]] = len(distinct)
    count, other = _article_evidence(corpus.article_keys(ranking.ids), fused)
    out[:, col["article_passages"]] = count
    out[:, col["article_other"]] = other
    if distinct:
        out[:, col["title"]] = title_share(ranking.ids, terms)
    depth = min(settings.text_depth, n)
    rows = passages([int(i) for i in ranking.ids[:depth]])
    weights = _idf(distinct, corpus.document_frequencies(distinct), passage_count)
    for i in range(depth):
        row = rows.get(int(ranking.ids[i]))
        if row is not None:
            out[i, col["terms"] : col["near"] + 1] = _text_features(
                row.text, terms, distinct, weights, analyzer
            )
            out[i, col["read"]] = 1.0
    return out


def _tied_ranks(scores: np.ndarray, proposed: np.ndarray) -> np.ndarray:
    """Each proposed candidate's rank on its side, equal scores sharing the best of their ranks
    (the ranking's own ranks break ties by passage id, which says nothing of relevance);
    ABSENT for the others. The dense side ranks by the cosine the fusion read."""
    out = np.full(len(scores), float(ABSENT))
    mine = scores[proposed]
    ordered = np.sort(-mine)
    out[proposed] = 1 + np.searchsorted(ordered, -mine, side="left")
    return out


def _idf(distinct: Sequence[str], frequencies: np.ndarray, passages: int) -> dict[str, float]:
    """BM25's idf of each distinct query word (`frequencies` in sorted order of the words)."""
    by_word = dict(zip(sorted(distinct), np.asarray(frequencies).tolist(), strict=True))
    return {w: math.log(1.0 + (passages - by_word[w] + 0.5) / (by_word[w] + 0.5)) for w in distinct}


def _text_features(
    text: str,
    terms: list[str],
    distinct: list[str],
    idf: dict[str, float],
    analyzer: Analyzer,
) -> list[float]:
    """terms, terms_idf, phrase, near of one passage."""
    if not distinct:
        return [0.0, 0.0, 0.0, 0.0]
    wanted = set(distinct)
    where: dict[str, list[int]] = {}
    for i, stem in enumerate(analyzer.terms(text)):
        if stem in wanted:
            where.setdefault(stem, []).append(i)
    total_idf = sum(idf.values()) or 1.0
    pairs = {(a, b) for a, b in itertools.pairwise(terms) if a != b}
    phrase = near = 0.0
    if pairs and len(where) >= 2:
        gaps = [_gap(where.get(a, []), where.get(b, [])) for a, b in pairs]
        phrase = sum(1 for g in gaps if g <= 1) / len(pairs)
        near = sum(1 for g in gaps if g <= NEAR_WINDOW) / len(pairs)
    return [len(where) / len(distinct), sum(idf[w] for w in where) / total_idf, phrase, near]


def _gap(first: list[int], second: list[int]) -> int:
    """The fewest indexed words from an occurrence of the first word to a later one of the
    second (1: side by side, stop words aside), as `Analyzer.pairs_near` counts its window;
    a large number where the second never follows the first."""
    best = 1 << 30
    for j in second:
        k = bisect.bisect_left(first, j) - 1
        if k >= 0:
            best = min(best, j - first[k])
    return best


def _article_evidence(articles: np.ndarray, fused: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each candidate: how many candidates are its article's, and the best fused score of
    the article's others (0 with none)."""
    keys, inverse, counts = np.unique(articles, return_inverse=True, return_counts=True)
    best = np.full(len(keys), -np.inf)
    np.maximum.at(best, inverse, fused)
    second = np.full(len(keys), -np.inf)
    # The second best per article: the best among those that are not the article's best.
    is_best = fused >= best[inverse]
    first_best = np.zeros(len(fused), dtype=bool)
    seen: set[int] = set()
    for i in np.flatnonzero(is_best).tolist():
        if int(inverse[i]) not in seen:
            seen.add(int(inverse[i]))
            first_best[i] = True
    np.maximum.at(second, inverse[~first_best], fused[~first_best])
    other = np.where(first_best, second[inverse], best[inverse])
    return counts[inverse].astype(np.float64), np.where(np.isfinite(other), other, 0.0)
