"""Segments never change a result: random write sequences against one segment of the same
passages (Hypothesis), merges, and the tiered policy."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from policy_search.index.build import add_articles, build_index, remove_articles
from policy_search.index.readers.article import Article
from policy_search.index.storage.merge import MergePolicy, merge_segments, optimize
from policy_search.search.searcher import Searcher
from tests.fakes import FakeEmbedder
from tests.index.storage.test_store import segment_names

WORDS = ["caspian", "corridor", "pipeline", "ferry", "baku", "accords", "rain", "grain", "port",
         "rail", "tariff", "gas", "oil", "treaty", "border", "river"]  # fmt: skip
QUERIES = ["caspian corridor", "gas pipeline treaty", "rain river", "baku port rail", "tariff"]

texts = st.lists(st.sampled_from(WORDS), min_size=3, max_size=40).map(" ".join)
writes = st.lists(
    st.tuples(st.sampled_from(["add", "add", "remove"]), st.integers(0, 7), texts),
    min_size=1, max_size=12,
)  # fmt: skip


def article(n: int, text: str) -> Article:
    return Article(id=f"a{n}", title=f"Article {n} {text.split()[0]}", text=text + ".")


def results(searcher: Searcher) -> list[tuple]:
    out = []
    for query in QUERIES:
        for mode in ("hybrid", "dense", "lexical"):
            found = searcher.search(query, mode=mode, k=50)
            out.append((query, mode, found.total))
            out += [
                (h.article.id, h.passage.start, h.passage.end, h.score, h.passage.text)
                for h in found.hits
            ]
    return out


@settings(max_examples=25, deadline=None)
@given(first=st.lists(texts, min_size=1, max_size=4), steps=writes)
def test_a_many_segment_index_answers_exactly_as_one_segment(
    first: list[str], steps: list[tuple[str, int, str]]
) -> None:
    embedder = FakeEmbedder(dim=64)
    root = Path(tempfile.mkdtemp())
    try:
        live = {f"a{i}": article(i, t) for i, t in enumerate(first)}
        build_index(live.values(), root / "many", embedder, merge=False)
        for op, n, text in steps:
            if op == "add":
                live[f"a{n}"] = article(n, text)
                add_articles([live[f"a{n}"]], root / "many", embedder, merge=False)
            elif f"a{n}" in live and len(live) > 1:
                del live[f"a{n}"]
                remove_articles([f"a{n}"], root / "many", merge=False)
        many = Searcher.load(root / "many", embedder)
        build_index(live.values(), root / "one", embedder)
        one = Searcher.load(root / "one", embedder)
        assert sorted(map(str, results(many))) == sorted(map(str, results(one)))
        assert many.stats().passages == one.stats().passages
        before = [(h.passage.id, h.score) for q in QUERIES for h in many.search(q, k=50).hits]
        optimize(root / "many")
        assert len(segment_names(root / "many")) <= 1
        merged = Searcher.load(root / "many", embedder)
        after = [(h.passage.id, h.score) for q in QUERIES for h in merged.search(q, k=50).hits]
        assert after == before  # same passage ids, same scores, same order
    finally:
        shutil.rmtree(root)


def test_the_policy_merges_a_full_tier_and_a_deletion_heavy_segment() -> None:
    policy = MergePolicy(floor=100, tier_factor=10, segments_per_tier=4, max_at_once=3)
    small = [(f"s{i}", 10 + i, 10 + i) for i in range(4)]
    assert policy.choose(small) == ["s0", "s1", "s2"]
    assert policy.choose([*small[:3], ("big", 5000, 5000)]) == []
    assert policy.choose([("holey", 70, 100)]) == ["holey"]


def test_writes_stay_few_segments_and_merges_keep_results(tmp_path: Path) -> None:
    embedder = FakeEmbedder(dim=64)
    index_dir = tmp_path / "index"
    build_index([article(0, "caspian corridor gas")], index_dir, embedder)
    policy = MergePolicy(floor=50, segments_per_tier=4)
    for n in range(1, 30):
        add_articles([article(n, f"{WORDS[n % 16]} ferry port {WORDS[(n * 3) % 16]}")],
                     index_dir, embedder, merge=False)  # fmt: skip
        merge_segments(index_dir, policy=policy)
    assert len(segment_names(index_dir)) < 8
    searcher = Searcher.load(index_dir, embedder)
    assert searcher.manifest.articles == 30
    before = results(searcher)
    optimize(index_dir)
    assert results(Searcher.load(index_dir, embedder)) == before
