"""The stemmers an analyzer can use, by name: a registry, as vector kinds are (vectors.py).

Each entry names the library that stems (its installed version is part of the analyzer's
identity, recorded in an index's manifest: a different version may stem differently, so an index
analysed by it is re-analysed by `policy-search upgrade` rather than searched with other stems).
`keeps_head`: the stem of a word always starts with the word's first two letters (but for the
entry's `head_exceptions`), which lets highlighting skip the words that cannot match
(analysis.Analyzer.matching_spans). Only format 7's chain (analysis 1, Snowball) relies on it:
the current chain keeps a word whole where its stem would not start so, for any stemmer.

Chosen by bench/stemmers.py (figures in bench/README.md): Krovetz. It removes inflections (and a
few derivations) only where the result is a dictionary word, so "accords" meets "accord" and
"treaties" "treaty" but "accordance", "according", "national" and "nationalism" keep their own
terms, which Snowball folded into "accord" and "nation". The plurals its dictionary keeps as
headwords ("states", "rights") are made singular by lemminflect's noun lemma, so "member state"
meets "member states".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import PackageNotFoundError, version

__all__ = ["DEFAULT_STEMMER", "STEMMERS", "StemmerEntry", "stemmer_entry", "stemmer_version"]


@dataclass(frozen=True, slots=True)
class StemmerEntry:
    """A stemmer: how to make its word → stem function, and which package provides it."""

    name: str
    packages: tuple[str, ...]  # the distributions whose versions are the analyzer's identity
    make: Callable[[str], Callable[[str], str]]  # language → stem function
    keeps_head: bool = True
    head_exceptions: frozenset[str] = field(default_factory=frozenset)


def _snowball(language: str) -> Callable[[str], str]:
    import Stemmer

    return Stemmer.Stemmer(language).stemWord  # type: ignore[no-any-return]


def _krovetz(language: str) -> Callable[[str], str]:
    """Krovetz, and a plural it keeps whole because its dictionary has it as a headword
    (states, rights, waters, forces) made singular by lemminflect's noun lemma."""
    if language != "english":
        return _snowball(language)
    import krovetzstemmer
    import lemminflect

    krovetz = krovetzstemmer.Stemmer().stem

    def stem(word: str) -> str:
        result: str = krovetz(word)
        if result == word and word.endswith("s"):
            found = lemminflect.getLemma(word, upos="NOUN")
            return str(found[0]).lower() if found else word
        return result

    return stem


def _simplemma(language: str) -> Callable[[str], str]:
    import simplemma

    code = {"english": "en", "french": "fr", "german": "de", "spanish": "es"}.get(language, "en")
    return lambda word: simplemma.lemmatize(word, lang=code).lower()


STEMMERS: dict[str, StemmerEntry] = {
    entry.name: entry
    for entry in (
        # Snowball's English stemmer (PyStemmer): rewrites endings, so a stem keeps the word's
        # first two letters but for dying, lying, tying (→ die, lie, tie).
        StemmerEntry("snowball", ("PyStemmer",), _snowball,
                     head_exceptions=frozenset({"dying", "lying", "tying"})),
        StemmerEntry("krovetz", ("KrovetzStemmer", "lemminflect"), _krovetz),
        # A lemmatizer: irregular forms (went → go, better → good) change their first letters.
        StemmerEntry("simplemma", ("simplemma",), _simplemma, keeps_head=False),
    )
}  # fmt: skip
DEFAULT_STEMMER = "krovetz"


def stemmer_entry(name: str) -> StemmerEntry:
    """The registered stemmer of this name (ValueError for another)."""
    try:
        return STEMMERS[name]
    except KeyError:
        raise ValueError(
            f"unknown stemmer {name!r}; this program knows {', '.join(sorted(STEMMERS))}"
        ) from None


def stemmer_version(name: str | StemmerEntry) -> str:
    """The installed versions of the packages behind a stemmer, joined by "+" ("" for one not
    installed): "0.8+0.2.3"."""
    entry = name if isinstance(name, StemmerEntry) else stemmer_entry(name)
    return "+".join(_package_version(package) for package in entry.packages)


@cache
def _package_version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return ""
