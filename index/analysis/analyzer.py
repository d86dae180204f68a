"""The analysis chain: text → the terms BM25 indexes and matches (words → stems).

One chain at index and query time alike, and again for highlighting, so a highlighted word is
exactly a word whose term matched: inflections meet, derivations do not (stemmers.py), and a
hyphenated prefix stays with its word. Which chain built an index is recorded in its manifest
(LexicalSettings), and a searcher analyses queries with exactly that chain or refuses the index.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache

from policy_search.index.analysis.stemmers import (
    DEFAULT_STEMMER,
    STEMMERS,
    StemmerEntry,
    stemmer_entry,
    stemmer_version,
)

__all__ = ["ANALYSES", "ANALYSIS", "PREFIXES", "Analyzer", "LexicalSettings"]

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
        stem = _stemmer(entry, language)
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
        # Only the words with one of the phrase's terms are stemmed (matching_spans); between
        # two of them side by side, the gap holds no indexed word.
        spans = self.matching_spans(text, set(wanted))
        terms = [self._term(text[s:e].lower()) for s, e in spans]
        n = len(wanted)
        return [
            (spans[i][0], spans[i + n - 1][1])
            for i in range(len(spans) - n + 1)
            if terms[i : i + n] == wanted
            and all(
                not self.terms(text[spans[i + j][1] : spans[i + j + 1][0]]) for j in range(n - 1)
            )
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


@lru_cache(maxsize=8)
def _stemmer(entry: StemmerEntry, language: str) -> Callable[[str], str]:
    """A stemmer's word → stem function, made once a process: making it loads its tables
    (~8 ms, a third of a small write, which makes an analyzer each). Each analyzer keeps its
    own cache of stems in front of it, which goes with the analyzer: a server's searcher is
    made anew at each commit, so its cache never outgrows a commit's queries."""
    return entry.make(language)


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
