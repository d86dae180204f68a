"""A faster embedding path: the same model exported to ONNX, optionally int8-quantized.

The export runs once, offline, from the locally loaded sentence-transformers model (torch is only
needed for that step) and is cached in a folder keyed by the model; afterwards onnxruntime and
the `tokenizers` library do all the work. Mean pooling and L2 normalisation follow the model's
own pooling (all-MiniLM-L6-v2: mean over tokens). fp32 ONNX gives the torch vectors to within
float rounding; int8 (per-channel weights of the matrix products) is about twice as fast on
2 cores, with vectors at a mean cosine of ~0.995 to fp32, so int8 counts as another model.

The graph is traced with eager attention (export version 2): the SDPA attention transformers
picks by default exports its masking as `Where`/`IsNaN` over every attention score, about a third
of the int8 model's time; eager attention adds the mask instead, and indexing runs ~1.4x faster
with vectors at a mean cosine of 0.998 to the SDPA export's (bench/README.md, "Indexing").
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from policy_search.index.analysis.embed import length_batches, model_dimension
from policy_search.index.analysis.static import (
    StaticVectors,
    load_static_vectors,
    static_vectors_of,
)
from policy_search.index.errors import IndexStoreError

__all__ = ["OnnxEmbedder", "export_onnx", "load_onnx_embedder"]

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
SINGLE_THREAD_TOKENS = 256  # batches up to this many tokens (padded) run on one thread
# Part of the cache key: an export of an older version (1: SDPA attention, no version written) is
# never reused, so each user's cache is re-exported once, with the faster graph.
EXPORT_VERSION = 2
ATTENTION = "eager"  # what the export traces; version 1 traced "sdpa" (bench.indexing compares)


class OnnxEmbedder:
    """Embeds with onnxruntime; tokenizes with the model's own tokenizer."""

    special_tokens = 2

    def __init__(self, folder: Path, *, threads: int = 0) -> None:
        from tokenizers import Tokenizer

        onnxruntime = _require("onnxruntime")

        self.folder = folder
        meta = json.loads((folder / "embedder.json").read_text(encoding="utf-8"))
        self.model_id: str = meta["model_id"]
        self.dim: int = int(meta["dim"])
        self.max_tokens: int = int(meta["max_tokens"])
        model = str(folder / meta["file"])
        self._session = _session(onnxruntime, model, threads)
        # A query or two runs on one thread: as fast for a few tokens, and concurrent queries
        # then use the cores side by side instead of contending for all of them (p95 ~5x lower).
        self._single = _session(onnxruntime, model, 1)
        self._spans = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._spans.no_truncation()
        self._spans.no_padding()
        self._batch = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._batch.enable_truncation(max_length=self.max_tokens)
        self._batch.enable_padding()
        self._static: StaticVectors | None = None

    def token_spans(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        """Character spans of each text's word pieces, without special tokens."""
        encodings = self._spans.encode_batch(list(texts), add_special_tokens=False)
        return [list(e.offsets) for e in encodings]

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False
    ) -> np.ndarray:
        """Unit vectors (float32); texts are batched longest first so padding stays small."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        bar = _bar(len(texts)) if progress else None
        for rows in length_batches(texts, batch_size):
            out[rows] = self._embed([texts[i] for i in rows])
            if bar is not None:
                bar.update(len(rows))
        if bar is not None:
            bar.close()
        return out

    def static_vectors(self) -> StaticVectors:
        """The model's word pieces as static vectors, for snippets without a model call."""
        if self._static is None:
            self._static = load_static_vectors(self.folder, self._spans, self._states)
        return self._static

    def _states(self, ids: np.ndarray) -> np.ndarray:
        """The model's token states of unpadded token ids (n, tokens)."""
        inputs = (ids, np.ones_like(ids), np.zeros_like(ids))
        return self._session.run(None, dict(zip(INPUTS, inputs, strict=True)))[0]

    def _embed(self, texts: list[str]) -> np.ndarray:
        encodings = self._batch.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        types = np.array([e.type_ids for e in encodings], dtype=np.int64)
        session = self._single if ids.size <= SINGLE_THREAD_TOKENS else self._session
        hidden = session.run(None, dict(zip(INPUTS, (ids, mask, types), strict=True)))[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return (pooled / norms).astype(np.float32)


def _bar(total: int) -> Any:
    """A progress bar over `total` passages: count, rate and time left, on stderr."""
    import os
    import sys

    from tqdm import tqdm

    # tqdm sizes the bar to the terminal; one that reports a size of 0 x 0 (a pty nobody sized)
    # would get no bar at all, so 80 x 24 stands in.
    try:
        columns, lines = os.get_terminal_size(sys.stderr.fileno())
    except (OSError, ValueError):
        columns, lines = 0, 0
    return tqdm(
        total=total, desc="Embedding", unit=" passages", ncols=columns or 80, nrows=lines or 24
    )


def _session(onnxruntime: Any, model: str, threads: int) -> Any:
    options = onnxruntime.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])


