"""The catalog: the index's commit point, one SQLite database in WAL mode. Every SQL statement
of the project is here.

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
import dataclasses
import json
import sqlite3
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from policy_search.facets import (
    ArticleColumn,
    ArticleDate,
    ArticleTags,
    ArticleYear,
    Condition,
    PassageCountries,
    facet,
)
from policy_search.index.defaults import CATALOG_BUSY_WAIT
from policy_search.index.errors import IndexCorrupt, IndexInternalError
from policy_search.records import Article, ArticleMeta, ArticlePassage

__all__ = [
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

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE segments (
    name TEXT PRIMARY KEY,           -- the folder segments/<name>
    passages INTEGER NOT NULL,       -- rows it holds, deleted ones included
    files TEXT NOT NULL,             -- JSON {path: [size, crc32]}, checked when it is opened
    base INTEGER NOT NULL            -- deletions up to this generation are already left out
);
CREATE TABLE deletions (
    passage INTEGER PRIMARY KEY,     -- a passage id still in some segment, no longer live
    generation INTEGER NOT NULL
);
CREATE INDEX deletions_generation ON deletions(generation);
CREATE TABLE articles (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    body BLOB NOT NULL,              -- the text, UTF-8, zlib-compressed (pack_text/unpack_text)
    source TEXT, author TEXT, date TEXT, url TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    date_start TEXT, date_end TEXT,  -- the date as an interval: 2024 → 2024-01-01..2024-12-31
    content_hash TEXT NOT NULL       -- of what is embedded (title and text)
);
CREATE INDEX articles_source ON articles(source COLLATE NOCASE);
CREATE INDEX articles_author ON articles(author COLLATE NOCASE);
CREATE INDEX articles_date ON articles(date_start, date_end);
CREATE TABLE article_tags (
    article_rowid INTEGER NOT NULL REFERENCES articles(rowid) ON DELETE CASCADE,
    tag TEXT NOT NULL COLLATE NOCASE
);
CREATE INDEX article_tags_tag ON article_tags(tag, article_rowid);
CREATE TABLE passages (
    id INTEGER PRIMARY KEY,          -- the FAISS id of its vector, never reused
    article_rowid INTEGER NOT NULL REFERENCES articles(rowid) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL
);
CREATE INDEX passages_article ON passages(article_rowid, ordinal);
-- What facets read of an article, beside its text (which would make each lookup read it).
CREATE INDEX articles_facets ON articles(rowid, source, date_start);
CREATE TABLE passage_countries (
    passage INTEGER NOT NULL,        -- a live passage (rows go with it)
    country TEXT NOT NULL,           -- ISO 3166-1 alpha-2 of a country it names
    article INTEGER NOT NULL,        -- its article's rowid, so that facets count articles
    PRIMARY KEY (passage, country)
) WITHOUT ROWID;
CREATE INDEX passage_countries_country ON passage_countries(country, passage);
"""
# The tables a format-5 store.sqlite lacks (index/storage/upgrade.py adds them).
NEW_IN_6 = SCHEMA.split("CREATE TABLE articles")[0]
# What a format-6 catalog lacks: the passages' countries (index/storage/upgrade.py adds them,
# filled).
NEW_IN_7 = SCHEMA.split("CREATE INDEX passages_article ON passages(article_rowid, ordinal);")[1]

# Every column of the articles table but the packed text, which content_hash stands for.
METADATA = "id, title, source, author, date, url, tags, date_start, date_end, content_hash"
# The columns of an article's record (ArticleMeta), in its fields' order.
META = "a.id, a.title, a.source, a.author, a.date, a.url, a.tags"


# What a facet of each kind of condition counts (policy_search.facets): each value and its count
# of the articles in a JSON array of rowids (per passage: of the passages' ids). INDEXED BY: the
# planner would read each article's row, text and all, where the index holds what is counted.
_FACETS_BY = "FROM json_each(?) h JOIN articles a{} ON a.rowid = h.value GROUP BY 1"
_FACETS_INDEX = " INDEXED BY articles_facets"
_FACETS_INDEXED = ("source", "date_start")  # the columns articles_facets holds


