"""A sharded index searched as one: each shard answers its part of a query, the searcher fuses.

The searcher ranks over a *corpus*: one index's `Snapshot`, or a `ShardedSnapshot` over the
shards of a sharded index (policy_search.index.shards), which answers the same calls by asking
every shard and merging. Each call is exact, so a sharded index answers what one index over
the same articles answers, to the bit:

- BM25 scores with the whole index's statistics: the shards' live passage counts and lengths
  (`Totals`) and each query term's document frequency are summed first, and every shard scores
  with those (`ShardReader.second_pass`, `bm25_of`).
- A side's best `n` of the whole index are among the union of each shard's best `n`, and the
  merge orders them as one index does (score, then passage id: ids are unique across shards).
- Cosines, vectors and passage rows are per passage, so asking the passage's own shard changes
  nothing; article keys are `rowid · S + shard`, unique across shards.

Shards are reached through `ShardClient`s: `LocalShard` calls a `ShardReader` in this process
(a sharded index served or searched on one machine); api/ray_serve.py reaches a Ray Serve
deployment of one. Every wait on a shard is bounded (`timeout`): one that does not answer is
`ShardUnavailable` (HTTP 503), never a hang.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from policy_search.index.catalog import PassageRow
from policy_search.index.defaults import SHARD_TIMEOUT
from policy_search.index.errors import IndexMismatch, ShardUnavailable
from policy_search.index.lexical import Totals
from policy_search.index.manifest import Manifest
from policy_search.index.shards import ShardSet, is_sharded, shard_of
from policy_search.index.snapshot import LexicalQuery, Restriction, Snapshot
from policy_search.records import Article, ArticleMeta, SourceCount, Stats

__all__ = [
    "Corpus",
    "LocalShard",
    "ShardClient",
    "ShardInfo",
    "ShardReader",
    "ShardedEvidence",
    "ShardedSnapshot",
    "open_corpus",
]


@dataclasses.dataclass(frozen=True, slots=True)
class ShardInfo:
    """What a shard's latest commit is: its generation, manifest and live passage count."""

    generation: int
    manifest: Manifest
    passages: int


Corpus = tuple[Totals, np.ndarray]  # a whole index's BM25 totals and a query's frequencies


