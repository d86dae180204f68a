"""The ONNX backends against the torch model they are exported from (real model)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from index.embed import Embedder, load_embedder
from index.errors import IndexStoreError
from index.readers import read_paths
from tests.conftest import CORPUS

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def texts(data_dir: Path) -> list[str]:
    from search.evaluate import read_beir_corpus

    abstracts = itertools.islice(read_beir_corpus(data_dir / "beir/scifact"), 48)
    return [f"{a.title}\n{a.text}" for a in abstracts] + ["Middle Corridor", "Hajiyev"]


def test_onnx_fp32_gives_the_torch_vectors(real_embedder: Embedder, cache: Path, texts) -> None:
    onnx = load_embedder(backend="onnx", cache_dir=cache)
    assert onnx.model_id == real_embedder.model_id  # same vectors, so the same model
    assert (onnx.dim, onnx.max_tokens) == (real_embedder.dim, real_embedder.max_tokens)
    cosines = (onnx.encode(texts) * real_embedder.encode(texts)).sum(axis=1)
    assert cosines.min() > 0.9999
    assert onnx.token_spans(texts[:3]) == real_embedder.token_spans(texts[:3])


def test_onnx_int8_is_close_but_another_model(real_embedder: Embedder, cache: Path, texts) -> None:
    int8 = load_embedder(backend="onnx-int8", cache_dir=cache)
    assert int8.model_id == real_embedder.model_id + "+onnx-int8"
    vectors = int8.encode(texts, batch_size=7)
    assert vectors.dtype == np.float32 and np.allclose(
        np.linalg.norm(vectors, axis=1), 1, atol=1e-5
    )
    cosines = (vectors * real_embedder.encode(texts)).sum(axis=1)
    assert cosines.mean() > 0.98 and cosines.min() > 0.95


def test_the_export_is_made_once(cache: Path) -> None:
    load_embedder(backend="onnx-int8", cache_dir=cache)
    folders = sorted(p.name for p in cache.iterdir())
    stamps = [p.stat().st_mtime_ns for p in sorted(cache.iterdir())]
    load_embedder(backend="onnx-int8", cache_dir=cache)
    assert sorted(p.name for p in cache.iterdir()) == folders
    assert [p.stat().st_mtime_ns for p in sorted(cache.iterdir())] == stamps
    assert not [p for p in cache.iterdir() if p.name.endswith(".tmp")]


def test_an_index_built_with_int8_is_searched_with_int8(tmp_path: Path, cache: Path) -> None:
    from index.build import build_index
    from index.errors import IndexMismatch
    from search.searcher import Searcher

    int8 = load_embedder(backend="onnx-int8", cache_dir=cache)
    build_index(read_paths([CORPUS]), tmp_path / "index", int8)
    hits = Searcher.load(tmp_path / "index", int8).search("Middle Corridor", mode="dense").hits
    assert "Middle Corridor" in hits[0].text
    with pytest.raises(IndexMismatch, match="onnx-int8"):
        Searcher.load(tmp_path / "index", load_embedder(backend="onnx", cache_dir=cache))


def test_an_unknown_backend_is_refused() -> None:
    with pytest.raises(IndexStoreError, match="backend"):
        load_embedder(backend="tensorrt")
