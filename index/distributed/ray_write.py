"""The writing side of a Ray ingest (index/distributed/ray_ingest.py): one writer actor per shard
(one for an unsharded index), pinned to the driver's node, where the index's folders are, each an
`index.bulk.BulkWriter`. The embedding actors `stage` each shard's part of a window with its
writer; the driver sends each writer tickets, in reading order, naming what to write and the ids
of its passages; `commit` commits each writer, `abort` rolls each back.
"""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policy_search.index.analysis.chunk import ChunkSettings
from policy_search.index.distributed.ray_connect import OFFLINE, failure
from policy_search.index.distributed.shards import shard_of
from policy_search.index.errors import ClusterUnavailable, CorpusError, IndexInternalError
from policy_search.index.readers.article import Article
from policy_search.index.storage.bulk import Arrival, BulkWriter
from policy_search.index.storage.lexical import LexicalSettings
from policy_search.index.storage.transaction import PreparedArticle
from policy_search.index.storage.writer import BuildReport

__all__ = ["IN_FLIGHT", "SEND_PASSAGES", "ShardWriter", "Ticket", "WriteSpec", "Writers"]

SEND_PASSAGES = 2048  # passages' tickets the driver gathers before it sends them
IN_FLIGHT = 2  # batches a writer may have unanswered before the driver waits for it


@dataclass(frozen=True, slots=True)
class WriteSpec:
    """What every writer of one build is told: the model, the settings, the vector kind."""

    model_id: str
    dim: int
    settings: ChunkSettings
    lexical: LexicalSettings
    vectors: str | None
    merge: bool  # merge small segments after the commit (as build_index does; not a shard)


@dataclass(frozen=True, slots=True)
class Ticket:
    """What the driver tells a writer of one article: which window's staging holds it, the id
    of its first passage (None: the writer's counter), and its file (for a duplicate's message)."""

    window: str
    article_id: str
    first: int | None
    path: str


class Writers:
    """The build's writer actors (index.bulk.BulkWriter each), fed batches by the driver: at
    most SEND_PASSAGES passages gathered here, IN_FLIGHT batches unanswered per writer."""

    def __init__(self, ray: Any, dirs: Sequence[Path], build: WriteSpec, timeout: float) -> None:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        self.ray = ray
        self.timeout = timeout
        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), False)
        # No CPU of Ray's count (the embedding actors may hold them all); not restarted: a
        # writer that dies took its open transaction with it, and the ingest fails.
        actor = ray.remote(ShardWriter).options(
            num_cpus=0, scheduling_strategy=here, max_restarts=0,
            runtime_env={"env_vars": OFFLINE},
        )  # fmt: skip
        self.actors = [actor.remote(d, build) for d in dirs]
        self.gathered: list[list[Ticket]] = [[] for _ in dirs]
        self.passages = 0
        self.flight: list[collections.deque[Any]] = [collections.deque() for _ in dirs]

    def put(self, ticket: Ticket, passages: int) -> None:
        """Gather an article's ticket for its shard's writer; send when enough are gathered."""
        self.gathered[shard_of(ticket.article_id, len(self.actors))].append(ticket)
        self.passages += passages
        if self.passages >= SEND_PASSAGES:
            self.send()

    def send(self) -> None:
        """Send what is gathered, each writer's part to it, waiting on a writer with
        IN_FLIGHT batches unanswered."""
        for shard, items in enumerate(self.gathered):
            if items:
                while len(self.flight[shard]) >= IN_FLIGHT:
                    self._wait(self.flight[shard].popleft())
                self.flight[shard].append(self.actors[shard].add.remote(items))
        self.gathered = [[] for _ in self.actors]
        self.passages = 0

    def settle(self) -> None:
        """Send what is gathered and wait for every writer's answer (its error first)."""
        self.send()
        for flight in self.flight:
            while flight:
                self._wait(flight.popleft())

    def _wait(self, ref: Any) -> None:
        done, _ = self.ray.wait([ref], timeout=self.timeout)
        if not done:
            raise ClusterUnavailable(
                f"a writer of the index made no progress for {self.timeout:g} s "
                "(POLICY_SEARCH_RAY_TIMEOUT); nothing was written"
            )
        try:
            self.ray.get(ref)
        except Exception as exc:
            raise failure(exc) from None

    def commit(self) -> list[BuildReport]:
        """Every writer's commit, once all it was sent is written."""
        self.settle()
        refs = [a.commit.remote() for a in self.actors]
        try:  # no timeout: a commit's work grows with its shard; a writer that dies raises
            return list(self.ray.get(refs))
        except Exception as exc:
            raise failure(exc) from None

    def abort(self) -> None:
        """Roll every writer back (its staged segments discarded)."""
        refs = [a.abort.remote() for a in self.actors]
        with contextlib.suppress(Exception):  # a dead writer's transaction died with it
            self.ray.get(refs, timeout=self.timeout)

    def close(self) -> None:
        """End the writer actors."""
        for actor in self.actors:
            with contextlib.suppress(Exception):
                self.ray.kill(actor)


class ShardWriter:
    """One writer actor: a BulkWriter of its folder, fed batches in reading order."""

    def __init__(self, index_dir: Path, build: WriteSpec) -> None:
        self.index_dir = index_dir
        self.merge = build.merge
        self.writer = BulkWriter.begin(
            index_dir, model_id=build.model_id, dim=build.dim, settings=build.settings,
            lexical=build.lexical, vectors=build.vectors,
        )  # fmt: skip
        self.sources: dict[str, str] = {}  # article id → its file (this shard's ids only)
        # What the embedding actors handed over, by window, until the driver orders it.
        self.staged: dict[str, dict[str, tuple[Article, PreparedArticle]]] = {}

    def stage(self, window: str, part: dict[str, tuple[Article, PreparedArticle]]) -> None:
        """Keep a window's articles of this shard, chunked and embedded (a retried window's
        again: the same)."""
        self.staged[window] = part

    def add(self, tickets: list[Ticket]) -> None:
        """Write the articles of these tickets, in their order; a duplicate id is refused as
        a local build refuses it."""
        arrivals: list[Arrival] = []
        for ticket in tickets:
            if ticket.article_id in self.sources:
                raise CorpusError(
                    f"duplicate id {ticket.article_id!r} (also in "
                    f"{self.sources[ticket.article_id]})", path=ticket.path,
                )  # fmt: skip
            self.sources[ticket.article_id] = ticket.path
            part = self.staged.get(ticket.window, {})
            if ticket.article_id not in part:
                raise IndexInternalError(f"article {ticket.article_id!r} never reached its writer")
            article, ready = part.pop(ticket.article_id)
            if not part:
                del self.staged[ticket.window]
            arrivals.append((article, ready, ticket.first))
        self.writer.add(arrivals)

    def commit(self) -> BuildReport:
        """Commit (and merge small segments, as build_index does)."""
        report = self.writer.commit()
        self.writer.close()
        if self.merge:
            from policy_search.index.build import merge_small

            merge_small(self.index_dir)
        return report

    def abort(self) -> None:
        self.writer.close()
