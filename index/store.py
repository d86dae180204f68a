"""The index directory: generations swapped in atomically, one writer at a time.

    <index dir>/
        CURRENT                  the name of the live generation, replaced atomically
        .lock                    held by the one writer (fcntl.flock)
        generations/gen-000007/  manifest.json, vectors.faiss, store.sqlite, lexical/ (BM25)

A writer builds a new generation in a temporary directory, makes it durable (files and the
folders naming them), renames it into place and then replaces CURRENT; a reader opens whatever
CURRENT names. A crash at any moment leaves the last good generation live; what a crashed writer
left (a staging folder, or a generation renamed into place that CURRENT never named) is dropped
by the next writer, and after each write only the live generation and the one before are kept
(and any older one a server process still holds: `hold_generation`, removed by a later write).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sqlite3
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from index.errors import IndexCorrupt, IndexLocked, IndexMissing

__all__ = [
    "SCHEMA",
    "current_generation",
    "generation_dir",
    "new_generation",
    "open_store",
    "pack_text",
    "unpack_text",
    "writer_lock",
]

CURRENT = "CURRENT"
GENERATIONS = "generations"
VECTORS = "vectors.faiss"
STORE = "store.sqlite"
LEXICAL = "lexical"
KEEP_GENERATIONS = 2  # the live one and the one before, for readers still holding it
READERS = "readers.lock"  # each searcher holds a shared flock on its generation's

SCHEMA = """
CREATE TABLE articles (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    body BLOB NOT NULL,              -- the text, UTF-8, zlib-compressed (pack_text/unpack_text)
    source TEXT, author TEXT, date TEXT, url TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    date_start TEXT, date_end TEXT,  -- the date as an interval: 2024 → 2024-01-01..2024-12-31
    content_hash TEXT NOT NULL       -- of what is embedded (title and text)
);
CREATE INDEX articles_source ON articles(source COLLATE NOCASE);
CREATE INDEX articles_author ON articles(author COLLATE NOCASE);
CREATE INDEX articles_date ON articles(date_start, date_end);
CREATE TABLE article_tags (
    article_rowid INTEGER NOT NULL REFERENCES articles(rowid) ON DELETE CASCADE,
    tag TEXT NOT NULL COLLATE NOCASE
);
CREATE INDEX article_tags_tag ON article_tags(tag, article_rowid);
CREATE TABLE passages (
    id INTEGER PRIMARY KEY,          -- the FAISS id of its vector
    article_rowid INTEGER NOT NULL REFERENCES articles(rowid) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL
);
CREATE INDEX passages_article ON passages(article_rowid, ordinal);
"""


def pack_text(text: str) -> bytes:
    """An article's text as stored: about a third of its UTF-8 size for prose."""
    return zlib.compress(text.encode("utf-8", "surrogatepass"), 6)


def unpack_text(body: bytes) -> str:
    """The text `pack_text` stored."""
    return zlib.decompress(body).decode("utf-8", "surrogatepass")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    """Make a folder durable: each file, then each folder (deepest first), whose fsync is what
    makes the names of the files in it durable."""
    for path in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_dir():
            _fsync_dir(path)
        elif path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    _fsync_dir(root)


@contextlib.contextmanager
def writer_lock(index_dir: Path, *, wait: float = 0.0) -> Iterator[None]:
    """Hold the index directory's writer lock, waiting up to `wait` seconds for another writer."""
    index_dir.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait
    with open(index_dir / ".lock", "a+") as handle:
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
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def current_generation(index_dir: Path) -> Path:
    """The live generation directory, or IndexMissing / IndexCorrupt."""
    pointer = index_dir / CURRENT
    if not pointer.exists():
        raise IndexMissing(
            f"no index at {index_dir}; build one with `policy-search index CORPUS "
            f"--index-dir {index_dir}` (or `make serve`, which builds one from corpus/)"
        )
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise IndexCorrupt(f"{pointer} is unreadable ({exc}); rebuild the index") from None
    directory = index_dir / GENERATIONS / name
    if not name or "/" in name or not directory.is_dir():
        raise IndexCorrupt(
            f"{pointer} names generation {name!r}, which does not exist; rebuild the index "
            f"with `policy-search index --index-dir {index_dir}`"
        )
    return directory