class ShardReader:
    """One shard's half of every query, over its latest commit (refreshed as each call comes):
    plain data in and out, so that it can answer from another process or machine."""

    # What a shard answers (a server of one answers these and nothing else a caller could name).
    CALLS = frozenset(
        "info first_pass second_pass bm25_of dense_top cosine vectors passages article_keys "
        "articles centroid article passage_articles stats facet_counts passage_dates "
        "document_frequencies".split()
    )

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = index_dir
        self.snapshot = Snapshot.open(index_dir)
        self._lock = threading.Lock()
        # The last queries' BM25 scores and filters' passages: a query asks for its lexical
        # top and then for the scores of other candidates, each computed once.
        self._lexical: OrderedDict[tuple, LexicalQuery] = OrderedDict()
        self._allowed: OrderedDict[tuple, np.ndarray | None] = OrderedDict()

    def _current(self) -> Snapshot:
        with self._lock:
            fresh = self.snapshot.refresh()
            if fresh is not self.snapshot:
                self.snapshot = fresh
                self._lexical.clear()
                self._allowed.clear()
            return fresh

    def _restricted(self, snapshot: Snapshot, filters: Restriction | None) -> np.ndarray | None:
        if filters is None:
            return None
        key = (snapshot.generation, filters)
        with self._lock:
            if key in self._allowed:
                return self._allowed[key]
        allowed = snapshot.restrict(filters)
        with self._lock:
            _remember(self._allowed, key, allowed)
        return allowed

    def _query(
        self,
        terms: list[str],
        filters: Restriction | None,
        corpus: Corpus,
        snapshot: Snapshot | None = None,
    ) -> LexicalQuery:
        snapshot = snapshot or self._current()
        key = (snapshot.generation, tuple(terms), filters, corpus[0], corpus[1].tobytes())
        with self._lock:
            if key in self._lexical:
                return self._lexical[key]
        query = snapshot.lexical(terms, self._restricted(snapshot, filters), corpus)
        with self._lock:
            _remember(self._lexical, key, query)
        return query

    # -- the calls ------------------------------------------------------------------------

    def info(self) -> ShardInfo:
        snapshot = self._current()
        return ShardInfo(snapshot.generation, snapshot.manifest, snapshot.passages)

    def first_pass(
        self,
        terms: list[str] | None,
        vector: np.ndarray | None,
        n: int,
        filters: Restriction | None,
    ) -> tuple[Totals, np.ndarray | None, np.ndarray, np.ndarray]:
        """A query's first round: this shard's BM25 totals and frequencies of
        `sorted(set(terms))` (None: no lexical side), and its best `n` by `vector` (none
        without one)."""
        snapshot = self._current()
        df = snapshot.document_frequencies(terms) if terms is not None else None
        ids, scores = _NO_IDS, np.zeros(0, dtype=np.float32)
        if vector is not None:
            ids, scores = snapshot.dense_top(vector, n, self._restricted(snapshot, filters))
        return snapshot.totals, df, ids, scores

    def second_pass(
        self,
        terms: list[str],
        n: int,
        min_score: float | None,
        filters: Restriction | None,
        corpus: Corpus,
        vector: np.ndarray | None,
        dense_ids: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, int, np.ndarray | None, np.ndarray]:
        """A query's second round, with the whole index's BM25 statistics: this shard's best
        `n` by BM25 and its count of matches (at least `min_score`), the cosine of `vector` with
        each of those (None without a vector), and the BM25 of its `dense_ids` (its passages
        among the dense side's best): every score the fusion needs of its passages."""
        snapshot = self._current()
        query = self._query(terms, filters, corpus, snapshot)
        ids, scores = query.top(n)
        cosine = snapshot.cosine(vector, ids) if vector is not None else None
        return ids, scores, query.matched(min_score), cosine, query.of(dense_ids)

    def bm25_of(
        self, terms: list[str], filters: Restriction | None, corpus: Corpus, ids: np.ndarray
    ) -> np.ndarray:
        return self._query(terms, filters, corpus).of(ids)

    def document_frequencies(self, terms: list[str]) -> np.ndarray:
        return self._current().document_frequencies(terms)

    def dense_top(
        self, vector: np.ndarray, n: int, filters: Restriction | None
    ) -> tuple[np.ndarray, np.ndarray]:
        snapshot = self._current()
        return snapshot.dense_top(vector, n, self._restricted(snapshot, filters))

    def cosine(self, vector: np.ndarray, ids: np.ndarray) -> np.ndarray:
        return self._current().cosine(vector, ids)

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        return self._current().vectors(ids)

    def passages(self, ids: np.ndarray) -> dict[int, PassageRow]:
        return self._current().view.passages([int(i) for i in ids])

    def article_keys(self, ids: np.ndarray) -> np.ndarray:
        return self._current().article_keys(ids)

    def articles(self, rowids: list[int]) -> dict[int, ArticleMeta]:
        return self._current().view.articles(rowids)

    def centroid(self, article_id: str) -> tuple[int, int, np.ndarray] | None:
        return self._current().centroid(article_id)

    def article(self, article_id: str) -> Article | None:
        return self._current().view.article(article_id)

    def passage_articles(self) -> dict[int, str]:
        return self._current().view.passage_articles()

    def stats(self) -> Stats:
        return self._current().stats()

    def facet_counts(self, facets: list[str], ids: np.ndarray) -> dict[str, dict[str, int]]:
        return self._current().facet_counts(ids, facets)

    def passage_dates(self, ids: np.ndarray) -> dict[int, str]:
        return self._current().passage_dates(ids)


_NO_IDS = np.zeros(0, dtype=np.int64)


def _remember(cache: OrderedDict, key: tuple, value: Any, size: int = 16) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > size:
        cache.popitem(last=False)


class Reply(Protocol):
    """A shard's answer on its way."""

    def result(self, timeout: float) -> Any: ...


class ShardClient(Protocol):
    """How the searcher reaches one shard: `submit(name, *args)` calls `ShardReader.name`."""

    def submit(self, method: str, *args: Any) -> Reply: ...


