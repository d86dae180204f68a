"""One write at a time: add, replace, remove (merge=False each) and the merge after them, on each
index in turn; seconds and bytes written, the median of the rounds."""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from bench.writes.corpus import Speeches
from harness.embedders import StandInEmbedder
from policy_search.index.build import add_articles, remove_articles
from policy_search.index.storage.merge import merge_segments

__all__ = ["measured", "single_writes"]


def _io() -> dict[str, int]:
    fields = {}
    for line in Path("/proc/self/io").read_text().splitlines():
        name, _, value = line.partition(":")
        fields[name] = int(value)
    return fields


def _size(index_dir: Path) -> int:
    return sum(p.stat().st_size for p in index_dir.rglob("*") if p.is_file())


def measured(index_dir: Path, action: Callable[[], object]) -> dict[str, float]:
    """Seconds, bytes passed to write() (wchar), bytes sent to storage, growth on disk."""
    io, size = _io(), _size(index_dir)
    began = time.perf_counter()
    action()
    seconds = time.perf_counter() - began
    after = _io()
    return {
        "seconds": seconds,
        "written": after["wchar"] - io["wchar"],
        "storage": after["write_bytes"] - io["write_bytes"],
        "growth": _size(index_dir) - size,
    }


def single_writes(
    index_dirs: dict[str, Path], speeches: Speeches, reps: int, embedder: StandInEmbedder
) -> dict[str, dict[str, dict[str, float]]]:
    """By index: median figures of add, replace, remove (merge=False each) and the merge after
    them. The indexes take turns, in A B B A order, so that the machine's drift weighs on all."""
    rounds: dict[str, dict[str, list[dict[str, float]]]] = {
        name: {op: [] for op in ("add", "replace", "remove", "merge")} for name in index_dirs
    }
    for r in range(reps):
        new, other = speeches.written(2 * r), speeches.written(2 * r + 1)
        changed = dataclasses.replace(other, id=new.id)
        names = list(index_dirs) if r % 2 == 0 else list(reversed(index_dirs))
        for name in names:
            index_dir = index_dirs[name]
            steps: dict[str, Callable[[], object]] = {
                "add": partial(add_articles, [new], index_dir, embedder, merge=False),
                "replace": partial(add_articles, [changed], index_dir, embedder, merge=False),
                "remove": partial(remove_articles, [new.id], index_dir, merge=False),
                "merge": partial(merge_segments, index_dir),
            }
            for op, step in steps.items():
                rounds[name][op].append(measured(index_dir, step))
    return {
        name: {op: {k: statistics.median(f[k] for f in figures) for k in figures[0]}
               for op, figures in ops.items()}
        for name, ops in rounds.items()
    }  # fmt: skip