def generation_dir(index_dir: Path, number: int) -> Path:
    """Where generation `number` lives."""
    return index_dir / GENERATIONS / f"gen-{number:06d}"


def _number(name: str) -> int | None:
    """The number of a generation folder's name, or None for anything else."""
    if not name.startswith("gen-") or name.endswith(".tmp"):
        return None
    try:
        return int(name.removeprefix("gen-"))
    except ValueError:
        return None


def _next_number(index_dir: Path) -> int:
    root = index_dir / GENERATIONS
    numbers = [0]
    if root.is_dir():
        numbers += [n for child in root.iterdir() if (n := _number(child.name)) is not None]
    return max(numbers) + 1


def _drop_unpublished(index_dir: Path) -> None:
    """Drop what writers that were killed left: staging folders, and generations renamed into
    place that CURRENT never named (numbered above the live one). No reader can have opened
    either; a kept unpublished generation would take the place kept for the one before."""
    root = index_dir / GENERATIONS
    if not root.is_dir():
        return
    try:
        live = _number(current_generation(index_dir).name)
    except (IndexMissing, IndexCorrupt):
        live = None  # nothing provably unpublished: drop only staging folders
    for child in root.iterdir():
        number = _number(child.name)
        unpublished = live is not None and number is not None and number > live
        if child.name.endswith(".tmp") or unpublished:
            shutil.rmtree(child, ignore_errors=True)


@contextlib.contextmanager
def new_generation(index_dir: Path) -> Iterator[tuple[int, Path]]:
    """Yield (number, temporary directory) to fill; on success publish it, on error discard it.

    The caller must hold `writer_lock`.
    """
    number = _next_number(index_dir)  # above any unpublished one too: numbers only grow
    _drop_unpublished(index_dir)
    final = generation_dir(index_dir, number)
    staging = final.with_name(f"{final.name}.tmp")
    staging.mkdir(parents=True)
    (staging / READERS).touch()
    try:
        yield number, staging
        _fsync_tree(staging)
        os.rename(staging, final)
        _fsync_dir(final.parent)
        pointer_tmp = index_dir / f"{CURRENT}.tmp"
        with open(pointer_tmp, "w", encoding="utf-8") as handle:
            handle.write(final.name + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(pointer_tmp, index_dir / CURRENT)
        _fsync_dir(index_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _prune(index_dir, keep=final.name)


def _prune(index_dir: Path, *, keep: str) -> None:
    root = index_dir / GENERATIONS
    finished = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.endswith(".tmp"))
    for old in finished[:-KEEP_GENERATIONS]:
        if old.name != keep:
            _remove_unheld(old)


def _remove_unheld(generation: Path) -> None:
    """Remove a generation unless a reader holds it (a later write will prune it)."""
    try:
        handle = open(generation / READERS, "rb")  # noqa: SIM115 (closed just below)
    except FileNotFoundError:  # written before readers.lock existed
        shutil.rmtree(generation, ignore_errors=True)
        return
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return
        shutil.rmtree(generation, ignore_errors=True)


def hold_generation(directory: Path) -> BinaryIO | None:
    """Keep a generation from being pruned while it is served: a shared lock on its
    readers.lock, released when the handle is closed (or collected). None for a generation
    written before readers.lock existed."""
    try:
        handle = open(directory / READERS, "rb")  # noqa: SIM115 (the caller keeps it open)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:  # a writer is pruning it: it is no longer live
        handle.close()
        raise IndexCorrupt(f"{directory} is being removed; load the live generation") from None
    return handle


def open_store(path: Path, *, readonly: bool) -> sqlite3.Connection:
    """Open a generation's SQLite store."""
    if readonly:
        if not path.is_file():
            raise IndexCorrupt(f"{path} is missing; rebuild the index")
        uri = f"file:{path}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
    else:
        conn = sqlite3.connect(path, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    return conn
