"""Columns of what facets and date sorts read, as arrays (Lucene's doc values), so that a
query counts its facets and orders by date with numpy instead of SQL over thousands of rows.

Two kinds, by what can change them:

- `PassageColumns`, one a segment: the countries each of its passages names (a CSR: offsets
  and codes). A passage's countries are written with it and go with it, never changed, so
  they are read once a segment, on first use, and kept on the segment (`ColumnSlot`), which
  the snapshots holding it share. Rows deleted before the read have none: the read notes which
  rows it covers, and an older snapshot that still holds one of the others reads its own.
- `ArticleColumns`, one a commit: each article's source, year, date and tags by article key.
  An article's metadata can be replaced without its text (`upsert_article` updates the row in
  place, its passages kept), so these are read once a snapshot, on first use, not kept with a
  segment.

Counts are exactly the catalog's (`CatalogReads.facet_counts`, kept as the reference that
tests/index/storage/test_columns.py compares with): distinct articles per value; a country
counted for an article when one of the given passages of it names it; tags grouped as SQLite's
NOCASE groups them (ASCII letters folded), each group named as the first of its rows in
(article, insertion) order, as the catalog's covering index yields them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from policy_search.facets import ArticleColumn, ArticleTags, ArticleYear, PassageCountries, facet
from policy_search.index.errors import IndexInternalError
from policy_search.index.storage.catalog import Catalog

__all__ = [
    "ArticleColumns", "ColumnSlot", "Columns", "PassageColumns", "Strings", "day_number",
    "distinct", "gather",
]  # fmt: skip

_FOLD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")  # NOCASE


@dataclass(frozen=True, slots=True)
class Strings:
    """A column of strings, dictionary-encoded: each row's code into `names` (-1: none, as a
    missing or empty value counts for nothing)."""

    codes: np.ndarray  # int32 a row
    names: np.ndarray  # the distinct values, sorted

    @classmethod
    def of(cls, values: Sequence[str | None]) -> Strings:
        """The column of these values."""
        # A dict, not np.unique: sorting 11,500 Python strings cost ten times as much.
        names = sorted({v for v in values if v})
        code = {name: n for n, name in enumerate(names)}
        codes = np.fromiter((code[v] if v else -1 for v in values), np.int32, len(values))
        return cls(codes, np.asarray(names, dtype=object))

    def counts(self, rows: np.ndarray) -> dict[str, int]:
        """Each value's count among these rows (each row once)."""
        codes = self.codes[rows]
        found = np.bincount(codes[codes >= 0], minlength=len(self.names))
        return {str(self.names[c]): int(found[c]) for c in np.flatnonzero(found)}

    @property
    def nbytes(self) -> int:
        """Bytes held (the names at their characters' size)."""
        return int(self.codes.nbytes) + sum(len(str(n)) for n in self.names)


def distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values, sorted: np.unique's answer by a sort alone (numpy 2's np.unique
    hashes first, twenty times slower on 17,000 integers)."""
    ordered = np.sort(values)
    keep = np.ones(len(ordered), dtype=bool)
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def gather(offsets: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The indices into a CSR's values of these rows' entries, row after row, and the place
    in `rows` of each entry's row."""
    starts = offsets[rows]
    lengths = offsets[rows + 1] - starts
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    # Each entry's index: its row's start plus its place in the row.
    first = np.repeat(np.cumsum(lengths) - lengths, lengths)
    at = np.repeat(starts, lengths) + (np.arange(total) - first)
    return at, np.repeat(np.arange(len(rows)), lengths)