class _Done:
    """A reply already there (a call made in this process)."""

    def __init__(self, call: Callable[[], Any]) -> None:
        try:
            self.value, self.error = call(), None
        except Exception as exc:  # re-raised to the caller by result(), as a remote one is
            self.value, self.error = None, exc

    def result(self, timeout: float) -> Any:
        if self.error is not None:
            raise self.error
        return self.value


class LocalShard:
    """A shard read in this process."""

    def __init__(self, reader: ShardReader) -> None:
        self.reader = reader

    def submit(self, method: str, *args: Any) -> Reply:
        return _Done(lambda: getattr(self.reader, method)(*args))


@dataclasses.dataclass(frozen=True, slots=True)
class _Restricted:
    """A query's filters, applied by each shard to its own passages."""

    filters: Restriction


class ShardedSnapshot:
    """The shards of one index, searched as one index (see the module docstring)."""

    def __init__(
        self,
        index_dir: Path,
        shards: Sequence[ShardClient],
        *,
        timeout: float = SHARD_TIMEOUT,
        infos: list[ShardInfo] | None = None,
        owners: _Owners | None = None,
    ) -> None:
        self.index_dir = index_dir
        self.shards = list(shards)
        self.timeout = timeout
        self.infos = infos if infos is not None else self._gather("info")
        self.manifest = _one_manifest(index_dir, self.infos)
        self.generation = self.manifest.generation
        self.vector_kind = self.manifest.vector_kind
        self.passages = sum(i.passages for i in self.infos)
        self.view = ShardedView(self)
        self._owners = owners or _Owners()

    # -- fan-out ----------------------------------------------------------------------------

    def _gather(self, method: str, *args: Any, per_shard: list[tuple] | None = None) -> list[Any]:
        """Every shard's answer to one call (its own arguments from `per_shard`)."""
        calls = per_shard or [args] * len(self.shards)
        replies = [s.submit(method, *a) for s, a in zip(self.shards, calls, strict=True)]
        return [self._wait(r, s) for s, r in enumerate(replies)]

    def _wait(self, reply: Reply, shard: int) -> Any:
        try:
            return reply.result(self.timeout)
        except TimeoutError:
            raise ShardUnavailable(
                f"shard {shard} of the index at {self.index_dir} did not answer within "
                f"{self.timeout:g} s; try again, or raise POLICY_SEARCH_SHARD_TIMEOUT"
            ) from None

    def _by_shard(self, ids: np.ndarray) -> dict[int, np.ndarray]:
        """Positions in `ids` of each shard's passages (ids no shard answered with: none)."""
        owners = self._owners.of(ids)
        return {s: np.flatnonzero(owners == s) for s in np.unique(owners[owners >= 0]).tolist()}

    def _per_passage(
        self, method: str, ids: np.ndarray, *args: Any
    ) -> list[tuple[np.ndarray, Any]]:
        """Ask each shard about its own of `ids` (the call's last argument): (positions in
        `ids`, answer) of each."""
        ids = np.asarray(ids, dtype=np.int64)
        groups = self._by_shard(ids)
        replies = {s: self.shards[s].submit(method, *args, ids[where])
                   for s, where in groups.items()}  # fmt: skip
        return [(groups[s], self._wait(r, s)) for s, r in replies.items()]

    def _top(self, found: list[tuple[np.ndarray, np.ndarray]], n: int) -> tuple[np.ndarray, ...]:
        for s, (ids, _) in enumerate(found):
            self._owners.note(ids, s)
        ids = np.concatenate([np.zeros(0, np.int64), *(f[0] for f in found)])
        scores = np.concatenate([np.zeros(0, np.float32), *(f[1] for f in found)])
        order = np.lexsort((ids, -scores))[:n]
        return ids[order], scores[order].astype(np.float32)

    # -- what Searcher asks of a corpus ------------------------------------------------------

    def refresh(self) -> ShardedSnapshot:
        """The shards' latest commits: this snapshot when none changed."""
        infos = self._gather("info")
        if [i.generation for i in infos] == [i.generation for i in self.infos]:
            return self
        return ShardedSnapshot(self.index_dir, self.shards, timeout=self.timeout, infos=infos,
                               owners=self._owners)  # fmt: skip

    def close(self) -> None:
        """Nothing to release here: each shard holds its own commit."""

    def restrict(self, filters: Restriction) -> _Restricted:
        return _Restricted(filters)

    def evidence(
        self,
        vector: np.ndarray,
        terms: list[str],
        *,
        mode: str,
        depth: int,
        min_score: float | None = None,
        allowed: _Restricted | None = None,
        lexical: ShardedEvidence | None = None,
    ) -> ShardedEvidence:
        """A query's first pass over every shard, in two rounds (Snapshot.evidence's twin)."""
        return ShardedEvidence(self, vector, terms, mode=mode, depth=depth, min_score=min_score,
                               filters=allowed.filters if allowed else None,
                               lexical=lexical)  # fmt: skip

    def dense_top(
        self, vector: np.ndarray, n: int, allowed: _Restricted | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        filters = allowed.filters if allowed is not None else None
        return self._top(self._gather("dense_top", vector, n, filters), n)  # type: ignore[return-value]

    def cosine(self, vector: np.ndarray, ids: np.ndarray) -> np.ndarray:
        out = np.zeros(len(ids), dtype=np.float32)
        for where, scores in self._per_passage("cosine", ids, vector):
            out[where] = scores
        return out

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        out = np.zeros((len(ids), self.manifest.dim), dtype=np.float32)
        for where, vectors in self._per_passage("vectors", ids):
            out[where] = vectors
        return out

    def article_keys(self, ids: np.ndarray) -> np.ndarray:
        out = np.full(len(ids), -1, dtype=np.int64)
        count = len(self.shards)
        for where, rowids in self._per_passage("article_keys", ids):
            out[where] = np.asarray(rowids, dtype=np.int64) * count + self._owners.of(
                np.asarray(ids)[where]
            )
        return out

    def document_frequencies(self, terms: list[str]) -> np.ndarray:
        """How many live passages of all shards hold each of `sorted(set(terms))` (Snapshot's)."""
        found = self._gather("document_frequencies", terms)
        return np.sum([np.asarray(f, dtype=np.int64) for f in found], axis=0).astype(np.int64)

    def facet_counts(self, ids: np.ndarray, facets: Sequence[str]) -> dict[str, dict[str, int]]:
        """Each shard's counts of its own passages' articles, added up: exact, since an
        article and all its passages live in one shard."""
        total: dict[str, dict[str, int]] = {name: {} for name in facets}
        for _, counts in self._per_passage("facet_counts", ids, list(facets)):
            for name, values in counts.items():
                into = total.setdefault(name, {})
                for value, n in values.items():
                    into[value] = into.get(value, 0) + n
        return total

    def passage_dates(self, ids: np.ndarray) -> dict[int, str]:
        dates: dict[int, str] = {}
        for _, found in self._per_passage("passage_dates", ids):
            dates.update(found)
        return dates

    def centroid(self, article_id: str) -> tuple[int, int, np.ndarray] | None:
        s = shard_of(article_id, len(self.shards))
        found = self._wait(self.shards[s].submit("centroid", article_id), s)
        if found is None:
            return None
        rowid, own, centroid = found
        return rowid * len(self.shards) + s, own, centroid

    def stats(self) -> Stats:
        """The shards' statistics added up: what one index of their articles reports."""
        parts: list[Stats] = self._gather("stats")
        sources: dict[str, int] = {}
        for part in parts:
            for count in part.sources:
                sources[count.source] = sources.get(count.source, 0) + count.articles
        dates_min = [p.date_min for p in parts if p.date_min]
        dates_max = [p.date_max for p in parts if p.date_max]
        ordered = sorted(sources.items(), key=lambda item: (-item[1], item[0]))
        return Stats(
            articles=sum(p.articles for p in parts), passages=sum(p.passages for p in parts),
            sources=[SourceCount(source=name, articles=n) for name, n in ordered],
            date_min=min(dates_min, default=None), date_max=max(dates_max, default=None),
            generation=self.generation, built_at=self.manifest.built_at,
            model=self.manifest.model_id, bytes_on_disk=sum(p.bytes_on_disk for p in parts),
        )  # fmt: skip


class ShardedEvidence:
    """A query's first pass over the shards of one index: both sides' candidates and their
    scores on the other side, in two rounds of one call a shard.

    1. `first_pass`: each shard's BM25 totals and term frequencies, and its dense top; the
       summed statistics and the merged dense top follow.
    2. `second_pass`: with those, each shard's BM25 top and match count, the cosine of its
       lexical candidates, and the BM25 of its dense candidates.

    Every score the fusion then asks for is one of these (a passage of the merged lexical top
    is in its shard's own top); any other is asked of its shard.
    """

    def __init__(
        self,
        corpus: ShardedSnapshot,
        vector: np.ndarray,
        terms: list[str],
        *,
        mode: str,
        depth: int,
        min_score: float | None,
        filters: Restriction | None,
        lexical: ShardedEvidence | None,
    ) -> None:
        self.corpus, self.vector, self.terms, self.filters = corpus, vector, terms, filters
        self._cosine: dict[int, float] = {}
        self._bm25: dict[int, float] = {}
        self.dense_ids, self.dense_scores = _NO_IDS, np.zeros(0, dtype=np.float32)
        self.stats: Corpus = (Totals(0, 0), np.zeros(0))
        self.lexical_ids, self.matched = _NO_IDS, 0
        dense, lexical_side = mode != "lexical", mode != "dense"
        reuse = lexical is not None and lexical_side
        first = corpus._gather("first_pass", terms if lexical_side and not reuse else None,
                               vector if dense else None, depth, filters)  # fmt: skip
        if dense:
            self.dense_ids, self.dense_scores = corpus._top([(f[2], f[3]) for f in first], depth)
        if lexical is not None and reuse:  # feedback's second search: the same lexical side
            self.stats, self.lexical_ids = lexical.stats, lexical.lexical_ids
            self.matched, self._bm25 = lexical.matched, dict(lexical._bm25)
        elif lexical_side:
            totals = sum((f[0] for f in first), Totals(0, 0))
            self.stats = (totals, np.sum([f[1] for f in first], axis=0).astype(np.float64))
            self._second(depth, min_score, dense)

    def _second(self, depth: int, min_score: float | None, dense: bool) -> None:
        corpus = self.corpus
        owners = corpus._owners.of(self.dense_ids)
        calls = [(self.terms, depth, min_score, self.filters, self.stats,
                  self.vector if dense else None, self.dense_ids[owners == s])
                 for s in range(len(corpus.shards))]  # fmt: skip
        found = corpus._gather("second_pass", per_shard=calls)
        self.lexical_ids, _ = corpus._top([(f[0], f[1]) for f in found], depth)
        self.matched = sum(int(f[2]) for f in found)
        for (ids, scores, _, cosine, dense_bm25), call in zip(found, calls, strict=True):
            self._bm25.update(zip(ids.tolist(), scores.tolist(), strict=True))
            self._bm25.update(zip(call[-1].tolist(), dense_bm25.tolist(), strict=True))
            if cosine is not None:
                self._cosine.update(zip(ids.tolist(), cosine.tolist(), strict=True))

    @staticmethod
    def _known(
        ids: np.ndarray, known: dict[int, float], ask: Callable[[np.ndarray], np.ndarray]
    ) -> np.ndarray:
        """Scores of `ids` from `known`, asking `ask(missing ids)` for the others."""
        found = [known.get(pid) for pid in ids.tolist()]
        out = np.array([0.0 if v is None else v for v in found], dtype=np.float32)
        missing = [i for i, v in enumerate(found) if v is None]
        if missing:
            out[missing] = ask(ids[missing])
        return out

    def cosine(self, ids: np.ndarray) -> np.ndarray:
        """The query vector's cosine with each of these passages."""
        return self._known(ids, self._cosine, lambda m: self.corpus.cosine(self.vector, m))

    def bm25(self, ids: np.ndarray) -> np.ndarray:
        """Each of these passages' BM25 for the query, with the whole index's statistics."""
        return self._known(ids, self._bm25, self._ask_bm25)

    def _ask_bm25(self, ids: np.ndarray) -> np.ndarray:
        out = np.zeros(len(ids), dtype=np.float32)
        for where, scores in self.corpus._per_passage("bm25_of", ids, self.terms, self.filters,
                                                      self.stats):  # fmt: skip
            out[where] = scores
        return out


class ShardedView:
    """The rows of a sharded index, each read from its own shard."""

    def __init__(self, corpus: ShardedSnapshot) -> None:
        self.corpus = corpus

    def passages(self, ids: Sequence[int]) -> dict[int, PassageRow]:
        rows: dict[int, PassageRow] = {}
        for _, found in self.corpus._per_passage("passages", np.asarray(ids, dtype=np.int64)):
            rows.update(found)
        return rows

    def articles(self, keys: Sequence[int]) -> dict[int, ArticleMeta]:
        count = len(self.corpus.shards)
        wanted: dict[int, list[int]] = {}
        for key in keys:
            wanted.setdefault(int(key) % count, []).append(int(key) // count)
        out: dict[int, ArticleMeta] = {}
        for s, rowids in wanted.items():
            found = self.corpus._wait(self.corpus.shards[s].submit("articles", rowids), s)
            out.update({rowid * count + s: meta for rowid, meta in found.items()})
        return out

    def article(self, article_id: str) -> Article | None:
        s = shard_of(article_id, len(self.corpus.shards))
        found: Article | None = self.corpus._wait(
            self.corpus.shards[s].submit("article", article_id), s
        )
        return found

    def passage_articles(self) -> dict[int, str]:
        merged: dict[int, str] = {}
        for part in self.corpus._gather("passage_articles"):
            merged.update(part)
        return merged


class _Owners:
    """Which shard holds each passage id, learnt from the shards' answers (ids are unique
    across shards and never move, so what is learnt stays true)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._shard = np.full(0, -1, dtype=np.int16)

    def note(self, ids: np.ndarray, shard: int) -> None:
        if len(ids) == 0:
            return
        with self._lock:
            top = int(np.max(ids)) + 1
            if top > len(self._shard):
                grown = np.full(max(top, 2 * len(self._shard)), -1, dtype=np.int16)
                grown[: len(self._shard)] = self._shard
                self._shard = grown
            self._shard[ids] = shard

    def of(self, ids: np.ndarray) -> np.ndarray:
        shard = self._shard
        ids = np.asarray(ids, dtype=np.int64)
        inside = (ids >= 0) & (ids < len(shard))
        out = np.full(len(ids), -1, dtype=np.int64)
        out[inside] = shard[ids[inside]]
        return out


def _one_manifest(index_dir: Path, infos: list[ShardInfo]) -> Manifest:
    """The manifest of the shards taken as one index, refusing shards built differently."""
    first = infos[0].manifest
    for s, info in enumerate(infos[1:], start=1):
        m = info.manifest
        same = (m.model_id, m.dim, m.chunking, m.lexical, m.vector_kind) == (
            first.model_id, first.dim, first.chunking, first.lexical, first.vector_kind
        )  # fmt: skip
        if not same:
            raise IndexMismatch(
                f"shard {s} of the index at {index_dir} was built with model {m.model_id!r} "
                f"({m.vector_kind}, {m.chunking}) but shard 0 with {first.model_id!r} "
                f"({first.vector_kind}, {first.chunking}); rebuild it with `policy-search "
                "index --shards S`"
            )
    return dataclasses.replace(
        first,
        articles=sum(i.manifest.articles for i in infos),
        passages=sum(i.manifest.passages for i in infos),
        generation=sum(i.generation for i in infos),
        built_at=max(i.manifest.built_at for i in infos),
    )


def open_corpus(index_dir: Path, *, timeout: float = SHARD_TIMEOUT) -> Snapshot | ShardedSnapshot:
    """The latest commit of an index directory: one index's snapshot, or a sharded index's
    shards read in this process."""
    if not is_sharded(index_dir):
        return Snapshot.open(index_dir)
    shards = ShardSet.open(index_dir)
    return ShardedSnapshot(
        index_dir, [LocalShard(ShardReader(d)) for d in shards.dirs], timeout=timeout
    )
