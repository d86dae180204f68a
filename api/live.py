"""The searcher the API serves, swapped whole when a new index generation appears.

Searches take whatever searcher is current and never wait: a writer (this server or a CLI `add`
in another process) publishes a generation, and the swap happens between searches. Requests
already running finish on the generation they started with.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from index.embed import Embedder
from index.errors import IndexMissing, IndexStoreError
from index.store import CURRENT
from search.cache import QueryCache
from search.fusion import FusionSettings
from search.searcher import Searcher

__all__ = ["LiveSearcher"]

log = logging.getLogger("policy_search.api")


class LiveSearcher:
    """Holds the current searcher and follows the index directory's CURRENT pointer."""

    def __init__(self, index_dir: Path, embedder: Embedder, fusion: FusionSettings) -> None:
        self.index_dir = index_dir
        self.embedder = embedder
        self.fusion = fusion
        self.queries = QueryCache(embedder)  # outlives each generation's searcher
        self._searcher: Searcher | None = None
        self._error: IndexStoreError = IndexMissing("the index is still loading")
        self._pointer: str | None = None
        self._tried = False
        self._reload = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def get(self) -> Searcher:
        """The current searcher, or the error that explains why there is none."""
        searcher = self._searcher
        if searcher is None:
            raise self._error
        return searcher

    def refresh(self) -> None:
        """Load the generation CURRENT names, if it is not the one being served."""
        with self._reload:
            try:
                pointer = (self.index_dir / CURRENT).read_text(encoding="utf-8").strip()
            except OSError:
                pointer = None
            if self._tried and pointer == self._pointer:
                return  # nothing new (a generation that failed to load is not retried)
            self._tried, self._pointer = True, pointer
            try:
                searcher = Searcher.load(
                    self.index_dir, self.embedder, fusion=self.fusion, queries=self.queries
                )
            except IndexStoreError as exc:
                if self._searcher is None:
                    self._error = exc
                log.warning("cannot load the index at %s: %s", self.index_dir, exc)
                return
            self._searcher = searcher
            log.info("serving index generation %d", searcher.generation)

    def watch(self, every: float = 1.0) -> None:
        """Follow the index directory in a background thread until `stop`."""

        def loop() -> None:
            while not self._stop.wait(every):
                try:
                    self.refresh()
                except Exception:  # a watcher that dies would silently freeze the index
                    log.exception("index watcher")

        self._thread = threading.Thread(target=loop, name="index-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
