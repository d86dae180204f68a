"""Citations and exports: the request and the citation of GET /articles/{id}/cite, and the
formats and styles the API writes (GET /formats)."""

from __future__ import annotations

from dataclasses import dataclass, field

from policy_search.records.article import ArticleMeta
from policy_search.records.fields import _ALWAYS_SENT, CiteStyle, ExportFormat, _about


@dataclass(frozen=True, slots=True, kw_only=True)
class CiteRequest:
    """GET /articles/{id}/cite's query parameters: the span quoted and the style.

    Without `start` and `end` the article is cited whole; with them, `[start, end)` must be a
    non-empty span of the article's text (character offsets, as a passage's).
    """

    start: int | None = field(
        default=None, metadata=_about("Offset of the quote in the article text (inclusive).", ge=0)
    )
    end: int | None = field(
        default=None,
        metadata=_about("Offset of the quote's end in the article text (exclusive).", ge=1),
    )
    style: CiteStyle = field(
        default="apa",
        metadata=_about(
            "apa (APA 7), chicago (Chicago 17th, notes and bibliography: the bibliography "
            "entry), mla (MLA 9), bibtex or ris."
        ),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Citation:
    """The exact words of an article, a link that shows them, and the article cited in a style."""

    __pydantic_config__ = _ALWAYS_SENT

    article: ArticleMeta = field(metadata=_about("The article cited."))
    style: CiteStyle = field(metadata=_about("The style of `text`."))
    text: str = field(
        metadata=_about(
            "The citation in that style, as plain text (BibTeX and RIS: the whole entry)."
        )
    )
    italics: list[tuple[int, int]] = field(
        default_factory=list,
        metadata=_about("Spans [start, end) of `text` the style sets in italics."),
    )
    quote: str = field(
        default="",
        metadata=_about(
            "The words quoted: `article.text[start:end]`; empty for the whole article."
        ),
    )
    start: int | None = field(
        default=None, metadata=_about("Offset of the quote in the article text (inclusive).")
    )
    end: int | None = field(
        default=None, metadata=_about("Offset of the quote's end in the article text (exclusive).")
    )
    permalink: str = field(
        metadata=_about("A link to the web page showing the article with the quote highlighted.")
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class FormatInfo:
    """An output format of an export: `format=` on /search."""

    name: ExportFormat = field(metadata=_about("What `format=` takes."))
    label: str = field(metadata=_about("Its name for display."))
    media_type: str = field(metadata=_about("The export's Content-Type."))
    extension: str = field(metadata=_about("The file name's extension, without the dot."))


@dataclass(frozen=True, slots=True, kw_only=True)
class StyleInfo:
    """A citation style: `style=` on /articles/{id}/cite."""

    name: CiteStyle = field(metadata=_about("What `style=` takes."))
    label: str = field(metadata=_about("Its name for display (the edition followed)."))


@dataclass(frozen=True, slots=True, kw_only=True)
class Formats:
    """What the API can write: export formats and citation styles."""

    formats: list[FormatInfo] = field(metadata=_about("Export formats, in display order."))
    styles: list[StyleInfo] = field(metadata=_about("Citation styles, in display order."))
    export_limit: int = field(metadata=_about("The most hits one export holds."))
