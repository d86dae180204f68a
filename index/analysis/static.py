"""Static token vectors: the model's meaning of a sentence, near enough, from its tokenizer alone.

A snippet of a passage that matched by meaning alone is the run of its sentences nearest the query.
Embedding those sentences with the model costs a model call per page (~100 ms, p90 10x a dense
query); instead each word piece of the model's vocabulary gets one vector, made once per model by
running the model over that word piece alone ([CLS] piece [SEP], mean-pooled as the model pools:
Model2Vec's distillation), and a sentence's vector is the mean of its pieces' vectors. These lie in
the model's own output space, so they are scored against the query's real vector (already computed
by the ranking). On the judged index they pick the same sentence run as the model for about half
of such passages (52%), and an overlapping one for 61% (bench/README.md, "Snippets without a model
call"); the input embedding table itself, or a static vector of the query, agrees less.

The table is saved beside the model's ONNX export (`static-vectors.npy`, float32, 47 MB, mapped:
the processes of one machine share it) when the export is first loaded (`distill`: ~20 s of CPU,
once per export); the torch backend distills it in memory on first use.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["STATIC_FILE", "StaticVectors", "distill", "load_static_vectors", "static_vectors_of"]

STATIC_FILE = "static-vectors.npy"
_BATCH = 1024  # word pieces per model run when distilling: 3 tokens each
_CLS, _SEP = "[CLS]", "[SEP]"
_WORDS_KEPT = 200_000  # distinct words whose pieces are kept (~40 MB at most)
# Words and single marks, as the BERT pre-tokenizer splits them (the tokenizer splits further).
_WORD = re.compile(r"\w+|[^\w\s]")

Spans = Sequence[tuple[int, int]]


class StaticVectors:
    """Sentence vectors from a table of word-piece vectors and the model's tokenizer."""

    def __init__(self, tokenizer: Any, table: np.ndarray) -> None:
        self.tokenizer = tokenizer  # a `tokenizers.Tokenizer`, without truncation or padding
        self.table = table  # (vocabulary, dim): one vector per word piece
        self._pieces: dict[str, list[int]] = {}  # word → its word-piece ids

    def nearness(
        self, texts: Sequence[str], sentences: Sequence[Spans], vector: np.ndarray
    ) -> list[list[float]]:
        """For each text, the cosine of each of its `sentences` to `vector`."""
        cosines = (self._vectors(texts, sentences) @ np.asarray(vector, np.float32)).tolist()
        out, at = [], 0
        for spans in sentences:
            out.append(cosines[at : at + len(spans)])
            at += len(spans)
        return out

    def sentence_vectors(self, text: str, spans: Spans) -> np.ndarray:
        """Unit mean vectors of each span's word pieces (zero for a span without any)."""
        return self._vectors([text], [spans])

    def _vectors(self, texts: Sequence[str], sentences: Sequence[Spans]) -> np.ndarray:
        """The unit vectors of all texts' sentences, in order: one gather and one sum for all
        of them (numpy's per-call cost is most of a passage's)."""
        ids: list[int] = []
        ends = []
        pieces = self._pieces
        for text, spans in zip(texts, sentences, strict=True):
            for start, end in spans:
                for word in _WORD.findall(text, start, end):
                    ids += pieces.get(word) or self._word_pieces(word)
                ends.append(len(ids))
        sums = np.zeros((len(ends), self.table.shape[1]), dtype=np.float32)
        if ids:
            bounds = np.asarray([0, *ends[:-1]])
            filled = np.diff([0, *ends]) > 0
            sums[filled] = np.add.reduceat(self.table[ids], bounds[filled], axis=0)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        return np.divide(sums, norms, out=np.zeros_like(sums), where=norms > 0)

    def _word_pieces(self, word: str) -> list[int]:
        """A word's pieces, by the tokenizer (a word tokenizes alike alone or in its sentence),
        kept: a word met once is met again, and a dict look-up is ~3x faster than the tokenizer."""
        if len(self._pieces) >= _WORDS_KEPT:
            self._pieces.clear()
        pieces = self._pieces[word] = self.tokenizer.encode(word, add_special_tokens=False).ids
        return pieces


def distill(states: Callable[[np.ndarray], np.ndarray], tokenizer: Any) -> np.ndarray:
    """The table: for each word piece of the tokenizer's vocabulary, the model's mean-pooled token
    states of [CLS] piece [SEP] (`states`: ids (n, 3) → states (n, 3, dim))."""
    cls_id, sep_id = tokenizer.token_to_id(_CLS), tokenizer.token_to_id(_SEP)
    size = tokenizer.get_vocab_size()
    parts = []
    for start in range(0, size, _BATCH):
        pieces = np.arange(start, min(start + _BATCH, size), dtype=np.int64)
        ids = np.stack([np.full_like(pieces, cls_id), pieces, np.full_like(pieces, sep_id)], 1)
        parts.append(states(ids).mean(axis=1).astype(np.float32))
    return np.concatenate(parts)


def load_static_vectors(
    folder: Path, tokenizer: Any, states: Callable[[np.ndarray], np.ndarray]
) -> StaticVectors:
    """The export's static vectors, distilled and saved into `folder` first if missing."""
    path = folder / STATIC_FILE
    if not path.exists():
        table = distill(states, tokenizer)
        # Written aside and renamed: two processes that distill at once each leave a whole file.
        staging = path.with_name(f"{path.stem}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}.npy")
        np.save(staging, table)
        os.replace(staging, path)
    return StaticVectors(tokenizer, np.load(path, mmap_mode="r"))


def static_vectors_of(embedder: object) -> StaticVectors | None:
    """The embedder's static vectors, or None for one that has none (the stand-ins)."""
    make = getattr(embedder, "static_vectors", None)
    return make() if callable(make) else None
