"""BM25's corpus-wide statistics of an index as a write leaves it, read inside that write's
transaction: what a search right after its commit scores the write's new passages with (the
live passage count, their summed length, each term's document frequency), so that saved alerts
are matched by the same scores (alerts.py hands them to the `Percolator` in `NewPassages`).

They are the live segments' as the catalog names them in the transaction, less the passages
this write tombstones (not yet recorded: the commit records them), plus its new passages (not
yet in a segment). Segments never change, so each one's postings are opened once per process
(`LiveStatsCache`, kept by the percolator from write to write, one catalog and segment at a
time), with its tombstones so far; a write reads only the tombstones committed since the last
one and the frequencies of the terms it asks for, which are kept while the segment's tombstones
stand. Nothing is read until asked (`LiveStats`): a write with no alert that scores BM25 reads
nothing.

A staged segment of the same write (a streamed build writes several) counts once it is named,
as a search after the commit would count it; a sharded index's shard counts its own passages.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from policy_search.index.storage.catalog import Catalog
from policy_search.index.storage.lexical import LexicalIndex, LexicalSettings, Totals
from policy_search.index.storage.segment import deleted_rows, read_lexical

__all__ = ["LiveStats", "LiveStatsCache"]


@dataclass(slots=True)
class _Held:
    """One live segment's postings, its tombstones applied up to a commit, and how many of
    them hold each term asked so far (kept while its tombstones stand)."""

    lexical: LexicalIndex
    dead: np.ndarray  # bool per row
    as_of: int  # tombstones of commits up to this one are applied
    totals: Totals  # of its live rows
    df: dict[str, int] = field(default_factory=dict)  # tombstoned rows holding each term

    @classmethod
    def of(cls, lexical: LexicalIndex, base: int) -> _Held:
        """A segment just opened, no tombstone applied (those up to `base` name none of its
        rows)."""
        whole = Totals(len(lexical), int(lexical.lengths.sum(dtype=np.int64)))
        return cls(lexical, np.zeros(len(lexical), bool), base, whole)

    def bury(self, passages: np.ndarray) -> None:
        """Apply tombstones (passages of other segments are not among its rows)."""
        hits = deleted_rows(self.lexical.ids, passages) & ~self.dead
        if hits.any():
            self.dead = self.dead | hits
            self.df.clear()
            lost = int(self.lexical.lengths[hits].sum(dtype=np.int64))
            self.totals = self.totals + Totals(-int(hits.sum()), -lost)

    def frequencies(self, terms: Sequence[str]) -> np.ndarray:
        """How many of its live rows hold each of `terms`."""
        df = self.lexical.holding(terms)
        if self.totals.n < len(self.lexical):  # tombstones: count them out, term by term
            for j in np.flatnonzero(df).tolist():
                term = terms[j]
                dead = self.df.get(term)
                if dead is None:
                    rows, _ = self.lexical.postings(term)
                    dead = self.df[term] = int(np.count_nonzero(self.dead[rows]))
                df[j] -= dead
        return df


@dataclass(slots=True)
class LiveStatsCache:
    """The live segments' postings of each catalog, opened once (see the module's docstring)."""

    held: dict[Path, dict[str, _Held]] = field(default_factory=dict)

    def segments(self, catalog: Catalog, root: Path, settings: LexicalSettings) -> list[_Held]:
        """The segments the catalog names now (`root`: its segments folder), tombstones
        committed so far applied."""
        rows = catalog.segments()
        held = self.held.setdefault(catalog.path, {})
        for name in set(held) - {r.name for r in rows}:
            del held[name]  # merged away or dropped
        if not rows:
            return []
        since = min(held[r.name].as_of if r.name in held else r.base for r in rows)
        deleted, when = catalog.deletions(since)
        generation = int(catalog.meta("generation", 0))
        out = []
        for row in rows:
            part = held.get(row.name)
            if part is None:
                lexical = read_lexical(root / row.name, settings)
                part = held[row.name] = _Held.of(lexical, row.base)
            part.bury(deleted[when > part.as_of])
            part.as_of = max(part.as_of, generation)
            out.append(part)
        return out

    def after(
        self,
        catalog: Catalog,
        root: Path,
        settings: LexicalSettings,
        dead: Sequence[int],
        terms: Sequence[Sequence[str]],
    ) -> LiveStats:
        """The statistics of the index after a write that tombstones `dead` and adds passages
        of these `terms`, read when first asked (in the write's transaction)."""
        return LiveStats(self, catalog, root, settings, np.asarray(dead, np.int64), terms)


class LiveStats:
    """BM25's statistics of the whole live index after one write (the module's docstring)."""

    def __init__(
        self,
        cache: LiveStatsCache,
        catalog: Catalog,
        root: Path,
        settings: LexicalSettings,
        dead: np.ndarray,
        terms: Sequence[Sequence[str]],
    ) -> None:
        self._source = (cache, catalog, root, settings)
        self._dead = dead
        self._terms = terms
        self._parts: list[tuple[_Held, np.ndarray]] | None = None
        self._new: Counter[str] | None = None

    def _read(self) -> list[tuple[_Held, np.ndarray]]:
        """Each live segment with which of its live rows this write tombstones."""
        if self._parts is None:
            cache, catalog, root, settings = self._source
            parts = cache.segments(catalog, root, settings)
            self._parts = [(p, deleted_rows(p.lexical.ids, self._dead) & ~p.dead) for p in parts]
        return self._parts

    def totals(self) -> Totals:
        """The live passages and their summed length after the write."""
        whole = Totals(len(self._terms), sum(len(t) for t in self._terms))
        for part, gone in self._read():
            lost = int(part.lexical.lengths[gone].sum(dtype=np.int64))
            whole = whole + part.totals + Totals(-int(gone.sum()), -lost)
        return whole

    def frequencies(self, terms: Sequence[str]) -> np.ndarray:
        """How many live passages hold each of `terms` after the write (float64, in order)."""
        if self._new is None:
            self._new = Counter(t for passage in self._terms for t in set(passage))
        df = np.array([self._new[t] for t in terms], dtype=np.float64)
        for part, gone in self._read():
            df += part.frequencies(terms)
            if gone.any():
                for j, term in enumerate(terms):
                    rows, _ = part.lexical.postings(term)
                    df[j] -= int(np.count_nonzero(gone[rows]))
        return df
