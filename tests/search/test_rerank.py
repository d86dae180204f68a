"""The learned ranker, its features and each hit's confidence; plumbing with the fake embedder
(tests/fakes.py), the shipped model file throughout."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from policy_search.index.build import build_index
from policy_search.index.readers.article import Article
from policy_search.index.storage.lexical import Analyzer
from policy_search.search.confidence import (
    Calibration,
    expected_calibration_error,
    fit_calibration,
)
from policy_search.search.errors import RankerError
from policy_search.search.features import FEATURES, NEAR_WINDOW, _gap
from policy_search.search.rerank import DEFAULT_RANKER, Ranker
from policy_search.search.searcher import Searcher
from tests.fakes import FakeEmbedder

TEXTS = [
    "The Law of the Sea was signed at Montego Bay after years of talks on the sea bed.",
    "Our law protects the fishermen; the sea around the island is rich.",
    "Sea law, law of nations, and the sea: the convention on the law of the sea.",
    "Nothing here but rain, valleys and farmers welcoming the water of spring.",
]


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("window", [1, NEAR_WINDOW])
def test_phrase_and_proximity_follow_pairs_near(text: str, window: int) -> None:
    """The features count pairs by Analyzer.pairs_near's rule, on the passage's stems."""
    analyzer = Analyzer()
    query = analyzer.terms("law of the sea convention signed")
    pairs = {(a, b) for a, b in itertools.pairwise(query) if a != b}
    stems = analyzer.terms(text)
    where = {s: [i for i, t in enumerate(stems) if t == s] for s in set(query)}
    mine = {p for p in pairs if _gap(where[p[0]], where[p[1]]) <= window}
    assert mine == analyzer.pairs_near(text, pairs, window)


def test_the_shipped_model_reads_these_features() -> None:
    ranker = Ranker.load()
    assert ranker.name == "ranker" and ranker.version >= 1
    assert 0.0 < ranker.confidence_floor < 1.0
    assert ranker.booster.num_feature() == len(FEATURES)


def test_a_model_of_other_features_is_refused(tmp_path: Path) -> None:
    data = json.loads(DEFAULT_RANKER.read_text(encoding="utf-8"))
    data["features"] = data["features"][:-1]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(RankerError, match="retrain"):
        Ranker.load(path)
    with pytest.raises(RankerError, match="cannot read"):
        Ranker.load(tmp_path / "missing.json")


def test_calibration_is_monotone_and_measured() -> None:
    rng = np.random.default_rng(3)
    scores = rng.normal(size=4000)
    labels = (rng.random(4000) < 1 / (1 + np.exp(-2 * scores))).astype(float)
    calibration = fit_calibration(scores, labels)
    p = calibration.probability(np.sort(scores))
    assert np.all(np.diff(p) >= 0) and p.min() >= 0 and p.max() <= 1
    assert expected_calibration_error(calibration.probability(scores), labels) < 0.02
    assert expected_calibration_error(np.full(4000, 0.9), labels) > 0.3
    again = Calibration.from_json(calibration.as_json())
    assert np.allclose(again.probability(scores), calibration.probability(scores), atol=1e-5)


WORDS = "energy route gas pipeline caspian russia trade corridor port rail transit europe".split()


@pytest.fixture(scope="module")
def searcher(tmp_path_factory: pytest.TempPathFactory) -> Searcher:
    rng = np.random.default_rng(5)
    articles = [
        Article(id=f"a{i}", title=f"Note {i}", source=["Tank", "Desk"][i % 2],
                text=" ".join(" ".join(rng.choice(WORDS, 10)).capitalize() + "."
                              for _ in range(6)))
        for i in range(60)
    ]  # fmt: skip
    embedder = FakeEmbedder(max_tokens=24)
    index_dir = tmp_path_factory.mktemp("rerank") / "index"
    build_index(articles, index_dir, embedder)
    return Searcher.load(index_dir, embedder, learned_order=True)


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
@pytest.mark.parametrize("group", [False, True])
def test_the_confidence_floor_decides_what_counts(
    searcher: Searcher, mode: str, group: bool
) -> None:
    """Every mode gives confidences; `total`, paging and facets count the hits past the floor
    (a request's min_confidence overrides the searcher's); `loose` the others."""
    query = "gas pipeline corridor"
    everything = searcher.search(query, mode=mode, group=group, k=100, min_confidence=0.0)
    assert everything.loose == 0 and everything.results
    confidences = [h.confidence for h in everything.results]
    assert all(0.0 <= c <= 1.0 for c in confidences)
    assert mode == "lexical" or max(confidences) > 0  # BM25 this low (12 words) says little
    floor = max(sorted(confidences)[len(confidences) // 2], 1e-6)
    some = searcher.search(query, mode=mode, group=group, k=100, min_confidence=floor,
                           facets=["source"])  # fmt: skip
    assert all(h.confidence >= floor for h in some.results)
    assert len(some.results) == min(some.total, 100)
    if everything.total <= 100:  # every confidence is on the page
        assert some.total == sum(c >= floor for c in confidences)
    assert some.total + some.loose == everything.total
    if group:
        assert sum(f.count for f in some.facets["source"]) == some.total
    if not group:  # a prefix of the same ranking
        assert [h.passage.id for h in some.results] == [
            h.passage.id for h in everything.results[: some.total]
        ]


def test_pages_are_slices_of_one_reranked_ranking(searcher: Searcher) -> None:
    query = "energy transit through the caspian"
    total = searcher.search(query, k=1, min_confidence=0.0).total
    full = [
        h
        for off in range(0, total, 100)
        for h in searcher.search(query, k=100, offset=off, min_confidence=0.0).results
    ]
    ids = [h.passage.id for h in full]
    paged = [
        h.passage.id
        for off in range(0, total, 7)
        for h in searcher.search(query, k=7, offset=off, min_confidence=0.0).results
    ]
    assert paged == ids and len(ids) == total
    scores = [h.score for h in full]
    assert scores == sorted(scores, reverse=True)


def test_words_held_together_rank_above_words_held_apart(tmp_path: Path) -> None:
    """Two articles with the same words: the one holding the query's words side by side first."""
    filler = "delegates spoke about budgets and schedules and rooms"
    together = f"The Middle Corridor runs east. {filler}."
    apart = f"The corridor runs east. {filler}, middle."
    embedder = FakeEmbedder()
    articles = [Article(id="apart", title="Note", text=apart),
                Article(id="together", title="Note", text=together)]  # fmt: skip
    build_index(articles, tmp_path / "index", embedder)
    searcher = Searcher.load(tmp_path / "index", embedder, learned_order=True)
    hits = searcher.search("Middle Corridor", k=2, min_confidence=0.0).results
    assert [h.article.id for h in hits] == ["together", "apart"]
    assert hits[0].score > hits[1].score


def test_by_default_hybrid_keeps_the_fused_order_with_confidences(searcher: Searcher) -> None:
    plain = Searcher(searcher.snapshot, searcher.embedder, ranker=searcher.ranker)
    fused = Searcher(searcher.snapshot, searcher.embedder, ranker=None)
    query = "gas pipeline corridor"
    hits = plain.search(query, k=30).results
    assert [h.passage.id for h in hits] == [h.passage.id for h in fused.search(query, k=30).results]
    confidences = [h.confidence for h in hits]
    assert confidences == sorted(confidences, reverse=True) and max(confidences) > 0
