"""The rank stage: a query's candidates in rank order, pure array work over the corpus.

Each side proposes candidates (dense: FAISS, lexical: BM25), every candidate is scored on both
sides, the scores are fused (`search.fusion`); in hybrid mode the query vector then moves
toward its best fused passages (dense pseudo-relevance feedback) and the candidates are scored
again. The relevance floor keeps the candidates worth showing (DENSE_FLOOR, MEANING_FLOOR); a
query with phrases keeps only the candidates that hold them.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Unpack

import numpy as np

from policy_search.index.storage.lexical import Analyzer
from policy_search.search.fusion import FusionSettings, fuse
from policy_search.search.query import Matching
from policy_search.search.ranking import Ranking, rank_order
from policy_search.search.stages import Corpus, Evidence, Pass

__all__ = [
    "DENSE_FLOOR",
    "MEANING_FLOOR",
    "Scoring",
    "holding_phrases",
    "rank",
    "relevant",
    "title_share",
]

# The default relevance floor, chosen on SciFact's training judgments (README, "Relevance floor"):
# dense mode shows passages with cosine >= DENSE_FLOOR (keeps every judged relevant pair, drops
# 97.7% of off-topic queries' best hits); hybrid mode shows passages that share a word with the
# query, or, sharing none, have cosine >= MEANING_FLOOR (keeps 99.35% of relevant pairs).
DENSE_FLOOR = 0.12
MEANING_FLOOR = 0.30


@dataclass(frozen=True, slots=True)
class Scoring:
    """What ranking reads besides the query: the corpus at one commit, how to fuse, how its
    passages were analysed, and a cache of its articles' title stems (by article key)."""

    corpus: Corpus
    fusion: FusionSettings
    analyzer: Analyzer
    titles: dict[int, frozenset[str]] = field(default_factory=dict)


def rank(
    scoring: Scoring,
    vector: np.ndarray,
    terms: list[str],
    **options: Unpack[Pass],
) -> Ranking:
    """The fused ranking (each side's own in dense and lexical modes), with dense
    pseudo-relevance feedback in hybrid mode; `allowed` (the corpus's `restrict` of the query's
    filters) restricts both sides before ranking."""
    vector = np.asarray(vector, dtype=np.float32).reshape(-1)
    corpus, fusion = scoring.corpus, scoring.fusion
    # Both sides' candidates and each one's score on the other side, in one request of
    # the corpus (two rounds of calls to a sharded index's shards).
    evidence = corpus.evidence(vector, terms, **options)
    mode, min_score, allowed = options["mode"], options.get("min_score"), options.get("allowed")
    args = (terms, mode, min_score)
    if mode != "hybrid" or fusion.prf_weight <= 0 or not vector.any():
        # Dense and lexical modes stay the plain halves the hybrid is measured against.
        return score(scoring, evidence, *args)
    first = None
    if fusion.prf_source == "dense":
        top, _ = corpus.dense_top(vector, fusion.prf_passages, allowed)
    else:
        # A min_score is a floor on the final score, which feedback moves: the first pass
        # keeps every candidate, and the final scores meet the floor.
        floor = -np.inf if min_score is not None else None
        first = score(scoring, evidence, terms, mode, floor, bonuses=False)
        # All tied with the last fed back: ids (the write history) never pick among equals.
        top = first.ids[first.scores >= first.scores[: fusion.prf_passages].min(initial=np.inf)]
    if len(top) == 0:
        return first or score(scoring, evidence, *args)
    moved = vector + fusion.prf_weight * corpus.vectors(top).mean(axis=0)
    moved = (moved / max(float(np.linalg.norm(moved)), 1e-12)).astype(np.float32)
    if first is not None and not fusion.prf_search:
        return rescore(scoring, first, moved, terms, min_score)
    return score(scoring, evidence.again(moved), *args, floor=vector)


