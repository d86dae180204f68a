"""The catalog's format: its tables (SCHEMA, and what stores of formats 5 and 6 lack), how an
article's text is packed, and the steps that bring an older store up to it (upgrade.py runs
them). Part of the catalog: its SQL lives here and in the other catalog modules alone."""

from __future__ import annotations

import json
import sqlite3
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from policy_search.index.storage.catalog_rows import SegmentRow

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


def pack_text(text: str) -> bytes:
    """An article's text as stored: about a third of its UTF-8 size for prose."""
    return zlib.compress(text.encode("utf-8", "surrogatepass"), 6)


def unpack_text(body: bytes) -> str:
    """The text `pack_text` stored."""
    return zlib.decompress(body).decode("utf-8", "surrogatepass")


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


def store_passages(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(passage ids, article rowids) of a format-5 store, by passage id."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT id, article_rowid FROM passages ORDER BY id").fetchall()
    finally:
        conn.close()
    pairs = np.asarray(rows, dtype=np.int64).reshape(-1, 2)
    return pairs[:, 0], pairs[:, 1]
