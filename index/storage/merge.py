"""Merges: small segments rewritten into bigger ones, deleted passages dropped on the way.

A tiered policy, as Lucene's: segments are put in tiers by their live passages (below `floor`
all share the lowest tier, then one tier per factor of `tier_factor`), and when a tier holds
`segments_per_tier` segments its smallest (up to `max_at_once`) are merged into one; a segment
whose deleted share reaches `deleted_share` is rewritten on its own. So a passage is rewritten
about log(N / floor) times over its life, and the number of segments stays logarithmic.

A merge reads one commit, writes the merged segment without any lock (reads and writes go on),
and takes the writer lock only for its commit, which drops the merged segments and names the new
one. Passage ids, vectors and postings are carried over unchanged, and tombstones written while
it ran still apply to the new segment, so a merge never changes a result. Flat and IVF vectors
are carried over exactly (IVF lists share one trained quantizer, so lists are concatenated);
an HNSW graph cannot be merged, so merging HNSW segments builds a new graph from their vectors:
its cost grows with the merged size, and approximate results may shift slightly.

Converting an index to another kind of vector index is the same operation (`merge_into`): every
live segment merged into one of the new kind, inside the writer's transaction.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from policy_search.index.defaults import WRITER_WAIT
from policy_search.index.storage.catalog import SegmentRow
from policy_search.index.storage.lexical import LexicalIndex
from policy_search.index.storage.manifest import Manifest
from policy_search.index.storage.segment import (
    FileSums,
    LiveSegment,
    StagedSegment,
    deleted_rows,
    segment_ids,
    write_segment,
)
from policy_search.index.storage.store import (
    clean,
    new_segment_name,
    open_catalog,
    read_manifest,
    read_quantizer,
    segments_dir,
    write_manifest,
    writer_lock,
)
from policy_search.index.storage.vectors import Trained, VectorKind, vector_kind

__all__ = ["MergePolicy", "Merged", "merge_into", "merge_segments", "optimize"]


@dataclass(frozen=True, slots=True)
class MergePolicy:
    """When to merge which segments (see the module's docstring)."""

    floor: int = 2_000
    tier_factor: int = 8
    segments_per_tier: int = 8
    max_at_once: int = 10
    deleted_share: float = 0.25

    def tier(self, live: int) -> int:
        """The tier of a segment with `live` passages."""
        if live <= self.floor:
            return 0
        return 1 + int(math.log(live / self.floor, self.tier_factor))

    def choose(self, segments: list[tuple[str, int, int]]) -> list[str]:
        """The segments to merge next, from (name, live passages, all passages); [] for none."""
        for name, live, total in segments:
            if total and (total - live) / total >= self.deleted_share:
                return [name]
        tiers: dict[int, list[tuple[int, str]]] = {}
        for name, live, _ in segments:
            tiers.setdefault(self.tier(live), []).append((live, name))
        for level in sorted(tiers):
            members = sorted(tiers[level])
            if len(members) >= self.segments_per_tier:
                return [name for _, name in members[: self.max_at_once]]
        return []


@dataclass(frozen=True, slots=True)
class Merged:
    """A merged segment, durable under its final name and not yet named by a commit."""

    passages: int
    files: FileSums
    dropped: np.ndarray  # the deleted passages left out: their tombstones can go


def merge_into(
    staged: StagedSegment,
    parts: Sequence[LiveSegment],
    kind: VectorKind,
    manifest: Manifest,
    trained: Trained,
) -> Merged:
    """Write the live rows of `parts` into `staged` as one segment of `kind` and publish it: a
    merge, or (`kind` another than theirs) a conversion. Passage ids carry over unchanged."""
    lexical = LexicalIndex.merged([p.live_lexical() for p in parts], manifest.lexical)
    vectors = kind.merge(parts, manifest.dim, trained)
    articles = np.concatenate([np.zeros(0, np.int64), *(p.live_articles for p in parts)])
    files = write_segment(staged.path, vectors, lexical, articles)
    staged.publish()
    dropped = np.concatenate([np.zeros(0, np.int64), *(p.dead_ids for p in parts)])
    return Merged(len(lexical), files, dropped)


def merge_segments(
    index_dir: Path, *, policy: MergePolicy | None = None, wait: float = WRITER_WAIT
) -> int:
    """Merge while the policy finds segments to merge; the number of merges done."""
    policy = policy or MergePolicy()
    done = 0
    while True:
        plan = _plan(index_dir, policy.choose)
        if not plan or not _merge(index_dir, plan, wait=wait):
            return done
        done += 1


def optimize(index_dir: Path, *, wait: float = WRITER_WAIT) -> int:
    """Merge every segment into one, dropping every deleted passage; the merges done (0 or 1)."""

    def everything(segments: list[tuple[str, int, int]]) -> list[str]:
        if len(segments) > 1 or any(live < total for _, live, total in segments):
            return [name for name, _, _ in segments]
        return []

    plan = _plan(index_dir, everything)
    return int(bool(plan) and _merge(index_dir, plan, wait=wait))


def _plan(index_dir: Path, choose: Callable[[list[tuple[str, int, int]]], list[str]]) -> list[str]:
    catalog = open_catalog(index_dir, readonly=True)
    try:
        with catalog.reading():
            rows = catalog.segments()
            deleted = catalog.deletions(-1)[0]
    finally:
        catalog.close()
    if not rows:
        return []
    sizes = []
    for row in rows:
        ids = segment_ids(segments_dir(index_dir) / row.name)
        dead = int(deleted_rows(ids, deleted).sum())
        sizes.append((row.name, row.passages - dead, row.passages))
    return list(choose(sizes))


def _merge(index_dir: Path, names: list[str], *, wait: float) -> bool:
    """Merge these segments; False when a commit since dropped one of them (nothing done)."""
    catalog = open_catalog(index_dir, readonly=False)
    try:
        with catalog.reading():
            manifest = read_manifest(catalog)
            rows = {r.name: r for r in catalog.segments()}
            deleted = catalog.deletions(-1)[0]
        if not all(name in rows for name in names):
            return False
        root = segments_dir(index_dir)
        parts = [LiveSegment.open(root, rows[n], manifest, deleted, checksums=False) for n in names]
        quantizer = manifest.extra.get("quantizer")

        def trained(_: np.ndarray | None) -> object:  # the index's own: lists are concatenated
            return read_quantizer(index_dir, str(quantizer))

        with StagedSegment(root, new_segment_name()) as staged:  # held until committed
            kind = vector_kind(manifest.vector_kind)
            merged = merge_into(staged, parts, kind, manifest, trained)
            for part in parts:
                part.segment.close()
            with writer_lock(index_dir, wait=wait), catalog.transaction():
                if not {r.name for r in catalog.segments()} >= set(names):
                    staged.discard()  # a rebuild dropped what was merged: nothing to commit
                    return False
                catalog.drop_segments(names)
                if merged.passages:  # else every passage was deleted: the segments just go
                    row = SegmentRow(
                        staged.name, merged.passages, merged.files, manifest.generation
                    )
                    catalog.add_segment(row)
                catalog.forget_deletions(merged.dropped.tolist())
                write_manifest(catalog, read_manifest(catalog))
        with writer_lock(index_dir, wait=wait):
            clean(index_dir, catalog)
        return True
    finally:
        catalog.close()
