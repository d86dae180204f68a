"""The ONNX backends against the torch model they are exported from (real model)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from policy_search.index.analysis.embed import Embedder, load_embedder
from policy_search.index.analysis.onnx import EXPORT_VERSION, _export_once
from policy_search.index.errors import IndexStoreError
from policy_search.index.readers import read_paths
from tests.conftest import CORPUS

pytestmark = pytest.mark.model

# The first 48 SciFact abstracts and the two queries of `texts`, embedded by the int8 export of
# version 1 (SDPA attention), the one every index built before version 2 holds; float16.
SDPA_VECTORS = Path(__file__).with_name("sdpa_int8_vectors.npy")


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def torch_model() -> Embedder:
    """The model itself (the default backend is its int8 export)."""
    return load_embedder(backend="torch")


@pytest.fixture(scope="module")
def texts(data_dir: Path) -> list[str]:
    from policy_search.search.evaluate import read_beir_corpus

    abstracts = itertools.islice(read_beir_corpus(data_dir / "beir/scifact"), 48)
    return [f"{a.title}\n{a.text}" for a in abstracts] + ["Middle Corridor", "Hajiyev"]


def test_onnx_fp32_gives_the_torch_vectors(torch_model: Embedder, cache: Path, texts) -> None:
    onnx = load_embedder(backend="onnx", cache_dir=cache)
    assert onnx.model_id == torch_model.model_id  # same vectors, so the same model
    assert (onnx.dim, onnx.max_tokens) == (torch_model.dim, torch_model.max_tokens)
    cosines = (onnx.encode(texts) * torch_model.encode(texts)).sum(axis=1)
    assert cosines.min() > 0.9999
    assert onnx.token_spans(texts[:3]) == torch_model.token_spans(texts[:3])


def test_onnx_int8_is_close_but_another_model(torch_model: Embedder, cache: Path, texts) -> None:
    int8 = load_embedder(backend="onnx-int8", cache_dir=cache)
    assert int8.model_id == torch_model.model_id + "+onnx-int8"
    vectors = int8.encode(texts, batch_size=7)
    assert vectors.dtype == np.float32 and np.allclose(
        np.linalg.norm(vectors, axis=1), 1, atol=1e-5
    )
    cosines = (vectors * torch_model.encode(texts)).sum(axis=1)
    assert cosines.mean() > 0.98 and cosines.min() > 0.95


def test_int8_vectors_stay_those_of_indexes_built_before(cache: Path, texts) -> None:
    # Why the model id did not change with the eager-attention export: an index of SDPA
    # vectors is searched, and grown, with the new ones (bench/README.md, "Indexing").
    int8 = load_embedder(backend="onnx-int8", cache_dir=cache)
    cosines = (int8.encode(texts) * np.load(SDPA_VECTORS).astype(np.float32)).sum(axis=1)
    assert cosines.mean() > 0.998 and cosines.min() > 0.995


def test_the_export_traces_eager_attention(cache: Path) -> None:
    import onnx

    load_embedder(backend="onnx-int8", cache_dir=cache)
    (folder,) = [p for p in cache.glob("onnx-int8-*") if (p / "embedder.json").exists()]
    meta = json.loads((folder / "embedder.json").read_text())
    assert (meta["export"], meta["attention"]) == (EXPORT_VERSION, "eager") == (2, "eager")
    ops = {node.op_type for node in onnx.load(str(folder / meta["file"])).graph.node}
    assert "MatMulInteger" in ops and "IsNaN" not in ops  # SDPA's masking is gone


def test_an_export_of_an_older_version_is_not_reused(cache: Path) -> None:
    import hashlib

    from policy_search.index.analysis.embed import DEFAULT_MODEL, _resolve

    # Where version 1 kept its int8 export: a folder that loads, but with the SDPA graph.
    location, model_id = _resolve(DEFAULT_MODEL)
    key = hashlib.sha256(f"{model_id}|{location}|True".encode()).hexdigest()[:16]
    old = cache / f"onnx-int8-{key}"
    old.mkdir()
    (old / "embedder.json").write_text(json.dumps({"model_id": "version 1"}))
    try:
        int8 = load_embedder(backend="onnx-int8", cache_dir=cache)
        assert int8.model_id == DEFAULT_MODEL + "+onnx-int8"
    finally:
        (old / "embedder.json").unlink()
        old.rmdir()


def test_a_single_query_runs_alone_and_gets_its_batched_vector(cache: Path, texts) -> None:
    int8 = load_embedder(backend="onnx-int8", cache_dir=cache)
    batched = int8.encode(texts, batch_size=64)
    alone = np.vstack([int8.encode([t]) for t in texts[-6:]])  # one thread, no padding
    # int8 activations are scaled per batch, so a vector moves a little with its neighbours.
    assert (alone * batched[-6:]).sum(axis=1).min() > 0.99


def test_the_default_backend_is_int8(real_embedder: Embedder) -> None:
    assert real_embedder.model_id.endswith("+onnx-int8")


def test_the_export_is_made_once(cache: Path) -> None:
    load_embedder(backend="onnx-int8", cache_dir=cache)
    folders = sorted(p.name for p in cache.iterdir())
    stamps = [p.stat().st_mtime_ns for p in sorted(cache.iterdir())]
    load_embedder(backend="onnx-int8", cache_dir=cache)
    assert sorted(p.name for p in cache.iterdir()) == folders
    assert [p.stat().st_mtime_ns for p in sorted(cache.iterdir())] == stamps
    assert not [p for p in cache.iterdir() if p.name.endswith(".tmp")]


def test_an_index_built_with_int8_is_searched_with_int8(tmp_path: Path, cache: Path) -> None:
    from policy_search.index.build import build_index
    from policy_search.index.errors import IndexMismatch
    from policy_search.search.searcher import Searcher

    int8 = load_embedder(backend="onnx-int8", cache_dir=cache)
    seed = CORPUS / "azerbaijan-israel-us-partnership.md"  # one article: the rest adds minutes
    build_index(read_paths([seed]), tmp_path / "index", int8)
    hits = Searcher.load(tmp_path / "index", int8).search("Middle Corridor", mode="dense").hits
    assert "Middle Corridor" in hits[0].passage.text
    with pytest.raises(IndexMismatch, match="onnx-int8"):
        Searcher.load(tmp_path / "index", load_embedder(backend="onnx", cache_dir=cache))


def test_an_unknown_backend_is_refused() -> None:
    with pytest.raises(IndexStoreError, match="backend"):
        load_embedder(backend="tensorrt")


def test_the_progress_bar_counts_passages(capsys: pytest.CaptureFixture[str]) -> None:
    from policy_search.index.analysis.onnx import _bar

    bar = _bar(130)  # stderr here is no terminal, so the bar takes 80 columns
    bar.update(64)
    bar.update(66)
    bar.close()
    drawn = capsys.readouterr().err.split("\r")[-1]
    assert "Embedding: 100%" in drawn and "130/130" in drawn and "passages/s" in drawn


def _fake_export(staging: Path) -> None:
    staging.mkdir(parents=True)
    (staging / "embedder.json").write_text(json.dumps({"by": staging.name}))


def test_two_exports_at_once_leave_one_whole_folder(tmp_path: Path) -> None:
    folder = tmp_path / "onnx-int8-key"

    def racing(staging: Path) -> None:
        _fake_export(staging)
        _export_once(folder, _fake_export)  # another process finishes first

    _export_once(folder, racing)
    winner = json.loads((folder / "embedder.json").read_text())["by"]
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]  # no staging left behind
    assert winner.startswith(f"{folder.name}.tmp-")


def test_a_killed_export_is_replaced(tmp_path: Path) -> None:
    folder = tmp_path / "onnx-int8-key"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(b"half")  # no embedder.json: the export was killed
    _export_once(folder, _fake_export)
    assert sorted(p.name for p in folder.iterdir()) == ["embedder.json"]