class _Hidden:
    """The transformer alone, returning token states (what the ONNX graph computes)."""

    def __new__(cls, model: Any) -> Any:
        import torch

        class Hidden(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.model = model

            def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
                return self.model(
                    input_ids=input_ids, attention_mask=attention_mask,
                    token_type_ids=token_type_ids,
                ).last_hidden_state  # fmt: skip

        return Hidden().eval()


def _require(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        raise IndexStoreError(
            f"the ONNX backend needs {name}, a dependency of policy-search: reinstall it "
            "(`make install`), or set POLICY_SEARCH_BACKEND=torch"
        ) from None


def export_onnx(
    st_model: Any, model_id: str, folder: Path, *, quantize: bool, attention: str = ATTENTION
) -> None:
    """Export a loaded sentence-transformers model (mean pooling) into `folder`."""
    _require("onnx")

    folder.mkdir(parents=True, exist_ok=True)
    transformer = st_model[0]
    pooling = st_model[1].get_config_dict() if len(st_model) > 1 else {}
    mean = pooling.get("pooling_mode") == "mean" or pooling.get("pooling_mode_mean_tokens")
    if not mean:
        raise IndexStoreError(f"{model_id}: the ONNX path supports mean pooling only")
    sample = st_model.tokenizer(
        ["an example", "a second example"], padding=True, return_tensors="pt"
    )
    fp32 = folder / "model.onnx"
    with _attention(transformer.auto_model, attention):
        _trace(transformer.auto_model, sample, fp32)
    file = fp32.name
    if quantize:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # its advice to pre-process is for image models
        try:
            quantize_dynamic(
                str(fp32), str(folder / "model-int8.onnx"), weight_type=QuantType.QInt8,
                per_channel=True, op_types_to_quantize=["MatMul"],
            )  # fmt: skip
        finally:
            root.setLevel(level)
        fp32.unlink()
        file = "model-int8.onnx"
    st_model.tokenizer.backend_tokenizer.save(str(folder / "tokenizer.json"))
    meta = {
        "model_id": model_id + ("+onnx-int8" if quantize else ""),
        "dim": model_dimension(st_model),
        "max_tokens": int(st_model.max_seq_length),
        "file": file,
        "export": EXPORT_VERSION,
        "attention": attention,
    }
    (folder / "embedder.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


@contextmanager
def _attention(model: Any, attention: str) -> Iterator[None]:
    """Trace `model` with this attention implementation, then give it back its own."""
    own = model.config._attn_implementation
    # transformers 5 dispatches attention on this config value at every call (it also has a
    # setter, set_attn_implementation, that older releases lack).
    model.config._attn_implementation = attention
    try:
        yield
    finally:
        model.config._attn_implementation = own


def _trace(model: Any, sample: Any, fp32: Path) -> None:
    """The TorchScript export of the transformer's token states, batch and length dynamic."""
    import torch

    # The TorchScript exporter (dynamo=False) needs no onnxscript; torch warns it is the old one.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        # Its note on negative gather indices does not apply: token ids and masks are >= 0, and
        # tests/index/analysis/test_onnx.py checks the exported vectors against the model's own.
        warnings.simplefilter("ignore", UserWarning)
        # Its note that `attention_mask is None` is traced as a constant: the mask is always given.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(
            _Hidden(model), tuple(sample[name] for name in INPUTS), str(fp32),
            input_names=list(INPUTS), output_names=["last_hidden_state"],
            dynamic_axes={n: {0: "batch", 1: "tokens"} for n in (*INPUTS, "last_hidden_state")},
            opset_version=17, dynamo=False,
        )  # fmt: skip


def load_onnx_embedder(
    location: str, model_id: str, *, cache_dir: Path, quantize: bool, load_torch: Any
) -> OnnxEmbedder:
    """The cached export of this model, made first if there is none (needs torch once)."""
    made = f"{model_id}|{location}|{quantize}|export-{EXPORT_VERSION}"
    key = hashlib.sha256(made.encode()).hexdigest()[:16]
    folder = cache_dir / f"onnx-{'int8' if quantize else 'fp32'}-{key}"
    if not (folder / "embedder.json").exists():
        _export_once(
            folder, lambda staging: export_onnx(load_torch(), model_id, staging, quantize=quantize)
        )
    embedder = OnnxEmbedder(folder)
    # Made once per export (an export from before static vectors gets them here), so that no
    # query waits for them; afterwards this maps the saved table.
    static_vectors_of(embedder)
    return embedder


def _export_once(folder: Path, export: Callable[[Path], None]) -> None:
    """Export into a staging folder of this process's own, then rename it into place.

    The cache is shared by every process of the user: two that export at once each write their
    own staging folder, and the first rename wins; the other drops its copy and uses the winner's.
    A folder without `embedder.json` is what a killed export left, and is replaced.
    """
    import shutil

    staging = folder.with_name(f"{folder.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        export(staging)
        if folder.exists() and not (folder / "embedder.json").exists():
            shutil.rmtree(folder, ignore_errors=True)
        try:
            staging.rename(folder)
        except OSError:
            if not (folder / "embedder.json").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
