"""BM25's statistics after a write, read inside its transaction (index/storage/live_stats.py),
against a snapshot of the commit it made: new passages, this write's tombstones, tombstones
committed since the last write, one cache from write to write (fake embedder: plumbing)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from policy_search.index.analysis.analyzer import Analyzer, LexicalSettings
from policy_search.index.build import add_articles, build_index, remove_articles
from policy_search.index.readers.article import Article
from policy_search.index.storage.alerts import AlertCache, NewPassages, StoredAlert, save_alert
from policy_search.index.storage.lexical import Totals
from policy_search.index.storage.live_stats import LiveStatsCache
from policy_search.index.storage.snapshot import Snapshot
from tests.conftest import ARTICLES
from tests.fakes import FakeEmbedder

TERMS = Analyzer.of(LexicalSettings()).terms("the Caspian gas pipeline Russia law sea wind")


@dataclass
class Recording:
    """A Percolator that matches nothing and keeps what each write's statistics said."""

    feed_length: int = 10
    alerts: AlertCache = field(default_factory=AlertCache)
    stats: LiveStatsCache = field(default_factory=LiveStatsCache)
    seen: list[tuple[Totals, np.ndarray]] = field(default_factory=list)

    def match(
        self, new: NewPassages, alerts: Sequence[StoredAlert], vectors: np.ndarray
    ) -> list[tuple[int, int]]:
        assert new.stats is not None
        terms = sorted(set(TERMS))
        self.seen.append((new.stats.totals(), new.stats.frequencies(terms)))
        return []


def test_the_statistics_a_write_reads_are_its_commit_s(tmp_path: Path) -> None:
    embedder = FakeEmbedder()
    index_dir = tmp_path / "index"
    build_index(ARTICLES, index_dir, embedder)
    alert = StoredAlert("a", {"q": "gas"}, {}, None, "2026-01-01")
    save_alert(index_dir, alert, limit=1)
    recording = Recording()
    first, second = ARTICLES[0], ARTICLES[1]
    writes = [
        lambda: add_articles([Article(id="new", title="Gas", text="A gas pipeline. Gas, gas.")],
                             index_dir, embedder, percolator=recording, merge=False),
        lambda: remove_articles([second.id], index_dir, merge=False),  # committed tombstones
        lambda: add_articles([Article(id=first.id, title=first.title, text="The law of the sea.")],
                             index_dir, embedder, percolator=recording, merge=False),  # replaces
    ]  # fmt: skip
    expected = []
    for write in writes:
        report = write()
        if report.embedded:
            snapshot = Snapshot.open(index_dir)
            expected.append((snapshot.totals, snapshot.document_frequencies(TERMS)))
            snapshot.close()
    assert len(recording.seen) == len(expected) == 2
    for (totals, df), (want_totals, want_df) in zip(recording.seen, expected, strict=True):
        assert totals == want_totals
        assert df.tolist() == want_df.tolist()
