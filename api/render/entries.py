"""An article as a BibTeX entry and as a RIS record: for citing one article and for exporting
the articles of a search.

BibTeX: `@misc` (read by BibTeX and biblatex alike) with `author` (`;`-separated authors joined
by `and`), `title`, `howpublished` (the source), `year`, `month`, `date`, `url` and `keywords`.
Values are UTF-8 in braces, every character special to BibTeX or LaTeX written as a command
(`\\%`, `\\textbraceleft{}`, …) so that braces always balance and the text typesets as it reads;
TeX's ligatures (`--`, `''`) are broken with `{}` for the same reason. The URL is written as it
is (biblatex reads `url` verbatim), the characters a URL may not hold unescaped percent-encoded.

RIS: `TY  - ELEC` with `ID`, `AU`, `TI`, `T2` (the source), `PY`, `DA`, `UR` and `KW`. A RIS
value is one line, so every field here has its whitespace runs (newlines included) made single
spaces, in BibTeX too.

Written here, read back by the maintained parsers: tests/api/test_export.py parses both
(bibtexparser 2, rispy) for hostile and generated articles. bibtexparser's own writer with its
LaTeX encoding (pylatexenc) loses text on the way back (`"quotes"` return as `”quotes”`, `^` as
`ˆ`), writes `Çelik` as `\\c{C}elik` and warns on every non-Latin character; rispy's writer numbers
each record with a line of its own that RIS does not have.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from urllib.parse import quote

from policy_search.api.render.styles import split_date
from policy_search.records import ArticleMeta, Hit

__all__ = [
    "articles_of",
    "bibtex_entry",
    "bibtex_key",
    "clean",
    "render_bibtex",
    "render_ris",
    "ris_entry",
]

_LATEX = {
    "\\": r"\textbackslash{}",
    "{": r"\textbraceleft{}",
    "}": r"\textbraceright{}",
    "%": r"\%",
    "&": r"\&",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
# TeX turns `--`, `''`, "``", `<<`, `,,`, `?``, `!`` into other characters: break each pair.
_LIGATURE = re.compile(r"(?<=[-'`<>,])(?=[-'`<>,])|(?<=[?!])(?=`)")
_KEY_CHAR = re.compile(r"[^A-Za-z0-9_:./+-]")
# Characters RFC 3986 lets a URL hold as they are (and `%`, already an escape).
_URL_SAFE = "!#$%&'()*+,/:;=?@[]~-._"


def clean(value: str | None) -> str:
    """A field on one line: whitespace runs (newlines, tabs) as single spaces, '' for none."""
    return " ".join((value or "").split())


def latex(value: str) -> str:
    """Text as a BibTeX value's content: LaTeX's special characters as commands."""
    return _LIGATURE.sub("{}", "".join(_LATEX.get(c, c) for c in clean(value)))


def bibtex_url(url: str) -> str:
    """A URL as a verbatim BibTeX value: what a URL may not hold as it is, percent-encoded."""
    return quote(clean(url), safe=_URL_SAFE)


def bibtex_key(article_id: str) -> str:
    """The entry's key: the article's id, with what a key may not hold (`@`) as `_`."""
    return _KEY_CHAR.sub("_", article_id) or "article"


def bibtex_entry(article: ArticleMeta, key: str | None = None) -> str:
    """The article as one BibTeX entry, ending with a newline."""
    authors = " and ".join(latex(a) for a in (article.author or "").split(";") if clean(a))
    fields = [("author", authors), ("title", latex(article.title))]
    fields.append(("howpublished", latex(article.source or "")))
    if (parts := split_date(article.date)) is not None:
        year, month, day = parts
        fields.append(("year", str(year)))
        if month is not None:
            fields.append(("month", str(month)))
            fields.append(("date", f"{year:04d}-{month:02d}" + (f"-{day:02d}" if day else "")))
    fields.append(("url", bibtex_url(article.url or "")))
    fields.append(("keywords", latex(", ".join(clean(t) for t in article.tags))))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields if value)
    return f"@misc{{{key or bibtex_key(article.id)},\n{body}\n}}\n"


def ris_entry(article: ArticleMeta) -> str:
    """The article as one RIS record (`TY` to `ER`), each line ending with a newline."""
    lines = [("TY", "ELEC"), ("ID", article.id)]
    lines += [("AU", clean(a)) for a in (article.author or "").split(";") if clean(a)]
    lines += [("TI", clean(article.title)), ("T2", clean(article.source))]
    if (parts := split_date(article.date)) is not None:
        year, month, day = parts
        lines.append(("PY", str(year)))
        lines.append(("DA", f"{year:04d}/{_two(month)}/{_two(day)}/"))
    lines.append(("UR", clean(article.url)))
    lines += [("KW", clean(t)) for t in article.tags]
    return "".join(f"{tag}  - {value}\n" for tag, value in lines if value) + "ER  - \n"


def _two(part: int | None) -> str:
    return f"{part:02d}" if part is not None else ""


def articles_of(hits: Iterable[Hit]) -> Iterator[ArticleMeta]:
    """The distinct articles of the hits, in the order of their first hit."""
    seen: set[str] = set()
    for hit in hits:
        if hit.article.id not in seen:
            seen.add(hit.article.id)
            yield hit.article


def render_bibtex(hits: Iterable[Hit], base_url: str) -> Iterator[str]:
    """A BibTeX entry per distinct article of the hits, in rank order; keys made unique."""
    keys: set[str] = set()
    for article in articles_of(hits):
        key = base = bibtex_key(article.id)
        n = 1
        while key in keys:  # two ids may share a key once `@` is `_`
            n += 1
            key = f"{base}-{n}"
        keys.add(key)
        yield bibtex_entry(article, key) + "\n"


def render_ris(hits: Iterable[Hit], base_url: str) -> Iterator[str]:
    """A RIS record per distinct article of the hits, in rank order."""
    for article in articles_of(hits):
        yield ris_entry(article)
