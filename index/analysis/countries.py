"""The countries a passage talks about, found at index time (issue 21).

Each country is named by every form maintained data gives for it: ISO 3166 names from pycountry
(official, common, historic names with their successor's code), CLDR's English territory names
from babel, and from countryinfo the alternative spellings, capitals and demonyms. One
Aho-Corasick automaton (pyahocorasick) finds every form in a passage, case-sensitively (so
"turkey" and "china" never count) and on word boundaries (so "Oman" is not found in "woman").
Where forms overlap, the longest wins ("Papua New Guinea" over "Guinea", "Latin America" over
"America"). A few rules, never a list of passages, handle what proper-noun casing cannot:

- a form that data gives to several countries ("Congolese", "Korea", "Dominican") counts for the
  one the passage names otherwise, else for the most populous (countryinfo's population);
- names that are also people's names (Chad, Jordan, Georgia, Washington) do not count inside a
  longer proper name ("Michael Jordan", "Washington Post");
- "Georgia" is the US state in a passage that names another US state (pycountry's subdivisions);
- a subdivision named after another country ("New Mexico", "British Columbia") and a
  geographic feature ("Indian Ocean", "Niger River") name no country;
- "Indian" is not India beside tribes and reservations.

The data loads on first use (`detector()`), never at import: `policy-search --help` stays fast.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    COUNTRY_CODES: frozenset[str]  # every ISO 3166-1 alpha-2 code (loaded on first use)

__all__ = [
    "COUNTRY_CODES",
    "CountryDetector",
    "country_name",
    "detector",
    "resolve_country",
]

# What no data set holds: metonyms, abbreviations, old names, a few demonyms countryinfo lacks
# or spells oddly ("Argentinean", "Kirghiz"), and names everyone uses for the US, GB and Korea.
EXTRA: dict[str, str] = {
    "the Kremlin": "RU", "Kremlin": "RU", "Soviet Union": "RU", "USSR": "RU", "U.S.S.R.": "RU",
    "Soviet": "RU", "Soviets": "RU", "Whitehall": "GB", "Downing Street": "GB", "Britain": "GB",
    "British": "GB", "Briton": "GB", "Britons": "GB", "UK": "GB", "U.K.": "GB",
    "England": "GB", "Scotland": "GB", "Wales": "GB",
    "America": "US", "U.S.": "US", "U.S.A.": "US", "USA": "US", "White House": "US",
    "Pentagon": "US", "Washington": "US", "Korea": "KR", "Korean": "KR", "Koreans": "KR",
    "Persia": "IR", "Persian": "IR", "Ceylon": "LK", "Siam": "TH", "Kampuchea": "KH",
    "Rhodesia": "ZW", "East Pakistan": "BD", "Formosa": "TW", "East Germany": "DE",
    "West Germany": "DE", "Elysée": "FR", "Quai d'Orsay": "FR", "Zhongnanhai": "CN",
    "Argentine": "AR", "Kazakh": "KZ", "Uzbek": "UZ", "Tajik": "TJ", "Kyrgyz": "KG",
    "Ecuadorian": "EC", "Saudi": "SA", "Saudis": "SA", "Emirates": "AE", "UAE": "AE",
    "DPRK": "KP", "DRC": "CD", "PRC": "CN", "Vatican": "VA", "Macedonia": "MK",
    "Palestinian": "PS", "Palestinians": "PS", "Cabo Verde": "CV", "Czechia": "CZ",
    "Holland": "NL", "Filipinos": "PH", "Scots": "GB", "Welsh": "GB", "Maldivian": "MV",
    "South West Africa": "NA",
}  # fmt: skip
# Forms countryinfo gives that name no country in prose: places' names given as their people's,
# and Iceland's "Island".
NEVER = frozenset({"Channel Islander", "Gibraltar", "Djibouti", "Christmas Island", "Island"})
# Words after a name that make it a place that is not the country, or part of a person's name.
FEATURES = frozenset({"River", "Delta", "Basin", "Ocean", "Sea", "Valley"})
# Words after a capital that make it a treaty's or a meeting's name ("the Paris Agreement").
INSTRUMENTS = "|".join(
    "Accords? Action Agreements? Agenda Charter Club Commitments? Conference Consensus "
    "Conventions? Declaration Document Framework Group Pact Plan Principles Process Programme "
    "Protocol Round "
    "Rules Statute Summit Treaty".split()
)
PERSON_NAMES = frozenset({"Chad", "Jordan", "Georgia", "Washington"})
# Capitalised words before a name that do not make it part of a longer proper name.
FUNCTION_WORDS = frozenset(
    "A About Against Also An And As At Because Between Both But By Did Does During Either For "
    "From Has Have How If In Including Into Is Like Meanwhile Neither Nor Now Of On Once Or "
    "Since So That The Then There These This Those Though Through To Today Under Unlike Until "
    "Was Were What When Where Whether While Who Why With Within Without Yesterday Yet".split()
)
# Prefixes that make a demonym a region's ("Inter-American", "Pan-African").
REGION_PREFIXES = frozenset({"Inter", "Pan", "Afro", "Latin", "Meso", "Trans", "Sub"})
# Words that make "Indian" the American peoples' (19th-century presidential speeches).
NATIVE_CONTEXT = re.compile(r"\b(?:[Tt]ribes?|[Rr]eservations?|Sioux|Cherokee|Creek|Seminole)\b")
STATE_CONTEXT = re.compile(r"\bAtlanta\b|\b[Ss]tate of Georgia\b")
_WORD = re.compile(r"[A-Za-z][\w'’.-]*")


@functools.cache
def _data() -> _Data:
    return _Data()


class _Data:
    """Every form, by the codes it names, built from the data sets."""

    def __init__(self) -> None:
        import babel
        import pycountry
        from countryinfo import all_countries

        info: list[dict[str, Any]] = [
            dict(each.info()) for each in all_countries() if each.info().get("ISO")
        ]
        self.codes = frozenset(c.alpha_2 for c in pycountry.countries)
        self.population = {c["ISO"]["alpha2"]: int(c.get("population") or 0) for c in info}
        territories = babel.Locale("en").territories
        self.display = {k: v for k, v in territories.items() if k in self.codes}
        # Regions ("Latin America", "Central America", "Americas") and their adjectives name no
        # country, and beat the shorter forms inside them.
        self.regions = {v for k, v in territories.items() if k.isdigit()}
        self.regions |= {r + "n" for r in self.regions if r.endswith("a")}
        self.capitals: set[str] = set()
        self.names: dict[str, set[str]] = {}  # the names, case-folded (resolve_country)
        self.forms: dict[str, set[str]] = {}  # every form, as written
        self.from_pycountry(pycountry)
        for code, name in self.display.items():
            self.add_name(name, code)
        for entry in info:
            if entry["ISO"]["alpha2"] in self.codes:
                self.from_countryinfo(entry)
        for form, code in EXTRA.items():
            self.add_form(form, code, extra=True)
        self.states = self.us_states(pycountry)
        self.blocked = self.subdivisions(pycountry)

    def from_pycountry(self, pycountry: Any) -> None:
        """ISO's names, official and common names, and historic names for their successors."""
        for country in pycountry.countries:
            for attribute in ("name", "official_name", "common_name"):
                self.add_name(getattr(country, attribute, None), country.alpha_2)
            self.names.setdefault(country.alpha_3.casefold(), set()).add(country.alpha_2)
        for old in pycountry.historic_countries:
            successor = old.alpha_4[2:]  # ISO 3166-3: the code it became, or HH/XX when split
            if successor in self.codes:
                self.add_name(old.name, successor)

    def from_countryinfo(self, entry: dict[str, Any]) -> None:
        """A country's name, English alternative spellings, capital and demonyms."""
        code = entry["ISO"]["alpha2"]
        self.add_name(entry["name"], code)
        for spelling in entry.get("altSpellings") or []:
            # English ones: all-caps ones are codes ("CAN", "AND"), the native ones read as
            # English words once their accents go ("Ísland").
            if spelling.isascii() and not spelling.isupper():
                self.add_name(spelling, code)
        if int(entry.get("population") or 0) >= 100_000:  # "Victoria", "Stanley": people too
            capital = re.sub(r",? D\.C\.$", "", entry.get("capital") or "")
            self.capitals.add(capital)
            self.add_form(capital, code)
        for demonym in (entry.get("demonym") or "").split(","):
            self.add_demonym(demonym.strip(), code)

    def add_name(self, name: str | None, code: str) -> None:
        """A name and its variants: "Korea, Republic of" is also "Republic of Korea" and
        "Korea"; "Myanmar (Burma)" also "Burma"; "St. Kitts & Nevis" also "Saint Kitts and
        Nevis"."""
        if not name:
            return
        names = {name}
        if (match := re.fullmatch(r"([^,(]+), (.+)", name)) is not None:
            names |= {f"{match[2]} {match[1]}", match[1]}
        if (match := re.fullmatch(r"(.+?) \((.+)\)", name)) is not None:
            names |= {match[1], match[2]}
        names |= {n.replace(" - ", "-") for n in names}  # CLDR's "Congo - Brazzaville"
        names |= {n.replace("&", "and") for n in names}
        names |= {n.replace("St. ", "Saint ") for n in names}
        names |= {n[4:] for n in names if n.startswith(("The ", "the "))}
        names |= {n.replace("-", " ") for n in names}
        for each in names:
            self.names.setdefault(each.casefold(), set()).add(code)
            self.add_form(each, code)

    def add_demonym(self, demonym: str, code: str) -> None:
        """A demonym and its plural ("Iranian", "Iranians"; "Chinese" stays)."""
        if not demonym:
            return
        self.add_form(demonym, code)
        if demonym.endswith("i") or not demonym.endswith(("ese", "s", "sh", "ch", "x")):
            self.add_form(demonym + "s", code)  # "Iraqis" too

    def add_form(self, form: str, code: str, *, extra: bool = False) -> None:
        """A form as written, and its ASCII spelling ("Côte d'Ivoire": "Cote d'Ivoire")."""
        form = form.replace("’", "'").strip()
        if not form or (form in NEVER and not extra) or form[0].islower():
            return
        plain = "".join(
            ch for ch in unicodedata.normalize("NFKD", form) if not unicodedata.combining(ch)
        )
        for each in {form, plain}:
            if extra:  # the hand list corrects the data: its form means its code alone
                self.forms[each] = {code}
            else:
                self.forms.setdefault(each, set()).add(code)

    def us_states(self, pycountry: Any) -> re.Pattern[str]:
        """The names of the US states but Georgia and Washington: one of them beside "Georgia"
        makes it the state."""
        names = {
            s.name for s in pycountry.subdivisions.get(country_code="US")
            if s.name not in PERSON_NAMES and s.type == "State"
        }  # fmt: skip
        return re.compile(r"\b(?:" + "|".join(sorted(map(re.escape, names))) + r")\b")

    def subdivisions(self, pycountry: Any) -> set[str]:
        """Subdivision names that hold another country's form ("New Mexico", "British
        Columbia", "New South Wales"): they name no country, and beat the shorter form."""
        blocked = set()
        for sub in pycountry.subdivisions:
            name = sub.name.replace("’", "'")
            if name in self.forms or " " not in name:
                continue
            words = name.split(" ")
            inside = {
                code for i in range(len(words)) for j in range(i + 1, len(words) + 1)
                for code in self.forms.get(" ".join(words[i:j]), ())
            }  # fmt: skip
            if inside and sub.country_code not in inside:
                blocked.add(name)
        return blocked


