"""The vector kinds' registry: every kind round-trips build → search → merge or convert →
reconstruct through one interface, on real segments."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from policy_search.index.analysis.chunk import ChunkSettings
from policy_search.index.errors import IndexStoreError
from policy_search.index.storage.catalog import SegmentRow
from policy_search.index.storage.lexical import LexicalIndex, LexicalSettings
from policy_search.index.storage.manifest import Manifest
from policy_search.index.storage.merge import merge_into
from policy_search.index.storage.segment import LiveSegment, StagedSegment, write_segment
from policy_search.index.storage.vectors import (
    KINDS,
    PQ_MIN_TRAINING,
    VECTOR_INDEXES,
    Reranked,
    VectorKind,
    kind_described,
    vector_kind,
)
from tests.conftest import ARTICLES

DIM = 16
# Decoding error a kind may have: fp16 and 8-bit scalar codes are near, product codes coarse.
TOLERANCE = {"flat": 1e-3, "flat-fp32": 1e-6, "hnsw": 1e-6, "ivf-sq8": 0.05, "ivf-pq": 0.6,
             "ivf-rerank": 1e-3}  # fmt: skip


def kind_of(index: Any) -> str:
    """Which kind a FAISS index is, by its classes (what each kind's `empty` makes)."""
    import faiss

    if isinstance(index, Reranked):
        return "ivf-rerank"
    inner = faiss.downcast_index(index.index) if hasattr(index, "id_map") else index
    if isinstance(inner, faiss.IndexHNSW):
        return "hnsw"
    if isinstance(inner, faiss.IndexIVFScalarQuantizer):
        return "ivf-sq8"
    if isinstance(inner, faiss.IndexIVFPQ):
        return "ivf-pq"
    if isinstance(inner, faiss.IndexScalarQuantizer):
        return "flat"
    return "flat-fp32"


def unit_vectors(n: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def manifest_of(kind: VectorKind) -> Manifest:
    return Manifest(
        model_id="test", dim=DIM, chunking=ChunkSettings(), lexical=LexicalSettings(), articles=0,
        passages=0, generation=0, built_at="", vector_kind=kind.name,
    )  # fmt: skip


def segment(
    root: Path, kind: VectorKind, index: object, ids: np.ndarray, deleted: np.ndarray
) -> LiveSegment:
    """A real segment of these vectors on disk, opened as a commit names it."""
    lexical = LexicalIndex.from_terms([["word"]] * len(ids), ids, LexicalSettings())
    name = f"s{int(ids[0])}"
    with StagedSegment(root, name) as staged:
        files = write_segment(staged.path, index, lexical, ids.copy())
        staged.publish()
    row = SegmentRow(name, len(ids), files, 0)
    return LiveSegment.open(root, row, manifest_of(kind), deleted)


def test_the_registry_names_every_kind_once() -> None:
    assert tuple(KINDS) == VECTOR_INDEXES
    assert all(vector_kind(name).name == name for name in VECTOR_INDEXES)
    with pytest.raises(IndexStoreError, match="unknown vector index 'annoy'"):
        vector_kind("annoy")


@pytest.mark.parametrize("name", VECTOR_INDEXES)
def test_every_kind_round_trips_build_search_merge_reconstruct(tmp_path: Path, name: str) -> None:
    kind = vector_kind(name)
    n = PQ_MIN_TRAINING + 64 if name == "ivf-pq" else 400
    vectors = unit_vectors(n, seed=1)
    ids = np.arange(100, 100 + n, dtype=np.int64)
    trained = kind.empty(DIM, vectors) if kind.trains else None
    half = n // 2
    first = kind.build(DIM, vectors[:half], ids[:half], trained)
    second = kind.build(DIM, vectors[half:], ids[half:], trained)
    assert kind_of(first) == name and kind_described(kind.describe(trained)) == name

    scores, found = kind.search(first, vectors[3], 1)
    assert found[0] == ids[3] and scores[0] == pytest.approx(1.0, abs=TOLERANCE[name] * 2)
    _, found = kind.search(first, vectors[3], 5, excluded=ids[3:4])
    assert ids[3] not in found and (found >= 0).all()
    _, found = kind.search(first, vectors[3], 5, allowed=ids[10:12])
    assert set(found[found >= 0]) <= set(ids[10:12].tolist())

    dead = ids[[0, half + 1]]
    parts = [segment(tmp_path, kind, first, ids[:half], dead),
             segment(tmp_path, kind, second, ids[half:], dead)]  # fmt: skip
    with StagedSegment(tmp_path, "merged") as staged:
        merged = merge_into(staged, parts, kind, manifest_of(kind), lambda _: trained)
    assert merged.passages == n - 2 and sorted(merged.dropped.tolist()) == sorted(dead.tolist())
    row = SegmentRow("merged", merged.passages, merged.files, 0)
    whole = LiveSegment.open(tmp_path, row, manifest_of(kind), np.zeros(0, np.int64))
    assert whole.segment.kind is kind and kind_of(whole.segment.vectors) == name
    live = np.setdiff1d(ids, dead)
    assert np.array_equal(np.sort(whole.live_ids), live)
    back = whole.segment.reconstruct(live)
    assert np.abs(back - vectors[np.isin(ids, live)]).max() <= TOLERANCE[name]


@pytest.mark.parametrize("target", ["flat", "flat-fp32", "hnsw", "ivf-sq8", "ivf-rerank"])
def test_a_conversion_is_a_merge_into_another_kind(tmp_path: Path, target: str) -> None:
    source, kind = vector_kind("flat-fp32"), vector_kind(target)
    vectors, ids = unit_vectors(300, seed=2), np.arange(300, dtype=np.int64)
    part = segment(tmp_path, source, source.build(DIM, vectors, ids), ids, ids[:5])
    trained: list[object] = []

    def train(training: np.ndarray | None) -> object:  # what a writer does: train once, on these
        assert training is not None and len(training) == 295
        trained.append(kind.empty(DIM, training))
        return trained[-1]

    with StagedSegment(tmp_path, "converted") as staged:
        merged = merge_into(staged, [part], kind, manifest_of(kind), train)
    assert len(trained) == int(kind.trains)
    row = SegmentRow("converted", merged.passages, merged.files, 0)
    converted = LiveSegment.open(tmp_path, row, manifest_of(kind), np.zeros(0, np.int64))
    assert kind_of(converted.segment.vectors) == target
    back = converted.segment.reconstruct(ids[5:])
    assert np.abs(back - vectors[5:]).max() <= TOLERANCE[target]


@pytest.mark.parametrize("name", ["hnsw", "ivf-sq8", "ivf-rerank"])
def test_an_approximate_index_merges_its_segments_keeping_results(
    tmp_path: Path, name: str
) -> None:
    from policy_search.index.build import add_articles, build_index, remove_articles
    from policy_search.index.storage.merge import optimize
    from policy_search.search.searcher import Searcher
    from tests.index.storage.test_vectors import FILLER, QUERY, fake

    index_dir = tmp_path / "index"
    build_index([*ARTICLES, *FILLER[:200]], index_dir, fake(), vectors=name, merge=False)
    add_articles(FILLER[200:], index_dir, fake(), merge=False)
    remove_articles(["filler-3", "filler-250"], index_dir, merge=False)
    before = Searcher.load(index_dir, fake()).search(QUERY, mode="dense", k=5).hits
    assert optimize(index_dir) == 1
    after = Searcher.load(index_dir, fake())
    assert after.vector_kind == name and after.snapshot.passages == after.manifest.passages
    hits = after.search(QUERY, mode="dense", k=5).hits
    assert [h.passage.id for h in hits] == [h.passage.id for h in before]
