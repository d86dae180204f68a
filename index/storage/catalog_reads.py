"""The catalog's reads for search: passages and articles by id, the passages a query's
filters leave, facet counts, dates and sources. A mixin of `Catalog`, which holds the
connection, so that a reader's calls (`ReadView.read(Catalog.passage_rows, ...)`) stay its
methods."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from policy_search.facets import facet
from policy_search.index.storage.catalog_filters import Conditions, _facet_sql, _where
from policy_search.index.storage.catalog_rows import ArticleRow, PassageRow, Texts, _meta
from policy_search.index.storage.catalog_schema import META, unpack_text
from policy_search.records import Article, ArticleMeta, ArticlePassage


class CatalogReads:
    """The reads a search makes of a catalog (`Catalog` has them): rows, texts, filters and
    facets, each at the commit of the caller's read transaction."""

    conn: sqlite3.Connection

    if TYPE_CHECKING:

        def counts(self) -> tuple[int, int]: ...

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

    def matching_passages(self, conditions: Conditions) -> np.ndarray:
        """Sorted ids of the live passages that meet the conditions (`Conditions`), for
        conditions that read the passages (a snapshot meets those on articles alone through
        `matching_articles` and its own arrays)."""
        condition, args = _where_clause(conditions)
        sql = "SELECT p.id FROM passages p JOIN articles a ON a.rowid = p.article_rowid"
        rows = self.conn.execute(sql + condition + " ORDER BY p.id", args).fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def matching_articles(self, conditions: Conditions) -> np.ndarray | None:
        """Sorted rowids of the articles that meet conditions on articles alone (not
        `per_passage`); None when every article does."""
        condition, args = _where_clause(conditions)
        # Unordered, so that SQLite reads a covering index of the columns asked, not the table
        # in rowid order (its rows hold the articles' texts: ten times the pages).
        rows = self.conn.execute(f"SELECT a.rowid FROM articles a{condition}", args)
        found = np.sort(np.fromiter((r[0] for r in rows), dtype=np.int64))
        return None if len(found) == self.counts()[0] else found

    def facet_counts(
        self, passage_ids: Sequence[int], article_rowids: Sequence[int], facets: Sequence[str]
    ) -> dict[str, dict[str, int]]:
        """For each facet asked (by name: `policy_search.facets.FACETS`), each value with the
        number of these articles (the distinct articles of these passages) that have it; a
        facet of the passages (countries) counts the articles whose given passages have it.
        Undated articles have no year, sourceless ones no source. Searches count from columns
        (index/storage/columns.py); this is the reference they are tested against."""
        passages = json.dumps([int(i) for i in passage_ids])
        articles = json.dumps([int(i) for i in article_rowids])
        found: dict[str, dict[str, int]] = {}
        for name in facets:
            sql, per_passage = _facet_sql(facet(name).counts)
            rows = self.conn.execute(sql, (passages if per_passage else articles,)).fetchall()
            found[name] = {str(value): int(count) for value, count in rows if value}
        return found

    def passage_dates(self, passage_ids: Sequence[int]) -> dict[int, str]:
        """Each dated passage's article date as its start (ISO 8601), by passage id (searches
        read columns; this is their reference, as `facet_counts` is)."""
        rows = self.conn.execute(
            "SELECT p.id, a.date_start FROM json_each(?) h JOIN passages p ON p.id = h.value "
            "JOIN articles a INDEXED BY articles_facets ON a.rowid = p.article_rowid "
            "WHERE a.date_start IS NOT NULL",
            (json.dumps([int(i) for i in passage_ids]),),
        ).fetchall()
        return {int(pid): str(date) for pid, date in rows}

    def passage_country_rows(self, low: int, high: int) -> tuple[np.ndarray, np.ndarray]:
        """(passage ids, alpha-2 codes) of every country named by a passage with an id in
        [low, high]: what a segment's columns hold (index/storage/columns.py). As one row of
        two lists, parsed in C: a Python tuple a row took 2.5 times as long (UN: 342k rows)."""
        ids, codes = self.conn.execute(
            "SELECT group_concat(passage), group_concat(country, char(31)) "
            "FROM passage_countries WHERE passage BETWEEN ? AND ?",
            (low, high),
        ).fetchone()
        if ids is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=str)
        passages = np.fromstring(ids, sep=",", dtype=np.int64)
        return passages, np.asarray(codes.split("\x1f"), dtype=str)  # fixed width: sorts fast

    def article_column_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rowids, sources, date starts) of every article, by rowid: what a commit's article
        columns hold (index/storage/columns.py). The covering index spares the texts."""
        rows = self.conn.execute(
            "SELECT rowid, source, date_start FROM articles INDEXED BY articles_facets "
            "ORDER BY rowid"
        ).fetchall()
        keys = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        sources = np.asarray([r[1] for r in rows], dtype=object)
        return keys, sources, np.asarray([r[2] for r in rows], dtype=object)

    def article_tag_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """(article rowids, tags) of every tag of every article, by article and then in the
        order written (the order of the rows a facet's count meets them in)."""
        rows = self.conn.execute(
            "SELECT article_rowid, tag FROM article_tags ORDER BY article_rowid, rowid"
        ).fetchall()
        owners = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        return owners, np.asarray([str(r[1]) for r in rows], dtype=object)

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


def _where_clause(conditions: Conditions) -> tuple[str, list[str]]:
    """The conditions as one SQL WHERE clause (empty when none) and its arguments."""
    where = [_where(condition, values) for condition, values in conditions.terms]
    args = [value for _, values in conditions.terms for value in values]
    return (" WHERE " + " AND ".join(where) if where else ""), args
