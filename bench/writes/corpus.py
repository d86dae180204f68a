"""The speeches the writes benchmark writes, and the stand-in indexes of them it works on.

The indexes are built once into `WORK` and reused; every run works on a copy.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path

from harness.embedders import StandInEmbedder
from harness.indexes import copy_index
from policy_search.index.build import build_index
from policy_search.index.readers import read_file
from policy_search.index.readers.article import Article
from policy_search.index.storage.merge import optimize
from policy_search.index.storage.store import exists, open_catalog, read_manifest
from policy_search.index.storage.writer import CHOSEN

__all__ = ["WORK", "Speeches", "base_index", "index_state", "work_copy"]

WORK = Path("var/bench/writes")


class Speeches:
    """The corpus's speeches in order, then copies of them under new ids, as far as needed."""

    def __init__(self, path: Path) -> None:
        self.corpus = list(read_file(path))

    def __getitem__(self, i: int) -> Article:
        base = self.corpus[i % len(self.corpus)]
        if i < len(self.corpus):
            return base
        return dataclasses.replace(base, id=f"{base.id}~copy{i // len(self.corpus)}")

    def written(self, i: int) -> Article:
        """The i-th speech the writes use, the same one on every index: a copy under a new id."""
        base = self.corpus[(7919 * i) % len(self.corpus)]
        return dataclasses.replace(base, id=f"bench-write-{i}")


def base_index(speeches: Speeches, n: int, embedder: StandInEmbedder) -> tuple[Path, dict]:
    """The cached index of the first n speeches (built and optimized once)."""
    index_dir = WORK / f"un-{n}"
    if exists(index_dir):
        catalog = open_catalog(index_dir, readonly=True)
        try:
            manifest = read_manifest(catalog)
            segments = len(catalog.segments())
        finally:
            catalog.close()
        flat = manifest.extra.get("vectors") == CHOSEN  # built before the kind was automatic: anew
        if (
            manifest.articles == n
            and manifest.model_id == embedder.model_id
            and segments == 1
            and flat
        ):
            return index_dir, {"built_s": manifest.build_seconds, "cached": True}
    shutil.rmtree(index_dir, ignore_errors=True)
    began = time.perf_counter()
    # Flat, named: these figures are of exact search, and a write to a copy of an index whose
    # kind nobody named would turn it approximate past writer.APPROXIMATE_ABOVE passages.
    build_index((speeches[i] for i in range(n)), index_dir, embedder, merge=False, vectors="flat")
    optimize(index_dir)
    return index_dir, {"built_s": time.perf_counter() - began, "cached": False}


def work_copy(base: Path, name: str) -> Path:
    """A fresh copy of `base` to write on, in WORK/runs/NAME."""
    return copy_index(base, WORK / "runs" / name)


def index_state(index_dir: Path) -> dict[str, int]:
    """Articles, passages, segments and tombstones of an index."""
    catalog = open_catalog(index_dir, readonly=True)
    try:
        articles, passages = catalog.counts()
        segments, tombstones = len(catalog.segments()), catalog.deleted_count()
    finally:
        catalog.close()
    return {"articles": articles, "passages": passages, "segments": segments,
            "tombstones": tombstones}  # fmt: skip
