"""Percolation: what a saved alert matches when articles are written (search/percolate.py), next
to what a search of its query restricted to each article returns; replaced and removed articles;
a write that fails leaves no match (fake embedder: plumbing, the rules of a match)."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from policy_search.index.build import add_articles, build_index, remove_articles
from policy_search.index.readers.article import Article
from policy_search.index.storage import transaction
from policy_search.index.storage.alerts import (
    PRUNE_EVERY,
    StoredAlert,
    alert_feed,
    list_alerts,
    save_alert,
)
from policy_search.records import AlertRequest, SearchRequest
from policy_search.search.percolate import AlertMatcher, compile_alert
from policy_search.search.rerank import Ranker
from policy_search.search.searcher import Searcher
from tests.conftest import ARTICLES
from tests.fakes import FakeEmbedder

NEW = [
    Article(id="gas", title="A gas pipeline", source="Example Wire", date="2024-03",
            tags=["energy"],
            text="The trans-Caspian gas pipeline would link Turkmenistan to Azerbaijan. "
                 "Russia objects to the pipeline.\n\nFarmers in Georgia grow hazelnuts."),
    Article(id="grid", title="Wind on the grid", source="Other Source", date="2023",
            text="Wind and solar power feed the grid in Kazakhstan. The gas plants idle."),
    Article(id="law", title="Law of the Sea", tags=["law"],
            text="The law of the sea governs the Caspian. Russia and Iran disagree on the law."),
]  # fmt: skip
ALERTS = [
    {"q": "pipeline"},
    {"q": "gas pipeline", "mode": "lexical"},
    {"q": '"gas pipeline"', "mode": "lexical"},
    {"q": "pipeline -Russia", "mode": "lexical"},
    {"q": 'gas source:"Example Wire"', "mode": "lexical"},
    {"q": "gas", "mode": "dense", "tag": "energy"},
    {"q": "gas", "mode": "hybrid", "date_from": "2024-01"},
    {"q": "Turkmenistan", "country": ["Azerbaijan"], "mode": "lexical"},
    {"q": '"law sea" caspian', "mode": "hybrid"},
    {"q": "wind grid", "mode": "dense"},
]


def _save(index_dir: Path, embedder: FakeEmbedder, fields: dict) -> str:
    searcher = Searcher.load(index_dir, embedder, ranker=None)
    compiled, vector = compile_alert(
        AlertRequest(**fields), searcher.analyzer, lambda text: embedder.encode([text])[0]
    )
    alert_id = secrets.token_urlsafe(16)
    save_alert(index_dir, StoredAlert(alert_id, fields, compiled, vector, "2026-01-01"), limit=99)
    return alert_id


def _fed(index_dir: Path, alert_id: str) -> set[tuple[str, int, int]]:
    return {(m.article, m.start, m.end) for m in alert_feed(index_dir, alert_id, 1000)[1]}


def _searched(
    searcher: Searcher, fields: dict, articles: list[Article]
) -> set[tuple[str, int, int]]:
    """What a search of the alert's fields restricted to each of the articles returns."""
    found = set()
    for article in articles:
        request = SearchRequest(**{**fields, "article": article.id, "k": 100})
        found |= {(h.article.id, h.passage.start, h.passage.end)
                  for h in searcher.search(request).results}  # fmt: skip
    return found


def test_an_alert_matches_what_its_search_restricted_to_the_article_returns(
    tmp_path: Path,
) -> None:
    embedder = FakeEmbedder()
    index_dir = tmp_path / "index"
    build_index(ARTICLES, index_dir, embedder)
    ids = [_save(index_dir, embedder, fields) for fields in ALERTS]
    report = add_articles(NEW, index_dir, embedder, percolator=AlertMatcher(None, 0.0))
    searcher = Searcher.load(index_dir, embedder, ranker=None)  # no ranker: no confidence floor
    total = 0
    for fields, alert_id in zip(ALERTS, ids, strict=True):
        expected = _searched(searcher, fields, NEW)
        assert _fed(index_dir, alert_id) == expected, fields
        total += len(expected)
    assert report.alerts_matched == total > 0
    fed = {fields["q"]: _fed(index_dir, aid) for fields, aid in zip(ALERTS, ids, strict=True)}
    assert {a for a, _, _ in fed['"gas pipeline"']} == {"gas"}
    assert fed["pipeline -Russia"] == set()  # each pipeline passage names Russia
    assert {a for a, _, _ in fed["Turkmenistan"]} == {"gas"}  # its passage naming Azerbaijan


