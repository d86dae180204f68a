"""One immutable segment of an index: some passages' vectors (FAISS) and BM25 postings.

    segments/<name>/
        vectors.faiss   the passages' vectors under their passage ids (vectors.py's kinds)
        articles.npy    the article (catalog rowid) of each passage, aligned with lexical/ids.npy
        lexical/        BM25 postings (policy_search.index.storage.lexical)
        readers.lock    a reader holds a shared flock on it while it serves the segment

A segment is written into `<name>.tmp` (its writer holding `staging.lock` inside until the
commit naming it is done), made durable, renamed into place and only then named by a commit of
the catalog; its files are never changed after.
The catalog records each file's size and CRC-32, and opening a segment checks them, so a damaged
file is refused by name rather than searched into wrong results. Flat vectors and the postings
are memory-mapped: processes serving one index share them through the page cache.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from policy_search.index.errors import IndexCorrupt
from policy_search.index.storage.catalog import SegmentRow
from policy_search.index.storage.columns import ColumnSlot
from policy_search.index.storage.lexical import LexicalIndex, LexicalSettings
from policy_search.index.storage.manifest import Manifest
from policy_search.index.storage.vectors import VectorKind, read_index, vector_kind, write_index

__all__ = [
    "LiveSegment",
    "Segment",
    "StagedSegment",
    "deleted_rows",
    "drop_unheld",
    "file_sums",
    "fsync_dir",
    "read_lexical",
    "read_vectors",
    "segment_ids",
    "verify_files",
]

VECTORS = "vectors.faiss"
ARTICLES = "articles.npy"
LEXICAL = "lexical"
READERS = "readers.lock"
STAGING_LOCK = "staging.lock"
STAGING_SUFFIX = ".tmp"
_CHUNK = 1 << 20
OVERFETCH_BELOW = 20_000  # tombstones in a segment below which a search over-fetches instead

FileSums = dict[str, list[int]]  # relative path → [size, crc32]


def fsync_dir(path: Path) -> None:
    """Make the names in a folder durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _crc(path: Path) -> int:
    crc = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            crc = zlib.crc32(chunk, crc)
    return crc


def file_sums(directory: Path) -> FileSums:
    """Size and CRC-32 of every file of a segment but its lock files."""
    sums: FileSums = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file() and path.name not in (READERS, STAGING_LOCK):
            sums[path.relative_to(directory).as_posix()] = [path.stat().st_size, _crc(path)]
    return sums


def verify_files(directory: Path, files: FileSums, *, checksums: bool = True) -> None:
    """Refuse a segment whose files are missing, of another size or (with `checksums`) of
    other content than its commit recorded."""
    how = "restore the index directory from a backup, or rebuild it with `policy-search index`"
    for name, (size, crc) in files.items():
        path = directory / name
        try:
            actual = path.stat().st_size
        except OSError:
            raise IndexCorrupt(f"{path} is missing; {how}") from None
        if actual != size:
            raise IndexCorrupt(f"{path} is {actual} bytes, its commit recorded {size}; {how}")
        if checksums and _crc(path) != crc:
            raise IndexCorrupt(f"{path} does not match its checksum (damaged on disk); {how}")


