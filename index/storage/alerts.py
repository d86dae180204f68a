"""Saved alerts and their matches, in the index's catalog: their tables, every SQL statement
that reads or writes them, and percolation, the matching of a write's new passages against
every saved alert in that write's own transaction.

An alert is saved compiled (`StoredAlert`): its request as sent, what a `Percolator` reads of it
(parsed once: terms, phrases, filters) and its query's vector. A match is a small row of
`alert_matches`; what its feed entry shows (the article's title, the passage's span and text) is
a row of `alert_passages`, once per passage whatever the alerts it matched, so that an entry
outlives the article: a removed or replaced article leaves its past entries. Each alert keeps
its newest `Percolator.feed_length` matches: a write prunes the alerts it matched whose rowid
falls to it (one in PRUNE_EVERY), so each alert is pruned every few writes that match it.

The tables are made when missing (`ensure`, in the caller's write transaction), so an index made
before alerts existed keeps working as it is: a reader finds no alerts there. A sharded index
keeps every alert in each shard's catalog (each shard matches its own articles); its feed reads
every shard.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from policy_search.index.defaults import WRITER_WAIT
from policy_search.index.errors import AlertLimit, AlertNotFound
from policy_search.index.readers.article import date_range
from policy_search.index.storage.catalog import Catalog
from policy_search.index.storage.lexical import LexicalSettings
from policy_search.index.storage.live_stats import LiveStats, LiveStatsCache
from policy_search.index.storage.store import open_catalog, writer_lock

__all__ = [
    "ALERTS_SCHEMA",
    "PRUNE_EVERY",
    "AlertCache",
    "AlertMatch",
    "NewPassages",
    "Percolator",
    "StoredAlert",
    "alert_feed",
    "delete_alert",
    "ensure",
    "list_alerts",
    "matched_passages",
    "new_passages",
    "percolate",
    "save_alert",
    "save_alerts",
]

ALERTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,         -- random, URL-safe: the feed's URL is its capability
    request TEXT NOT NULL,           -- JSON: the AlertRequest as saved
    compiled TEXT NOT NULL,          -- JSON: what a Percolator reads (the parsed query)
    vector BLOB,                     -- float32 unit vector of the query text, NULL for none
    created TEXT NOT NULL,           -- ISO 8601, UTC
    since INTEGER NOT NULL           -- passages from this id on were written after it was saved
);
CREATE TABLE IF NOT EXISTS alert_matches (
    seq INTEGER PRIMARY KEY,         -- the order matches were written in: newest highest
    alert INTEGER NOT NULL REFERENCES alerts(rowid) ON DELETE CASCADE,
    passage INTEGER NOT NULL,        -- its passage id (the passage may since be gone)
    matched TEXT NOT NULL,           -- when (ISO 8601, UTC): the write's commit
    generation INTEGER NOT NULL      -- the commit that wrote the passage (its id is new)
);
CREATE INDEX IF NOT EXISTS alert_matches_feed ON alert_matches(alert, seq);
CREATE INDEX IF NOT EXISTS alert_matches_passage ON alert_matches(passage);
CREATE TABLE IF NOT EXISTS alert_passages (
    passage INTEGER PRIMARY KEY,     -- a matched passage, as its feed entries show it
    article TEXT NOT NULL, title TEXT NOT NULL,
    source TEXT, author TEXT, url TEXT,
    start INTEGER NOT NULL, end INTEGER NOT NULL,
    text TEXT NOT NULL
);
"""
PRUNE_EVERY = 16  # a write prunes the alerts whose rowid is its generation modulo this


@dataclass(frozen=True, slots=True)
class StoredAlert:
    """A saved alert: its id, its request (JSON fields), its compiled form, its vector."""

    id: str
    request: dict[str, Any]
    compiled: dict[str, Any]
    vector: np.ndarray | None
    created: str
    matched: int = 0  # entries its feed holds
    rowid: int = 0


@dataclass(frozen=True, slots=True)
class AlertMatch:
    """An entry of an alert's feed."""

    passage: int
    article: str
    title: str
    source: str | None
    author: str | None
    url: str | None
    start: int
    end: int
    text: str
    matched: str


@dataclass(frozen=True, slots=True)
class NewPassages:
    """A write's new passages, as a Percolator reads them: parallel lists, one item a passage;
    `articles` each passage's article as a row of METADATA's columns plus its id first."""

    ids: np.ndarray  # passage ids
    texts: list[str]  # each passage's text (as the article holds it, [start, end))
    terms: list[list[str]]  # each passage's analysed terms, as BM25 indexed them
    vectors: np.ndarray  # (n, dim) float32 unit vectors
    articles: list[dict[str, Any]]  # id, title, source, author, url, tags, date_start, date_end
    spans: list[tuple[int, int]]  # [start, end) in the article's text
    countries: list[frozenset[str]]  # the alpha-2 codes each passage names
    lexical: LexicalSettings  # how the index analyses text (phrases are matched so)
    # BM25's statistics of the whole live index after the write, read when first asked (what
    # a search right after the commit scores these passages with); None: not known
    stats: LiveStats | None = None