def test_the_confidence_floor_and_what_writes_leave(tmp_path: Path) -> None:
    embedder = FakeEmbedder()
    index_dir = tmp_path / "index"
    build_index(ARTICLES, index_dir, embedder)
    sure = _save(index_dir, embedder, {"q": "wind grid", "mode": "dense", "min_confidence": 1.0})
    any_ = _save(index_dir, embedder, {"q": "wind grid", "mode": "dense", "min_confidence": 0.0})
    matcher = AlertMatcher(Ranker.load(), 0.4, feed_length=2)
    add_articles(NEW, index_dir, embedder, percolator=matcher)
    assert _fed(index_dir, sure) == set() and len(_fed(index_dir, any_)) == 1
    # A replaced article matches again (its passages are new); its past entries stay, and a
    # removed article's too (a feed keeps what it announced), the newest feed_length of them.
    changed = Article(id="grid", title="Wind on the grid", text="Wind power on the grid. Again.")
    add_articles([changed], index_dir, embedder, percolator=matcher)
    feed = alert_feed(index_dir, any_, 10)[1]
    assert [m.text for m in feed][:1] == ["Wind power on the grid. Again."] and len(feed) == 2
    remove_articles(["grid"], index_dir)
    assert len(alert_feed(index_dir, any_, 10)[1]) == 2
    add_articles([Article(id="g2", title="Grid", text="Wind grid.")], index_dir, embedder,
                 percolator=matcher)  # fmt: skip
    assert [m.article for m in alert_feed(index_dir, any_, 2)[1]] == ["g2", "grid"]
    for n in range(PRUNE_EVERY + 1):  # each alert is pruned once in PRUNE_EVERY writes
        add_articles([Article(id=f"w{n}", title="Grid", text="Wind grid.")], index_dir, embedder,
                     percolator=matcher, merge=False)  # fmt: skip
    (kept,) = [a.matched for a in list_alerts(index_dir) if a.id == any_]
    assert kept <= 2 + PRUNE_EVERY


def test_a_write_that_fails_before_its_commit_leaves_no_match(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    embedder = FakeEmbedder()
    index_dir = tmp_path / "index"
    build_index(ARTICLES, index_dir, embedder)
    alert_id = _save(index_dir, embedder, {"q": "pipeline", "mode": "lexical"})

    def crash(*_: object) -> int:  # between the segment, the matches and the commit
        raise OSError("disk gone")

    monkeypatch.setattr(transaction, "write_manifest", crash)
    with pytest.raises(OSError, match="disk gone"):
        add_articles(NEW, index_dir, embedder, percolator=AlertMatcher(None, 0.0))
    assert _fed(index_dir, alert_id) == set()
    monkeypatch.undo()
    add_articles(NEW, index_dir, embedder, percolator=AlertMatcher(None, 0.0))
    assert _fed(index_dir, alert_id)


FILLER = " ".join(f"Delegates took up item {n} of the agenda at length." for n in range(24))
NUTS = Article(id="nuts", title="Hazelnut tariffs",
               text="Georgia's hazelnut growers fear hazelnut quotas and tariffs.\n\n"
                    f"{FILLER} One speaker named tariffs in passing. {FILLER}")  # fmt: skip
LEXICAL = [
    {"q": "hazelnut quotas tariffs", "mode": "lexical"},  # the server's floor
    {"q": "hazelnut quotas tariffs", "mode": "lexical", "min_confidence": 0.0},
    {"q": "hazelnut quotas", "mode": "lexical", "min_confidence": 0.1},
    {"q": "gas pipeline", "mode": "lexical"},
    {"q": '"gas pipeline"', "mode": "lexical"},  # a phrase: no floor but its own
    {"q": "hazelnut quotas tariffs", "mode": "hybrid"},  # fused, after feedback
    {"q": "gas pipeline", "mode": "hybrid", "min_confidence": 0.9},
]


def test_lexical_and_hybrid_alerts_are_held_to_their_search_s_confidence(tmp_path: Path) -> None:
    """BM25 with the whole index's statistics after the write (a replacing write's tombstones
    too), calibrated as a search restricted to the article calibrates it (hybrid: fused after
    feedback): the feed drops the passages that merely hold a word, as the search does."""
    embedder = FakeEmbedder()
    index_dir = tmp_path / "index"
    build_index(ARTICLES, index_dir, embedder)
    ids = [_save(index_dir, embedder, fields) for fields in LEXICAL]
    matcher = AlertMatcher(Ranker.load(), 0.2)
    again = Article(id="nuts", title=NUTS.title, text=NUTS.text.replace("Georgia's", "Our"))
    for written in ([NUTS, *NEW], [again]):
        before = {aid: _fed(index_dir, aid) for aid in ids}
        add_articles(written, index_dir, embedder, percolator=matcher)
        searcher = Searcher.load(index_dir, embedder, ranker=Ranker.load(), confidence_floor=0.2)
        for fields, alert_id in zip(LEXICAL, ids, strict=True):
            found = _searched(searcher, fields, written)
            assert _fed(index_dir, alert_id) - before[alert_id] == found, (fields, written)
    floored, every = (_fed(index_dir, aid) for aid in ids[:2])
    assert floored and len(every) > len(floored)  # the passages that merely hold the words