@dataclass(frozen=True, slots=True)
class PassageColumns:
    """One segment's passages' countries, row by row."""

    offsets: np.ndarray  # int32, rows + 1: row r's codes are codes[offsets[r]:offsets[r + 1]]
    codes: np.ndarray  # int16 into `names`
    names: np.ndarray  # alpha-2 codes, sorted
    covered: np.ndarray  # bool a row: live in the commit read, so its countries are here

    @classmethod
    def read(cls, catalog: Catalog, ids: np.ndarray, live: np.ndarray) -> PassageColumns:
        """The columns of a segment's rows (their passage `ids`; `live`: those live in the
        catalog's commit), from the catalog."""
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) == 0:
            empty = np.zeros(0, dtype=np.int16)
            return cls(np.zeros(1, np.int32), empty, np.zeros(0, str), live.copy())
        passages, countries = catalog.passage_country_rows(int(ids.min()), int(ids.max()))
        order = np.argsort(ids, kind="stable")
        place = np.searchsorted(ids, passages, sorter=order)
        place = np.minimum(place, len(ids) - 1)
        mine = ids[order[place]] == passages  # rows of other segments' passages in the range
        rows, names = order[place[mine]], countries[mine]
        vocabulary, codes = np.unique(names, return_inverse=True)
        by_row = np.argsort(rows, kind="stable")
        wide = np.int32 if len(rows) < 2**31 else np.int64
        offsets = np.zeros(len(ids) + 1, dtype=wide)
        np.cumsum(np.bincount(rows, minlength=len(ids)), out=offsets[1:])
        return cls(offsets, codes[by_row].astype(np.int16), vocabulary, live.copy())

    @property
    def nbytes(self) -> int:
        """Bytes held."""
        return int(self.offsets.nbytes + self.codes.nbytes + self.covered.nbytes)


