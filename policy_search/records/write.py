"""Writing articles: the article a POST or PUT sends, and what a write answers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from policy_search.facets import MAX_ARTICLE_ID
from policy_search.patterns import ARTICLE_ID, DATE, LINE, PROSE, TITLE, URL
from policy_search.records.fields import _about

_NEW_ID = (
    "Stable id: letters, digits and `. _ : / @ + -`, starting with a letter or digit, no empty, "
    "`.` or `..` part between slashes, not ending in `/similar` or `/cite`. Derived from `url` "
    "when absent."
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ArticleInput:
    """An article to add, or only a `url`: the page to fetch and extract the article from.

    Anything but a `url` alone needs `title` and `text`; a new article also needs an `id`, or a
    `url` to derive one from.
    """

    id: str | None = field(
        default=None,
        metadata=_about(_NEW_ID, max_length=MAX_ARTICLE_ID, pattern=ARTICLE_ID),
    )
    title: str | None = field(
        default=None,
        metadata=_about("Required unless only `url` is given.", max_length=1000, pattern=TITLE),
    )
    text: str | None = field(
        default=None, metadata=_about("Required unless only `url` is given.", pattern=PROSE)
    )
    source: str | None = field(
        default=None, metadata=_about("Who published it.", max_length=500, pattern=LINE)
    )
    author: str | None = field(
        default=None, metadata=_about("Who wrote it.", max_length=500, pattern=LINE)
    )
    date: str | None = field(
        default=None,
        metadata=_about("When: ISO 8601, a year, month or day.", max_length=40, pattern=DATE),
    )
    url: str | None = field(
        default=None,
        metadata=_about(
            "Where it was published; alone, the page to fetch.", max_length=2000, pattern=URL
        ),
    )
    # A list's items and the comma-separated string have rules of their own.
    tags: Sequence[str] | str | None = field(
        default=None,
        metadata=_about(
            "Tags: a list, or one comma-separated string.",
            max_length=5000, pattern=LINE, items={"max_length": 500, "pattern": LINE},
        ),
    )  # fmt: skip

    @property
    def is_url_only(self) -> bool:
        """Only a URL: fetch the page and extract the article."""
        return self.url is not None and self.title is None and self.text is None

    def incomplete(self) -> str | None:
        """What the article lacks (title and text, unless it is only a url), or None."""
        if self.is_url_only:
            return None
        missing = [name for name in ("title", "text") if getattr(self, name) is None]
        if not missing:
            return None
        return f"missing {' and '.join(missing)}: give title and text, or only a url to fetch"

    def unnamed(self) -> str | None:
        """Why a new article has no id (neither `id` nor `url`), or None."""
        if self.id is None and self.url is None:
            return "give the article an `id` (or a `url` to derive one from)"
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class ArticleReplacement(ArticleInput):
    """The article to store under the URL's id, or only a `url`: the page to fetch.

    Anything but a `url` alone needs `title` and `text`; the URL names the article.
    """

    # The URL names the article a PUT writes: an id in its body may only repeat it, so the spec
    # marks it read-only (clients need not send it).
    id: str | None = field(
        default=None,
        metadata=_about(
            "The URL's id; if sent, it must be the same.",
            max_length=MAX_ARTICLE_ID, pattern=ARTICLE_ID, json_schema_extra={"readOnly": True},
        ),
    )  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class WriteResult:
    """A write that is durable and served: the ids written and the new generation's counts."""

    ok: Literal[True] = True
    ids: list[str] = field(metadata=_about("The articles written or removed."))
    generation: int = field(metadata=_about("The commit that holds the write."))
    articles: int = field(metadata=_about("Articles in the index after the write."))
    passages: int = field(metadata=_about("Passages in the index after the write."))
    added: list[str] = field(metadata=_about("Ids that are new."))
    updated: list[str] = field(metadata=_about("Ids whose article was replaced."))
    removed: list[str] = field(metadata=_about("Ids that are gone."))