def rescore(
    scoring: Scoring, first: Ranking, moved: np.ndarray, terms: list[str], min_score: float | None
) -> Ranking:
    """The first ranking's candidates scored again with the moved vector (no new search):
    the default floor it passed stays (it reads the query's own cosine and BM25), a
    `min_score` is met by the new scores; the dense ranks are re-counted among its dense
    candidates."""
    cosine = scoring.corpus.cosine(moved, first.ids).astype(np.float32)
    dense = first.dense_ranks > 0
    dense_ranks = np.zeros(len(first.ids), dtype=np.int64)
    dense_ranks[np.flatnonzero(dense)[np.argsort(-cosine[dense], kind="stable")]] = np.arange(
        1, int(dense.sum()) + 1
    )
    fused = fuse(cosine, first.bm25, dense_ranks, first.lexical_ranks, scoring.fusion)
    scores = _bonuses(scoring, first.ids, fused, terms)
    keep = np.flatnonzero(scores >= min_score) if min_score is not None else None
    if keep is not None:
        first = Ranking(first.ids[keep], first.scores[keep], first.cosine[keep],
                        first.bm25[keep], first.dense_ranks[keep], first.lexical_ranks[keep],
                        len(keep))  # fmt: skip
        scores, cosine = scores[keep], cosine[keep]
    order = rank_order(first.ids, scores)
    return Ranking(first.ids[order], scores[order], first.cosine[order], first.bm25[order],
                   first.dense_ranks[order], first.lexical_ranks[order], first.total,
                   feedback=cosine[order])  # fmt: skip


def score(
    scoring: Scoring,
    evidence: Evidence,
    terms: list[str],
    mode: str,
    min_score: float | None,
    *,
    floor: np.ndarray | None = None,
    bonuses: bool = True,
) -> Ranking:
    """The ranking of one query vector's evidence (both sides' candidates and their scores);
    `floor`: the vector whose cosine the relevance floor reads (the query's own, when feedback
    has moved the vector); `bonuses`: add the phrase and title bonuses (the final scoring does)."""
    dense_ids, dense_scores = evidence.dense_ids, evidence.dense_scores
    lexical_ids = evidence.lexical_ids
    ids = np.unique(np.concatenate([dense_ids, lexical_ids]))
    dense_ranks = _ranks_of(ids, dense_ids)
    lexical_ranks = _ranks_of(ids, lexical_ids)
    cosine = np.zeros(len(ids), dtype=np.float32)
    if mode != "lexical":  # FAISS scored its own candidates; score the lexical side's here
        cosine[dense_ranks > 0] = dense_scores[dense_ranks[dense_ranks > 0] - 1]
        cosine[dense_ranks == 0] = evidence.cosine(ids[dense_ranks == 0])
    bm25 = evidence.bm25(ids) if mode != "dense" else np.zeros(len(ids), np.float32)
    if mode == "dense":
        scores = cosine.astype(np.float64)
    elif mode == "lexical":
        scores = bm25.astype(np.float64)
    else:
        scores = fuse(cosine, bm25, dense_ranks, lexical_ranks, scoring.fusion)
        if bonuses:
            scores = _bonuses(scoring, ids, scores, terms)
    meaning = cosine if floor is None else scoring.corpus.cosine(floor, ids)
    keep = relevant(mode, scores, meaning, bm25, min_score)
    ranking = [a[keep] for a in (ids, scores, cosine, bm25, dense_ranks, lexical_ranks)]
    order = rank_order(ranking[0], ranking[1])
    total = int(keep.sum())
    if mode == "lexical":  # exact: the matches beyond the candidates
        total = evidence.matched
    ids, scores, cosine, bm25, dense_ranks, lexical_ranks = (a[order] for a in ranking)
    if floor is None:
        return Ranking(ids, scores, cosine, bm25, dense_ranks, lexical_ranks, total)
    # Feedback moved the vector: keep the query's own cosine beside the moved one.
    own = meaning[keep][order]
    return Ranking(ids, scores, own, bm25, dense_ranks, lexical_ranks, total, feedback=cosine)


