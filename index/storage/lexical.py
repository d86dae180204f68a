"""The lexical side: a BM25 index over passages' terms (the analyzer, analysis.py, makes them;
it is re-exported here).

The same analyzer tokenizes passages at build time, queries at search time and passages again for
highlighting, so a highlighted word is exactly a word that matched. Query text is never parsed as
syntax: quotes, operators, `*` or parentheses are just characters between words.

The index keeps term frequencies, not scores: postings (passage row, tf) per term, and each
passage's length. Scores are Lucene's BM25 as bm25s computes them (idf = ln(1 + (N - df + 0.5) /
(df + 0.5)), tf / (tf + k1·(1 - b + b·len/avglen))), computed per query over the query terms'
postings. Because nothing global is baked in, a write removes and appends passages without
re-reading the others' words, and the words need not be stored anywhere else.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from policy_search.index.analysis.analyzer import (
    ANALYSES,
    ANALYSIS,
    PREFIXES,
    Analyzer,
    LexicalSettings,
)
from policy_search.index.errors import IndexCorrupt

__all__ = [
    "ANALYSES", "ANALYSIS", "PREFIXES", "Analyzer", "CorpusStats", "LexicalIndex",
    "LexicalSettings", "Totals", "corpus_scores", "document_frequencies", "term_scores",
]  # fmt: skip


class LexicalIndex:
    """BM25 over passages; row i of the index is passage `ids[i]`."""

    FILES = ("ids.npy", "lengths.npy", "indptr.npy", "rows.npy", "tf.npy", "vocab.json")

    def __init__(
        self,
        *,
        ids: np.ndarray,
        lengths: np.ndarray,
        vocab: list[str],
        indptr: np.ndarray,
        rows: np.ndarray,
        tf: np.ndarray,
        settings: LexicalSettings,
    ) -> None:
        self.ids = ids  # int64, one a row
        self.lengths = lengths  # int32: indexed words of each row
        self.vocab = vocab  # term of each column
        self.indptr = indptr  # int64: column c's postings are [indptr[c], indptr[c + 1])
        self.rows = rows  # int32: posting → row
        self.tf = tf  # uint8: posting → term frequency (capped at 255)
        self.settings = settings
        self._column = {term: c for c, term in enumerate(vocab)}

    @cached_property
    def analyzer(self) -> Analyzer:
        """The analyzer of the index's language (made when first asked: segments need none)."""
        return Analyzer.of(self.settings)

    # -- building ------------------------------------------------------------------------

    @classmethod
    def build(
        cls, texts: Sequence[str], ids: np.ndarray, settings: LexicalSettings
    ) -> LexicalIndex:
        """Index passage texts (title prefix included, like the embedded text)."""
        analyzer = Analyzer.of(settings)
        return cls.from_terms([analyzer.terms(t) for t in texts], ids, settings)

    @classmethod
    def from_terms(
        cls, terms: Sequence[list[str]], ids: np.ndarray, settings: LexicalSettings
    ) -> LexicalIndex:
        """Index passages already analyzed."""
        empty = cls(
            ids=np.zeros(0, np.int64), lengths=np.zeros(0, np.int32), vocab=[],
            indptr=np.zeros(1, np.int64), rows=np.zeros(0, np.int32), tf=np.zeros(0, np.uint8),
            settings=settings,
        )  # fmt: skip
        return empty.plus(terms, ids)

    def plus(self, terms: Sequence[list[str]], ids: np.ndarray) -> LexicalIndex:
        """A new index: this one with passages appended (rows after the existing ones)."""
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) != len(terms):
            raise ValueError("one list of terms per id")
        vocab, column = list(self.vocab), dict(self._column)
        cols: list[int] = []
        tfs: list[int] = []
        rows: list[int] = []
        lengths = np.fromiter((len(t) for t in terms), dtype=np.int32, count=len(terms))
        first = len(self.ids)
        for row, words in enumerate(terms, start=first):
            for term, count in Counter(words).items():
                c = column.get(term)
                if c is None:
                    c = column[term] = len(vocab)
                    vocab.append(term)
                cols.append(c)
                rows.append(row)
                tfs.append(min(count, 255))
        old_cols = np.repeat(np.arange(len(self.vocab), dtype=np.int32), np.diff(self.indptr))
        all_cols = np.concatenate([old_cols, np.asarray(cols, dtype=np.int32)])
        order = np.argsort(all_cols, kind="stable")  # within a column, rows stay ascending
        return LexicalIndex(
            ids=np.concatenate([self.ids, ids]),
            lengths=np.concatenate([self.lengths, lengths]),
            vocab=vocab,
            indptr=_indptr(all_cols, len(vocab)),
            rows=np.concatenate([self.rows, np.asarray(rows, dtype=np.int32)])[order],
            tf=np.concatenate([self.tf, np.asarray(tfs, dtype=np.uint8)])[order],
            settings=self.settings,
        )

    def without(self, ids: np.ndarray) -> LexicalIndex:
        """A new index: this one without the passages `ids` (the others keep their order)."""
        keep = ~np.isin(self.ids, np.asarray(ids, dtype=np.int64))
        if keep.all():
            return self
        new_row = (np.cumsum(keep) - 1).astype(np.int32)
        postings = keep[self.rows]
        cols = np.repeat(np.arange(len(self.vocab), dtype=np.int32), np.diff(self.indptr))
        return LexicalIndex(
            ids=self.ids[keep], lengths=self.lengths[keep], vocab=self.vocab,
            indptr=_indptr(cols[postings], len(self.vocab)),
            rows=new_row[self.rows[postings]], tf=np.asarray(self.tf)[postings],
            settings=self.settings,
        )  # fmt: skip

    @classmethod
    def merged(cls, parts: Sequence[LexicalIndex], settings: LexicalSettings) -> LexicalIndex:
        """One index of these indexes' rows, in order (a merge of segments)."""
        vocab: list[str] = []
        column: dict[str, int] = {}
        cols, rows, tfs = [], [], []
        first = 0
        for part in parts:
            mapping = np.empty(len(part.vocab), dtype=np.int32)
            for c, term in enumerate(part.vocab):
                mapping[c] = column.setdefault(term, len(vocab))
                if mapping[c] == len(vocab):
                    vocab.append(term)
            part_cols = np.repeat(np.arange(len(part.vocab), dtype=np.int32), np.diff(part.indptr))
            cols.append(mapping[part_cols])
            rows.append(np.asarray(part.rows, dtype=np.int32) + first)
            tfs.append(np.asarray(part.tf, dtype=np.uint8))
            first += len(part)
        all_cols = np.concatenate([np.zeros(0, np.int32), *cols])
        order = np.argsort(all_cols, kind="stable")  # within a column, rows stay ascending
        return cls(
            ids=np.concatenate([np.zeros(0, np.int64), *(p.ids for p in parts)]),
            lengths=np.concatenate([np.zeros(0, np.int32), *(p.lengths for p in parts)]),
            vocab=vocab, indptr=_indptr(all_cols, len(vocab)),
            rows=np.concatenate([np.zeros(0, np.int32), *rows])[order],
            tf=np.concatenate([np.zeros(0, np.uint8), *tfs])[order], settings=settings,
        )  # fmt: skip

    def holding(self, terms: Sequence[str]) -> np.ndarray:
        """How many rows hold each of `terms` (deleted or not), in one array operation."""
        columns = np.fromiter((self._column.get(t, -1) for t in terms), np.int64, len(terms))
        known = columns >= 0
        out = np.zeros(len(terms), np.int64)
        out[known] = self.indptr[columns[known] + 1] - self.indptr[columns[known]]
        return out

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """(rows, term frequencies) of the rows holding `term`."""
        c = self._column.get(term)
        if c is None:
            return np.zeros(0, np.int32), np.zeros(0, np.uint8)
        start, end = int(self.indptr[c]), int(self.indptr[c + 1])
        return self.rows[start:end], self.tf[start:end]

    # -- files ---------------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        """Write the index into `directory`."""
        directory.mkdir(parents=True, exist_ok=True)
        arrays = {"ids": self.ids, "lengths": self.lengths, "indptr": self.indptr,
                  "rows": self.rows, "tf": self.tf}  # fmt: skip
        for name, array in arrays.items():
            np.save(directory / f"{name}.npy", np.ascontiguousarray(array))
        (directory / "vocab.json").write_text(
            json.dumps(self.vocab, ensure_ascii=False), encoding="utf-8"
        )

    @classmethod
    def load(cls, directory: Path, settings: LexicalSettings) -> LexicalIndex:
        """Open a saved index (postings memory-mapped)."""
        try:
            arrays = {
                name: np.load(directory / f"{name}.npy", mmap_mode="r" if big else None)
                for name, big in (("ids", False), ("lengths", False), ("indptr", False),
                                  ("rows", True), ("tf", True))
            }  # fmt: skip
            vocab = json.loads((directory / "vocab.json").read_text(encoding="utf-8"))
            index = cls(vocab=vocab, settings=settings, **arrays)
            consistent = (
                isinstance(vocab, list)
                and len(index.indptr) == len(vocab) + 1
                and len(index.lengths) == len(index.ids)
                and len(index.rows) == len(index.tf) == int(index.indptr[-1])
                and (len(index.rows) == 0 or int(index.rows.max()) < len(index.ids))
            )
        except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError):
            consistent = False
        if not consistent:
            raise IndexCorrupt(
                f"the lexical index in {directory} is unreadable; rebuild with "
                "`policy-search index`"
            )
        return index

    # -- scoring -------------------------------------------------------------------------

    def scores(self, terms: Sequence[str]) -> np.ndarray:
        """BM25 score of every row for the query terms (unique; unknown terms ignored)."""
        return corpus_scores([(self, None)], terms, self.settings)[0]

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True, slots=True)
class Totals:
    """What BM25 needs of a whole corpus besides each term's document frequency: its live
    passage count and their summed length. Shards of one index add theirs up, so that each
    scores with the statistics of all of them (the same scores as one index)."""

    n: int
    length: int

    def __add__(self, other: Totals) -> Totals:
        return Totals(self.n + other.n, self.length + other.length)


