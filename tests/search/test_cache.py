"""The query-vector cache (fake embedder: it only counts model calls)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from policy_search.index.build import add_articles
from policy_search.search.cache import QueryCache
from policy_search.search.searcher import Searcher
from tests.index.storage.test_updates import NEW, CountingEmbedder


def test_a_repeated_query_is_embedded_once_and_the_least_recent_is_dropped() -> None:
    embedder = CountingEmbedder()
    cache = QueryCache(embedder, size=2)
    first = cache.vector("Middle Corridor")
    assert np.array_equal(cache.vector("Middle Corridor"), first) and embedder.embedded == 1
    with pytest.raises(ValueError):
        first[0] = 1.0  # shared between requests: read-only
    cache.vector("Abraham Accords")
    cache.vector("Middle Corridor")  # now the most recent
    cache.vector("rain")  # drops "Abraham Accords"
    assert embedder.embedded == 3 and (cache.hits, cache.misses) == (2, 3)
    cache.vector("Abraham Accords")
    assert embedder.embedded == 4


def test_searchers_of_successive_generations_share_it(fake_index: Path) -> None:
    embedder = CountingEmbedder()
    cache = QueryCache(embedder)
    Searcher.load(fake_index, embedder, queries=cache).search("Middle Corridor")
    add_articles([NEW], fake_index, embedder)
    embedder.embedded = 0
    hits = Searcher.load(fake_index, embedder, queries=cache).search("Middle Corridor").hits
    assert hits[0].article.id == "corridor" and embedder.embedded == 0
