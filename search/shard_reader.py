"""One shard's half of every query: `ShardReader`, at the commit each call names.

A sharded query (search/shards.py) reads one commit of each shard: the `ShardedSnapshot` is made
from each shard's `info` (its latest generation) and names that generation in every later
call. The reader answers at it, holding the commits it gave out for a while (`hold` seconds, at
most `most` of them); a commit it does not hold (its hold ended, or another replica of the shard
gave it out and the shard has moved on) is `GenerationGone`. Calls and answers are plain data,
so that a reader can answer from another process or machine (api/ray_serve.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from policy_search.index.defaults import COMMIT_HOLD, COMMITS_HELD
from policy_search.index.errors import GenerationGone
from policy_search.index.storage.lexical import Totals
from policy_search.index.storage.manifest import Manifest
from policy_search.index.storage.snapshot import Allowed, LexicalQuery, Snapshot
from policy_search.search.shard_reads import READS

__all__ = ["HOLD_MOST", "HOLD_SECONDS", "IndexStats", "ShardInfo", "ShardReader"]

HOLD_SECONDS = COMMIT_HOLD  # seconds a shard keeps a commit it gave out open (index/defaults.py)
HOLD_MOST = COMMITS_HELD  # commits a shard keeps open at most

IndexStats = tuple[Totals, np.ndarray]  # a whole index's BM25 totals and a query's frequencies


@dataclasses.dataclass(frozen=True, slots=True)
class ShardInfo:
    """What a shard's latest commit is: its generation, manifest and live passage count."""

    generation: int
    manifest: Manifest
    passages: int


@dataclasses.dataclass(slots=True, eq=False)
class _Open:
    """A commit a shard has open: held for calls until `until` (time.monotonic()), and in use
    by `users` calls now."""

    snapshot: Snapshot
    until: float = -np.inf
    users: int = 0