def _facet_sql(condition: Condition) -> tuple[str, bool]:
    """The SQL counting a facet that reads this kind of condition, and whether it reads
    passages' ids (else articles' rowids)."""
    match condition:
        case ArticleColumn(column=column):
            indexed = _FACETS_INDEX if column in _FACETS_INDEXED else ""
            return f"SELECT a.{_column(column)}, COUNT(*) " + _FACETS_BY.format(indexed), False
        case ArticleYear():
            sql = "SELECT substr(a.date_start, 1, 4), COUNT(*) " + _FACETS_BY.format(_FACETS_INDEX)
            return sql, False
        case ArticleTags():
            sql = ("SELECT t.tag, COUNT(*) FROM json_each(?) h JOIN article_tags t "
                   "ON t.article_rowid = h.value GROUP BY t.tag")  # fmt: skip
            return sql, False
        case PassageCountries():
            sql = ("SELECT c.country, COUNT(DISTINCT c.article) FROM json_each(?) h JOIN "
                   "passage_countries c ON c.passage = h.value GROUP BY c.country")  # fmt: skip
            return sql, True
    raise IndexInternalError(f"no facet reads {condition!r}")


def _where(condition: Condition, values: Sequence[str]) -> str:
    """The SQL condition of a filter of this kind that any of `values` meets (a date bound:
    every one), over `articles a` and `passages p`."""
    marks = ",".join("?" * len(values))
    match condition:
        case ArticleColumn(column=column, exact=exact):
            return f"a.{_column(column)} {'' if exact else 'COLLATE NOCASE '}IN ({marks})"
        case ArticleTags():  # article_tags.tag is NOCASE
            return ("EXISTS (SELECT 1 FROM article_tags t WHERE t.article_rowid = a.rowid "
                    f"AND t.tag IN ({marks}))")  # fmt: skip
        case ArticleDate(bound=bound):
            return " AND ".join(["a.date_end >= ?" if bound == "from" else "a.date_start <= ?"]
                                * len(values))  # fmt: skip
        case PassageCountries():
            return f"p.id IN (SELECT passage FROM passage_countries WHERE country IN ({marks}))"
    raise IndexInternalError(f"no filter reads {condition!r}")


def _column(name: str) -> str:
    """An article column's name, checked: it goes into SQL as written."""
    if name not in _ARTICLE_COLUMNS:
        raise IndexInternalError(f"the articles table has no column {name!r}")
    return name


_ARTICLE_COLUMNS = frozenset(METADATA.split(", "))


def pack_text(text: str) -> bytes:
    """An article's text as stored: about a third of its UTF-8 size for prose."""
    return zlib.compress(text.encode("utf-8", "surrogatepass"), 6)


def unpack_text(body: bytes) -> str:
    """The text `pack_text` stored."""
    return zlib.decompress(body).decode("utf-8", "surrogatepass")


@dataclass(frozen=True, slots=True)
class Conditions:
    """What a query's filters ask of a passage: each condition (a kind of column of
    `policy_search.facets`) with the values any of which it must meet, all of them at once; the
    values as the catalog holds them (a date bound: a day; a country: an alpha-2 code). An empty
    one asks nothing."""

    terms: tuple[tuple[Condition, tuple[str, ...]], ...] = ()

    @classmethod
    def of(cls, *terms: tuple[Condition, Sequence[str]]) -> Conditions:
        """The conditions with values (those without ask nothing)."""
        return cls(tuple((c, tuple(values)) for c, values in terms if values))

    @property
    def per_passage(self) -> bool:
        """Whether a condition reads the passages themselves, not only their articles."""
        return any(isinstance(c, PassageCountries) for c, _ in self.terms)


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