class CountryDetector:
    """Finds the countries a text talks about (see the module's docstring)."""

    def __init__(self) -> None:
        import ahocorasick

        data = _data()
        self.population = data.population
        self.states = data.states
        self.automaton = ahocorasick.Automaton()
        for form, codes in data.forms.items():
            self.automaton.add_word(form, (form, frozenset(codes)))
        self.capitals = {c for c in data.capitals if c.casefold() not in data.names}
        features = {f"{f} {w}" for f in data.forms for w in FEATURES}
        for form in data.blocked | data.regions | features:
            self.automaton.add_word(form, (form, frozenset()))
        self.automaton.make_automaton()

    def detect(self, text: str) -> list[str]:
        """The sorted unique ISO 3166-1 alpha-2 codes of the countries the text names."""
        text = text.replace("’", "'")  # one character for another: offsets stay
        found: list[tuple[str, frozenset[str]]] = []
        for start, end, form, codes in self._matches(text):
            if codes and self._counts(text, start, end, form):
                found.append((form, codes))
        named = set().union(*(codes for _, codes in found if len(codes) == 1))
        for _, codes in found:
            if len(codes) > 1:
                known = codes & named
                named |= known or {max(codes, key=lambda c: self.population.get(c, 0))}
        return sorted(named)

    def _matches(self, text: str) -> Iterable[tuple[int, int, str, frozenset[str]]]:
        """Every form on word boundaries, the longest where several overlap."""
        spans = []
        for last, (form, codes) in self.automaton.iter(text):
            start, end = last - len(form) + 1, last + 1
            if _bounded(text, start, end):
                spans.append((start, end, form, codes))
        spans.sort(key=lambda s: (s[0], s[0] - s[1]))
        reach = -1
        for span in spans:
            if span[0] >= reach:
                reach = span[1]
                yield span

    def _counts(self, text: str, start: int, end: int, form: str) -> bool:
        """Whether a form found here means its country (the rules of the module's docstring)."""
        before = text[max(0, start - 40) : start]
        after = text[end : end + 40]
        if re.search(r"\b(?:" + "|".join(REGION_PREFIXES) + r")-$", before):
            return False
        if form in PERSON_NAMES and _in_longer_name(before, after):
            return False
        if form == "Georgia" and (self.states.search(text) or STATE_CONTEXT.search(text)):
            return False
        if form in self.capitals and re.match(rf" (?:{INSTRUMENTS})\b", after):
            return False
        if form == "Washington" and re.match(r"(?:,? (?:State|state)\b)", after):
            return False
        return not (form in ("Indian", "Indians") and NATIVE_CONTEXT.search(text))