class ColumnSlot:
    """A segment's `PassageColumns`, read on first use and shared by the snapshots holding
    it; read again for an older snapshot that holds a row deleted before the first read."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._columns: PassageColumns | None = None

    def get(self, live: np.ndarray, read: Callable[[], PassageColumns]) -> PassageColumns:
        """The columns covering every `live` row, read with `read` when those kept do not."""
        with self._lock:
            kept = self._columns
            if kept is not None and not (live & ~kept.covered).any():
                return kept
            fresh = read()
            if kept is None or fresh.covered.sum() > kept.covered.sum():
                self._columns = fresh
            return fresh


@dataclass(frozen=True, slots=True)
class ArticleColumns:
    """One commit's articles' metadata that facets and date sorts read, by article key."""

    keys: np.ndarray  # the articles' keys (catalog rowids), sorted
    source: Strings
    year: Strings
    dates: np.ndarray  # each article's date_start (None: undated)
    days: np.ndarray  # its day as a number to order by (`day_number`), -1 undated
    tag_offsets: np.ndarray  # a CSR over articles of their tags, in insertion order
    tags: np.ndarray  # each tag as written (object)
    tag_groups: np.ndarray  # each tag's NOCASE group (int32)

    @classmethod
    def read(cls, catalog: Catalog) -> ArticleColumns:
        """The catalog's articles' columns."""
        keys, sources, dates = catalog.article_column_rows()
        owners, tags = catalog.article_tag_rows()
        rows = np.searchsorted(keys, owners)
        offsets = np.zeros(len(keys) + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=len(keys)), out=offsets[1:])
        folded = np.asarray([t.translate(_FOLD) for t in tags.tolist()], dtype=object)
        groups = np.unique(folded, return_inverse=True)[1] if len(tags) else np.zeros(0)
        starts = dates.tolist()
        years = [d[:4] if d is not None else None for d in starts]
        days = np.fromiter(map(day_number, starts), dtype=np.int64, count=len(starts))
        return cls(keys, Strings.of(sources.tolist()), Strings.of(years), dates, days,
                   offsets, tags, groups.astype(np.int32))  # fmt: skip

    def distinct(self, rows: np.ndarray) -> np.ndarray:
        """These article rows, each once, sorted (a mask when they are many: no sort)."""
        if len(rows) * 16 < len(self.keys):
            return distinct(rows)
        seen = np.zeros(len(self.keys), dtype=bool)
        seen[rows] = True
        return np.flatnonzero(seen)

    def rows(self, keys: np.ndarray) -> np.ndarray:
        """The row of each of these article keys (each one an article of this commit)."""
        return np.searchsorted(self.keys, keys)

    def counts(self, name: str, rows: np.ndarray) -> dict[str, int]:
        """A facet of the articles (not of their passages) over these distinct rows."""
        match facet(name).counts:
            case ArticleColumn(column="source"):
                return self.source.counts(rows)
            case ArticleYear():
                return self.year.counts(rows)
            case ArticleTags():
                return self._tag_counts(rows)
        raise IndexInternalError(f"no article column counts the facet {name!r}")

    def _tag_counts(self, rows: np.ndarray) -> dict[str, int]:
        """Each tag group's rows among these articles' (COUNT(*): a tag an article has twice
        counts twice), named by its first row."""
        at, _ = gather(self.tag_offsets, np.sort(rows))
        groups = self.tag_groups[at]
        _, first, counts = np.unique(groups, return_index=True, return_counts=True)
        named = (str(self.tags[at[i]]) for i in first.tolist())
        return {tag: int(n) for tag, n in zip(named, counts.tolist(), strict=True) if tag}

    @property
    def nbytes(self) -> int:
        """Bytes held (strings at their characters' size)."""
        tags = sum(len(str(t)) for t in self.tags) + self.tag_groups.nbytes
        tags += self.tag_offsets.nbytes
        dates = 8 * len(self.dates) + sum(len(d) for d in self.dates.tolist() if d)
        return int(self.keys.nbytes + self.source.nbytes + self.year.nbytes + tags + dates
                   + self.days.nbytes)  # fmt: skip


def day_number(date: str | None) -> int:
    """A date's day as a number to order by (2024-05-01 → 20240501, 2024 → 20240000); -1
    without one."""
    if not date:
        return -1
    digits = date[:10].replace("-", "")
    return int(digits.ljust(8, "0")) if digits.isdigit() else -1


class Columns:
    """One snapshot's columns: its commit's articles', and its segments' (`PassageColumns`,
    by position: segment after segment), those read on first use by `read_parts`."""

    def __init__(
        self,
        articles: ArticleColumns,
        offsets: np.ndarray,
        article_keys: np.ndarray,
        read_parts: Callable[[], list[PassageColumns]],
    ) -> None:
        self.articles = articles
        self.offsets = offsets  # each segment's first position, and the end
        self.rows = articles.rows(article_keys).astype(np.int32)  # each live position's article
        self._read_parts = read_parts
        self._parts: tuple[list[PassageColumns], np.ndarray, list[np.ndarray]] | None = None
        self._lock = threading.Lock()

    def parts(self) -> tuple[list[PassageColumns], np.ndarray, list[np.ndarray]]:
        """The segments' columns, the countries any of them names (sorted), and each one's
        codes as codes into those."""
        with self._lock:
            if self._parts is None:
                parts = self._read_parts()
                names = [p.names for p in parts]
                union = np.unique(np.concatenate([np.zeros(0, str), *names]))
                remap = [np.searchsorted(union, n).astype(np.int32) for n in names]
                self._parts = parts, union, remap
            return self._parts

    def facet_counts(
        self, positions: np.ndarray, names: Sequence[str]
    ) -> dict[str, dict[str, int]]:
        """Each facet's values with their counts of the distinct articles of the passages at
        these (live) positions; a country, of those with one of these passages naming it."""
        rows = self.articles.distinct(self.rows[positions])
        return {name: self._countries(positions) if isinstance(facet(name).counts, PassageCountries)
                else self.articles.counts(name, rows) for name in names}  # fmt: skip

    def _countries(self, positions: np.ndarray) -> dict[str, int]:
        """Each country's count of the articles with one of these passages naming it."""
        parts, countries, remap = self.parts()
        width = max(len(countries), 1)
        which = np.searchsorted(self.offsets, positions, side="right") - 1
        pairs = [np.zeros(0, dtype=np.int64)]
        for s in np.unique(which).tolist():
            mine = positions[which == s]
            at, owner = gather(parts[s].offsets, mine - self.offsets[s])
            codes = remap[s][parts[s].codes[at]]
            pairs.append(self.rows[mine[owner]].astype(np.int64) * width + codes)
        codes = distinct(np.concatenate(pairs)) % width  # each article once a country
        found = np.bincount(codes, minlength=len(countries))
        return {str(countries[c]): int(found[c]) for c in np.flatnonzero(found)}

    def dates(self, positions: np.ndarray) -> list[str | None]:
        """The date (its start, ISO 8601) of the article of each passage at these positions."""
        return self.articles.dates[self.rows[positions]].tolist()

    def days(self, positions: np.ndarray) -> np.ndarray:
        """The day (`day_number`) of the article of each passage at these positions."""
        return self.articles.days[self.rows[positions]]

    @property
    def nbytes(self) -> int:
        """Bytes held: the segments' columns (when read), the articles' and the positions'."""
        parts = sum(p.nbytes for p in self._parts[0]) if self._parts is not None else 0
        return int(parts + self.articles.nbytes + self.rows.nbytes)
