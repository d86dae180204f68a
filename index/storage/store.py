"""The index directory: immutable segments and one commit point, one writer at a time.

    <index dir>/
        catalog.sqlite           the commit point (catalog.py), with its -wal and -shm
        .lock                    held by the one writer (fcntl.flock)
        segments/<name>/         immutable segments (segment.py)
        quantizer-<name>.faiss   the trained, empty IVF index every IVF segment starts from

A write stages its new segment (made durable, renamed into place) and then commits one
transaction of the catalog naming it, with its articles, passages and tombstones. A crash before
the commit leaves an orphan folder and nothing else: the next writer removes it (`clean`), and
removes any segment no commit names once no reader holds it (each reader holds a shared lock on
the segments it serves). Nothing else in the project names a file of this directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from policy_search.index.errors import IndexCorrupt, IndexLocked, IndexMismatch, IndexMissing
from policy_search.index.storage.catalog import Catalog
from policy_search.index.storage.manifest import FORMAT_VERSION, Manifest, parse_manifest
from policy_search.index.storage.segment import STAGING_SUFFIX, drop_unheld, fsync_dir

__all__ = [
    "CATALOG",
    "clean",
    "exists",
    "manifest_of",
    "new_segment_name",
    "open_catalog",
    "read_manifest",
    "read_quantizer",
    "remove_index",
    "save_quantizer",
    "segments_dir",
    "write_manifest",
    "writer_lock",
]

CATALOG = "catalog.sqlite"
SEGMENTS = "segments"
LOCK = ".lock"
LEGACY_POINTER = "CURRENT"  # format 5 and older: generations/ and a pointer file


def segments_dir(index_dir: Path) -> Path:
    """Where the segments live."""
    return index_dir / SEGMENTS


def new_segment_name() -> str:
    """A name no segment has had (writers and merges pick names without a lock)."""
    return uuid.uuid4().hex[:20]


def exists(index_dir: Path) -> bool:
    """Whether an index (of any format) is there."""
    return (index_dir / CATALOG).is_file() or (index_dir / LEGACY_POINTER).exists()


def legacy(index_dir: Path) -> bool:
    """Whether the index is of format 5 or older (upgraded by
    policy_search.index.storage.upgrade)."""
    return not (index_dir / CATALOG).is_file() and (index_dir / LEGACY_POINTER).exists()


@contextlib.contextmanager
def writer_lock(index_dir: Path, *, wait: float = 0.0) -> Iterator[None]:
    """Hold the index directory's writer lock, waiting up to `wait` seconds for another writer."""
    index_dir.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait
    with open(index_dir / LOCK, "a+") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise IndexLocked(
                        f"another process is writing the index at {index_dir}; "
                        "try again when it is done"
                    ) from None
                time.sleep(0.02)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def open_catalog(index_dir: Path, *, readonly: bool, create: bool = False) -> Catalog:
    """The catalog of an index; IndexMissing when there is none (unless `create`)."""
    path = index_dir / CATALOG
    if legacy(index_dir):
        raise IndexMismatch(
            f"the index at {index_dir} has an older format (generations, format 5); upgrade it "
            f"in place, keeping its vectors, with `policy-search upgrade --index-dir "
            f"{index_dir}` (any write also upgrades it)"
        )
    if not path.is_file() and not create:
        raise IndexMissing(
            f"no index at {index_dir}; build one with `policy-search index CORPUS "
            f"--index-dir {index_dir}` (or `make serve`, which builds one from corpus/)"
        )
    if create:
        index_dir.mkdir(parents=True, exist_ok=True)
    return Catalog(path, readonly=readonly)


def read_manifest(catalog: Catalog) -> Manifest:
    """The manifest of the commit the catalog's connection sees."""
    data = catalog.meta("manifest")
    if data is None:
        raise IndexCorrupt(f"{catalog.path} has no manifest; rebuild with `policy-search index`")
    data.update(generation=catalog.meta("generation", 0))
    return parse_manifest(data, str(catalog.path))


def manifest_of(index_dir: Path) -> Manifest:
    """The manifest of the index's latest commit, read without holding it open."""
    catalog = open_catalog(index_dir, readonly=True)
    try:
        return read_manifest(catalog)
    finally:
        catalog.close()


def write_manifest(catalog: Catalog, manifest: Manifest) -> int:
    """Record the manifest and bump the generation, in the caller's transaction; the new
    generation."""
    generation = int(catalog.meta("generation", 0)) + 1
    articles, passages = catalog.counts()
    data = asdict(manifest)
    data.update(
        format_version=FORMAT_VERSION, generation=generation, articles=articles, passages=passages
    )
    catalog.set_meta("manifest", data)
    catalog.set_meta("generation", generation)
    return generation


def save_quantizer(index_dir: Path, index: Any) -> str:
    """Write a trained, empty IVF index durably; the name to record in the manifest."""
    import faiss

    name = f"quantizer-{new_segment_name()}.faiss"
    staging = index_dir / f"{name}{STAGING_SUFFIX}"
    faiss.write_index(faiss.clone_index(index), str(staging))
    with open(staging, "rb") as handle:
        os.fsync(handle.fileno())
    os.rename(staging, index_dir / name)
    fsync_dir(index_dir)
    return name


def read_quantizer(index_dir: Path, name: str) -> Any:
    """The trained, empty IVF index new segments of this index start from."""
    import faiss

    path = index_dir / name
    try:
        return faiss.read_index(str(path))
    except RuntimeError:
        raise IndexCorrupt(f"{path} is missing or unreadable; rebuild the index") from None


def clean(index_dir: Path, catalog: Catalog) -> int:
    """Remove what no commit names: segments dropped by a merge or a rebuild once no reader
    holds them, what killed writers left, unused quantizers. The caller holds the writer lock;
    the number of folders removed."""
    live = {s.name for s in catalog.segments()}
    manifest = catalog.meta("manifest", {}) or {}
    quantizer = manifest.get("extra", {}).get("quantizer")
    removed = 0
    root = segments_dir(index_dir)
    if root.is_dir():
        for child in root.iterdir():
            if child.name not in live and drop_unheld(child):
                removed += 1
    for child in index_dir.glob("quantizer-*"):
        if child.name != quantizer:
            child.unlink(missing_ok=True)
    return removed


def remove_index(index_dir: Path) -> None:
    """Delete a damaged index's catalog and segments (a rebuild over it; writer lock held)."""
    for name in (CATALOG, f"{CATALOG}-wal", f"{CATALOG}-shm", LEGACY_POINTER):
        (index_dir / name).unlink(missing_ok=True)
    shutil.rmtree(segments_dir(index_dir), ignore_errors=True)
    shutil.rmtree(index_dir / "generations", ignore_errors=True)
    for child in index_dir.glob("quantizer-*"):
        child.unlink(missing_ok=True)
