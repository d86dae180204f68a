"""What the catalog hands out: its rows as records (a segment, a passage, an article) and the
cache of unpacked texts a reader's views share."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from policy_search.records import ArticleMeta


@dataclass(frozen=True, slots=True)
class SegmentRow:
    """A live segment as the catalog records it."""

    name: str
    passages: int
    files: dict[str, list[int]]
    base: int


@dataclass(frozen=True, slots=True)
class PassageRow:
    """A live passage as a reader sees it: its place in its article, its text and the article's
    metadata."""

    id: int
    article_rowid: int
    start: int  # character offsets into the article text, [start, end)
    end: int
    text: str  # the article's text[start:end]
    article: ArticleMeta
    countries: tuple[str, ...] = ()  # ISO 3166-1 alpha-2 codes of the countries it names


@dataclass(frozen=True, slots=True)
class ArticleRow:
    """An article's metadata with the catalog's number for it (`Snapshot.articles` holds that
    number for each passage)."""

    rowid: int
    meta: ArticleMeta


def _meta(values: Sequence[Any]) -> ArticleMeta:
    """An article's record from META's columns."""
    aid, title, source, author, date, url, tags = values
    return ArticleMeta(id=aid, title=title, source=source, author=author, date=date, url=url,
                       tags=json.loads(tags))  # fmt: skip


class Texts:
    """The unpacked texts of the articles read last, by rowid (least recently used first),
    shared by a reader's successive views: an article's text never changes under its rowid (a
    new text is a new row)."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._texts: dict[int, str] = {}
        self._lock = threading.Lock()

    def get(self, rowid: int) -> str | None:
        """The text, marked as used last; None when not kept."""
        with self._lock:
            text = self._texts.pop(rowid, None)
            if text is not None:
                self._texts[rowid] = text
            return text

    def put(self, rowid: int, text: str) -> None:
        """Keep a text, dropping the least recently used one beyond `size`."""
        with self._lock:
            self._texts.pop(rowid, None)
            if len(self._texts) >= self.size:
                self._texts.pop(next(iter(self._texts)))
            self._texts[rowid] = text
