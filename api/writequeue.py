"""The server's writes: one writer thread, and merges in a thread of their own.

A write route awaits its write on the writer thread instead of blocking a request thread, so
searches never queue behind a write, and writes run one at a time in arrival order (the index
has one writer anyway). A write answers once its commit is durable and this process serves it.
After each write a merge is scheduled (at most one waiting): it runs beside later writes and
takes the writer lock only for its own commit.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from policy_search.api.live import LiveSearcher
from policy_search.api.metrics import timed_merge, timed_write

__all__ = ["WriteQueue"]

log = logging.getLogger("policy_search.api")
T = TypeVar("T")


class WriteQueue:
    """Runs the server's writes one at a time off the request threads, then merges."""

    def __init__(self, live: LiveSearcher) -> None:
        self.live = live
        self._writes = ThreadPoolExecutor(1, thread_name_prefix="index-writer")
        self._merges = ThreadPoolExecutor(1, thread_name_prefix="index-merger")
        self._pending = False
        self._lock = threading.Lock()

    async def run(self, write: Callable[[], T]) -> T:
        """Run `write` on the writer thread, then serve its commit; its result."""

        def then_serve() -> T:
            with timed_write():
                result = write()
                self.live.refresh()  # serve the new commit before answering
            return result

        result = await asyncio.wrap_future(self._writes.submit(then_serve))
        self._schedule_merge()
        return result

    def _schedule_merge(self) -> None:
        with self._lock:
            if self._pending:
                return
            self._pending = True
        self._merges.submit(self._merge)

    def _merge(self) -> None:
        from policy_search.index.build import merge_small

        def merged() -> int:
            done = merge_small(self.live.index_dir)
            if done:
                self.live.refresh()
            return done

        with self._lock:
            self._pending = False
        try:
            timed_merge(merged)
        except Exception:  # a failed merge leaves the index as it was; the next write retries
            log.exception("merging segments of %s", self.live.index_dir)

    def close(self) -> None:
        """Finish what was queued and stop the threads."""
        self._writes.shutdown(wait=True)
        self._merges.shutdown(wait=True)
