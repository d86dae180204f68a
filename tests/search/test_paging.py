"""Paging is a slice of one ranking: every page of a query, at any offset and k, is the matching
slice of the same full ranking, and `total` counts exactly what paging through it yields."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy_search.index.build import build_index
from policy_search.index.readers.article import Article
from policy_search.records import MAX_K
from policy_search.search.searcher import Searcher
from tests.fakes import FakeEmbedder

# A small vocabulary, so that most passages share a word with the queries: the lexical side
# matches hundreds of passages, more than one pool of candidates (FusionSettings.depth).
WORDS = (
    "energy route gas pipeline caspian russia avoid trade corridor port rail sea transit "
    "europe china supply market price winter storage grid power coal wind solar nuclear"
).split()
QUERIES = ("energy routes that avoid russia", "gas pipeline", "solar wind grid")
MODES = ("hybrid", "dense", "lexical")


def _articles(n: int, seed: int = 7) -> list[Article]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        sentences = [
            " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14))).capitalize() + "."
            for _ in range(rng.randint(3, 9))
        ]
        out.append(Article(id=f"a{i}", title=f"Note {i}", text=" ".join(sentences)))
    return out


@pytest.fixture(scope="module")
def searcher(tmp_path_factory: pytest.TempPathFactory) -> Searcher:
    embedder = FakeEmbedder(max_tokens=24)  # short passages: several an article
    index_dir = tmp_path_factory.mktemp("paging") / "index"
    build_index(_articles(160), index_dir, embedder)
    return Searcher.load(index_dir, embedder)


def _key(hit: object, group: bool) -> object:
    return hit.article.id if group else hit.passage.id  # type: ignore[attr-defined]


_FULL: dict[tuple[str, str, bool], tuple[list[object], int]] = {}


def _full(searcher: Searcher, query: str, mode: str, group: bool) -> tuple[list[object], int]:
    """Every hit of the query, paging by MAX_K until a page comes back short; and `total`."""
    if (query, mode, group) not in _FULL:
        keys: list[object] = []
        totals = set()
        while True:
            page = searcher.search(query, k=MAX_K, offset=len(keys), mode=mode, group=group)
            totals.add(page.total)
            assert [h.rank for h in page.hits] == list(
                range(len(keys) + 1, len(keys) + 1 + len(page.hits))
            )
            keys += [_key(h, group) for h in page.hits]
            if len(page.hits) < MAX_K:
                break
        assert len(totals) == 1, f"total changes with the offset: {sorted(totals)}"
        _FULL[(query, mode, group)] = (keys, totals.pop())
    return _FULL[(query, mode, group)]


@pytest.mark.parametrize("group", [False, True])
@pytest.mark.parametrize("mode", MODES)
def test_paging_yields_each_hit_once_and_total_counts_them(
    searcher: Searcher, mode: str, group: bool
) -> None:
    for query in QUERIES:
        keys, total = _full(searcher, query, mode, group)
        assert len(set(keys)) == len(keys), "a hit came back on two pages"
        assert total == len(keys)
    if mode == "lexical" and not group:  # the index is big enough to page past one pool
        assert max(len(_full(searcher, q, mode, group)[0]) for q in QUERIES) > 200


@settings(max_examples=40, deadline=None)
@given(
    query=st.sampled_from(QUERIES),
    mode=st.sampled_from(MODES),
    group=st.booleans(),
    offset=st.integers(0, 700),
    k=st.integers(1, MAX_K),
)
def test_every_page_is_a_slice_of_one_ranking(
    searcher: Searcher, query: str, mode: str, group: bool, offset: int, k: int
) -> None:
    keys, total = _full(searcher, query, mode, group)
    page = searcher.search(query, k=k, offset=offset, mode=mode, group=group)
    assert [_key(h, group) for h in page.hits] == keys[offset : offset + k]
    assert page.total == total
    assert [h.rank for h in page.hits] == list(range(offset + 1, offset + 1 + len(page.hits)))


def test_a_first_page_is_the_start_of_a_deep_page(searcher: Searcher) -> None:
    """The case the issue reports: ranks 193-200 came back at 202-210 on the next page."""
    for mode in MODES:
        first = searcher.search(QUERIES[0], k=100, offset=100, mode=mode)
        deep = searcher.search(QUERIES[0], k=100, offset=200, mode=mode)
        whole = [h.passage.id for h in searcher.search(QUERIES[0], k=100, mode=mode).hits]
        whole += [h.passage.id for h in first.hits] + [h.passage.id for h in deep.hits]
        assert len(set(whole)) == len(whole)
