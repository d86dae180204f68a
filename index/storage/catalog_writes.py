"""The catalog's writes of articles and passages: rows inserted, updated and removed, passage
ids handed out, and the reads a write makes first. A mixin of `Catalog`, which holds the
connection and the transaction."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from policy_search.index.errors import IndexInternalError
from policy_search.index.storage.catalog_schema import METADATA


class CatalogWrites:
    """The writes of articles and passages (`Catalog` has them), in the caller's transaction,
    and the reads a write makes first (what exists, the passages to re-embed)."""

    conn: sqlite3.Connection

    if TYPE_CHECKING:

        def meta(self, key: str, default: Any = None) -> Any: ...

        def set_meta(self, key: str, value: Any) -> None: ...

        def counts(self) -> tuple[int, int]: ...

    def _count(self, articles: int, passages: int) -> None:
        """Move the live counts by these (in the caller's transaction)."""
        have = self.counts()
        self.set_meta("counts", [have[0] + articles, have[1] + passages])

    def take_ids(self, key: str, n: int, floor: int) -> int:
        """Reserve n ids of the counter `key` (never reused); return the first."""
        first = max(int(self.meta(key, 0)), floor)
        self.set_meta(key, first + n)
        return first

    def existing(self, ids: Sequence[str] | None = None) -> dict[str, tuple[int, str]]:
        """Every article id (or those of `ids` that exist) with its rowid and content hash."""
        if ids is None:
            rows = self.conn.execute("SELECT id, rowid, content_hash FROM articles").fetchall()
        else:
            rows = []
            for start in range(0, len(ids), 500):
                chunk = list(ids[start : start + 500])
                marks = ",".join("?" * len(chunk))
                rows += self.conn.execute(
                    f"SELECT id, rowid, content_hash FROM articles WHERE id IN ({marks})", chunk
                ).fetchall()
        return {aid: (rowid, digest) for aid, rowid, digest in rows}

    def metadata(self) -> set[tuple]:
        """Every article's row but its text (METADATA's columns)."""
        return {tuple(row) for row in self.conn.execute(f"SELECT {METADATA} FROM articles")}

    def passage_texts(self, rowids: list[int]) -> list[tuple[int, int, int, int, str, bytes]]:
        """(passage id, start, end, article rowid, title, packed text) of these articles."""
        if not rowids:
            return []
        marks = ",".join("?" * len(rowids))
        return self.conn.execute(
            "SELECT p.id, p.start, p.end, a.rowid, a.title, a.body FROM passages p "
            f"JOIN articles a ON a.rowid = p.article_rowid WHERE a.rowid IN ({marks})",
            rowids,
        ).fetchall()

    def passage_spans(self, ids: Sequence[int]) -> list[tuple[int, int, int, int, str, bytes]]:
        """(passage id, start, end, article rowid, title, packed text) of these passages (at
        most a few hundred), article by article."""
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        return self.conn.execute(
            "SELECT p.id, p.start, p.end, a.rowid, a.title, a.body FROM passages p "
            f"JOIN articles a ON a.rowid = p.article_rowid WHERE p.id IN ({marks}) "
            "ORDER BY a.rowid, p.ordinal",
            [int(i) for i in ids],
        ).fetchall()

    def remove_article(self, rowid: int) -> list[int]:
        """Delete an article with its passages and tags; return the passage ids it had."""
        ids = [
            int(r[0])
            for r in self.conn.execute("SELECT id FROM passages WHERE article_rowid = ?", (rowid,))
        ]
        self.conn.executemany(
            "DELETE FROM passage_countries WHERE passage = ?", [(pid,) for pid in ids]
        )  # by its key; the passages go with the article (ON DELETE CASCADE)
        deleted = self.conn.execute("DELETE FROM articles WHERE rowid = ?", (rowid,)).rowcount
        self._count(-deleted, -len(ids))
        return ids

    def upsert_article(self, values: tuple, body: bytes | None, rowid: int | None) -> int:
        """Insert an article (`values`: METADATA's columns) with its packed text, or update the
        metadata of the one at `rowid`; return its rowid."""
        if rowid is None:
            rowid = self.take_ids("next_article", 1, self._max("articles", "rowid"))
            self.conn.execute(
                f"INSERT INTO articles (rowid, {METADATA}, body) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (rowid, *values, body),
            )
            self._count(1, 0)
        else:
            self.conn.execute(
                "UPDATE articles SET id = ?, title = ?, source = ?, author = ?, date = ?, "
                "url = ?, tags = ?, date_start = ?, date_end = ?, content_hash = ? "
                "WHERE rowid = ?",
                (*values, rowid),
            )
            self.conn.execute("DELETE FROM article_tags WHERE article_rowid = ?", (rowid,))
        tags = json.loads(values[6])
        self.conn.executemany(
            "INSERT INTO article_tags (article_rowid, tag) VALUES (?, ?)",
            [(rowid, tag) for tag in tags],
        )
        return rowid

    def _max(self, table: str, column: str) -> int:
        row = self.conn.execute(f"SELECT COALESCE(MAX({column}), 0) + 1 FROM {table}").fetchone()
        return int(row[0])

    def next_passage_id(self) -> int:
        """The lowest passage id above every id this index ever used (nothing is reserved)."""
        used = max(self._max("passages", "id"), self._max("deletions", "passage"))
        return max(int(self.meta("next_passage", 0)), used)

    def new_passage_ids(self, n: int, *, floor: int = 0) -> np.ndarray:
        """n passage ids never used before, none below `floor` (a shard of a sharded index
        numbers above every shard's ids: policy_search.index.distributed.shards.next_passage_id)."""
        deleted = self._max("deletions", "passage")
        used = max(self._max("passages", "id"), deleted, floor)
        first = self.take_ids("next_passage", n, used)
        return np.arange(first, first + n, dtype=np.int64)

    def claim_passage_ids(self, ids: np.ndarray) -> None:
        """Take these ids, chosen by the caller, for new passages: a shard's build numbers its
        passages as one index over every shard's articles would. Each must be unused and at or
        above `next_passage_id`; the counter moves above them all, so later ids never collide."""
        if not len(ids):
            return
        low = self.next_passage_id()
        if int(ids.min()) < low or len(np.unique(ids)) != len(ids):
            raise IndexInternalError(
                f"passage ids given for a write must be distinct and at least {low}"
            )
        self.set_meta("next_passage", int(ids.max()) + 1)

    def add_passages(self, rows: list[tuple[int, int, int, int, int]]) -> None:
        """Store passages: (id, article rowid, ordinal, start, end)."""
        self.conn.executemany(
            "INSERT INTO passages (id, article_rowid, ordinal, start, end) VALUES (?, ?, ?, ?, ?)",
            rows,
        )
        self._count(0, len(rows))

    def add_passage_countries(self, rows: Iterable[tuple[int, str, int]]) -> None:
        """Record the countries new passages name: (passage id, alpha-2 code, article rowid).
        remove_article drops them with their passages."""
        self.conn.executemany(
            "INSERT OR IGNORE INTO passage_countries (passage, country, article) VALUES (?, ?, ?)",
            rows,
        )