def _bonuses(scoring: Scoring, ids: np.ndarray, scores: np.ndarray, terms: list[str]) -> np.ndarray:
    """Fused scores after the phrase and title bonuses, where they are on."""
    if scoring.fusion.proximity > 0:
        scores = _proximity(scoring, ids, scores, terms)
    if scoring.fusion.title > 0:
        scores = scores + scoring.fusion.title * title_share(scoring, ids, terms)
    return scores


def _proximity(
    scoring: Scoring, ids: np.ndarray, scores: np.ndarray, terms: list[str]
) -> np.ndarray:
    """Scores after the phrase bonus (FusionSettings.proximity*): each of the best
    `proximity_depth` candidates gains `proximity` times the share of the query's adjacent
    word pairs it has within `proximity_window` words of each other."""
    fusion = scoring.fusion
    pairs = {(a, b) for a, b in itertools.pairwise(terms) if a != b}
    if not pairs or len(ids) == 0:
        return scores
    depth = min(fusion.proximity_depth, len(ids))
    top = np.argpartition(-scores, depth - 1)[:depth]
    rows = scoring.corpus.passage_rows([int(ids[i]) for i in top])
    scores = scores.copy()
    for i in top:
        row = rows.get(int(ids[i]))
        if row is None:
            continue
        found = scoring.analyzer.pairs_near(row.text, pairs, fusion.proximity_window)
        scores[i] += fusion.proximity * len(found) / len(pairs)
    return scores


def title_share(scoring: Scoring, ids: np.ndarray, terms: list[str]) -> np.ndarray:
    """The share of the query's distinct words in each passage's article title."""
    wanted = set(terms)
    if not wanted or len(ids) == 0:
        return np.zeros(len(ids))
    rowids = scoring.corpus.article_keys(ids)
    distinct = np.unique(rowids).tolist()
    titles = scoring.titles
    missing = [r for r in distinct if r not in titles]
    if missing:
        for rowid, meta in scoring.corpus.article_metas(missing).items():
            titles[rowid] = frozenset(scoring.analyzer.terms(meta.title))
    shares = {r: len(wanted & titles.get(r, frozenset())) / len(wanted) for r in distinct}
    return np.array([shares[r] for r in rowids.tolist()])


def relevant(
    mode: str,
    scores: np.ndarray,
    cosine: np.ndarray,
    bm25: np.ndarray,
    min_score: float | None,
) -> np.ndarray:
    """Which candidates are relevant enough to show (see DENSE_FLOOR, MEANING_FLOOR)."""
    if min_score is not None:
        keep = scores >= min_score
    elif mode == "dense":
        keep = cosine >= DENSE_FLOOR
    elif mode == "lexical":
        keep = np.ones(len(scores), dtype=bool)
    else:
        keep = (bm25 > 0) | (cosine >= MEANING_FLOOR)
    if mode == "lexical":
        keep &= bm25 > 0
    return keep


def holding_phrases(scoring: Scoring, ranking: Ranking, matching: Matching) -> Ranking:
    """The ranking's candidates that hold each of the query's phrases and none of its
    excluded phrases (their words side by side, in order), read from their text."""
    rows = scoring.corpus.passage_rows(ranking.ids.tolist())
    analyzer = scoring.analyzer
    keep = np.zeros(len(ranking.ids), dtype=bool)
    for i, pid in enumerate(ranking.ids.tolist()):
        row = rows.get(pid)
        if row is None:
            continue
        text = row.text
        keep[i] = all(analyzer.phrase_spans(text, p) for p in matching.phrases) and not any(
            analyzer.phrase_spans(text, p) for p in matching.excluded_phrases
        )
    return ranking.take(keep)


def _ranks_of(ids: np.ndarray, ranked: np.ndarray) -> np.ndarray:
    """1-based rank of each of the sorted `ids` in `ranked` (a subset of them), 0 where absent."""
    ranks = np.zeros(len(ids), dtype=np.int64)
    ranks[np.searchsorted(ids, ranked)] = np.arange(1, len(ranked) + 1)
    return ranks
