"""The vector kind an index picks by itself: flat, then ivf-rerank past a size (writer.AUTOMATIC),
with flat's scores; a kind a user named is kept. Fake vectors for the plumbing; the recall of
ivf-rerank on real passage vectors at the end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from policy_search.index.analysis.embed import Embedder
from policy_search.index.build import build_index, remove_articles
from policy_search.index.readers.article import Article
from policy_search.index.storage.merge import optimize
from policy_search.index.storage.snapshot import Snapshot
from policy_search.index.storage.vectors import vector_kind
from policy_search.index.storage.writer import IndexWriter, OpenMode, WriteOptions
from policy_search.search.searcher import Searcher
from tests.conftest import ARTICLES
from tests.index.storage.test_vectors import FILLER, QUERY, fake, manifest

ABOVE = 120  # passages: ARTICLES and 100 filler articles stay below it, all 300 pass it


def write(index_dir: Path, articles: list[Article], vectors: str | None = None) -> None:
    """One write of these articles (added or replaced) with a small threshold."""
    options = WriteOptions(vectors=vectors, approximate_above=ABOVE)
    with IndexWriter.open(index_dir, fake(), mode=OpenMode.CREATE, options=options) as writer:
        writer.upsert(articles)
        writer.commit()


def top(index_dir: Path, n: int = 10) -> dict[int, float]:
    """The dense top `n` of QUERY: passage id → score."""
    snapshot = Searcher.load(index_dir, fake()).snapshot
    ids, scores = snapshot.dense_top(fake().encode([QUERY])[0], n)
    return dict(zip(ids.tolist(), scores.tolist(), strict=True))


def test_an_index_turns_approximate_past_the_threshold_with_flat_scores(tmp_path: Path) -> None:
    index_dir, exact_dir = tmp_path / "index", tmp_path / "exact"
    write(index_dir, [*ARTICLES, *FILLER[:100]])
    assert manifest(index_dir)["vector_kind"] == "flat"
    write(index_dir, FILLER[100:])  # the write that passes ABOVE converts every segment
    assert manifest(index_dir)["vector_kind"] == "ivf-rerank"
    build_index([*ARTICLES, *FILLER], exact_dir, fake(), vectors="flat")
    # The same passages (ids given in the same order) with the same scores: the re-rank's are
    # flat's. (Fake vectors: the passages that share no word with the query tie at 0.)
    found, exact = top(index_dir), top(exact_dir)
    matching = {i for i, score in exact.items() if score > 0.01}
    assert len(matching) >= 3 and matching == {i for i, score in found.items() if score > 0.01}
    assert all(abs(found[i] - exact[i]) < 1e-6 for i in matching)

    write(index_dir, [ARTICLES[0]])  # writes, removals and merges keep the kind
    remove_articles(["filler-3"], index_dir, merge=False)
    assert optimize(index_dir) == 1
    searcher = Searcher.load(index_dir, fake())
    assert searcher.vector_kind == "ivf-rerank"
    assert searcher.snapshot.passages == searcher.manifest.passages
    assert searcher.search(QUERY, mode="dense").hits[0].article.id == "corridor"


def test_a_first_build_past_the_threshold_is_approximate_at_once(tmp_path: Path) -> None:
    write(tmp_path / "index", [*ARTICLES, *FILLER])
    assert manifest(tmp_path / "index")["vector_kind"] == "ivf-rerank"
    assert len(list((tmp_path / "index" / "segments").iterdir())) == 1  # the flat one cleaned


def test_a_kind_a_user_named_is_kept_past_the_threshold(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    write(index_dir, [*ARTICLES, *FILLER[:100]], vectors="flat")
    write(index_dir, FILLER[100:])  # no kind named now: the one named before stays
    assert manifest(index_dir)["vector_kind"] == "flat"
    assert manifest(index_dir)["extra"]["vectors"] == "chosen"


Real = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # ids, vectors, queries, exact top 10


@pytest.fixture(scope="module")
def real(corpus_index: Path, real_embedder: Embedder) -> Real:
    """The demo corpus's passage vectors (real model), real queries and their exact top 10."""
    import faiss

    snapshot = Snapshot.open(corpus_index)
    ids = np.concatenate([s.ids for s in snapshot.segments])
    vectors = np.vstack([s.reconstruct(s.ids) for s in snapshot.segments])
    queries = real_embedder.encode(
        [a.title for a in ARTICLES] + ["gas pipeline", "climate finance", "election observers",
         "refugees crossing the border", "interest rates", "nuclear talks", "food prices"]
    )  # fmt: skip
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    _, truth = exact.search(queries, 10)
    return ids, vectors, queries, ids[truth]


def reranked(ids: np.ndarray, vectors: np.ndarray) -> Any:
    """An ivf-rerank index of these vectors, trained on them (as a shard trains on its own)."""
    kind = vector_kind("ivf-rerank")
    return kind.build(vectors.shape[1], vectors, ids, kind.empty(vectors.shape[1], vectors))


def overlap(found: list[np.ndarray], truth: np.ndarray) -> float:
    """Mean share of each top 10 in the other."""
    return float(np.mean([len(set(f.tolist()) & set(t.tolist())) / 10 for f, t in
                          zip(found, truth, strict=True)]))  # fmt: skip


def test_ivf_rerank_finds_the_exact_top_10_of_real_vectors(real: Real) -> None:
    ids, vectors, queries, truth = real
    kind, index = vector_kind("ivf-rerank"), reranked(ids, vectors)
    row = {int(i): r for r, i in enumerate(ids)}
    found = []
    for query in queries:
        scores, top = kind.search(index, query, 10)
        assert np.allclose(scores, vectors[[row[int(i)] for i in top]] @ query, atol=1e-3)
        found.append(top)
    assert overlap(found, truth) >= 0.85  # measured 0.95 (1,642 passages, 42 lists, 21 probed)


def test_shards_of_ivf_rerank_answer_near_one_index(real: Real) -> None:
    """Each shard finds its own candidates and re-ranks them exactly; their tops merged by
    score are near one index's and the exact top 10 (README: Vector kinds)."""
    ids, vectors, queries, truth = real
    kind, one = vector_kind("ivf-rerank"), reranked(ids, vectors)
    shards = [reranked(ids[ids % 2 == s], vectors[ids % 2 == s]) for s in (0, 1)]
    merged, single = [], []
    for query in queries:
        answers = [kind.search(shard, query, 10) for shard in shards]
        scores = np.concatenate([a[0] for a in answers])
        merged.append(np.concatenate([a[1] for a in answers])[np.argsort(-scores)[:10]])
        single.append(kind.search(one, query, 10)[1])
    # measured: 0.94 of one index's top 10, 0.96 of the exact one
    assert overlap(merged, np.array(single)) >= 0.85 and overlap(merged, truth) >= 0.85