class Percolator(Protocol):
    """Matches new passages against saved alerts (search/percolate.py: as a search would)."""

    feed_length: int  # matches each alert keeps, the newest
    alerts: AlertCache  # the saved alerts, loaded once per catalog and version
    stats: LiveStatsCache  # each catalog's segment postings, for BM25's statistics

    def match(
        self, new: NewPassages, alerts: Sequence[StoredAlert], vectors: np.ndarray
    ) -> list[tuple[int, int]]:
        """(alert index, passage index) of every match; `vectors`: the alerts' vectors as
        rows (zeros for an alert without one)."""
        ...


@dataclass(slots=True)
class _Loaded:
    """The saved alerts of one catalog as of a version, ready for matching."""

    version: int
    alerts: list[StoredAlert]
    vectors: np.ndarray
    rowids: np.ndarray  # each alert's rowid


@dataclass(slots=True)
class AlertCache:
    """Alerts loaded once per catalog and version: a write reads the table only after an
    alert was saved or deleted (a write with 1,000 alerts must cost little)."""

    loaded: dict[Path, _Loaded] = field(default_factory=dict)

    def get(self, catalog: Catalog, dim: int) -> _Loaded:
        version = int(catalog.meta("alerts_version", 0))
        kept = self.loaded.get(catalog.path)
        if kept is None or kept.version != version:
            alerts = list(_alerts(catalog, counts=False))
            vectors = np.zeros((len(alerts), dim), dtype=np.float32)
            for i, alert in enumerate(alerts):
                if alert.vector is not None and alert.vector.shape == (dim,):
                    vectors[i] = alert.vector
            rowids = np.array([a.rowid for a in alerts], dtype=np.int64)
            kept = self.loaded[catalog.path] = _Loaded(version, alerts, vectors, rowids)
        return kept


def ensure(conn: sqlite3.Connection) -> None:
    """Make the alert tables when missing (in the caller's write transaction)."""
    for statement in ALERTS_SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)


def _has_tables(conn: sqlite3.Connection) -> bool:
    query = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alert_matches'"
    return conn.execute(query).fetchone() is not None


def _bump(catalog: Catalog) -> None:
    catalog.set_meta("alerts_version", int(catalog.meta("alerts_version", 0)) + 1)


def _alerts(
    catalog: Catalog, *, counts: bool, alert_id: str | None = None
) -> Iterator[StoredAlert]:
    """The saved alerts (or the one of `alert_id`), newest first; with `counts`, each with its
    feed's length."""
    conn = catalog.conn
    if not _has_tables(conn):
        return
    matched = "(SELECT COUNT(*) FROM alert_matches m WHERE m.alert = a.rowid)" if counts else "0"
    where, args = ("WHERE a.id = ?", (alert_id,)) if alert_id is not None else ("", ())
    rows = conn.execute(
        f"SELECT a.rowid, a.id, a.request, a.compiled, a.vector, a.created, {matched} "
        f"FROM alerts a {where} ORDER BY a.rowid DESC",
        args,
    )
    for rowid, aid, request, compiled, vector, created, count in rows:
        array = None if vector is None else np.frombuffer(vector, dtype=np.float32)
        yield StoredAlert(aid, json.loads(request), json.loads(compiled), array, created,
                          int(count), int(rowid))  # fmt: skip


def _catalogs(index_dir: Path) -> list[Path]:
    """The index directories whose catalogs hold the alerts: the index's, or each shard's."""
    from policy_search.index.distributed.shards import ShardSet, is_sharded

    return list(ShardSet.open(index_dir).dirs) if is_sharded(index_dir) else [index_dir]


def _reading(index_dir: Path, read: Callable[[Catalog], Any]) -> list[Any]:
    """`read` of each catalog holding the alerts, each in one read transaction."""
    out = []
    for directory in _catalogs(index_dir):
        catalog = open_catalog(directory, readonly=True)
        try:
            with catalog.reading():
                out.append(read(catalog))
        finally:
            catalog.close()
    return out


def _writing(index_dir: Path, write: Callable[[Catalog], None], wait: float) -> None:
    """`write` in one transaction of each catalog holding the alerts, under its writer lock
    (and a sharded index's own lock), as any write of the index."""
    directories = _catalogs(index_dir)
    with writer_lock(index_dir, wait=wait):
        for directory in directories:
            same = directory == index_dir  # (one index: its lock is held already)
            with contextlib.nullcontext() if same else writer_lock(directory, wait=wait):
                catalog = open_catalog(directory, readonly=False)
                try:
                    with catalog.transaction():
                        ensure(catalog.conn)
                        write(catalog)
                finally:
                    catalog.close()


