"""Hybrid mode's dense pseudo-relevance feedback (FusionSettings.prf_*), on the demo corpus.

Plumbing only: the fake embedder's vectors are hashed words, so these tests check what feedback
may and may not change, not whether it ranks better (bench/judged/ measures that, with the model).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from policy_search.index.build import build_index
from policy_search.index.readers import read_paths
from policy_search.search.filters import Filters
from policy_search.search.fusion import FusionSettings
from policy_search.search.searcher import MEANING_FLOOR, Searcher
from tests.conftest import CORPUS
from tests.fakes import FakeEmbedder

QUERIES = ["Middle Corridor", "energy routes that avoid Russia", "zebra unicorn", "the Caspian"]
OFF = dataclasses.replace(FusionSettings(), prf_weight=0.0)


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    index_dir = tmp_path_factory.mktemp("feedback") / "index"
    build_index(read_paths([CORPUS]), index_dir, FakeEmbedder())
    return index_dir


def _searchers(index: Path) -> tuple[Searcher, Searcher]:
    embedder = FakeEmbedder()
    with_feedback = Searcher.load(index, embedder)
    assert with_feedback.fusion.prf_weight > 0  # the default
    return with_feedback, Searcher.load(index, embedder, fusion=OFF)


@pytest.mark.parametrize("mode", ["dense", "lexical"])
def test_the_plain_halves_never_use_feedback(index: Path, mode: str) -> None:
    on, off = _searchers(index)
    for query in QUERIES:
        a, b = on.search(query, k=20, mode=mode), off.search(query, k=20, mode=mode)
        pairs = [(h.passage.id, h.score) for h in a.hits]
        assert pairs == [(h.passage.id, h.score) for h in b.hits]
        assert a.total == b.total


def test_feedback_moves_the_dense_side_and_keeps_the_lexical_scores(index: Path) -> None:
    on, off = _searchers(index)
    moved = 0
    for query in QUERIES[:2]:
        vector = on.queries.vector(query)
        terms = on.analyzer.terms(query)
        a = on.rank(vector, terms, mode="hybrid", depth=50)
        b = off.rank(vector, terms, mode="hybrid", depth=50)
        common, ia, ib = np.intersect1d(a.ids, b.ids, return_indices=True)
        assert len(common) > 0
        np.testing.assert_array_equal(a.bm25[ia], b.bm25[ib])  # BM25 is the query's own
        np.testing.assert_allclose(a.cosine[ia], b.cosine[ib], atol=1e-6)  # and so is `cosine`
        assert a.feedback is not None and b.feedback is None
        moved += int(not np.allclose(a.feedback[ia], b.cosine[ib]))
    assert moved == 2  # the fused scores read another vector's cosine


def test_feedback_lets_nothing_past_the_floor_that_the_query_itself_would_not(index: Path) -> None:
    on, _ = _searchers(index)
    for query in QUERIES:
        vector = on.queries.vector(query)
        ranking = on.rank(vector, on.analyzer.terms(query), mode="hybrid", depth=200)
        wordless = ranking.ids[ranking.bm25 == 0]  # kept for their meaning alone
        assert (on.snapshot.cosine(vector, wordless) >= MEANING_FLOOR - 1e-6).all()


def test_feedback_that_finds_nothing_changes_nothing(index: Path) -> None:
    on, off = _searchers(index)
    vector = on.queries.vector("Middle Corridor")
    terms = on.analyzer.terms("Middle Corridor")
    nowhere = on.snapshot.restrict(Filters(article="nowhere"))  # a filter no passage passes
    a = on.rank(vector, terms, mode="hybrid", depth=50, allowed=nowhere)
    b = off.rank(vector, terms, mode="hybrid", depth=50, allowed=nowhere)
    assert len(a.ids) == len(b.ids) == 0
