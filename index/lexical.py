"""The lexical side: an analyzer (words → stems) and a BM25 index over passages.

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
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from policy_search.index.errors import IndexCorrupt
from policy_search.index.stemmers import (
    DEFAULT_STEMMER,
    STEMMERS,
    StemmerEntry,
    stemmer_entry,
    stemmer_version,
)

__all__ = [
    "ANALYSIS", "PREFIXES", "Analyzer", "CorpusStats", "LexicalIndex", "LexicalSettings", "Totals",
    "corpus_scores", "document_frequencies",
]  # fmt: skip

# A word: two or more word characters. A word prefix written with a hyphen stays with its word
# ("non-proliferation" is one word, the same term as "nonproliferation", which "proliferation"
# alone does not match); a number after the hyphen stays apart ("post-2015": post, 2015).
PREFIXES = (
    "anti", "bi", "co", "counter", "de", "extra", "inter", "intra", "macro", "micro", "mis",
    "multi", "neo", "non", "pan", "post", "pre", "pro", "pseudo", "quasi", "re", "semi", "sub",
    "super", "trans", "tri", "ultra", "un",
)  # fmt: skip
_PREFIX = "|".join(sorted(PREFIXES, key=len, reverse=True))
_TOKEN = rf"(?:(?:{_PREFIX})-(?=[^\W\d_]\w))?\w\w+"
_WORD = re.compile(rf"\b(?:(?:{_PREFIX})-(?=[^\W\d_]\w)\w+|\w\w+)", re.UNICODE | re.IGNORECASE)
_PLAIN_WORD = re.compile(r"\w\w+", re.UNICODE)  # the words of format 7 (ANALYSIS 1)
# What the analysis chain does besides stemming, recorded with the stemmer: 1 was format 7's
# (plain words, Snowball); 2 keeps hyphenated prefixes with their word and keeps a word whole
# where its stem would change its first two letters.
ANALYSIS = 2
ANALYSES = (1, ANALYSIS)  # the chains this program can still run (1: as format 7 indexed)


@dataclass(frozen=True, slots=True)
class LexicalSettings:
    """BM25 parameters (chosen on SciFact's training judgments) and the analyzer: its language,
    stemmer (stemmers.STEMMERS), the stemmer's package version and the chain's own version
    (ANALYSIS). Together they say which terms an index holds: a searcher analyses queries with
    exactly that analyzer, or refuses the index."""

    k1: float = 1.2
    b: float = 0.5
    language: str = "english"
    stemmer: str = DEFAULT_STEMMER
    stemmer_version: str = field(default_factory=lambda: stemmer_version(DEFAULT_STEMMER))
    analysis: int = ANALYSIS

    @property
    def analyzer_name(self) -> str:
        """The analyzer, in words: "krovetz 0.8 (analysis 2)"."""
        return f"{self.stemmer} {self.stemmer_version or '?'} (analysis {self.analysis})"

    def with_analyzer(self, stemmer: str) -> LexicalSettings:
        """These BM25 parameters with this program's version of another stemmer."""
        return replace(self, stemmer=stemmer, stemmer_version=stemmer_version(stemmer),
                       analysis=ANALYSIS)  # fmt: skip

    def current(self) -> bool:
        """Whether this program analyses as these settings say (its installed stemmer)."""
        return (
            self.stemmer in STEMMERS
            and self.stemmer_version == stemmer_version(self.stemmer)
            and self.analysis in ANALYSES
        )


@lru_cache(maxsize=1024)
def _heads_pattern(heads: frozenset[str]) -> re.Pattern[str]:
    """The words (as `_WORD` finds them) that start with one of `heads`, in any case: the regex
    engine skips the others, which a loop over every word would each lower-case and test."""
    alternatives = "|".join(sorted(map(re.escape, heads)))
    return re.compile(rf"\b(?=(?:{alternatives}))(?:{_TOKEN})", re.UNICODE | re.IGNORECASE)


class Analyzer:
    """Lower-cased words of two or more characters (a hyphenated prefix kept with its word),
    stop words removed, stemmed (stemmers.STEMMERS; Krovetz by default).

    A stem that would change a word's first two letters ("danish" → "denmark", "went" → "go")
    is not taken: the word is its own term. So a term always starts as its word does, which
    keeps highlighting cheap (matching_spans) and keeps a lemmatizer's leaps out of matching.
    """

    def __init__(
        self,
        language: str = "english",
        stemmer: str | StemmerEntry = DEFAULT_STEMMER,
        *,
        analysis: int = ANALYSIS,
    ) -> None:
        from bm25s.stopwords import STOPWORDS_EN

        entry = stemmer if isinstance(stemmer, StemmerEntry) else stemmer_entry(stemmer)
        if analysis not in ANALYSES:
            raise ValueError(f"unknown analysis version {analysis}")
        # bm25s's (and Lucene's) short English list: "who", "should" and "not" still count.
        self.language = language
        self.stemmer = entry.name
        self.stemmer_version = stemmer_version(entry)
        self.analysis = analysis
        self.stopwords = frozenset(STOPWORDS_EN)
        self._words = _WORD if analysis >= 2 else _PLAIN_WORD
        self._keeps_head = entry.keeps_head or analysis >= 2
        self._head_exceptions = entry.head_exceptions if analysis < 2 else frozenset()
        stem = entry.make(language)
        if analysis >= 2:
            stem = _guarded(stem)
        self._stem = lru_cache(maxsize=200_000)(stem)

    def analyses(self, settings: LexicalSettings) -> bool:
        """Whether this analyzer makes the terms an index of these settings holds."""
        return (self.language, self.stemmer, self.stemmer_version, self.analysis) == (
            settings.language, settings.stemmer, settings.stemmer_version, settings.analysis,
        )  # fmt: skip

    @classmethod
    def of(cls, settings: LexicalSettings) -> Analyzer:
        """The analyzer these settings name."""
        return cls(settings.language, settings.stemmer, analysis=settings.analysis)

    def _term(self, word: str) -> str:
        """The term of a word as the word pattern found it, lower-cased."""
        return self._stem(word.replace("-", "") if "-" in word else word)

    def terms(self, text: str) -> list[str]:
        """The stems of `text`, in order, repeats kept."""
        return [self._term(w) for w in self._words.findall(text.lower()) if w not in self.stopwords]

    def term_spans(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, stem) of every indexed word of `text`."""
        spans = []
        for match in self._words.finditer(text):
            word = match.group().lower()
            if word not in self.stopwords:
                spans.append((match.start(), match.end(), self._term(word)))
        return spans

    def matching_spans(self, text: str, stems: set[str]) -> list[tuple[int, int]]:
        """(start, end) of the words of `text` whose stem is in `stems` (term_spans, filtered).

        A term starts with its word's first two letters (the class docstring; Snowball's
        exceptions aside), so only words starting like a wanted stem are stemmed at all
        (highlighting a page of hits was a fifth of a query's time).
        """
        if (
            self.language != "english" or not self._keeps_head or len(text.lower()) != len(text)
        ):  # e.g. "İ" → "i̇"
            return [(s, e) for s, e, stem in self.term_spans(text) if stem in stems]
        heads = {stem[:2] for stem in stems if len(stem) >= 2}
        if self._head_exceptions:  # Snowball: dying, lying, tying
            heads |= {word[:2] for word in self._head_exceptions if self._stem(word) in stems}
        if not heads:
            return []
        pattern = _heads_pattern(frozenset(heads)) if self.analysis >= 2 else _plain_heads(heads)
        spans = []
        for match in pattern.finditer(text):
            start = match.start()
            word = match.group().lower()
            if (
                self.analysis >= 2
                and start
                and text[start - 1] == "-"
                and not _word_at(text, start)
            ):
                continue  # the second half of a prefixed word ("non-proliferation" is one)
            if word[:2] in heads and word not in self.stopwords and self._term(word) in stems:
                spans.append((start, match.end()))
        return spans

    def phrase_spans(self, text: str, phrase_terms: Sequence[str]) -> list[tuple[int, int]]:
        """Where the phrase's terms occur side by side and in order among the indexed words of
        `text` (stop words skipped: "Law of the Sea" is law, sea): each occurrence's span from
        its first word's start to its last word's end, in order (overlapping ones included)."""
        wanted = list(phrase_terms)
        if not wanted:
            return []
        words = self.term_spans(text)
        n = len(wanted)
        return [
            (words[i][0], words[i + n - 1][1])
            for i in range(len(words) - n + 1)
            if all(words[i + j][2] == wanted[j] for j in range(n))
        ]

    def pairs_near(
        self, text: str, pairs: set[tuple[str, str]], window: int = 1
    ) -> set[tuple[str, str]]:
        """Which of the (first, second) stem pairs occur in `text` in that order with fewer than
        `window` indexed words between them (window 1: side by side, stop words aside, so "Law
        of the Sea" is the pair law, sea)."""
        wanted = {stem for pair in pairs for stem in pair}
        spans = self.matching_spans(text, wanted)
        found: set[tuple[str, str]] = set()
        last: dict[str, int] = {}  # stem → index in `spans` of its latest occurrence
        stems = [self._term(text[s:e].lower()) for s, e in spans]
        for i, stem in enumerate(stems):
            for first, second in pairs:
                j = last.get(first)
                if stem == second and j is not None and (first, second) not in found:
                    gap = text[spans[j][1] : spans[i][0]]
                    # Indexed words are 2+ characters: a long gap holds too many of them.
                    if len(gap) <= 40 * window and len(self.terms(gap)) < window:
                        found.add((first, second))
            last[stem] = i
        return found


def _word_at(text: str, start: int) -> bool:
    """Whether `_WORD`, scanning `text`, finds a word starting at `start` (just after a hyphen:
    not when the hyphen joins a prefix to it). The run of word characters and hyphens around it
    is scanned alone, which finds what a scan of the whole text finds there."""
    run = start
    while run and (text[run - 1] == "-" or text[run - 1].isalnum() or text[run - 1] == "_"):
        run -= 1
    for match in _WORD.finditer(text, run, start + 2):  # two characters: what decides it
        if match.start() >= start:
            return match.start() == start
    return False


def _guarded(stem: Callable[[str], str]) -> Callable[[str], str]:
    """`stem`, but a word whose stem would not start with the word's first two letters is kept
    whole (the Analyzer's docstring)."""

    def guarded(word: str) -> str:
        result = stem(word)
        return result if result[:2] == word[:2] else word

    return guarded


@lru_cache(maxsize=1024)
def _plain_heads_pattern(heads: frozenset[str]) -> re.Pattern[str]:
    alternatives = "|".join(sorted(map(re.escape, heads)))
    return re.compile(rf"\b(?:{alternatives})\w*", re.UNICODE | re.IGNORECASE)


def _plain_heads(heads: set[str]) -> re.Pattern[str]:
    """Analysis 1's heads pattern (plain words)."""
    return _plain_heads_pattern(frozenset(heads))


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
        for j, term in enumerate(terms):
            rows, _ = part.postings(term)
            df[j] += int(live[rows].sum()) if len(rows) else 0
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
                    tf32 = np.asarray(tf, dtype=np.float32)
                    scores[rows] += idf[j] * tf32 / (tf32 + norm[rows])
            scores[~live] = 0.0
        out.append(scores)
    return out


def _indptr(cols: np.ndarray, n: int) -> np.ndarray:
    """CSC column pointers from each posting's column."""
    counts = np.bincount(cols, minlength=n).astype(np.int64)
    return np.concatenate([np.zeros(1, np.int64), np.cumsum(counts)])