@dataclass(frozen=True, slots=True)
class CorpusStats:
    """What BM25 needs of the whole live index: passage count, mean length, each part's
    length normalisation (k1·(1 - b + b·len/mean) for every row)."""

    n: int
    mean: float
    norms: list[np.ndarray]

    @staticmethod
    def totals(parts: Sequence[tuple[LexicalIndex, np.ndarray]]) -> Totals:
        """The live passage count and summed length of these (index, live rows)."""
        n = sum(int(live.sum()) for _, live in parts)
        return Totals(n, sum(int(p.lengths[live].sum(dtype=np.int64)) for p, live in parts))

    @classmethod
    def of(
        cls,
        parts: Sequence[tuple[LexicalIndex, np.ndarray]],
        settings: LexicalSettings,
        totals: Totals | None = None,
    ) -> CorpusStats:
        """The statistics of the live rows of these (index, live rows) together, or of a
        larger corpus they are part of (its `totals`)."""
        whole = totals or cls.totals(parts)
        n, total = whole.n, whole.length
        mean = total / n if n else 1.0
        k1, b = settings.k1, settings.b
        norms = [(k1 * (1 - b + b * p.lengths / max(mean, 1e-9))).astype(np.float32)
                 for p, _ in parts]  # fmt: skip
        return cls(n, mean, norms)


