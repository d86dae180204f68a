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
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from policy_search.index.catalog import SegmentRow
from policy_search.index.lexical import LexicalIndex
from policy_search.index.segment import Segment, StagedSegment, segment_ids, write_segment
from policy_search.index.store import (
    clean,
    new_segment_name,
    open_catalog,
    read_manifest,
    read_quantizer,
    segments_dir,
    write_manifest,
    writer_lock,
)
from policy_search.index.vectors import kind_of, new_index

__all__ = ["MergePolicy", "merge_segments", "optimize"]


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


def merge_segments(
    index_dir: Path, *, policy: MergePolicy | None = None, wait: float = 60.0
) -> int:
    """Merge while the policy finds segments to merge; the number of merges done."""
    policy = policy or MergePolicy()
    done = 0
    while True:
        plan = _plan(index_dir, policy.choose)
        if not plan or not _merge(index_dir, plan, wait=wait):
            return done
        done += 1


def optimize(index_dir: Path, *, wait: float = 60.0) -> int:
    """Merge every segment into one, dropping every deleted passage; the merges done (0 or 1)."""

    def everything(segments: list[tuple[str, int, int]]) -> list[str]:
        if len(segments) > 1 or any(live < total for _, live, total in segments):
            return [name for name, _, _ in segments]
        return []

    plan = _plan(index_dir, everything)
    return int(bool(plan) and _merge(index_dir, plan, wait=wait))


def _plan(index_dir: Path, choose: Any) -> list[str]:
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
        dead = int(np.isin(ids, deleted).sum()) if len(deleted) else 0
        sizes.append((row.name, row.passages - dead, row.passages))
    return list(choose(sizes))


def _merge(index_dir: Path, names: list[str], *, wait: float) -> bool:
    """Merge these segments; False when a commit since dropped one of them (nothing done)."""
    catalog = open_catalog(index_dir, readonly=False)
    try:
        with catalog.reading():
            manifest = read_manifest(catalog)
            base = manifest.generation
            rows = {r.name: r for r in catalog.segments()}
            deleted = catalog.deletions(-1)[0]
        if not all(name in rows for name in names):
            return False
        segments = [
            Segment(segments_dir(index_dir) / n, files=rows[n].files, passages=rows[n].passages,
                    lexical=manifest.lexical, dim=manifest.dim, checksums=False)
            for n in names
        ]  # fmt: skip
        dead = [np.isin(s.ids, deleted) for s in segments]
        name = new_segment_name()
        with StagedSegment(segments_dir(index_dir), name) as staged:  # held until committed
            lexical = LexicalIndex.merged(
                [s.lexical.without(s.ids[d]) for s, d in zip(segments, dead, strict=True)],
                manifest.lexical,
            )
            vectors = _merged_vectors(index_dir, manifest.extra, segments, dead)
            kept = [s.articles[~d] for s, d in zip(segments, dead, strict=True)]
            articles = np.concatenate([np.zeros(0, np.int64), *kept])
            files = write_segment(staged.path, vectors, lexical, articles)
            staged.publish()
            pairs = list(zip(segments, dead, strict=True))
            dropped = np.concatenate([np.zeros(0, np.int64), *(s.ids[d] for s, d in pairs)])
            for segment in segments:
                segment.close()
            with writer_lock(index_dir, wait=wait), catalog.transaction():
                if not {r.name for r in catalog.segments()} >= set(names):
                    staged.discard()  # a rebuild dropped what was merged: nothing to commit
                    return False
                catalog.drop_segments(names)
                if len(lexical):  # else every passage was deleted: the segments just go
                    catalog.add_segment(SegmentRow(name, len(lexical), files, base))
                catalog.forget_deletions(dropped.tolist())
                write_manifest(catalog, read_manifest(catalog))
        with writer_lock(index_dir, wait=wait):
            clean(index_dir, catalog)
        return True
    finally:
        catalog.close()


def _merged_vectors(
    index_dir: Path, extra: dict[str, object], segments: list[Segment], dead: list[np.ndarray]
) -> Any:
    faiss: Any = __import__("faiss")

    kind = segments[0].kind
    if kind.startswith("ivf"):
        merged = faiss.clone_index(read_quantizer(index_dir, str(extra["quantizer"])))
        merged.set_direct_map_type(faiss.DirectMap.NoMap)
        for segment, d in zip(segments, dead, strict=True):
            part = faiss.clone_index(segment.vectors)
            if d.any():
                part.remove_ids(segment.ids[d])
            part.set_direct_map_type(faiss.DirectMap.NoMap)
            merged.merge_from(part, 0)
        merged.set_direct_map_type(faiss.DirectMap.Hashtable)
        return merged
    parts = [s.reconstruct(s.ids[~d]) for s, d in zip(segments, dead, strict=True)]
    vectors = np.concatenate([np.zeros((0, segments[0].vectors.d), np.float32), *parts])
    ids = np.concatenate(
        [np.zeros(0, np.int64), *(s.ids[~d] for s, d in zip(segments, dead, strict=True))]
    )
    merged = new_index(kind, segments[0].vectors.d, vectors)
    if len(ids):
        merged.add_with_ids(vectors, ids)
    assert kind_of(merged) == kind
    return merged
