"""The lexical side: an analyzer (words → stems) and a BM25 index over passages (bm25s).

The same analyzer tokenizes passages at build time, queries at search time and passages again for
highlighting, so a highlighted word is exactly a word that matched. Query text is never parsed as
syntax: quotes, operators, `*` or parentheses are just characters between words.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from index.errors import IndexCorrupt

__all__ = ["Analyzer", "LexicalIndex", "LexicalSettings"]

_WORD = re.compile(r"\w\w+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class LexicalSettings:
    """BM25 parameters (chosen on SciFact's training judgments) and the analyzer's language."""

    k1: float = 1.2
    b: float = 0.5
    language: str = "english"


class Analyzer:
    """Lower-cased words of two or more characters, stop words removed, Snowball-stemmed."""

    def __init__(self, language: str = "english") -> None:
        import Stemmer
        from bm25s.stopwords import STOPWORDS_EN

        # bm25s's (and Lucene's) short English list: "who", "should" and "not" still count.
        self.stopwords = frozenset(STOPWORDS_EN)
        self._stem = lru_cache(maxsize=200_000)(Stemmer.Stemmer(language).stemWord)

    def terms(self, text: str) -> list[str]:
        """The stems of `text`, in order, repeats kept."""
        return [self._stem(w) for w in _WORD.findall(text.lower()) if w not in self.stopwords]

    def term_spans(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, stem) of every indexed word of `text`."""
        spans = []
        for match in _WORD.finditer(text):
            word = match.group().lower()
            if word not in self.stopwords:
                spans.append((match.start(), match.end(), self._stem(word)))
        return spans


class LexicalIndex:
    """BM25 over passages; row i of the index is passage `ids[i]`."""

    def __init__(self, model: object | None, ids: np.ndarray, analyzer: Analyzer) -> None:
        self._bm25 = model  # None for an index of no passages (bm25s needs at least one)
        self.ids = ids
        self.analyzer = analyzer
        self._vocab: dict[str, int] = getattr(model, "vocab_dict", {})

    @classmethod
    def build(
        cls, texts: Sequence[str], ids: np.ndarray, settings: LexicalSettings
    ) -> LexicalIndex:
        """Index passage texts (title prefix included, like the embedded text)."""
        analyzer = Analyzer(settings.language)
        return cls.from_terms([analyzer.terms(t) for t in texts], ids, settings)

    @classmethod
    def from_terms(
        cls, terms: Sequence[list[str]], ids: np.ndarray, settings: LexicalSettings
    ) -> LexicalIndex:
        """Index passages already analyzed (as kept in the store)."""
        import bm25s

        model = None
        if len(terms):
            model = bm25s.BM25(k1=settings.k1, b=settings.b, method="lucene")
            model.index(list(terms), show_progress=False)
        return cls(model, np.asarray(ids, dtype=np.int64), Analyzer(settings.language))

    def save(self, directory: Path) -> None:
        """Write the index into `directory`."""
        directory.mkdir(parents=True, exist_ok=True)
        if self._bm25 is not None:
            self._bm25.save(str(directory), show_progress=False)  # type: ignore[attr-defined]
        np.save(directory / "ids.npy", self.ids)

    @classmethod
    def load(cls, directory: Path, settings: LexicalSettings) -> LexicalIndex:
        """Open a saved index (memory-mapped)."""
        import bm25s

        try:
            ids = np.load(directory / "ids.npy")
            model = None
            if len(ids):
                model = bm25s.BM25.load(str(directory), mmap=True, show_progress=False)
        except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
            raise IndexCorrupt(
                f"the lexical index in {directory} is unreadable ({exc.__class__.__name__}); "
                "rebuild with `policy-search index`"
            ) from None
        return cls(model, ids, Analyzer(settings.language))

    def scores(self, terms: Sequence[str]) -> np.ndarray:
        """BM25 score of every row for the query terms (unique; unknown terms ignored)."""
        token_ids = sorted({self._vocab[t] for t in terms if t in self._vocab})
        if not token_ids:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self._bm25.get_scores_from_ids(token_ids), dtype=np.float32)  # type: ignore[union-attr]

    def __len__(self) -> int:
        return len(self.ids)
