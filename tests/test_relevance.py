"""Relevance with the real model on the shipped corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.embed import Embedder
from search.searcher import Searcher

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def searcher(corpus_index: Path, real_embedder: Embedder) -> Searcher:
    return Searcher.load(corpus_index, real_embedder)


def test_middle_corridor_ranks_its_passage_first(searcher: Searcher) -> None:
    hits = searcher.search("Middle Corridor", k=5).hits
    assert "Middle Corridor" in hits[0].text
    assert all("Middle Corridor" not in h.text for h in hits[1:])
    spans = [hits[0].text[s:e] for s, e in hits[0].highlights]
    assert "Middle" in spans and "Corridor" in spans
