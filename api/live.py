"""The searcher the API serves, refreshed when a commit of the index appears.

Searches take whatever searcher is current and never wait: a writer (this server or a CLI `add`
in another process) commits, and the refresh, which opens only the new segments, happens between
searches. Requests already running finish on the snapshot they started with.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from policy_search.index.analysis.embed import Embedder
from policy_search.index.errors import IndexMissing, IndexStoreError
from policy_search.search.articles import ArticleSettings
from policy_search.search.cache import QueryCache
from policy_search.search.corpus import Corpus
from policy_search.search.fusion import FusionSettings
from policy_search.search.rerank import Ranker
from policy_search.search.searcher import Searcher
from policy_search.search.shards import open_corpus

__all__ = ["LiveSearcher"]

log = logging.getLogger("policy_search.api")


class LiveSearcher:
    """Holds the current searcher and follows the index directory's commits."""

    def __init__(
        self,
        index_dir: Path,
        embedder: Embedder,
        fusion: FusionSettings,
        articles: ArticleSettings | None = None,
        *,
        corpus: Callable[[Path], Corpus] | None = None,
        ranker: Ranker | None = None,
        confidence_floor: float | None = None,
        learned_order: bool = False,
    ) -> None:
        self.index_dir = index_dir
        # How the index directory is opened: in this process by default; api/ray_serve.py
        # opens a sharded index's shards as Ray Serve deployments.
        self.open_corpus = corpus or open_corpus
        self.embedder = embedder
        self.fusion = fusion
        self.articles = articles
        self.ranker, self.confidence_floor = ranker, confidence_floor
        self.learned_order = learned_order
        self.queries = QueryCache(embedder)  # outlives each snapshot's searcher
        self._searcher: Searcher | None = None
        self._error: IndexStoreError = IndexMissing("the index is still loading")
        self._failed: str | None = None  # the error last logged, so it is logged once
        self._reload = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def get(self) -> Searcher:
        """The current searcher, or the error that explains why there is none."""
        searcher = self._searcher
        if searcher is None:
            raise self._error
        return searcher

    def latest(self) -> Searcher:
        """The searcher of the newest commit, looked for now (not at the next watch)."""
        self.refresh()
        return self.get()

    def refresh(self) -> None:
        """Serve the latest commit, if it is not the one being served."""
        with self._reload:
            try:
                if self._searcher is None:
                    searcher = Searcher(
                        self.open_corpus(self.index_dir), self.embedder, fusion=self.fusion,
                        queries=self.queries, articles=self.articles, ranker=self.ranker,
                        confidence_floor=self.confidence_floor, learned_order=self.learned_order,
                    )  # fmt: skip
                else:
                    searcher = self._searcher.refreshed()
            except IndexStoreError as exc:
                if self._searcher is None:
                    self._error = exc
                if str(exc) != self._failed:
                    log.warning("cannot load the index at %s: %s", self.index_dir, exc)
                self._failed = str(exc)
                return
            self._failed = None
            if searcher is not self._searcher:
                self._searcher = searcher
                log.info("serving index generation %d", searcher.generation)

    def watch(self, every: float = 1.0) -> None:
        """Follow the index directory in a background thread until `stop`."""

        def loop() -> None:
            while not self._stop.wait(every):
                try:
                    self.refresh()
                    self._warm()
                except Exception:  # a watcher that dies would silently freeze the index
                    log.exception("index watcher")

        self._thread = threading.Thread(target=loop, name="index-watcher", daemon=True)
        self._thread.start()

    def _warm(self) -> None:
        """Read the served commit's facet and sort columns here, off the query path (once a
        commit; a sharded corpus reads its own in each shard)."""
        columns = getattr(self._searcher.snapshot, "columns", None) if self._searcher else None
        if columns is not None:
            columns().parts()

    def stop(self) -> None:
        """Stop watching."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
