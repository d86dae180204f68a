"""A sharded index searched as one: each shard answers its part of a query, the searcher fuses.

The searcher ranks over a corpus (policy_search.search.corpus): one index's `Snapshot`, or a
`ShardedSnapshot` over the shards of a sharded index (policy_search.index.distributed.shards). Each
read is written once, on `Snapshot`; the sharded index answers it by one declared rule, a line of
the table `ShardedReads` (search/shard_reads.py): which shards are asked, with what (every shard,
each passage's own shard, each article's), and how their answers make one index's answer.
Each rule is exact, so a sharded index answers what one index over the same articles answers,
to the bit:

- BM25 scores with the whole index's statistics: the shards' live passage counts and lengths
  (`Totals`) and each query term's document frequency are summed first, and every shard scores
  with those (`ShardedEvidence`: two rounds, `first_pass` then `second_pass`).
- A side's best `n` of the whole index are among the union of each shard's best `n`, and the
  merge orders them as one index does (score, then passage id: ids are unique across shards).
- Cosines, vectors and passage rows are per passage, so asking the passage's own shard changes
  nothing; article keys are `rowid · S + shard`, unique across shards.

One commit of each shard: a `ShardedSnapshot` is made from each shard's `info` (its latest
generation) and names that generation in every later call; the shard's `ShardReader`
(search/shard_reader.py) answers at it, holding the commits it gave out for a while (`hold`
seconds, at most `most` of them). A shard asked for a generation it no longer holds (or
never held: another replica of it) raises `GenerationGone`, and the searcher runs the whole
query again at the shards' latest commits: no query mixes commits, and a held searcher reads
one commit while its hold lasts.

Shards are reached through `ShardClient`s: `LocalShard` calls a `ShardReader` in this process
(a sharded index served or searched on one machine); api/ray_serve.py reaches a Ray Serve
deployment of one. Every wait on a shard is bounded (`timeout`): one that does not answer is
`ShardUnavailable` (HTTP 503), never a hang.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, Unpack

import numpy as np

from policy_search.index.defaults import SHARD_TIMEOUT
from policy_search.index.distributed.shards import ShardSet, is_sharded
from policy_search.index.errors import IndexMismatch, ShardUnavailable
from policy_search.index.storage.lexical import Totals
from policy_search.index.storage.manifest import Manifest
from policy_search.index.storage.snapshot import Allowed, Pass, Restriction, Snapshot
from policy_search.search.corpus import Corpus
from policy_search.search.shard_reader import (
    HOLD_MOST,
    HOLD_SECONDS,
    IndexStats,
    ShardInfo,
    ShardReader,
)
from policy_search.search.shard_reads import (
    READS,
    Answer,
    Part,
    Read,
    ShardedReads,
    each_passage,
    every_shard,
    placed,
)

__all__ = [
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


_NO_IDS = np.zeros(0, dtype=np.int64)


# -- the corpus of a sharded index ---------------------------------------------------------------


class ShardedSnapshot(ShardedReads):
    """The shards of one index, searched as one index at one commit of each (see the module
    docstring); its reads are `ShardedReads`'s table."""

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
        **options: Unpack[Pass],
    ) -> ShardedEvidence:
        """A query's first pass over every shard, in two rounds (Snapshot.evidence's twin)."""
        return ShardedEvidence(self, vector, terms, mode=options["mode"], depth=options["depth"],
                               min_score=options.get("min_score"),
                               allowed=options.get("allowed"))  # fmt: skip


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
        return placed(3)(corpus, args, corpus.ask("bm25_of", each_passage(3)(corpus, args)))


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


def open_corpus(
    index_dir: Path, *, timeout: float = SHARD_TIMEOUT, hold: float = HOLD_SECONDS
) -> Corpus:
    """The latest commit of an index directory: one index's snapshot, or a sharded index's
    shards read in this process, each holding the commits it gave out for `hold` seconds."""
    if not is_sharded(index_dir):
        return Snapshot.open(index_dir)
    shards = ShardSet.open(index_dir)
    return ShardedSnapshot(
        index_dir, [LocalShard(ShardReader(d, hold=hold)) for d in shards.dirs], timeout=timeout
    )