def adopt_store(
    path: Path, segment: SegmentRow, manifest: dict[str, Any], detect: Callable[[str], list[str]]
) -> None:
    """Turn a format-5 store (a copy at `path`) into a catalog naming one segment, with the
    countries `detect` finds in each passage."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode = WAL")  # as every catalog: readers hold commits open
        conn.executescript(NEW_IN_6)
        add_country_table(conn, detect)
        conn.execute(
            "INSERT INTO segments (name, passages, files, base) VALUES (?, ?, ?, ?)",
            (segment.name, segment.passages, json.dumps(segment.files), segment.base),
        )
        for key, value in (("manifest", manifest), ("generation", manifest["generation"])):
            conn.execute("INSERT INTO meta VALUES (?, ?)", (key, json.dumps(value, sort_keys=True)))
        conn.commit()
    finally:
        conn.close()


def add_country_table(conn: sqlite3.Connection, detect: Callable[[str], list[str]]) -> int:
    """Make what a catalog of format 6 lacks (NEW_IN_7) and fill passage_countries with the
    countries `detect` finds in every live passage, in the caller's transaction; the rows
    written. Article by article: the UN corpus unpacked at once is hundreds of megabytes."""
    for statement in NEW_IN_7.split(";"):
        if statement.strip():
            conn.execute(statement)
    written = 0
    for rowid, body in conn.execute("SELECT rowid, body FROM articles ORDER BY rowid"):
        text = unpack_text(body)
        spans = conn.execute(
            "SELECT id, start, end FROM passages WHERE article_rowid = ?", (rowid,)
        ).fetchall()
        rows = [(pid, code, rowid) for pid, start, end in spans for code in detect(text[start:end])]
        conn.executemany(
            "INSERT INTO passage_countries (passage, country, article) VALUES (?, ?, ?)", rows
        )
        written += len(rows)
    return written


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


def store_passages(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(passage ids, article rowids) of a format-5 store, by passage id."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT id, article_rowid FROM passages ORDER BY id").fetchall()
    finally:
        conn.close()
    pairs = np.asarray(rows, dtype=np.int64).reshape(-1, 2)
    return pairs[:, 0], pairs[:, 1]


class Catalog:
    """One connection to an index's catalog."""

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

    def _count(self, articles: int, passages: int) -> None:
        """Move the live counts by these (in the caller's transaction)."""
        have = self.counts()
        self.set_meta("counts", [have[0] + articles, have[1] + passages])

    def take_ids(self, key: str, n: int, floor: int) -> int:
        """Reserve n ids of the counter `key` (never reused); return the first."""
        first = max(int(self.meta(key, 0)), floor)
        self.set_meta(key, first + n)
        return first

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

    # -- articles and passages: writes ---------------------------------------------------

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

    # -- reads for search ----------------------------------------------------------------

    def passage_rows(self, ids: Sequence[int], texts: Texts) -> dict[int, PassageRow]:
        """Live passages by id, each with its text and its article's metadata."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.conn.execute(
            f"SELECT p.id, p.article_rowid, p.start, p.end, {META} FROM passages p "
            f"JOIN articles a ON a.rowid = p.article_rowid WHERE p.id IN ({marks})",
            [int(i) for i in ids],
        ).fetchall()
        bodies = self.texts({int(r[1]) for r in rows}, texts)
        named = self.passage_countries([int(r[0]) for r in rows])
        return {
            int(pid): PassageRow(
                int(pid), int(rowid), start, end, bodies[rowid][start:end], _meta(rest),
                named.get(int(pid), ()),
            )
            for pid, rowid, start, end, *rest in rows
        }  # fmt: skip

    def passage_countries(self, ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
        """The countries each of these passages names (sorted alpha-2 codes; none: absent)."""
        rows = self.conn.execute(
            "SELECT c.passage, c.country FROM json_each(?) h "
            "JOIN passage_countries c ON c.passage = h.value ORDER BY 1, 2",
            (json.dumps([int(i) for i in ids]),),
        ).fetchall()
        named: dict[int, tuple[str, ...]] = {}
        for pid, country in rows:
            named[int(pid)] = (*named.get(int(pid), ()), str(country))
        return named

    def texts(self, rowids: Iterable[int], texts: Texts) -> dict[int, str]:
        """Articles' unpacked texts by rowid, from `texts` where it keeps them."""
        out: dict[int, str] = {}
        missing = []
        for rowid in rowids:
            text = texts.get(rowid)
            if text is None:
                missing.append(rowid)
            else:
                out[rowid] = text
        if missing:
            marks = ",".join("?" * len(missing))
            query = f"SELECT rowid, body FROM articles WHERE rowid IN ({marks})"
            for rowid, body in self.conn.execute(query, missing):
                out[rowid] = unpack_text(body)
                texts.put(rowid, out[rowid])
        return out

    def article_metas(self, rowids: Sequence[int]) -> dict[int, ArticleMeta]:
        """Articles' metadata by rowid."""
        if not rowids:
            return {}
        marks = ",".join("?" * len(rowids))
        rows = self.conn.execute(
            f"SELECT a.rowid, {META} FROM articles a WHERE a.rowid IN ({marks})",
            [int(r) for r in rowids],
        )
        return {int(rowid): _meta(rest) for rowid, *rest in rows}

    def article_row(self, article_id: str) -> ArticleRow | None:
        """An article's metadata and rowid, or None."""
        row = self.conn.execute(
            f"SELECT a.rowid, {META} FROM articles a WHERE a.id = ?", (article_id,)
        ).fetchone()
        return None if row is None else ArticleRow(int(row[0]), _meta(row[1:]))

    def article_record(self, article_id: str, texts: Texts) -> Article | None:
        """A whole article, or None."""
        found = self.article_row(article_id)
        if found is None:
            return None
        text = self.texts([found.rowid], texts)[found.rowid]
        rows = self.conn.execute(
            "SELECT id, start, end FROM passages WHERE article_rowid = ? ORDER BY ordinal",
            (found.rowid,),
        ).fetchall()
        named = self.passage_countries([r[0] for r in rows])
        passages = [ArticlePassage(id=int(pid), start=start, end=end,
                                   countries=list(named.get(int(pid), ())))
                    for pid, start, end in rows]  # fmt: skip
        return Article(**dataclasses.asdict(found.meta), text=text, passages=passages)

    def article_passages(self, rowid: int) -> np.ndarray:
        """The live passage ids of an article, in order."""
        rows = self.conn.execute(
            "SELECT id FROM passages WHERE article_rowid = ? ORDER BY ordinal", (rowid,)
        ).fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def passage_articles(self) -> dict[int, str]:
        """Every live passage id with its article id."""
        rows = self.conn.execute(
            "SELECT p.id, a.id FROM passages p JOIN articles a ON a.rowid = p.article_rowid"
        )
        return {int(pid): str(aid) for pid, aid in rows}

    def matching_passages(self, conditions: Conditions) -> np.ndarray | None:
        """Sorted ids of the live passages that meet the conditions (`Conditions`); None when
        every passage does (no 200k ids through Python for nothing)."""
        where = [_where(condition, values) for condition, values in conditions.terms]
        args = [value for _, values in conditions.terms for value in values]
        condition = " WHERE " + " AND ".join(where) if where else ""
        if not conditions.per_passage:  # an article-level condition: count articles, not passages
            matching = self.conn.execute(f"SELECT COUNT(*) FROM articles a{condition}", args)
            if matching.fetchone()[0] == self.counts()[0]:
                return None
        sql = "SELECT p.id FROM passages p JOIN articles a ON a.rowid = p.article_rowid"
        rows = self.conn.execute(sql + condition + " ORDER BY p.id", args).fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def facet_counts(
        self, passage_ids: Sequence[int], article_rowids: Sequence[int], facets: Sequence[str]
    ) -> dict[str, dict[str, int]]:
        """For each facet asked (by name: `policy_search.facets.FACETS`), each value with the
        number of these articles (the distinct articles of these passages) that have it; a
        facet of the passages (countries) counts the articles whose given passages have it.
        Undated articles have no year, sourceless ones no source."""
        passages = json.dumps([int(i) for i in passage_ids])
        articles = json.dumps([int(i) for i in article_rowids])
        found: dict[str, dict[str, int]] = {}
        for name in facets:
            sql, per_passage = _facet_sql(facet(name).counts)
            rows = self.conn.execute(sql, (passages if per_passage else articles,)).fetchall()
            found[name] = {str(value): int(count) for value, count in rows if value}
        return found

    def passage_dates(self, passage_ids: Sequence[int]) -> dict[int, str]:
        """Each dated passage's article date as its start (ISO 8601), by passage id."""
        rows = self.conn.execute(
            "SELECT p.id, a.date_start FROM json_each(?) h JOIN passages p ON p.id = h.value "
            "JOIN articles a INDEXED BY articles_facets ON a.rowid = p.article_rowid "
            "WHERE a.date_start IS NOT NULL",
            (json.dumps([int(i) for i in passage_ids]),),
        ).fetchall()
        return {int(pid): str(date) for pid, date in rows}

    def sources(self) -> list[tuple[str, int]]:
        """Each source with its article count, largest first."""
        rows = self.conn.execute(
            "SELECT COALESCE(source, ''), COUNT(*) FROM articles GROUP BY 1 ORDER BY 2 DESC, 1"
        ).fetchall()
        return [(name, int(count)) for name, count in rows if name]

    def date_span(self) -> tuple[str | None, str | None]:
        """The earliest and latest article date."""
        low, high = self.conn.execute("SELECT MIN(date), MAX(date) FROM articles").fetchone()
        return low, high
