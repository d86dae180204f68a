"""Static token vectors: the model's meaning of a sentence, near enough, from its tokenizer alone.

A snippet of a passage that matched by meaning alone is the run of its sentences nearest the query.
Embedding those sentences with the model costs a model call per page (~100 ms, p90 10x a dense
query); instead each word piece of the model's vocabulary gets one vector, made once per model by
running the model over that word piece alone ([CLS] piece [SEP], mean-pooled as the model pools:
Model2Vec's distillation), and a sentence's vector is the mean of its pieces' vectors. These lie in
the model's own output space, so they are scored against the query's real vector (already computed
by the ranking). On the judged index they pick the same sentence run as the model for about half
of such passages, and an overlapping one for about 70% (bench/README.md, "Snippets without a model
call"): the input embedding table itself, or either side's static vector, agrees less.

The table is saved beside the model's ONNX export (`static-vectors.npy`, float16, 23 MB) when the
export is made; an export made before gets it on first use (`distill`: ~20 s of CPU, once).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["STATIC_FILE", "StaticVectors", "distill", "load_static_vectors", "static_vectors_of"]

STATIC_FILE = "static-vectors.npy"
_BATCH = 1024  # word pieces per model run when distilling: 3 tokens each
_CLS, _SEP = "[CLS]", "[SEP]"

Spans = Sequence[tuple[int, int]]


class StaticVectors:
    """Sentence vectors from a table of word-piece vectors and the model's tokenizer."""

    def __init__(self, tokenizer: Any, table: np.ndarray) -> None:
        self.tokenizer = tokenizer  # a `tokenizers.Tokenizer`, without truncation or padding
        self.table = table  # (vocabulary, dim): one vector per word piece

    def nearness(
        self, texts: Sequence[str], sentences: Sequence[Spans], vector: np.ndarray
    ) -> list[list[float]]:
        """For each text, the cosine of each of its `sentences` to `vector`: one tokenizer call."""
        encodings = self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        query = np.asarray(vector, dtype=np.float32)
        return [
            (self._pooled(e.ids, e.offsets, spans) @ query).tolist()
            for e, spans in zip(encodings, sentences, strict=True)
        ]

    def _pooled(self, ids: list[int], offsets: list[tuple[int, int]], spans: Spans) -> np.ndarray:
        """Unit mean vectors of the word pieces that start within each span (zero for none)."""
        out = np.zeros((len(spans), self.table.shape[1]), dtype=np.float32)
        if not ids or not spans:
            return out
        starts = np.fromiter((s for s, _ in offsets), dtype=np.int64, count=len(offsets))
        bounds = np.asarray(spans, dtype=np.int64)
        first = np.searchsorted(starts, bounds[:, 0], side="left")
        last = np.searchsorted(starts, bounds[:, 1], side="left")
        vectors = self.table[np.asarray(ids)].astype(np.float32)
        sums = np.cumsum(np.vstack([np.zeros((1, out.shape[1]), np.float32), vectors]), axis=0)
        out = sums[last] - sums[first]
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)


def distill(states: Callable[[np.ndarray], np.ndarray], cls_id: int, sep_id: int, size: int) -> np.ndarray:
    """The table: for each word piece id below `size`, the model's mean-pooled token states of
    [CLS] piece [SEP] (`states`: ids (n, 3) → states (n, 3, dim)), as float16."""
    parts = []
    for start in range(0, size, _BATCH):
        pieces = np.arange(start, min(start + _BATCH, size), dtype=np.int64)
        ids = np.stack([np.full_like(pieces, cls_id), pieces, np.full_like(pieces, sep_id)], 1)
        parts.append(states(ids).mean(axis=1).astype(np.float16))
    return np.concatenate(parts)


def load_static_vectors(
    folder: Path, tokenizer: Any, states: Callable[[np.ndarray], np.ndarray]
) -> StaticVectors:
    """The export's static vectors, distilled and saved into `folder` first if missing."""
    path = folder / STATIC_FILE
    if not path.exists():
        table = distill(
            states,
            tokenizer.token_to_id(_CLS),
            tokenizer.token_to_id(_SEP),
            tokenizer.get_vocab_size(),
        )
        # Written aside and renamed: two processes that distill at once each leave a whole file.
        staging = path.with_name(f"{path.stem}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}.npy")
        np.save(staging, table)
        os.replace(staging, path)
    return StaticVectors(tokenizer, np.load(path, mmap_mode="r"))


def static_vectors_of(embedder: object) -> StaticVectors | None:
    """The embedder's static vectors, or None for one that has none (the stand-ins)."""
    make = getattr(embedder, "static_vectors", None)
    return make() if callable(make) else None
