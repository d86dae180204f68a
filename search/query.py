"""The query's syntax, parsed once: phrases, exclusions, field restrictions and free words.

    "middle corridor"        a phrase: every hit holds its words side by side, in order
    -russia   -"cold war"    exclusions (so is `NOT word`): no hit holds them
    NOT russia
    source:UNGDC  author:"Ilham Aliyev"  tag:energy  country:AZ  year:2020..2024
                             restrictions, exactly as the filters of those names
    anything else            free words, ranked by meaning and by words

A phrase is matched after the index's own analysis (case, inflections and stop words aside: "Law
of the Sea" is the words law, sea side by side). What is ranked, by meaning and by words, is the
free words and the phrases; exclusions and restrictions only remove passages.

Forgiving where a person is mid-thought, strict where a value is wrong:
- a quote left open, or `field:` of a field we do not have (`http://…`, `note:`), is read as
  words, and the result says so in a notice: half-typed queries on a live page and pasted text
  with a stray quote still search;
- a restriction without a value, a year that is not one, or a query with nothing to rank (only
  exclusions or restrictions) is a QueryError (422) that names the character where it went wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from policy_search.facets import RESTRICTIONS
from policy_search.index.storage.lexical import Analyzer
from policy_search.records import QUERY_FIELDS, QueryReading, Restriction
from policy_search.search.errors import QueryError

__all__ = ["Matching", "ParsedQuery", "analyze", "parse_query", "year_range"]

# A token: an optional `-`, then a quoted phrase, a `field:` prefix, or a run without spaces.
_TOKEN = re.compile(
    r"""(?P<neg>-(?=[^\W\d_]|"))?
        (?:
          "(?P<phrase>[^"]*)(?P<closed>"?)
        | (?P<field>[A-Za-z]+):(?P<value>"[^"]*"?|[^\s"]*)
        | (?P<word>[^\s"]+)
        )""",
    re.VERBOSE,
)
_YEARS = re.compile(r"^(?P<start>[0-9]{1,4})?(?P<range>\.\.)?(?P<end>[0-9]{1,4})?$")


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    """A query's text, read: the record the result returns, and what the searcher needs."""

    reading: QueryReading
    phrases: tuple[str, ...] = ()
    excluded_words: tuple[str, ...] = ()
    excluded_phrases: tuple[str, ...] = ()
    restrictions: dict[str, list[str]] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """What is ranked: the free words and the phrases."""
        return self.reading.text


def parse_query(q: str) -> ParsedQuery:
    """Read a query's text (see the module docstring), or QueryError pointing at the spot."""
    reader = _Reader(q)
    reader.read()
    return reader.result()


class _Reader:
    def __init__(self, q: str) -> None:
        self.q = q
        self.words: list[str] = []
        self.phrases: list[str] = []
        self.ranked: list[str] = []  # words and phrases, in the order given
        self.excluded_words: list[str] = []
        self.excluded_phrases: list[str] = []
        self.restrictions: list[Restriction] = []
        self.notices: list[str] = []
        self.negate_next = False

    def read(self) -> None:
        for match in _TOKEN.finditer(self.q):
            negated = bool(match.group("neg")) or self.negate_next
            self.negate_next = False
            if match.group("phrase") is not None:
                self._phrase(match, negated)
            elif match.group("field") is not None:
                self._field(match, negated)
            else:
                self._word(match.group("word"), negated)
        if self.negate_next:  # a trailing NOT excludes nothing: it was a word
            self._word("NOT", False)

    def _phrase(self, match: re.Match[str], negated: bool) -> None:
        text = " ".join(match.group("phrase").split())
        if not match.group("closed"):
            self.notices.append(
                f"the quote at character {match.start('phrase')} is not closed: its words were "
                "read as free words, not as a phrase"
            )
            for word in text.split():
                self._word(word, negated)
            return
        if not _has_word(text):
            return  # "" or "..." holds nothing to match
        if negated:
            self.excluded_phrases.append(text)
        elif len(text.split()) == 1:
            self._word(text, False)  # one quoted word is that word
        else:
            self.phrases.append(text)
            self.ranked.append(text)

    def _field(self, match: re.Match[str], negated: bool) -> None:
        name, value = match.group("field").lower(), match.group("value")
        if name not in QUERY_FIELDS:
            self.notices.append(
                f"{match.group('field')}: is not a field (the fields are "
                f"{', '.join(f'{f}:' for f in QUERY_FIELDS)}): read as words"
            )
            self._word(match.group(0).removeprefix("-"), negated)
            return
        where = f"at character {match.start()} ({match.group(0)!r})"
        if negated:
            raise QueryError(f"q: {where}: a restriction cannot be excluded; use {name}:VALUE")
        if value.startswith('"'):
            if not value.endswith('"') or len(value) == 1:
                raise QueryError(f"q: {where}: the quote of {name}: is not closed")
            value = value[1:-1]
        value = " ".join(value.split())
        if not value:
            raise QueryError(f"q: {where}: {name}: needs a value, as in {_EXAMPLES[name]}")
        if _VALUES[name] == "years":
            _check_years(name, value, where)
        self.restrictions.append(Restriction(name=name, value=value))

    def _word(self, word: str, negated: bool) -> None:
        if word == "NOT" and not negated:
            self.negate_next = True
            return
        if not _has_word(word):
            if not negated:  # punctuation stays in what is embedded, but is not a word
                self.ranked.append(word)
            return
        if negated:
            self.excluded_words.append(word)
        else:
            self.words.append(word)
            self.ranked.append(word)

    def result(self) -> ParsedQuery:
        text = " ".join(self.ranked)
        if not text.strip():
            raise QueryError(
                "q: say what to look for: this query only "
                + ("excludes and restricts" if self.restrictions else "excludes")
                + ', and nothing is left to rank (add a word or a "phrase")'
                if self.excluded_words or self.excluded_phrases or self.restrictions
                else "q: say what to look for: the query has nothing to rank"
            )
        by_field: dict[str, list[str]] = {}
        for r in self.restrictions:
            by_field.setdefault(r.name, []).append(r.value)
        reading = QueryReading(
            words=self.words, phrases=self.phrases,
            excluded=self.excluded_words + [f'"{p}"' for p in self.excluded_phrases],
            restrictions=self.restrictions, text=text, notices=self.notices,
        )  # fmt: skip
        return ParsedQuery(
            reading=reading, phrases=tuple(self.phrases),
            excluded_words=tuple(self.excluded_words),
            excluded_phrases=tuple(self.excluded_phrases), restrictions=by_field,
        )  # fmt: skip


# How each field is said, for the messages (the restrictions' registry, policy_search.facets).
_EXAMPLES = {spec.name: spec.syntax for spec in RESTRICTIONS}
_VALUES = {spec.name: spec.values for spec in RESTRICTIONS}


def _has_word(text: str) -> bool:
    """Whether `text` holds a letter or digit (something an analyzer could index)."""
    return any(c.isalnum() for c in text)


def _check_years(name: str, value: str, where: str) -> None:
    match = _YEARS.match(value)
    if (
        match is None
        or not (match.group("start") or match.group("end"))
        or (match.group("end") and not match.group("range"))
    ):
        raise QueryError(
            f"q: {where}: {name}: must be a year or a range of years, as in {_EXAMPLES[name]} "
            "(either end may be left open: 2020.. or ..2024)"
        )
    for end in ("start", "end"):
        if match.group(end) is not None and int(match.group(end)) == 0:
            raise QueryError(f"q: {where}: {name}: there is no year 0")


def year_range(values: list[str]) -> tuple[str | None, str | None]:
    """The date range (date_from, date_to, as years) that every `year:` restriction allows."""
    starts, ends = [], []
    for value in values:
        start, _, end = value.partition("..")
        if ".." not in value:
            end = start
        if start:
            starts.append(int(start))
        if end:
            ends.append(int(end))
    low = f"{max(starts):04d}" if starts else None
    high = f"{min(ends):04d}" if ends else None
    return low, high


@dataclass(frozen=True, slots=True)
class Matching:
    """What a parsed query asks of a passage's words, in the index's terms (its analyzer's):
    terms every hit holds and terms none holds (applied by the index's postings, before ranking),
    then phrases held and phrases not held (checked on the ranked passages' text)."""

    required: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    phrases: tuple[tuple[str, ...], ...] = ()
    excluded_phrases: tuple[tuple[str, ...], ...] = ()
    words: frozenset[str] = frozenset()  # the free words' terms (what highlights mark alone)
    notices: tuple[str, ...] = ()
    # Excluded countries (alpha-2): an excluded word or phrase that names one ("-Russia") also
    # excludes the passages that name it otherwise ("the Russian Federation", "Moscow").
    excluded_countries: tuple[str, ...] = ()

    @property
    def checks_text(self) -> bool:
        """Whether ranked passages must be read to check a phrase."""
        return bool(self.phrases or self.excluded_phrases)


def analyze(parsed: ParsedQuery, analyzer: Analyzer) -> Matching:
    """The parsed query's phrases and exclusions as the analyzer's terms: a phrase of one term is
    that term; one of none (only stop words) cannot be matched, and a notice says so."""
    required: list[str] = []
    excluded: list[str] = []
    phrases: list[tuple[str, ...]] = []
    excluded_phrases: list[tuple[str, ...]] = []
    notices: list[str] = []
    alone: list[str] = []  # phrases of one term: marked as words
    for text in parsed.phrases:
        terms = tuple(analyzer.terms(text))
        required += terms
        if len(terms) > 1:
            phrases.append(terms)
        elif terms:
            alone.append(terms[0])
        else:
            notices.append(f'the phrase "{text}" holds only words too common to index: ignored')
    for text in (*parsed.excluded_words, *parsed.excluded_phrases):
        terms = tuple(analyzer.terms(text))
        if len(terms) == 1:
            excluded.append(terms[0])
        elif terms:
            excluded_phrases.append(terms)
        else:
            notices.append(f"-{text} is too common a word to index: nothing was excluded for it")
    words = frozenset([*analyzer.terms(" ".join(parsed.reading.words)), *alone]) - set(excluded)
    countries = [
        c for t in (*parsed.excluded_words, *parsed.excluded_phrases) if (c := _country(t))
    ]
    return Matching(
        required=tuple(dict.fromkeys(required)), excluded=tuple(dict.fromkeys(excluded)),
        phrases=tuple(dict.fromkeys(phrases)),
        excluded_phrases=tuple(dict.fromkeys(excluded_phrases)), words=words,
        notices=tuple(notices), excluded_countries=tuple(sorted(set(countries))),
    )  # fmt: skip


def _country(text: str) -> str | None:
    """The country an excluded word or phrase names (its English name, not a code: "-us" is
    the word), or None."""
    from policy_search.index.analysis.countries import resolve_country

    if len(text) <= 3 or not text[0].isalpha():
        return None
    return resolve_country(text)
