"""The catalog: the index's commit point, one SQLite database in WAL mode. Every SQL statement
of the project is here and in its sibling modules: `catalog_schema` (the tables, text packing,
older formats), `catalog_rows` (the records it hands out), `catalog_filters` (a filter's and a
facet's SQL) and `catalog_reads` and `catalog_writes` (the reads for search
and the writes of articles and passages, mixins of `Catalog`).

It holds the articles (metadata and compressed text), their live passages with offsets, the
live segments with the sizes and checksums of their files, the deleted passages (tombstones:
passage id and the generation that deleted it) and the manifest. A write is one transaction
(`BEGIN IMMEDIATE` … `COMMIT`, synchronous=FULL) taken after the segment files it names are
durable: SQLite's write-ahead log makes that one atomic, durable step, and a crash at any instant
leaves the state before it or after it, whole. Readers never wait for it.

Why SQLite and not a `segments_N` file beside a database: the articles, passages and tombstones
must change in the same step as the segment list, and one transaction does that.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from policy_search.index.defaults import CATALOG_BUSY_WAIT
from policy_search.index.errors import IndexCorrupt
from policy_search.index.storage.catalog_filters import Conditions
from policy_search.index.storage.catalog_reads import CatalogReads
from policy_search.index.storage.catalog_rows import ArticleRow, PassageRow, SegmentRow, Texts
from policy_search.index.storage.catalog_schema import (
    NEW_IN_6,
    NEW_IN_7,
    SCHEMA,
    add_country_table,
    adopt_store,
    pack_text,
    store_passages,
    unpack_text,
)
from policy_search.index.storage.catalog_writes import CatalogWrites

__all__ = [
    "NEW_IN_6",
    "NEW_IN_7",
    "SCHEMA",
    "ArticleRow",
    "Catalog",
    "Conditions",
    "PassageRow",
    "SegmentRow",
    "Texts",
    "add_country_table",
    "adopt_store",
    "checkpoint",
    "pack_text",
    "store_passages",
    "unpack_text",
]


def checkpoint(path: Path) -> bool:
    """Copy the write-ahead log's commits into the database as far as no reader still needs
    them (a passive checkpoint, which waits for no one); True when the whole log was copied, so
    that a read transaction begun now reads the database alone and lets the next writer start
    the log over. False when a reader still needs part of it or the file is not writable here."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=0)
    except sqlite3.Error:
        return False
    try:
        busy, log, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    except sqlite3.Error:
        return False
    finally:
        conn.close()
    return not busy and log == copied


