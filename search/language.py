"""Which language a query seems to be in, and whether the index can read it.

The model (all-MiniLM-L6-v2) and the analyzer read English: a query in another language
matches by chance, and the result says so (`QueryReading.language`, a notice, low confidence).
py3langid names the language, among the languages people most often search in. It is reliable
on a script other than Latin (Arabic, Cyrillic, Han, …) at any length, and not on a few Latin
words ("Middle Corridor" reads as Welsh, "coup d'état in Niger" as French): a Latin-script
query is called foreign only when it has at least four words, the detector is sure (p ≥ 0.9),
and none of its words is an English function word ("the", "of", "in", …); shorter ones get no
language and no notice rather than a wrong one.
"""

from __future__ import annotations

import threading
import unicodedata
from dataclasses import dataclass

__all__ = ["LanguageGuess", "Languages", "shared_languages"]

# The languages the detector chooses among (ISO 639-1): the most searched, so that it does not
# call a short English query Welsh or Tagalog.
CANDIDATES = (
    "en fr es de pt it nl ru uk pl ar fa tr zh ja ko hi id sv el he".split()
)  # fmt: skip
SURE = 0.9
LATIN_WORDS = 4
_ENGLISH = frozenset(
    "the of and in to for with on by from is are was were this that which who what how why "
    "should would its their our between against about after before into over under than "
    "does did has have had will can could not".split()
)
_NAMES = {
    "ar": "Arabic", "de": "German", "el": "Greek", "en": "English", "es": "Spanish",
    "fa": "Persian", "fr": "French", "he": "Hebrew", "hi": "Hindi", "id": "Indonesian",
    "it": "Italian", "ja": "Japanese", "ko": "Korean", "nl": "Dutch", "pl": "Polish",
    "pt": "Portuguese", "ru": "Russian", "sv": "Swedish", "tr": "Turkish", "uk": "Ukrainian",
    "zh": "Chinese",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class LanguageGuess:
    """A query's language (ISO 639-1, None when too short to tell), and whether the index
    reads it."""

    language: str | None
    foreign: bool

    @property
    def notice(self) -> str | None:
        """What to tell the reader when the index does not read the query's language."""
        if not self.foreign or self.language is None:
            return None
        name = _NAMES.get(self.language, self.language)
        return (
            f"this index reads English, and the query seems to be {name}: its hits match by "
            "chance (names and numbers aside); ask in English"
        )


class Languages:
    """The detector, loaded when first asked (about a second), then shared: safe across
    threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._identifier: object | None = None

    def _detector(self):  # type: ignore[no-untyped-def]
        with self._lock:
            if self._identifier is None:
                from py3langid.langid import MODEL_FILE, LanguageIdentifier

                identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
                identifier.set_languages(list(CANDIDATES))
                self._identifier = identifier
            return self._identifier

    def guess(self, text: str) -> LanguageGuess:
        """The language `text` seems to be in (see the module docstring)."""
        letters = [c for c in text if c.isalpha()]
        if not letters:
            return LanguageGuess(None, False)
        latin = sum(1 for c in letters if "LATIN" in unicodedata.name(c, "")) / len(letters)
        language, p = self._detector().classify(text)
        if latin < 0.5:  # another script: the detector is reliable, and the model cannot read it
            return LanguageGuess(language, language != "en")
        words = text.lower().split()
        if len(words) < LATIN_WORDS or p < SURE:
            return LanguageGuess("en" if language == "en" and p >= SURE else None, False)
        if language != "en" and _ENGLISH.intersection(words):
            return LanguageGuess(None, False)  # an English query with a foreign phrase
        return LanguageGuess(language, language != "en")


_SHARED = Languages()


def shared_languages() -> Languages:
    """The process's detector, loaded on its first guess: a searcher opened without one uses
    it, so that opening another searcher (a test's, a shard's) does not load the model again
    (~0.8 s each time on 2 cores)."""
    return _SHARED
