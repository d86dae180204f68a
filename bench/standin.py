"""A stand-in for the embedding model, for benchmarks of the index's own work (never relevance).

Texts become hashed bags of words (crc32 of each lower-cased word, cached), so texts that share
words are near each other; tokens are words and punctuation marks, which a 256-token model limit
turns into passages about as long as the real tokenizer's. Encoding costs microseconds, so a
benchmark built on it measures chunking, BM25, FAISS and the catalog, and leaves the model out:
say so wherever its figures are printed.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

import numpy as np

__all__ = ["StandInEmbedder"]

_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)
_WORD = re.compile(r"\w+", re.UNICODE)


class StandInEmbedder:
    """Hashed bag-of-words unit vectors; a word-and-punctuation tokenizer (an Embedder)."""

    special_tokens = 2

    def __init__(
        self, *, dim: int = 384, max_tokens: int = 256, model_id: str = "bench/stand-in-bow"
    ) -> None:
        self.dim = dim
        self.max_tokens = max_tokens
        self.model_id = model_id
        self._buckets: dict[str, int] = {}

    def token_spans(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        """Each word or punctuation mark is a token."""
        return [[m.span() for m in _TOKEN.finditer(t)] for t in texts]

    def _bucket(self, word: str) -> int:
        bucket = self._buckets.get(word)
        if bucket is None:
            bucket = zlib.crc32(word.encode("utf-8", "surrogatepass")) % self.dim
            self._buckets[word] = bucket
        return bucket

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False
    ) -> np.ndarray:
        """Unit vectors of hashed, lower-cased words (a text without words: the first axis)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            buckets = [self._bucket(w) for w in _WORD.findall(text.lower())]
            if buckets:
                np.add.at(out[row], buckets, 1.0)
                out[row] /= np.linalg.norm(out[row])
            else:
                out[row, 0] = 1.0
        return out
