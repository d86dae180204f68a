"""Approximate vector indexes as a setting: build, filter, add, remove, convert (fake embedder).

The fake embedder only moves data through; relevance of the approximate kinds against exact
search is measured on real vectors by bench/ann.py.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import policy_search.index.analysis.embed
from policy_search.api.cli import cli
from policy_search.index.build import add_articles, build_index, remove_articles
from policy_search.index.errors import IndexStoreError
from policy_search.index.readers.article import Article
from policy_search.index.storage.store import exists, open_catalog, read_manifest
from policy_search.index.storage.vectors import PQ_MIN_TRAINING, vector_kind, widened
from policy_search.search.searcher import Searcher
from tests.conftest import ARTICLES
from tests.fakes import FakeEmbedder
from tests.index.storage.test_updates import CountingEmbedder

# Enough passages that IVF has several lists. Each filler article has words of its own and three
# of a shared vocabulary, so the fake vectors are not all orthogonal (a graph search needs
# neighbours that lead somewhere, as real embeddings have).
VOCABULARY = (
    "trade route gas oil sea port rail grain steel bank loan debt tax vote law court".split()
)
FILLER = [
    Article(
        id=f"filler-{i}", title=f"Report {i}",
        text=" ".join(VOCABULARY[(i * k) % len(VOCABULARY)] for k in (1, 3, 7))
        + f" w{i}a w{i}b w{i}c w{i}d.",
    )
    for i in range(300)
]  # fmt: skip


QUERY = "Middle Corridor links China to Europe"


def fake() -> FakeEmbedder:
    """Wide enough that the filler's words do not collide with the articles' words."""
    return FakeEmbedder(dim=4096)


def manifest(index_dir: Path) -> dict:
    catalog = open_catalog(index_dir, readonly=True)
    try:
        return dataclasses.asdict(read_manifest(catalog))
    finally:
        catalog.close()


@pytest.mark.parametrize("kind", ["flat", "flat-fp32", "hnsw", "ivf-sq8", "ivf-rerank"])
def test_each_kind_searches_filters_adds_and_removes(tmp_path: Path, kind: str) -> None:
    index_dir = tmp_path / "index"
    build_index([*ARTICLES, *FILLER], index_dir, fake(), vectors=kind)
    assert manifest(index_dir)["faiss_index"].startswith(
        {
            "flat": "IDMap2,SQfp16",
            "flat-fp32": "IDMap2,Flat",
            "hnsw": "IDMap2,HNSW",
            "ivf-sq8": "IVF",
            "ivf-rerank": "IVF",
        }[kind]
    )
    searcher = Searcher.load(index_dir, fake())
    assert searcher.vector_kind == kind
    assert searcher.search(QUERY, mode="dense").hits[0].article.id == "corridor"
    only = searcher.search("Azerbaijan", mode="dense", source="Other Source")
    assert [h.article.id for h in only.hits] == ["accords"]  # exact over the allowed passages

    remove_articles(["corridor", "filler-7"], index_dir)
    searcher = Searcher.load(index_dir, fake())
    assert searcher.vector_kind == kind  # an HNSW graph was rebuilt, not turned flat
    ids = {h.article.id for h in searcher.search(QUERY, mode="dense", k=20).hits}
    assert "corridor" not in ids
    assert searcher.search("w8a w8b", mode="dense").hits[0].article.id == "filler-8"

    add_articles([ARTICLES[0]], index_dir, fake())
    searcher = Searcher.load(index_dir, fake())
    assert searcher.search(QUERY, mode="dense").hits[0].article.id == "corridor"
    assert searcher.manifest.passages == searcher.snapshot.passages


def test_changing_kind_converts_without_embedding(tmp_path: Path) -> None:
    index_dir, embedder = tmp_path / "index", CountingEmbedder()
    build_index([*ARTICLES, *FILLER], index_dir, embedder)
    before = Searcher.load(index_dir, FakeEmbedder()).search("Middle Corridor", mode="dense")
    embedder.embedded = 0
    for kind in ("hnsw", "ivf-sq8", "flat-fp32", "flat"):
        report = build_index([*ARTICLES, *FILLER], index_dir, embedder, vectors=kind)
        assert embedder.embedded == 0 and report.embedded == 0
        searcher = Searcher.load(index_dir, FakeEmbedder())
        assert searcher.vector_kind == kind
        hits = searcher.search("Middle Corridor", mode="dense").hits
        assert hits[0].passage.id == before.hits[0].passage.id
    assert manifest(index_dir)["faiss_index"] == "IDMap2,SQfp16"
    report = build_index([*ARTICLES, *FILLER], index_dir, embedder)  # no kind given: kept
    assert report.generation == manifest(index_dir)["generation"] == 5  # and nothing written


def test_an_unknown_kind_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(IndexStoreError, match="unknown vector index 'annoy'"):
        build_index(ARTICLES, tmp_path / "index", FakeEmbedder(), vectors="annoy")
    assert not exists(tmp_path / "index")


def test_ivf_pq_needs_enough_passages_to_train(tmp_path: Path) -> None:
    with pytest.raises(IndexStoreError, match="ivf-pq index needs at least 9,984 passages"):
        build_index([*ARTICLES, *FILLER], tmp_path / "index", FakeEmbedder(), vectors="ivf-pq")


def test_ivf_pq_round_trips_ids() -> None:
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(PQ_MIN_TRAINING + 16, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    kind = vector_kind("ivf-pq")
    ids = np.arange(1000, 1000 + len(vectors))
    index = kind.build(16, vectors, ids, kind.empty(16, vectors))
    assert index.ntotal == len(vectors)
    decoded = kind.reconstruct(index, ids[[0, 5]])
    assert decoded.shape == (2, 16) and np.abs(decoded - vectors[[0, 5]]).max() < 0.5


def test_cli_index_takes_the_kind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_embedder: FakeEmbedder
) -> None:
    monkeypatch.setattr(
        policy_search.index.analysis.embed, "load_embedder", lambda *a, **k: fake_embedder
    )
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text("---\ntitle: Pipelines\n---\nGas runs under the Caspian Sea.\n")
    index_dir = str(tmp_path / "index")
    runner = CliRunner()
    result = runner.invoke(
        cli, ["index", str(corpus), "--index-dir", index_dir, "--vectors", "hnsw"]
    )
    assert result.exit_code == 0, result.output
    built = manifest(Path(index_dir))
    assert built["model_id"] == fake_embedder.model_id  # the fake, not the real model
    assert built["faiss_index"].startswith("IDMap2,HNSW")
    result = runner.invoke(cli, ["index", str(corpus), "--index-dir", index_dir, "--vectors", "x"])
    assert result.exit_code == 2 and "'x' is not one of" in result.output


def test_widened_fp16_is_astypes_bit_for_bit() -> None:
    """The re-ranked kind's fp16 → float32 widening against numpy's cast, on every fp16 bit
    pattern (subnormals, zeros of both signs; infinities and NaNs through the fallback), in a
    matrix and in a strided view."""
    every = np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.float16)
    finite = every[np.isfinite(every)]
    for half in (every, finite, finite[: 384 * 100].reshape(100, 384)[::3]):
        wide = widened(half)
        assert wide.dtype == np.float32 and wide.shape == half.shape
        assert np.array_equal(wide.view(np.uint32), half.astype(np.float32).view(np.uint32))
