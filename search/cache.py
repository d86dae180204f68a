"""Vectors of recent queries: people repeat queries (paging, the web page's search-as-you-type,
the same question from many readers), and the model is most of a query's cost."""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from policy_search.index.analysis.embed import Embedder

__all__ = ["QueryCache"]


class QueryCache:
    """A least-recently-used map of query text to vector, safe to share between threads."""

    def __init__(self, embedder: Embedder, size: int = 2048) -> None:
        self.embedder = embedder
        self.size = size
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def vector(self, query: str) -> np.ndarray:
        """The query's unit vector (read-only), from the cache or the model."""
        with self._lock:
            found = self._vectors.get(query)
            if found is not None:
                self._vectors.move_to_end(query)
                self.hits += 1
                return found
            self.misses += 1
        vector = self.embedder.encode([query])[0]  # outside the lock: queries run side by side
        vector.flags.writeable = False
        with self._lock:
            self._vectors[query] = vector
            if len(self._vectors) > self.size:
                self._vectors.popitem(last=False)
        return vector