class ShardReader:
    """One shard's half of every query, at the commit each call names: plain data in and out,
    so that it can answer from another process or machine.

    `info` gives out the latest commit and holds it for `hold` seconds (at most `most`
    commits at once, the least recently given out released first); a call at a generation
    that is not held, nor the latest, is `GenerationGone`. A commit is released (its read
    transactions ended, so the write-ahead log can start over: index/storage/view.py) once its hold
    has ended and its last call has returned."""

    # The server-side rounds of a query (ShardedEvidence); the reads are search/shard_reads.py's.
    ROUNDS = frozenset({"info", "first_pass", "second_pass", "bm25_of"})
    # What a shard answers (a server of one answers these and nothing else a caller could name).
    CALLS = ROUNDS | frozenset(READS)

    def __init__(
        self, index_dir: Path, *, hold: float = HOLD_SECONDS, most: int = HOLD_MOST
    ) -> None:
        self.index_dir = index_dir
        self.hold, self.most = hold, most
        self._latest = Snapshot.open(index_dir)
        self._open: dict[int, _Open] = {self._latest.generation: _Open(self._latest)}
        self._lock = threading.Lock()
        # The last queries' BM25 scores and filters' passages: a query asks for its lexical
        # top and then for the scores of other candidates, each computed once.
        self._lexical: OrderedDict[tuple, LexicalQuery] = OrderedDict()
        self._allowed: OrderedDict[tuple, Allowed] = OrderedDict()

    @property
    def snapshot(self) -> Snapshot:
        """The shard's latest commit, as last seen."""
        return self._latest

    def call(self, method: str, generation: int | None = None, *args: Any) -> Any:
        """`method` (one of CALLS) at the shard's commit `generation` (`info`: None)."""
        if method not in self.CALLS:
            raise ValueError(f"a shard answers {sorted(self.CALLS)}, not {method!r}")
        if method == "info":
            return self.info()
        if generation is None:
            raise ValueError(f"{method} names no generation")
        with self._at(generation) as snapshot:
            if method in self.ROUNDS:
                return getattr(self, method)(snapshot, *args)
            args = tuple(self._restricted(snapshot, a) if isinstance(a, Allowed) else a
                         for a in args)  # fmt: skip
            return getattr(snapshot, method)(*args)

    def held_generations(self) -> list[int]:
        """The generations this shard holds for calls now."""
        now = time.monotonic()
        with self._lock:
            return sorted(g for g, o in self._open.items() if o.until > now)

    # -- holding commits ---------------------------------------------------------------------

    def info(self) -> ShardInfo:
        """The shard's latest commit, held from now for `hold` seconds."""
        with self._lock:
            snapshot = self._refresh()
            self._hold(self._open[snapshot.generation])
            self._tidy()
        return ShardInfo(snapshot.generation, snapshot.manifest, snapshot.passages)

    @contextlib.contextmanager
    def _at(self, generation: int) -> Iterator[Snapshot]:
        with self._lock:
            found = self._open.get(generation)
            if found is None or found.until <= time.monotonic():  # not held: the latest?
                if self._refresh().generation != generation:
                    self._tidy()
                    raise GenerationGone(
                        f"the shard at {self.index_dir} no longer holds generation "
                        f"{generation} (its latest is {self._latest.generation}); ask again "
                        "at its latest"
                    )
                found = self._open[generation]
            self._hold(found)  # renewed by each use: a commit read now is held the longest
            found.users += 1
        try:
            yield found.snapshot
        finally:
            with self._lock:
                found.users -= 1
                self._tidy()

    def _refresh(self) -> Snapshot:
        """The latest commit, opened if new (under the lock)."""
        fresh = self._latest.refresh()
        if fresh is not self._latest:
            self._latest = fresh
            self._open[fresh.generation] = _Open(fresh)
            self._lexical.clear()  # keyed by generation: the old entries hold old commits
            self._allowed.clear()
        return fresh

    def _hold(self, found: _Open) -> None:
        found.until = time.monotonic() + self.hold

    def _tidy(self) -> None:
        """Release every commit past its hold (or beyond the `most` held) that no call uses."""
        now = time.monotonic()
        held = sorted((o for o in self._open.values() if o.until > now), key=lambda o: o.until)
        for extra in held[: max(len(held) - self.most, 0)]:
            extra.until = -np.inf
        for generation, found in list(self._open.items()):
            if found.snapshot is self._latest or found.until > now or found.users:
                continue
            del self._open[generation]
            found.snapshot.close()

    # -- the rounds of a query (ShardedEvidence) ---------------------------------------------

    def _restricted(self, snapshot: Snapshot, allowed: Allowed) -> Allowed:
        key = (snapshot.generation, allowed.filters)
        with self._lock:
            if key in self._allowed:
                return self._allowed[key]
        applied = snapshot.restrict(allowed.filters)
        with self._lock:
            _remember(self._allowed, key, applied)
        return applied

    def _query(
        self, snapshot: Snapshot, terms: list[str], allowed: Allowed | None, stats: IndexStats
    ) -> LexicalQuery:
        filters = allowed.filters if allowed is not None else None
        key = (snapshot.generation, tuple(terms), filters, stats[0], stats[1].tobytes())
        with self._lock:
            if key in self._lexical:
                return self._lexical[key]
        passing = self._restricted(snapshot, allowed).ids if allowed is not None else None
        query = snapshot.lexical(terms, passing, stats)
        with self._lock:
            _remember(self._lexical, key, query)
        return query

    def first_pass(
        self,
        snapshot: Snapshot,
        terms: list[str] | None,
        vector: np.ndarray | None,
        n: int,
        allowed: Allowed | None,
    ) -> tuple[Totals, np.ndarray | None, np.ndarray, np.ndarray]:
        """A query's first round: this shard's BM25 totals and frequencies of
        `sorted(set(terms))` (None: no lexical side), and its best `n` by `vector` (none
        without one)."""
        df = snapshot.document_frequencies(terms) if terms is not None else None
        ids, scores = _NO_IDS, np.zeros(0, dtype=np.float32)
        if vector is not None:
            restricted = self._restricted(snapshot, allowed) if allowed is not None else None
            ids, scores = snapshot.dense_top(vector, n, restricted)
        return snapshot.totals, df, ids, scores

    def second_pass(
        self,
        snapshot: Snapshot,
        terms: list[str],
        n: int,
        min_score: float | None,
        allowed: Allowed | None,
        stats: IndexStats,
        vector: np.ndarray | None,
        dense_ids: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, int, np.ndarray | None, np.ndarray]:
        """A query's second round, with the whole index's BM25 statistics: this shard's best
        `n` by BM25 and its count of matches (at least `min_score`), the cosine of `vector` with
        each of those (None without a vector), and the BM25 of its `dense_ids` (its passages
        among the dense side's best): every score the fusion needs of its passages."""
        query = self._query(snapshot, terms, allowed, stats)
        ids, scores = query.top(n)
        cosine = snapshot.cosine(vector, ids) if vector is not None else None
        return ids, scores, query.matched(min_score), cosine, query.of(dense_ids)

    def bm25_of(
        self,
        snapshot: Snapshot,
        terms: list[str],
        allowed: Allowed | None,
        stats: IndexStats,
        ids: np.ndarray,
    ) -> np.ndarray:
        """The BM25 of these passages, with the whole index's statistics."""
        return self._query(snapshot, terms, allowed, stats).of(ids)


_NO_IDS = np.zeros(0, dtype=np.int64)


def _remember(cache: OrderedDict, key: tuple, value: Any, size: int = 16) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > size:
        cache.popitem(last=False)
