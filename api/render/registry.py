"""The registry of output formats and citation styles: each one entry, looked up by name.

As datasette's `register_output_renderer` and this project's vector kinds
(index/storage/vectors.py): an export format is a `Renderer` (its name, label, media type, file
extension, and the function that turns a stream of hits into chunks of text), a citation style a
`Style` (its name, label, and the function that formats one article). A new one is its entry in
`RENDERERS` or `STYLES`, its name in the wire record's choices (`records.ExportFormat`,
`records.CiteStyle`: the API validates and documents them from there), the page (which learns both
lists from `GET /formats`) and tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date as Date

from policy_search.api.render import entries, rows, styles
from policy_search.records import (
    CITE_STYLES,
    EXPORT_FORMATS,
    ArticleMeta,
    CiteStyle,
    ExportFormat,
    FormatInfo,
    Formats,
    Hit,
    StyleInfo,
)
from policy_search.search.errors import QueryError

__all__ = [
    "RENDERERS",
    "STYLES",
    "Renderer",
    "Style",
    "UnknownFormat",
    "formats",
    "renderer",
    "style",
]


class UnknownFormat(QueryError):
    """A format or style the registry has no entry for (422, naming those it has)."""


@dataclass(frozen=True, slots=True)
class Renderer:
    """An export format: `render(hits, base_url)` yields the file's text in chunks (base_url:
    the web page's, for permalinks)."""

    name: ExportFormat
    label: str
    media_type: str
    extension: str
    render: Callable[[Iterable[Hit], str], Iterator[str]]

    def filename(self, stem: str) -> str:
        """The download's file name."""
        return f"{stem}.{self.extension}"


@dataclass(frozen=True, slots=True)
class Style:
    """A citation style: `cite(article, accessed)` gives its text and the spans in italics
    (`accessed`: the day of citing, which styles print for undated web pages)."""

    name: CiteStyle
    label: str
    cite: Callable[[ArticleMeta, Date], styles.Formatted]


def _entry_style(
    write: Callable[[ArticleMeta], str],
) -> Callable[[ArticleMeta, Date], styles.Formatted]:
    return lambda article, accessed: (write(article), [])


RENDERERS: dict[str, Renderer] = {
    r.name: r
    for r in (
        Renderer("csv", "CSV", "text/csv; charset=utf-8", "csv", rows.render_csv),
        Renderer(
            "jsonl", "JSON Lines", "application/x-ndjson; charset=utf-8", "jsonl", rows.render_jsonl
        ),
        Renderer(
            "bibtex", "BibTeX", "application/x-bibtex; charset=utf-8", "bib", entries.render_bibtex
        ),
        Renderer(
            "ris",
            "RIS",
            "application/x-research-info-systems; charset=utf-8",
            "ris",
            entries.render_ris,
        ),
    )
}
STYLES: dict[str, Style] = {
    s.name: s
    for s in (
        Style("apa", "APA 7", styles.apa),
        Style("chicago", "Chicago 17 (bibliography)", styles.chicago),
        Style("mla", "MLA 9", styles.mla),
        Style("bibtex", "BibTeX", _entry_style(entries.bibtex_entry)),
        Style("ris", "RIS", _entry_style(entries.ris_entry)),
    )
}


def _agree(entries: tuple[str, ...], wire: tuple[str, ...], what: str) -> None:
    """The wire's choices are these entries, in this order (checked at import, also under
    `python -O`, which drops asserts; a test holds them equal too)."""
    if entries != wire:
        raise RuntimeError(f"the {what} registry {entries} and the record's choices {wire} differ")


_agree(tuple(RENDERERS), EXPORT_FORMATS, "export format")
_agree(tuple(STYLES), CITE_STYLES, "citation style")


def renderer(name: str) -> Renderer:
    """The export format of this name; UnknownFormat naming those there are."""
    if (found := RENDERERS.get(name)) is None:
        raise UnknownFormat(f"format must be one of {', '.join(RENDERERS)}, not {name!r}")
    return found


def style(name: str) -> Style:
    """The citation style of this name; UnknownFormat naming those there are."""
    if (found := STYLES.get(name)) is None:
        raise UnknownFormat(f"style must be one of {', '.join(STYLES)}, not {name!r}")
    return found


def formats(export_limit: int) -> Formats:
    """What `GET /formats` answers: every format and style, in order."""
    return Formats(
        formats=[
            FormatInfo(name=r.name, label=r.label, media_type=r.media_type, extension=r.extension)
            for r in RENDERERS.values()
        ],
        styles=[StyleInfo(name=s.name, label=s.label) for s in STYLES.values()],
        export_limit=export_limit,
    )
