"""A deterministic fake embedder, for plumbing tests only (never for relevance).

Texts become hashed bags of words, so texts that share words really are near each other, and
tokens are words and punctuation marks, so the chunker's limits can be exercised on short texts.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)


class FakeEmbedder:
    """Hashed bag-of-words vectors; a word-and-punctuation tokenizer."""

    special_tokens = 2

    def __init__(self, *, dim: int = 256, max_tokens: int = 64, model_id: str = "fake/bow") -> None:
        self.dim = dim
        self.max_tokens = max_tokens
        self.model_id = model_id

    def token_spans(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        """Each word or punctuation mark is a token."""
        return [[m.span() for m in _TOKEN.finditer(t)] for t in texts]

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False
    ) -> np.ndarray:
        """Unit vectors of hashed, lower-cased words."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                digest = hashlib.blake2b(word.encode("utf-8", "surrogatepass"), digest_size=4)
                out[row, int.from_bytes(digest.digest(), "little") % self.dim] += 1.0
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm else out[row]
            if not norm:
                out[row, 0] = 1.0
        return out