def document_frequencies(
    parts: Sequence[tuple[LexicalIndex, np.ndarray]], terms: Sequence[str]
) -> np.ndarray:
    """How many live rows of these parts hold each of `terms` (float64, in the given order)."""
    df = np.zeros(len(terms), dtype=np.float64)
    for part, live in parts:
        whole = bool(live.all())  # no deletions: a posting list's length is its count
        for j, term in enumerate(terms):
            rows, _ = part.postings(term)
            df[j] += len(rows) if whole else int(np.count_nonzero(live[rows]))
    return df


def corpus_scores(
    parts: Sequence[tuple[LexicalIndex, np.ndarray | None]],
    terms: Sequence[str],
    settings: LexicalSettings,
    stats: CorpusStats | None = None,
    df: np.ndarray | None = None,
) -> list[np.ndarray]:
    """BM25 of every row of each (index, live rows or None for all), zero for rows not live.

    The statistics (passage count, mean length, each term's document frequency) are those of
    the live rows of all parts together, and terms are summed in one order, so how passages are
    split into parts never changes a score, to the bit. `stats`: CorpusStats.of the same parts,
    computed once for many queries; `stats` and `df` (of `sorted(set(terms))`) may also be a
    larger corpus's, whose parts are elsewhere (the shards of one index).
    """
    lives = [np.ones(len(p), dtype=bool) if live is None else live for p, live in parts]
    live_parts = [(p, live) for (p, _), live in zip(parts, lives, strict=True)]
    if stats is None:
        stats = CorpusStats.of(live_parts, settings)
    unique = sorted(set(terms))
    if df is None:
        df = document_frequencies(live_parts, unique)
    idf = np.log1p((stats.n - df + 0.5) / (df + 0.5)).astype(np.float32)
    out = []
    for (part, _), live, norm in zip(parts, lives, stats.norms, strict=True):
        scores = np.zeros(len(part), dtype=np.float32)
        lists = [part.postings(t) for t in unique]
        if any(len(rows) for rows, _ in lists):
            for j, (rows, tf) in enumerate(lists):
                if len(rows) and df[j]:
                    scores[rows] += term_scores(idf[j], tf, norm[rows])
            if not live.all():
                scores[~live] = 0.0
        out.append(scores)
    return out


def term_scores(idf: np.float32 | np.ndarray, tf: np.ndarray, norms: np.ndarray) -> np.ndarray:
    """idf · tf / (tf + norm) of one term's postings (or of postings of many terms, `idf` one
    a posting), in float32, computed in place in two buffers: the same operations in the same
    order as the formula (so the same bits), without its three temporaries the size of the
    postings list. `norms` is overwritten: a gathered copy, the caller's to give."""
    weighted = tf.astype(np.float32)
    norms += weighted  # norms: a gathered copy, this function's own
    weighted *= idf
    weighted /= norms
    return weighted


def _indptr(cols: np.ndarray, n: int) -> np.ndarray:
    """CSC column pointers from each posting's column."""
    counts = np.bincount(cols, minlength=n).astype(np.int64)
    return np.concatenate([np.zeros(1, np.int64), np.cumsum(counts)])