class Catalog(CatalogReads, CatalogWrites):
    """One connection to an index's catalog: its transactions, meta, segments and tombstones,
    its writes of articles and passages (`CatalogWrites`) and its reads for search
    (`CatalogReads`)."""

    def __init__(self, path: Path, *, readonly: bool) -> None:
        self.path = path
        if readonly and not path.is_file():
            raise IndexCorrupt(f"{path} is missing; rebuild the index with `policy-search index`")
        try:
            uri = f"file:{path}?mode=ro" if readonly else f"file:{path}"
            self.conn = sqlite3.connect(
                uri, uri=True, check_same_thread=False, timeout=CATALOG_BUSY_WAIT
            )
            self.conn.row_factory = sqlite3.Row
            self.conn.execute("PRAGMA foreign_keys = ON")
            self.inode = path.stat().st_ino if path.exists() else None
            if not readonly:
                self.conn.execute("PRAGMA journal_mode = WAL")
                self.conn.execute("PRAGMA synchronous = FULL")  # the commit is the ack
        except sqlite3.DatabaseError as exc:
            raise self.damaged(exc) from None

    def damaged(self, exc: Exception) -> IndexCorrupt:
        """The error for a catalog SQLite cannot read."""
        return IndexCorrupt(
            f"the catalog {self.path} is unreadable ({exc}); restore it from a backup or "
            "rebuild the index with `policy-search index`"
        )

    def replaced(self) -> bool:
        """Whether the file at the catalog's path is no longer the one this connection reads
        (a rebuild over a damaged index made a new one)."""
        try:
            return self.path.stat().st_ino != self.inode
        except OSError:
            return True

    def size(self) -> int:
        """The catalog's size on disk, its write-ahead log included."""
        paths = [self.path, self.path.with_name(self.path.name + "-wal")]
        return sum(p.stat().st_size for p in paths if p.exists())

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def create(self) -> None:
        """Make the tables of a new index (in the caller's transaction)."""
        for statement in SCHEMA.split(";"):
            if statement.strip():
                self.conn.execute(statement)
        self.set_meta("counts", [0, 0])

    def check(self) -> None:
        """Refuse a catalog whose pages SQLite finds damaged."""
        try:
            result = self.conn.execute("PRAGMA quick_check").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise self.damaged(exc) from None
        if result != "ok":
            raise self.damaged(ValueError(result))

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic, durable write (the caller holds the writer lock)."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            if self._has_meta() and self.meta("counts") is None:
                self.set_meta("counts", list(self.counts()))  # counted once, then kept
            yield
        except BaseException:
            self.conn.rollback()
            raise
        self.conn.commit()

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """Several reads that see one commit."""
        try:
            self.conn.execute("BEGIN")
            try:
                yield
            finally:
                self.conn.rollback()
        except sqlite3.DatabaseError as exc:
            raise self.damaged(exc) from None

    # -- meta ----------------------------------------------------------------------------

    def meta(self, key: str, default: Any = None) -> Any:
        """A value of the meta table (JSON), or `default`."""
        try:
            row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        except sqlite3.DatabaseError as exc:
            raise self.damaged(exc) from None
        return default if row is None else json.loads(row[0])

    def set_meta(self, key: str, value: Any) -> None:
        """Set a value of the meta table."""
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, json.dumps(value, sort_keys=True)),
        )

    def counts(self) -> tuple[int, int]:
        """(articles, passages) live: kept up to date by every write, not counted (COUNT(*) is
        a scan of the table: milliseconds a write at 200k passages)."""
        kept = self.meta("counts")
        if kept is None:  # an index from before the counts were kept
            kept = [self.conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                    for t in ("articles", "passages")]  # fmt: skip
        return int(kept[0]), int(kept[1])

    def _has_meta(self) -> bool:
        query = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
        return self.conn.execute(query).fetchone() is not None

    # -- segments and tombstones ---------------------------------------------------------

    def segments(self) -> list[SegmentRow]:
        """The live segments, oldest first."""
        rows = self.conn.execute("SELECT name, passages, files, base FROM segments ORDER BY rowid")
        return [SegmentRow(r[0], int(r[1]), json.loads(r[2]), int(r[3])) for r in rows]

    def add_segment(self, segment: SegmentRow) -> None:
        """Name a durable segment in this transaction."""
        self.conn.execute(
            "INSERT INTO segments (name, passages, files, base) VALUES (?, ?, ?, ?)",
            (segment.name, segment.passages, json.dumps(segment.files), segment.base),
        )

    def drop_segments(self, names: Iterable[str]) -> None:
        """Stop naming these segments (their folders go once no reader holds them)."""
        self.conn.executemany("DELETE FROM segments WHERE name = ?", [(n,) for n in names])

    def deletions(self, since: int) -> tuple[np.ndarray, np.ndarray]:
        """(passage ids, generations) deleted after generation `since`."""
        rows = self.conn.execute(
            "SELECT passage, generation FROM deletions WHERE generation > ?", (since,)
        ).fetchall()
        pairs = np.asarray(rows, dtype=np.int64).reshape(-1, 2)
        return pairs[:, 0], pairs[:, 1]

    def add_deletions(self, passages: Sequence[int], generation: int) -> None:
        """Tombstone these passages."""
        self.conn.executemany(
            "INSERT OR REPLACE INTO deletions (passage, generation) VALUES (?, ?)",
            [(int(p), generation) for p in passages],
        )

    def forget_deletions(self, passages: Sequence[int]) -> None:
        """Drop tombstones of passages no live segment holds any more (merged away)."""
        self.conn.executemany(
            "DELETE FROM deletions WHERE passage = ?", [(int(p),) for p in passages]
        )

    def clear(self) -> None:
        """Drop every article, passage, segment and tombstone (a rebuild, in one transaction)."""
        for table in ("passage_countries", "articles", "segments", "deletions"):
            self.conn.execute(f"DELETE FROM {table}")
        self.set_meta("counts", [0, 0])

    def deleted_count(self) -> int:
        """Tombstones not yet merged away."""
        return int(self.conn.execute("SELECT COUNT(*) FROM deletions").fetchone()[0])
