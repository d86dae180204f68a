"""What an index holds, for the tools that draw on it: benchmarks, harnesses and tests pick
articles, texts, sources and dates here. Search never uses this module; it reads through a
snapshot's view (index/storage/view.py). Read-only: its SQL reads the latest commit of the catalog.
"""

from __future__ import annotations

import random
from pathlib import Path

from policy_search.index.storage.catalog import unpack_text
from policy_search.index.storage.closing import Closing
from policy_search.index.storage.store import open_catalog

__all__ = ["Survey"]


class Survey(Closing):
    """Read-only queries over an index's latest commit; close it (or use `with`) when done."""

    def __init__(self, index_dir: Path) -> None:
        self._catalog = open_catalog(index_dir, readonly=True)
        self._conn = self._catalog.conn

    def close(self) -> None:
        """Close the connection."""
        self._catalog.close()

    def article_ids(self) -> list[str]:
        """Every article id, in the order they were added."""
        return [r[0] for r in self._conn.execute("SELECT id FROM articles ORDER BY rowid")]

    def sources(self) -> list[str]:
        """Every source, the one with the most articles first."""
        return [name for name, _ in self._catalog.sources()]

    def date_bounds(self) -> tuple[str | None, str | None]:
        """The earliest start and latest end of the articles' date intervals."""
        row = self._conn.execute("SELECT MIN(date_start), MAX(date_end) FROM articles").fetchone()
        return row[0], row[1]

    def sample_articles(self, n: int, *, seed: int) -> list[tuple[str, str, str | None]]:
        """(title, text, date) of up to n articles drawn with `seed`."""
        rowids = [r[0] for r in self._conn.execute("SELECT rowid FROM articles")]
        chosen = random.Random(seed).sample(rowids, min(n, len(rowids)))
        out = []
        for rowid in chosen:
            title, body, date = self._conn.execute(
                "SELECT title, body, date FROM articles WHERE rowid = ?", (rowid,)
            ).fetchone()
            out.append((title, unpack_text(body), date))
        return out

    def passages_per_date(self) -> dict[str | None, int]:
        """How many live passages the articles of each date have."""
        rows = self._conn.execute(
            "SELECT a.date, COUNT(p.id) FROM articles a "
            "JOIN passages p ON p.article_rowid = a.rowid GROUP BY a.date"
        )
        return {date: int(count) for date, count in rows}

    def passage_count(self) -> int:
        """The highest passage id in use plus one (tools draw passages by id)."""
        row = self._conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM passages").fetchone()
        return int(row[0])

    def passage_text(self, passage_id: int) -> str | None:
        """One passage's text, or None (a removed passage's id)."""
        row = self._conn.execute(
            "SELECT p.start, p.end, a.body FROM passages p "
            "JOIN articles a ON a.rowid = p.article_rowid WHERE p.id = ?",
            (passage_id,),
        ).fetchone()
        return None if row is None else unpack_text(row[2])[row[0] : row[1]]