def _bounded(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] is whole words (a trailing "." of "U.S." may end a sentence)."""
    if start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
        return False
    return end >= len(text) or not (text[end].isalnum() or text[end] == "_")


def _in_longer_name(before: str, after: str) -> bool:
    """Whether a name sits inside a longer proper name: "Michael Jordan", "Chad Smith"."""
    following = re.match(r" ([A-Z][a-z]+)", after)
    if following and following[1] not in FUNCTION_WORDS:
        return True
    preceding = re.search(r"(?:^|[\s(])([A-Z][a-z]+\.?) $", before)
    return bool(preceding and preceding[1].rstrip(".") not in FUNCTION_WORDS | {"King", "Queen"})


@functools.cache
def detector() -> CountryDetector:
    """The detector, built once (about a second: the data sets and the automaton)."""
    return CountryDetector()


def resolve_country(value: str) -> str | None:
    """An ISO alpha-2 or alpha-3 code or an English name (any case) as an alpha-2 code; None
    when unknown."""
    data = _data()
    key = value.strip().casefold()
    if key.upper() in data.codes:
        return key.upper()
    codes = data.names.get(key)
    if not codes:
        extra = {k.casefold(): v for k, v in EXTRA.items()}.get(key)
        return extra if extra and len(key) > 3 and key[0].isalpha() else None
    return max(codes, key=lambda c: data.population.get(c, 0))


def country_values() -> list[str]:
    """Every value `resolve_country` knows: the alpha-2 and alpha-3 codes and the English
    names, as it reads them (case aside), sorted."""
    data = _data()
    codes = {c.upper() for c in data.names if len(c) == 3 and resolve_country(c)}
    names = {n.title() for n in data.names if len(n) > 3 and resolve_country(n)}
    return sorted(data.codes) + sorted(codes) + sorted(names)


def country_name(code: str) -> str:
    """A short English name for display (CLDR's: "Russia", "South Korea"); the code itself
    when unknown."""
    name = _data().display.get(code.upper(), code.upper())
    return re.sub(r" \(.*\)$| SAR China$", "", name).replace(" - ", "-")


def __getattr__(name: str) -> Any:
    if name == "COUNTRY_CODES":  # loaded on first use (the module's docstring)
        return _data().codes
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
