"""An article and its passages, as the index stores them and the API serves them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from policy_search.records.fields import _ALWAYS_SENT, _about


@dataclass(frozen=True, slots=True, kw_only=True)
class Passage:
    """A passage, its `[start, end)` place in the article text, and matched-word spans."""

    id: int = field(metadata=_about("The passage's id in the index."))
    text: str = field(metadata=_about("The passage's text: `article.text[start:end]`."))
    start: int = field(metadata=_about("Offset of the passage in the article text (inclusive)."))
    end: int = field(
        metadata=_about("Offset of the passage's end in the article text (exclusive).")
    )
    highlights: list[tuple[int, int]] = field(
        metadata=_about("Spans [start, end) inside `text` of words the query matched.")
    )
    countries: list[str] = field(
        default_factory=list,
        metadata=_about("ISO 3166-1 alpha-2 codes of the countries the passage names."),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Snippet:
    """The few sentences of a passage that answer the query: a span of the passage's text."""

    text: str = field(metadata=_about("The sentences: `passage.text[start:end]`."))
    start: int = field(metadata=_about("Offset of the snippet in the passage text (inclusive)."))
    end: int = field(metadata=_about("Offset of its end in the passage text (exclusive)."))
    highlights: list[tuple[int, int]] = field(
        metadata=_about(
            "Spans [start, end) inside the snippet's `text` of words the query matched."
        )
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class ArticlePassage:
    """Where one of an article's passages lies in its text, and the countries it names."""

    id: int = field(metadata=_about("The passage's id in the index."))
    start: int = field(metadata=_about("Offset of the passage in the article text (inclusive)."))
    end: int = field(metadata=_about("Offset of its end in the article text (exclusive)."))
    countries: list[str] = field(
        default_factory=list,
        metadata=_about("ISO 3166-1 alpha-2 codes of the countries the passage names."),
    )


def short_source(source: str) -> str:
    """A source's short name, for display and for the source filter: the words before its first
    parenthesis or comma ("United Nations General Debate Corpus (UNGDC), Jankin, …" → "United
    Nations General Debate Corpus"), cut at a word to at most 40 characters."""
    short = re.split(r"\s*[(,;]", source, maxsplit=1)[0].strip() or source.strip()
    if len(short) <= 40:
        return short
    cut = short[:40].rsplit(" ", 1)[0].rstrip(" -–:")
    return (cut or short[:40]) + "…"


@dataclass(frozen=True, slots=True, kw_only=True)
class ArticleMeta:
    """An article's metadata."""

    __pydantic_config__ = _ALWAYS_SENT

    id: str = field(metadata=_about("The article's stable id."))
    title: str = field(metadata=_about("The article's title."))
    source: str | None = field(default=None, metadata=_about("Who published it."))
    author: str | None = field(default=None, metadata=_about("Who wrote it."))
    date: str | None = field(default=None, metadata=_about("When: ISO 8601, a year, month or day."))
    url: str | None = field(default=None, metadata=_about("Where it was published."))
    tags: list[str] = field(default_factory=list, metadata=_about("Its tags."))
    source_name: str | None = field(
        default=None,
        metadata=_about(
            "The source's short name, for display (the source filter takes it too); derived "
            "from `source`."
        ),
    )

    def __post_init__(self) -> None:
        # Always derived, so that a copy with another source (dataclasses.replace) is right.
        object.__setattr__(self, "source_name", short_source(self.source) if self.source else None)


@dataclass(frozen=True, slots=True, kw_only=True)
class Article(ArticleMeta):
    """A whole article: its metadata and text. The index stores it (`policy_search.index`
    reads files into it, `make_article` checks it), the API serves it with its passages."""

    text: str = field(metadata=_about("The article's text; passages' offsets point into it."))
    passages: list[ArticlePassage] = field(
        default_factory=list,
        metadata=_about("Its passages in order, as the index holds them (served articles)."),
    )
