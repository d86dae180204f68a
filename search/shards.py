"""A sharded index searched as one: each shard answers its part of a query, the searcher fuses.

The searcher ranks over a corpus (policy_search.search.corpus): one index's `Snapshot`, or a
`ShardedSnapshot` over the shards of a sharded index (policy_search.index.shards). Each read is
written once, on `Snapshot`; the sharded index answers it by one declared rule, a line of
`ShardedSnapshot`'s table: which shards are asked, with what (`Split`: every shard, each
passage's own shard, each article's), and how their answers make one index's answer (the
merge). Each rule is exact, so a sharded index answers what one index over the same articles
answers, to the bit:

- BM25 scores with the whole index's statistics: the shards' live passage counts and lengths
  (`Totals`) and each query term's document frequency are summed first, and every shard scores
  with those (`ShardedEvidence`: two rounds, `first_pass` then `second_pass`).
- A side's best `n` of the whole index are among the union of each shard's best `n`, and the
  merge orders them as one index does (score, then passage id: ids are unique across shards).
- Cosines, vectors and passage rows are per passage, so asking the passage's own shard changes
  nothing; article keys are `rowid · S + shard`, unique across shards.

One commit of each shard: a `ShardedSnapshot` is made from each shard's `info` (its latest
generation) and names that generation in every later call; the shard's `ShardReader` answers
at it, holding the commits it gave out for a while (`hold` seconds, at most `most` of them).
A shard asked for a generation it no longer holds (or never held: another replica of it)
raises `GenerationGone`, and the searcher runs the whole query again at the shards' latest
commits: no query mixes commits, and a held searcher reads one commit while its hold lasts.

Shards are reached through `ShardClient`s: `LocalShard` calls a `ShardReader` in this process
(a sharded index served or searched on one machine); api/ray_serve.py reaches a Ray Serve
deployment of one. Every wait on a shard is bounded (`timeout`): one that does not answer is
`ShardUnavailable` (HTTP 503), never a hang.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar, overload

import numpy as np

from policy_search.index.errors import (
    GenerationGone,
    IndexMismatch,
    ShardUnavailable,
    UnknownPassages,
)
from policy_search.index.lexical import Totals
from policy_search.index.manifest import Manifest
from policy_search.index.shards import ShardSet, is_sharded, shard_of
from policy_search.index.snapshot import Allowed, LexicalQuery, Restriction, Snapshot
from policy_search.records import SourceCount, Stats
from policy_search.search.corpus import Corpus

__all__ = [
    "DEFAULT_TIMEOUT",
    "HOLD_MOST",
    "HOLD_SECONDS",
    "READS",
    "LocalShard",
    "Read",
    "ShardClient",
    "ShardInfo",
    "ShardReader",
    "ShardedEvidence",
    "ShardedSnapshot",
    "open_corpus",
]

DEFAULT_TIMEOUT = 30.0  # seconds a query waits on a shard
HOLD_SECONDS = 300.0  # seconds a shard keeps a commit it gave out open for the queries on it
HOLD_MOST = 8  # commits a shard keeps open at most (the least recently given out go first)

P = ParamSpec("P")
R = TypeVar("R")

IndexStats = tuple[Totals, np.ndarray]  # a whole index's BM25 totals and a query's frequencies


@dataclasses.dataclass(frozen=True, slots=True)
class ShardInfo:
    """What a shard's latest commit is: its generation, manifest and live passage count."""

    generation: int
    manifest: Manifest
    passages: int


# -- the rules: how a read is split over the shards and how their answers merge ---------------

# One shard's part of a call: the shard, its arguments, and the positions in the split
# argument of what it answers for (None: the call is not split by passage).
Part = tuple[int, tuple[Any, ...], np.ndarray | None]
# One shard's answer: the shard, the positions it answers for, the answer.
Answer = tuple[int, np.ndarray | None, Any]
Split = Callable[["ShardedSnapshot", tuple[Any, ...]], list[Part]]
Merge = Callable[["ShardedSnapshot", tuple[Any, ...], list[Answer]], Any]


def every_shard(corpus: ShardedSnapshot, args: tuple[Any, ...]) -> list[Part]:
    """The same call to every shard."""
    return [(s, args, None) for s in range(len(corpus.shards))]


