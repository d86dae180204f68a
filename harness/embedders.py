"""Embedders that stand in for the model: hashed bags of words, never for relevance.

Texts become hashed bags of words, so texts that share words really are near each other, and
tokens are words and punctuation marks, so the chunker's limits hold on plain texts. Both encode
in microseconds; they differ in size and in what they are for:

- `FakeEmbedder` (256 dimensions, a 64-token limit): plumbing tests, where short texts must reach
  the chunker's limits, and the fake server (`harness.fake_app`) that end-to-end tests run;
- `StandInEmbedder` (384 dimensions, a 256-token limit, as all-MiniLM-L6-v2): benchmarks of the
  index's own work (chunking, BM25, FAISS, the catalog) with the model left out, and the server
  on it (`harness.standin_app`). Say so wherever its figures are printed.

Each has its own model id, so an index built with one is refused by a server on another.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Sequence

import numpy as np

__all__ = ["FakeEmbedder", "StandInEmbedder"]

_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)
_WORD = re.compile(r"\w+", re.UNICODE)


class _HashedWords:
    """Unit vectors of hashed, lower-cased words; a word-and-punctuation tokenizer."""

    special_tokens = 2

    def __init__(self, *, dim: int, max_tokens: int, model_id: str) -> None:
        self.dim = dim
        self.max_tokens = max_tokens
        self.model_id = model_id

    def token_spans(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        """Each word or punctuation mark is a token."""
        return [[m.span() for m in _TOKEN.finditer(t)] for t in texts]

    def _bucket(self, word: str) -> int:
        raise NotImplementedError

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


class FakeEmbedder(_HashedWords):
    """Hashed bag-of-words vectors (blake2b of each word) for plumbing tests."""

    def __init__(self, *, dim: int = 256, max_tokens: int = 64, model_id: str = "fake/bow") -> None:
        super().__init__(dim=dim, max_tokens=max_tokens, model_id=model_id)

    def _bucket(self, word: str) -> int:
        digest = hashlib.blake2b(word.encode("utf-8", "surrogatepass"), digest_size=4)
        return int.from_bytes(digest.digest(), "little") % self.dim


class StandInEmbedder(_HashedWords):
    """Hashed bag-of-words unit vectors at the model's size (crc32 of each word, cached)."""

    def __init__(
        self, *, dim: int = 384, max_tokens: int = 256, model_id: str = "bench/stand-in-bow"
    ) -> None:
        super().__init__(dim=dim, max_tokens=max_tokens, model_id=model_id)
        self._buckets: dict[str, int] = {}

    def _bucket(self, word: str) -> int:
        bucket = self._buckets.get(word)
        if bucket is None:
            bucket = zlib.crc32(word.encode("utf-8", "surrogatepass")) % self.dim
            self._buckets[word] = bucket
        return bucket