class StagedSegment:
    """A segment being written: a staging folder its writer holds (an exclusive flock on
    `staging.lock`) from its creation until the commit naming it is done, so that no other
    writer's clean-up can remove it in between, however long the commit waits for the lock.

    Fill `path`, then `publish()` (durable, renamed into place), commit, then `release()`; or
    `discard()`. As a context manager it discards on error and releases otherwise.
    """

    def __init__(self, root: Path, name: str) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.name = name
        self.path = root / f"{name}{STAGING_SUFFIX}"
        self.path.mkdir()
        self._lock: BinaryIO | None = open(self.path / STAGING_LOCK, "wb")  # noqa: SIM115
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        (self.path / READERS).touch()

    def publish(self) -> Path:
        """Make the files durable and rename the folder into place (still named by no commit)."""
        for path in sorted(self.path.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            if path.is_file():
                with open(path, "rb") as handle:
                    os.fsync(handle.fileno())
            elif path.is_dir():
                fsync_dir(path)
        fsync_dir(self.path)
        final = self.root / self.name
        os.rename(self.path, final)
        fsync_dir(self.root)
        self.path = final
        return final

    def release(self) -> None:
        """Let go of the folder (after its commit, or to leave it to the next clean-up)."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def discard(self) -> None:
        """Remove the folder, published or not (its commit did not happen)."""
        shutil.rmtree(self.path, ignore_errors=True)
        self.release()

    def __enter__(self) -> StagedSegment:
        return self

    def __exit__(self, kind: object, error: object, traceback: object) -> None:
        if error is not None:
            self.discard()
        else:
            self.release()


def write_segment(
    directory: Path, vectors: Any, lexical: LexicalIndex, articles: np.ndarray
) -> FileSums:
    """Write a segment's files into a staging folder; return their sizes and checksums."""

    if not len(lexical) == vectors.ntotal == len(articles):
        raise ValueError("a segment needs one vector, one posting list and one article a passage")
    write_index(vectors, directory / VECTORS)
    np.save(directory / ARTICLES, np.ascontiguousarray(articles, dtype=np.int64))
    lexical.save(directory / LEXICAL)
    return file_sums(directory)


def drop_unheld(path: Path) -> bool:
    """Remove a segment (or a dead writer's staging folder) unless a process still holds it
    (its writer, or a reader); True when it is gone."""
    handles = []
    try:
        for name in (STAGING_LOCK, READERS):
            try:
                handle = open(path / name, "rb")  # noqa: SIM115 (closed below)
            except FileNotFoundError:
                continue
            handles.append(handle)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
        shutil.rmtree(path, ignore_errors=True)
    finally:
        for handle in handles:
            handle.close()
    return not path.exists()


class Segment:
    """An open segment: its passage ids, their articles, vectors and postings. Immutable."""

    def __init__(
        self,
        directory: Path,
        *,
        files: FileSums,
        passages: int,
        lexical: LexicalSettings,
        dim: int,
        kind: VectorKind,
        checksums: bool = True,
    ) -> None:
        self.directory = directory
        self.name = directory.name
        self._hold = self._lock(directory)
        verify_files(directory, files, checksums=checksums)
        self.lexical = LexicalIndex.load(directory / LEXICAL, lexical)
        self.ids: np.ndarray = self.lexical.ids
        try:
            self.articles: np.ndarray = np.load(directory / ARTICLES)
        except (OSError, ValueError) as exc:
            raise IndexCorrupt(f"{directory / ARTICLES} is unreadable ({exc})") from None
        self.vectors = _read_vectors(directory / VECTORS)
        self.kind = kind  # as the manifest of its commit records it
        if not (len(self.ids) == len(self.articles) == self.vectors.ntotal == passages):
            raise IndexCorrupt(f"{directory} holds other passages than its commit recorded")
        if self.vectors.d != dim:
            raise IndexCorrupt(f"{directory / VECTORS} has {self.vectors.d} dimensions, not {dim}")
        self.bytes = sum(size for size, _ in files.values())
        self.columns = ColumnSlot()  # its passages' countries, read on first use (columns.py)

    @staticmethod
    def _lock(directory: Path) -> BinaryIO:
        try:
            handle = open(directory / READERS, "rb")  # noqa: SIM115 (held while the segment is open)
        except FileNotFoundError:
            raise IndexCorrupt(f"segment {directory} is missing; rebuild the index") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:  # a writer is removing it: it is no longer live
            handle.close()
            raise IndexCorrupt(f"segment {directory} is being removed") from None
        return handle

    def __len__(self) -> int:
        return len(self.ids)

    def search(
        self,
        vector: np.ndarray,
        n: int,
        allowed: np.ndarray | None = None,
        excluded: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The top `n` (ids, scores) among `allowed` ids (None: all of the segment's) but the
        `excluded` ones."""
        n = min(n, self.vectors.ntotal if allowed is None else len(allowed))
        if n <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if allowed is None and excluded is not None and len(excluded) <= OVERFETCH_BELOW:
            # Asking for `len(excluded)` more and dropping those is several times faster than
            # FAISS's selector path, which leaves its vectorised scan (bench/writes.py).
            # Tombstones are seldom among the best: ask for a few more first, and for all the
            # more it could take only when too many of those were deleted.
            for extra in (min(len(excluded), max(16, n // 4)), len(excluded)):
                wanted = min(self.vectors.ntotal, n + extra)
                scores, ids = self.kind.search(self.vectors, vector, wanted)
                keep = (ids >= 0) & ~np.isin(ids, excluded)
                if keep.sum() >= n or wanted == self.vectors.ntotal or extra == len(excluded):
                    return ids[keep][:n], scores[keep][:n]
        scores, ids = self.kind.search(self.vectors, vector, n, allowed=allowed, excluded=excluded)
        keep = ids >= 0
        return ids[keep], scores[keep]

    def reconstruct(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors of these passage ids (all in this segment)."""
        return self.kind.reconstruct(self.vectors, ids)

    def close(self) -> None:
        """Release the hold on the segment's files (also done when it is collected)."""
        self._hold.close()


def deleted_rows(ids: np.ndarray, deleted: np.ndarray) -> np.ndarray:
    """Which of a segment's rows (by their passage `ids`) are among the `deleted` passages."""
    if len(deleted) == 0:
        return np.zeros(len(ids), dtype=bool)
    return np.isin(ids, deleted)


@dataclass(frozen=True, slots=True)
class LiveSegment:
    """An open segment with the rows deleted since it was written (its live mask's inverse)."""

    segment: Segment
    dead: np.ndarray  # bool per row
    dead_ids: np.ndarray  # the passage ids of those rows

    @classmethod
    def open(
        cls,
        root: Path,
        row: SegmentRow,
        manifest: Manifest,
        deleted: np.ndarray,
        *,
        checksums: bool = True,
    ) -> LiveSegment:
        """Open the segment a commit names (`root`: the segments folder), less the `deleted`
        passages."""
        segment = Segment(
            root / row.name, files=row.files, passages=row.passages, lexical=manifest.lexical,
            dim=manifest.dim, kind=vector_kind(manifest.vector_kind), checksums=checksums,
        )  # fmt: skip
        dead = deleted_rows(segment.ids, deleted)
        return cls(segment, dead, segment.ids[dead])

    def deleting(self, deleted: np.ndarray) -> LiveSegment:
        """This segment with the `deleted` passages among its rows deleted too."""
        hits = deleted_rows(self.segment.ids, deleted)
        if not hits.any():
            return self
        dead = self.dead | hits
        return LiveSegment(self.segment, dead, self.segment.ids[dead])

    @property
    def live_ids(self) -> np.ndarray:
        """The passage ids of the live rows, in row order."""
        return self.segment.ids[~self.dead]

    @property
    def live_articles(self) -> np.ndarray:
        """The article (catalog rowid) of each live row."""
        return self.segment.articles[~self.dead]

    def live_lexical(self) -> LexicalIndex:
        """The segment's postings without its deleted rows."""
        return self.segment.lexical.without(self.dead_ids)


def segment_ids(directory: Path) -> np.ndarray:
    """A segment's passage ids (memory-mapped), without opening the rest of it."""
    try:
        return np.load(directory / LEXICAL / "ids.npy", mmap_mode="r")
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"{directory / LEXICAL / 'ids.npy'} is unreadable ({exc})") from None


def read_lexical(directory: Path, settings: LexicalSettings) -> LexicalIndex:
    """A segment's BM25 postings alone (memory-mapped), without opening the rest of it."""
    return LexicalIndex.load(directory / LEXICAL, settings)


def read_vectors(directory: Path) -> Any:
    """A segment's vector index alone (memory-mapped where the kind allows)."""
    return _read_vectors(directory / VECTORS)


def _read_vectors(path: Path) -> Any:
    try:
        return read_index(path, _read_faiss(path))
    except (OSError, ValueError) as exc:  # ivf-rerank's fp16 vectors beside the lists
        raise IndexCorrupt(f"the vectors beside {path} are unreadable ({exc})") from None


def _read_faiss(path: Path) -> Any:
    import faiss

    try:
        # Flat kinds map their codes from the file: shared between processes, read on demand.
        return faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
    except RuntimeError:
        pass
    try:
        return faiss.read_index(str(path))
    except RuntimeError as exc:
        raise IndexCorrupt(
            f"{path} is unreadable ({str(exc).splitlines()[0]}); rebuild with `policy-search index`"
        ) from None