def each_passage(arg: int = 0, *, whole: bool = False) -> Split:
    """Argument `arg` (passage ids) split by the shard that holds each; `whole`: the answer has
    a value for each id, so an id no shard holds is UnknownPassages (else it is left out)."""

    def split(corpus: ShardedSnapshot, args: tuple[Any, ...]) -> list[Part]:
        ids = np.asarray(args[arg], dtype=np.int64)
        owners = corpus.owners(ids)
        if whole and (owners < 0).any():
            raise UnknownPassages(
                f"passages {ids[owners < 0][:5].tolist()} are in no shard of "
                f"{corpus.index_dir} at generations {corpus.generations}"
            )
        return [
            (s, (*args[:arg], ids[where], *args[arg + 1 :]), where)
            for s in np.unique(owners[owners >= 0]).tolist()
            for where in [np.flatnonzero(owners == s)]
        ]

    return split


def each_article_key(corpus: ShardedSnapshot, args: tuple[Any, ...]) -> list[Part]:
    """The first argument, article keys (`rowid · S + shard`), as each shard's own rowids."""
    count = len(corpus.shards)
    keys = np.asarray(args[0], dtype=np.int64)
    return [
        (s, ((keys[where] // count).tolist(), *args[1:]), where)
        for s in np.unique(keys % count).tolist()
        for where in [np.flatnonzero(keys % count == s)]
    ]


def the_article(corpus: ShardedSnapshot, args: tuple[Any, ...]) -> list[Part]:
    """The shard of the article the first argument names."""
    return [(shard_of(args[0], len(corpus.shards)), args, None)]


def _best(corpus: ShardedSnapshot, args: tuple[Any, ...], answers: list[Answer]) -> Any:
    """The best `n` (the second argument) of each shard's best, by score then id."""
    return corpus.top([(s, a[0], a[1]) for s, _, a in answers], int(args[1]))


def _placed(arg: int, width: Callable[[ShardedSnapshot], tuple[int, ...]] = lambda c: ()) -> Merge:
    """Each shard's values put back at its passages' places in argument `arg`."""

    def merge(corpus: ShardedSnapshot, args: tuple[Any, ...], answers: list[Answer]) -> Any:
        out = np.zeros((len(args[arg]), *width(corpus)), dtype=np.float32)
        for _, where, values in answers:
            out[where] = values
        return out

    return merge


def _keys(corpus: ShardedSnapshot, args: tuple[Any, ...], answers: list[Answer]) -> Any:
    """Each passage's article key, `rowid · S + shard`."""
    out = np.full(len(args[0]), -1, dtype=np.int64)
    for s, where, rowids in answers:
        out[where] = np.asarray(rowids, dtype=np.int64) * len(corpus.shards) + s
    return out


def _union(corpus: ShardedSnapshot, args: tuple[Any, ...], answers: list[Answer]) -> Any:
    """The shards' dicts as one (their keys are passage ids: no two shards share one)."""
    merged: dict[Any, Any] = {}
    for _, _, part in answers:
        merged.update(part)
    return merged


def _by_key(corpus: ShardedSnapshot, args: tuple[Any, ...], answers: list[Answer]) -> Any:
    """The shards' dicts by rowid as one by article key."""
    count = len(corpus.shards)
    return {rowid * count + s: v for s, _, part in answers for rowid, v in part.items()}


def _counts(corpus: ShardedSnapshot, args: tuple[Any, ...], answers: list[Answer]) -> Any:
    """Each facet's counts added up: exact, since an article and its passages share a shard."""
    total: dict[str, dict[str, int]] = {name: {} for name in args[1]}
    for _, _, counts in answers:
        for name, values in counts.items():
            into = total.setdefault(name, {})
            for value, n in values.items():
                into[value] = into.get(value, 0) + n
    return total


def _summed(corpus: ShardedSnapshot, args: tuple[Any, ...], answers: list[Answer]) -> Any:
    """The shards' counts added up."""
    return np.sum([np.asarray(a, dtype=np.int64) for _, _, a in answers], axis=0).astype(np.int64)


def _noted(corpus: ShardedSnapshot, args: tuple[Any, ...], answers: list[Answer]) -> Any:
    """The ids live in some shard (each noted as that shard's), in `args[0]`'s order."""
    for s, _, held in answers:
        corpus.note(held, s)
    ids = np.asarray(args[0], dtype=np.int64)
    return ids[np.isin(ids, np.concatenate([np.zeros(0, np.int64), *(a for _, _, a in answers)]))]


def _one(corpus: ShardedSnapshot, args: tuple[Any, ...], answers: list[Answer]) -> Any:
    """The one shard's answer."""
    return answers[0][2]


def _centroid(corpus: ShardedSnapshot, args: tuple[Any, ...], answers: list[Answer]) -> Any:
    """The article's shard's centroid, its rowid made an article key."""
    s, _, found = answers[0]
    if found is None:
        return None
    rowid, own, centroid = found
    return rowid * len(corpus.shards) + s, own, centroid


def _stats(corpus: ShardedSnapshot, args: tuple[Any, ...], answers: list[Answer]) -> Any:
    """The shards' statistics added up: what one index of their articles reports."""
    parts: list[Stats] = [a for _, _, a in answers]
    sources: dict[str, int] = {}
    for part in parts:
        for count in part.sources:
            sources[count.source] = sources.get(count.source, 0) + count.articles
    ordered = sorted(sources.items(), key=lambda item: (-item[1], item[0]))
    manifest = corpus.manifest
    return Stats(
        articles=sum(p.articles for p in parts), passages=sum(p.passages for p in parts),
        sources=[SourceCount(source=name, articles=n) for name, n in ordered],
        date_min=min([p.date_min for p in parts if p.date_min], default=None),
        date_max=max([p.date_max for p in parts if p.date_max], default=None),
        generation=corpus.generation, built_at=manifest.built_at, model=manifest.model_id,
        bytes_on_disk=sum(p.bytes_on_disk for p in parts),
    )  # fmt: skip


READS: dict[str, Read[Any, Any]] = {}  # every read's rule by name (ShardedSnapshot's table)


class Read(Generic[P, R]):
    """A read of `Snapshot`, answered by a sharded index: `split` says which shards are asked
    and with what, `merge` makes one index's answer of theirs. As a class attribute of
    `ShardedSnapshot`, it is that read (its signature is the snapshot's)."""

    def __init__(
        self, read: Callable[Concatenate[Snapshot, P], R], split: Split, merge: Merge
    ) -> None:
        self.name = read.__name__
        self.split, self.merge = split, merge
        READS[self.name] = self

    def __set_name__(self, owner: type, name: str) -> None:
        if name != self.name:  # the shards are asked for the read by this name
            raise TypeError(f"the read {self.name!r} is named {name!r} in {owner.__name__}")

    @overload
    def __get__(self, corpus: None, owner: type) -> Read[P, R]: ...

    @overload
    def __get__(self, corpus: ShardedSnapshot, owner: type) -> Callable[P, R]: ...

    def __get__(self, corpus: ShardedSnapshot | None, owner: type) -> Any:
        return self if corpus is None else functools.partial(corpus.read, self)


# -- the corpus of a sharded index ---------------------------------------------------------------


class ShardedSnapshot:
    """The shards of one index, searched as one index at one commit of each (see the module
    docstring)."""

    # The table: each read of one index, and how the shards answer it.
    passage_rows = Read(Snapshot.passage_rows, each_passage(), _union)
    passage_dates = Read(Snapshot.passage_dates, each_passage(), _union)
    facet_counts = Read(Snapshot.facet_counts, each_passage(), _counts)
    vectors = Read(Snapshot.vectors, each_passage(whole=True),
                   _placed(0, lambda c: (c.manifest.dim,)))  # fmt: skip
    cosine = Read(Snapshot.cosine, each_passage(1, whole=True), _placed(1))
    article_keys = Read(Snapshot.article_keys, each_passage(whole=True), _keys)
    live_ids = Read(Snapshot.live_ids, every_shard, _noted)
    dense_top = Read(Snapshot.dense_top, every_shard, _best)
    document_frequencies = Read(Snapshot.document_frequencies, every_shard, _summed)
    passage_articles = Read(Snapshot.passage_articles, every_shard, _union)
    stats = Read(Snapshot.stats, every_shard, _stats)
    article_metas = Read(Snapshot.article_metas, each_article_key, _by_key)
    article = Read(Snapshot.article, the_article, _one)
    centroid = Read(Snapshot.centroid, the_article, _centroid)

    def __init__(
        self,
        index_dir: Path,
        shards: Sequence[ShardClient],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        infos: list[ShardInfo] | None = None,
        owners: _Owners | None = None,
    ) -> None:
        self.index_dir = index_dir
        self.shards = list(shards)
        self.timeout = timeout
        self.infos = infos if infos is not None else self._latest()
        self.generations = [i.generation for i in self.infos]  # the commit read of each shard
        self.manifest: Manifest = _one_manifest(index_dir, self.infos)
        self.generation = self.manifest.generation
        self.vector_kind = self.manifest.vector_kind
        self.passages = sum(i.passages for i in self.infos)
        self._owners = owners or _Owners()

    # -- fan-out ----------------------------------------------------------------------------

    def read(self, rule: Read[Any, Any], *args: Any) -> Any:
        """A read of one index, answered by the shards by its rule."""
        return rule.merge(self, args, self.ask(rule.name, rule.split(self, args)))

    def ask(self, method: str, parts: list[Part]) -> list[Answer]:
        """Each shard's answer to its part of a call, at this snapshot's generation of it."""
        replies = [(s, where, self.shards[s].submit(method, self.generations[s], *args))
                   for s, args, where in parts]  # fmt: skip
        return [(s, where, self._wait(reply, s)) for s, where, reply in replies]

    def _wait(self, reply: Reply, shard: int) -> Any:
        try:
            return reply.result(self.timeout)
        except TimeoutError:
            raise ShardUnavailable(
                f"shard {shard} of the index at {self.index_dir} did not answer within "
                f"{self.timeout:g} s; try again, or raise POLICY_SEARCH_SHARD_TIMEOUT"
            ) from None

    def _latest(self) -> list[ShardInfo]:
        """Each shard's latest commit (which it then holds for the calls at it)."""
        replies = [shard.submit("info", None) for shard in self.shards]
        return [self._wait(reply, s) for s, reply in enumerate(replies)]

    def owners(self, ids: np.ndarray) -> np.ndarray:
        """The shard that holds each passage id live (-1: none), learnt from the shards' answers
        or else asked of every shard."""
        owners = self._owners.of(ids)
        if (owners < 0).any():
            self.live_ids(np.asarray(ids, dtype=np.int64)[owners < 0])  # notes what it finds
            owners = self._owners.of(ids)
        return owners

    def note(self, ids: np.ndarray, shard: int) -> None:
        """Remember that a shard holds these passage ids (ids never move between shards)."""
        self._owners.note(np.asarray(ids, dtype=np.int64), shard)

    def top(self, found: list[tuple[int, np.ndarray, np.ndarray]], n: int) -> tuple[Any, Any]:
        """The best `n` of the shards' (shard, ids, scores), by score then id."""
        for s, ids, _ in found:
            self.note(ids, s)
        ids = np.concatenate([np.zeros(0, np.int64), *(f[1] for f in found)])
        scores = np.concatenate([np.zeros(0, np.float32), *(f[2] for f in found)])
        order = np.lexsort((ids, -scores))[:n]
        return ids[order], scores[order].astype(np.float32)

    # -- the rest of what a corpus answers ----------------------------------------------------

    def refresh(self) -> ShardedSnapshot:
        """The shards' latest commits: this snapshot when none changed."""
        infos = self._latest()
        if [i.generation for i in infos] == self.generations:
            return self
        return ShardedSnapshot(self.index_dir, self.shards, timeout=self.timeout, infos=infos,
                               owners=self._owners)  # fmt: skip

    def close(self) -> None:
        """Nothing to release here: each shard releases its commits when their hold ends."""

    def restrict(self, filters: Restriction) -> Allowed:
        """A query's filters, for each shard to apply to its own passages."""
        return Allowed(filters)

    def evidence(
        self,
        vector: np.ndarray,
        terms: list[str],
        *,
        mode: str,
        depth: int,
        min_score: float | None = None,
        allowed: Allowed | None = None,
    ) -> ShardedEvidence:
        """A query's first pass over every shard, in two rounds (Snapshot.evidence's twin)."""
        return ShardedEvidence(self, vector, terms, mode=mode, depth=depth, min_score=min_score,
                               allowed=allowed)  # fmt: skip


class ShardedEvidence:
    """A query's first pass over the shards of one index: both sides' candidates and their
    scores on the other side, in two rounds of one call a shard.

    1. `first_pass`: each shard's BM25 totals and term frequencies, and its dense top; the
       summed statistics and the merged dense top follow.
    2. `second_pass`: with those, each shard's BM25 top and match count, the cosine of its
       lexical candidates, and the BM25 of its dense candidates.

    Every score the fusion then asks for is one of these (a passage of the merged lexical top
    is in its shard's own top); any other is asked of its shard (`bm25_of`, `cosine`).
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
        allowed: Allowed | None,
        lexical: ShardedEvidence | None = None,
    ) -> None:
        self.corpus, self.vector, self.terms, self.allowed = corpus, vector, terms, allowed
        self.mode, self.depth, self.min_score = mode, depth, min_score
        self._cosine: dict[int, float] = {}
        self._bm25: dict[int, float] = {}
        self.dense_ids, self.dense_scores = _NO_IDS, np.zeros(0, dtype=np.float32)
        self.stats: IndexStats = (Totals(0, 0), np.zeros(0))
        self.lexical_ids, self.matched = _NO_IDS, 0
        dense, lexical_side = mode != "lexical", mode != "dense"
        reuse = lexical is not None and lexical_side
        args = (terms if lexical_side and not reuse else None, vector if dense else None, depth,
                allowed)  # fmt: skip
        first = corpus.ask("first_pass", every_shard(corpus, args))
        if dense:
            self.dense_ids, self.dense_scores = corpus.top([(s, f[2], f[3]) for s, _, f in first],
                                                           depth)  # fmt: skip
        if lexical is not None and reuse:  # feedback's second search: the same lexical side
            self.stats, self.lexical_ids = lexical.stats, lexical.lexical_ids
            self.matched, self._bm25 = lexical.matched, dict(lexical._bm25)
        elif lexical_side:
            totals = sum((f[0] for _, _, f in first), Totals(0, 0))
            self.stats = (totals, np.sum([f[1] for _, _, f in first], axis=0).astype(np.float64))
            self._second(dense)

    def again(self, vector: np.ndarray) -> ShardedEvidence:
        """The same query's evidence for another vector (feedback's), its lexical side reused."""
        return ShardedEvidence(self.corpus, vector, self.terms, mode=self.mode, depth=self.depth,
                               min_score=self.min_score, allowed=self.allowed,
                               lexical=self)  # fmt: skip

    def _second(self, dense: bool) -> None:
        corpus = self.corpus
        owners = corpus.owners(self.dense_ids)
        parts: list[Part] = [
            (s, (self.terms, self.depth, self.min_score, self.allowed, self.stats,
                 self.vector if dense else None, self.dense_ids[owners == s]), None)
            for s in range(len(corpus.shards))
        ]  # fmt: skip
        found = corpus.ask("second_pass", parts)
        self.lexical_ids, _ = corpus.top([(s, f[0], f[1]) for s, _, f in found], self.depth)
        self.matched = sum(int(f[2]) for _, _, f in found)
        for (_, _, (ids, scores, _, cosine, dense_bm25)), part in zip(found, parts, strict=True):
            self._bm25.update(zip(ids.tolist(), scores.tolist(), strict=True))
            self._bm25.update(zip(part[1][-1].tolist(), dense_bm25.tolist(), strict=True))
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
        """Each of these passages' BM25 for the query, with the whole index's statistics (0
        for a passage no shard holds, as one index's)."""
        return self._known(ids, self._bm25, self._ask_bm25)

    def _ask_bm25(self, ids: np.ndarray) -> np.ndarray:
        corpus, args = self.corpus, (self.terms, self.allowed, self.stats, ids)
        return _placed(3)(corpus, args, corpus.ask("bm25_of", each_passage(3)(corpus, args)))


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


# -- one shard's half ------------------------------------------------------------------------


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
    transactions ended, so the write-ahead log can start over: index/view.py) once its hold
    has ended and its last call has returned."""

    # The server-side rounds of a query (ShardedEvidence); the reads are ShardedSnapshot's.
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
                self._hold(found)  # given out by another replica, or held too briefly
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


# -- reaching a shard ------------------------------------------------------------------------


class Reply(Protocol):
    """A shard's answer on its way."""

    def result(self, timeout: float) -> Any: ...


class ShardClient(Protocol):
    """How the searcher reaches one shard: `submit(method, generation, *args)` calls
    `ShardReader.call` with them."""

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
        return _Done(lambda: self.reader.call(method, *args))


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


def open_corpus(index_dir: Path, *, timeout: float = DEFAULT_TIMEOUT) -> Corpus:
    """The latest commit of an index directory: one index's snapshot, or a sharded index's
    shards read in this process."""
    if not is_sharded(index_dir):
        return Snapshot.open(index_dir)
    shards = ShardSet.open(index_dir)
    return ShardedSnapshot(
        index_dir, [LocalShard(ShardReader(d)) for d in shards.dirs], timeout=timeout
    )