def save_alert(
    index_dir: Path, alert: StoredAlert, *, limit: int, wait: float = WRITER_WAIT
) -> None:
    """Save a compiled alert (in each shard of a sharded index); AlertLimit past `limit`."""
    save_alerts(index_dir, [alert], limit=limit, wait=wait)


def save_alerts(
    index_dir: Path, alerts: Sequence[StoredAlert], *, limit: int, wait: float = WRITER_WAIT
) -> None:
    """Save compiled alerts in one transaction (of each shard); AlertLimit, and none saved, if
    they would pass `limit`."""
    rows = [
        [a.id, json.dumps(a.request, sort_keys=True), json.dumps(a.compiled, sort_keys=True),
         None if a.vector is None else np.asarray(a.vector, np.float32).tobytes(), a.created]
        for a in alerts
    ]  # fmt: skip

    def write(catalog: Catalog) -> None:
        count = catalog.conn.execute("SELECT COUNT(*) FROM alerts").fetchone()[0]
        if count + len(rows) > limit:
            raise AlertLimit(
                f"{count} alerts are saved, the limit (POLICY_SEARCH_MAX_ALERTS) is {limit}: "
                "delete some first"
            )
        since = catalog.next_passage_id()  # passage ids only grow: what comes after it
        catalog.conn.executemany(
            "INSERT INTO alerts (id, request, compiled, vector, created, since) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(*row, since) for row in rows],
        )
        _bump(catalog)

    _writing(index_dir, write, wait)


def _forget_passages(conn: sqlite3.Connection, passages: set[int] | None) -> None:
    """Drop the shown passages no match names any more (of `passages`; None: any)."""
    unnamed = "NOT EXISTS (SELECT 1 FROM alert_matches m WHERE m.passage = alert_passages.passage)"
    if passages is None:
        conn.execute(f"DELETE FROM alert_passages WHERE {unnamed}")
    elif passages:
        conn.executemany(
            f"DELETE FROM alert_passages WHERE passage = ? AND {unnamed}",
            [(p,) for p in sorted(passages)],
        )


def delete_alert(index_dir: Path, alert_id: str, *, wait: float = WRITER_WAIT) -> None:
    """Delete an alert and its matches (from every shard); AlertNotFound if none has the id."""
    found = []

    def write(catalog: Catalog) -> None:
        deleted = catalog.conn.execute("DELETE FROM alerts WHERE id = ?", (alert_id,)).rowcount
        found.append(deleted)
        if deleted:  # its matches went with it (ON DELETE CASCADE)
            _forget_passages(catalog.conn, None)
            _bump(catalog)

    _writing(index_dir, write, wait)
    if not any(found):
        raise AlertNotFound(f"no alert with id {alert_id!r}")


def list_alerts(index_dir: Path) -> list[StoredAlert]:
    """Every saved alert, newest first, each with its feed's length (a sharded index's: every
    shard's matches)."""
    parts = _reading(index_dir, lambda c: list(_alerts(c, counts=True)))
    matched: dict[str, int] = {}
    unique: dict[str, StoredAlert] = {}
    for part in parts:  # (a crash between shards' saves may leave one on some shards only)
        for alert in part:
            matched[alert.id] = matched.get(alert.id, 0) + alert.matched
            unique.setdefault(alert.id, alert)
    alerts = sorted(unique.values(), key=lambda a: (a.created, a.rowid), reverse=True)
    return [dataclasses.replace(a, matched=matched[a.id]) for a in alerts]


def matched_passages(index_dir: Path) -> dict[str, tuple[int, set[int]]]:
    """Each alert's `since` (the first passage id written after it was saved) and the ids of
    every passage it matched (a proof's check: harness/chaos_alerts.py)."""

    def read(catalog: Catalog) -> dict[str, tuple[int, set[int]]]:
        if not _has_tables(catalog.conn):
            return {}
        out: dict[str, tuple[int, set[int]]] = {
            aid: (int(since), set()) for aid, since in
            catalog.conn.execute("SELECT id, since FROM alerts")
        }  # fmt: skip
        rows = catalog.conn.execute(
            "SELECT a.id, m.passage FROM alert_matches m JOIN alerts a ON a.rowid = m.alert"
        )
        for aid, passage in rows:
            out[aid][1].add(int(passage))
        return out

    merged: dict[str, tuple[int, set[int]]] = {}
    for part in _reading(index_dir, read):
        for aid, (since, passages) in part.items():
            merged.setdefault(aid, (since, set()))[1].update(passages)
    return merged


