"""A reader's view of one commit of the catalog: the metadata its snapshot's searches read.

SQLite in WAL mode gives a read transaction snapshot isolation: every read inside it sees the
commit it began at, whatever is committed meanwhile. A view holds such transactions open. Its
first one begins before the snapshot reads its segment list and tombstones (`Snapshot._build`
reads them through it), so hits, filters and articles come from the same commit as the segments:
a passage deleted since is still there for the snapshot that ranked it.

Threads: a connection serves one thread at a time, so a view keeps a small pool. A thread that
finds every connection busy opens another and keeps it when it sees the view's commit (the same
catalog file at the same generation: every commit adds one); when a later commit is already
there, it waits for a connection instead.

The write-ahead log: a commit's pages go to the log, and a checkpoint copies them into the
database as far as every open read transaction allows; the log starts over only when it was
copied whole and no reader still reads from it. A view that is held open keeps the log from
starting over, so views are released as soon as they can be: a view closes when its snapshot is
dropped (the last search on it returns; `close` does it at once), and `settle`, called on each
refresh that finds no new commit, checkpoints and moves the view's transaction to one that reads
the database alone, after which the next writer starts the log over. The log therefore stays
within the commits made between two quiet refreshes (see tests/index/storage/test_read_view.py). A
shard of a sharded index keeps the commits it gave out to queries open for a hold window
(policy_search.search.shards.ShardReader) and closes each when its window has ended and its
last call has returned: the log then stays within the commits of one window.

Reads go through `read(Catalog.method, *args)`: each read of the catalog is written once, in
index/storage/catalog_reads.py (a mixin of `Catalog`), and a snapshot
(index/storage/snapshot.py) runs it in its commit.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

from policy_search.index.storage.catalog import Catalog, Texts, checkpoint

__all__ = ["ReadView"]

P = ParamSpec("P")
R = TypeVar("R")

POOL = 8  # connections a view opens at most (threads beyond wait for one)


class ReadView:
    """One commit of an index's catalog, open for reading from any thread."""

    def __init__(self, first: Catalog, generation: int, texts: Texts, *, hold: bool) -> None:
        self.path = first.path
        self.generation = generation
        self.texts = texts
        self.hold = hold  # False: a catalog not in WAL mode, where a held read would stop writers
        self._inode = first.inode
        self._idle = [first]
        self._opened = 1
        self._lent = 0
        self._joinable = True  # no later commit seen yet: a new connection may join
        self._settled = False
        self._closed = False
        self._free = threading.Condition()

    @classmethod
    def begin(cls, path: Path, texts: Texts | None = None) -> ReadView:
        """A view of the catalog's latest commit (`texts`: the unpacked texts to share with the
        views before it)."""
        first = Catalog(path, readonly=True)
        try:
            generation = _begin(first)
            hold = first.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            if not hold:  # never written since it was made (a format-5 upgrade): read, not hold
                first.conn.rollback()
        except sqlite3.DatabaseError as exc:
            first.close()
            raise first.damaged(exc) from None
        except BaseException:
            first.close()
            raise
        texts = texts if texts is not None else Texts()
        return cls(first, generation, texts, hold=hold)

    # -- connections -----------------------------------------------------------------------

    @contextlib.contextmanager
    def reading(self) -> Iterator[Catalog]:
        """A connection that sees this view's commit, for this thread alone meanwhile."""
        catalog = self._borrow()
        try:
            if not self.hold:
                _begin(catalog)
            yield catalog
        except sqlite3.DatabaseError as exc:
            raise catalog.damaged(exc) from None
        finally:
            if not self.hold:
                catalog.conn.rollback()
            with self._free:
                self._lent -= 1
                if self._closed:
                    self._opened -= 1
                    catalog.close()
                else:
                    self._idle.append(catalog)
                    self._free.notify()

    def _borrow(self) -> Catalog:
        with self._free:
            while True:
                if self._closed:
                    raise RuntimeError("the snapshot's view of the catalog is closed")
                if self._idle:
                    self._lent += 1
                    return self._idle.pop()
                if self._joinable and self._opened < POOL:
                    self._opened += 1
                    break
                self._free.wait()
        joined = self._join()
        with self._free:
            if joined is None:
                self._opened -= 1
                self._joinable = False
            else:
                self._idle.append(joined)
            self._free.notify()
        return self._borrow()

    def _join(self) -> Catalog | None:
        """A new connection inside a read transaction of this view's commit, or None when the
        catalog has moved on."""
        catalog = Catalog(self.path, readonly=True)
        if not self.hold:
            return catalog
        try:
            if catalog.inode == self._inode and _begin(catalog) == self.generation:
                return catalog
        except BaseException:
            catalog.close()
            raise
        catalog.close()
        return None

    def settle(self) -> None:
        """Let the write-ahead log start over while this view is the latest commit and idle:
        checkpoint it whole, then hold the commit with a transaction that reads the database
        alone (see the module's docstring). Does nothing when that cannot be done now."""
        with self._free:
            if self._settled or self._closed or self._lent or not self._joinable or not self.hold:
                return
        if not checkpoint(self.path):
            return
        fresh = self._join()
        with self._free:
            if fresh is None or self._lent or self._closed:
                self._joinable = self._joinable and fresh is not None
                old = [fresh] if fresh is not None else []
            else:
                old, self._idle, self._opened = self._idle, [fresh], 1
                self._settled = True
        for catalog in old:
            catalog.close()

    def close(self) -> None:
        """End the view's transactions (a connection lent out closes when it comes back)."""
        with self._free:
            self._closed = True
            idle, self._idle = self._idle, []
            self._opened -= len(idle)
            self._free.notify_all()
        for catalog in idle:
            catalog.close()

    # -- reads -------------------------------------------------------------------------------

    def read(
        self, query: Callable[Concatenate[Catalog, P], R], *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """`query(catalog, *args)`, a read of the catalog (a `Catalog` method), in this view's
        commit."""
        with self.reading() as catalog:
            return query(catalog, *args, **kwargs)


def _begin(catalog: Catalog) -> int:
    """Open a read transaction on the catalog's connection and read its generation (the first
    read fixes the commit the transaction sees)."""
    try:
        catalog.conn.execute("BEGIN")
        return int(catalog.meta("generation", 0))
    except sqlite3.DatabaseError as exc:
        raise catalog.damaged(exc) from None