def alert_feed(index_dir: Path, alert_id: str, limit: int) -> tuple[StoredAlert, list[AlertMatch]]:
    """An alert and its newest `limit` matches, newest first (every shard's); AlertNotFound."""

    def read(catalog: Catalog) -> tuple[StoredAlert | None, list[AlertMatch]]:
        alert = next(_alerts(catalog, counts=False, alert_id=alert_id), None)
        if alert is None:
            return None, []
        rows = catalog.conn.execute(
            "SELECT m.passage, p.article, p.title, p.source, p.author, p.url, p.start, p.end, "
            "p.text, m.matched FROM alert_matches m JOIN alert_passages p "
            "ON p.passage = m.passage WHERE m.alert = ? ORDER BY m.seq DESC LIMIT ?",
            (alert.rowid, limit),
        ).fetchall()
        return alert, [AlertMatch(*row) for row in rows]

    parts = _reading(index_dir, read)
    alerts = [a for a, _ in parts if a is not None]
    if not alerts:
        raise AlertNotFound(f"no alert with id {alert_id!r}")
    matches = [m for _, ms in parts for m in ms]
    matches.sort(key=lambda m: (m.matched, m.passage), reverse=True)
    return alerts[0], matches[:limit]


def new_passages(
    chunks: Sequence[tuple[Any, Any, list[str]]],
    ids: np.ndarray,
    vectors: np.ndarray,
    countries: Sequence[Sequence[str]],
    lexical: LexicalSettings,
    stats: LiveStats | None = None,
) -> NewPassages:
    """A write's new passages (its chunks: article, passage, terms) as a Percolator reads them,
    with the index's statistics after the write (`stats`)."""
    facts: dict[str, dict[str, Any]] = {}
    for article, _, _ in chunks:
        if article.id not in facts:
            start, end = date_range(article.date)
            facts[article.id] = {
                "id": article.id, "title": article.title, "source": article.source,
                "author": article.author, "url": article.url, "tags": list(article.tags),
                "date_start": start, "date_end": end,
            }  # fmt: skip
    return NewPassages(
        ids=np.asarray(ids, dtype=np.int64),
        texts=[p.text for _, p, _ in chunks],
        terms=[list(t) for _, _, t in chunks],
        vectors=np.asarray(vectors, dtype=np.float32).reshape(len(chunks), -1),
        articles=[facts[a.id] for a, _, _ in chunks],
        spans=[(p.start, p.end) for _, p, _ in chunks],
        countries=[frozenset(c) for c in countries],
        lexical=lexical,
        stats=stats,
    )


def percolate(
    catalog: Catalog, percolator: Percolator, generation: int, passages: Callable[[], NewPassages]
) -> int:
    """Match the write's new passages (made by `passages`, only when an alert is saved) against
    every saved alert and record the matches, in the write's transaction; the matches recorded."""
    if not _has_tables(catalog.conn):
        return 0
    new = passages()
    loaded = percolator.alerts.get(catalog, new.vectors.shape[1])
    if not loaded.alerts or not len(new.ids):
        return 0
    pairs = percolator.match(new, loaded.alerts, loaded.vectors)
    if not pairs:
        return 0
    now = datetime.now(UTC).isoformat(timespec="seconds")
    shown = []
    for p in sorted({p for _, p in pairs}):
        article = new.articles[p]
        start, end = new.spans[p]
        shown.append((int(new.ids[p]), article["id"], article["title"], article.get("source"),
                      article.get("author"), article.get("url"), start, end,
                      new.texts[p]))  # fmt: skip
    conn = catalog.conn
    conn.executemany(
        "INSERT OR IGNORE INTO alert_passages (passage, article, title, source, author, url, "
        "start, end, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        shown,
    )
    which = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    rowids = loaded.rowids[which[:, 0]].tolist()
    passage_ids = new.ids[which[:, 1]].tolist()
    rows = [(r, p, now, generation) for r, p in zip(rowids, passage_ids, strict=True)]
    conn.executemany(
        "INSERT INTO alert_matches (alert, passage, matched, generation) VALUES (?, ?, ?, ?)",
        rows,
    )
    due = sorted({r for r, *_ in rows if r % PRUNE_EVERY == generation % PRUNE_EVERY})
    gone: list[int] = []
    for rowid in due:  # each keeps its newest feed_length (the feed reads no more)
        gone += [g for (g,) in conn.execute(
            "DELETE FROM alert_matches WHERE alert = ? AND seq <= (SELECT seq FROM alert_matches "
            "WHERE alert = ? ORDER BY seq DESC LIMIT 1 OFFSET ?) RETURNING passage",
            (rowid, rowid, percolator.feed_length),
        )]  # fmt: skip
    _forget_passages(conn, set(gone))
    return len(rows)
