"""A snapshot reads its metadata from the commit of its segments (index/storage/view.py)."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from pathlib import Path

from policy_search.index.build import add_articles, build_index, remove_articles
from policy_search.index.readers.article import Article
from policy_search.index.storage.catalog import Catalog
from policy_search.index.storage.snapshot import Snapshot
from tests.conftest import ARTICLES
from tests.fakes import FakeEmbedder


def _passages_of(snapshot: Snapshot, article_id: str) -> list[int]:
    found = snapshot.view.read(Catalog.article_row, article_id)
    assert found is not None
    return snapshot.view.read(Catalog.article_passages, found.rowid).tolist()


def _title(snapshot: Snapshot, article_id: str) -> str | None:
    found = snapshot.view.read(Catalog.article_row, article_id)
    return found.meta.title if found is not None else None


def test_a_snapshot_reads_the_metadata_of_its_own_commit(fake_index: Path) -> None:
    before = Snapshot.open(fake_index)
    ids = _passages_of(before, "corridor")
    remove_articles(["corridor"], fake_index, merge=False)
    add_articles([Article(id="accords", title="Renamed", text=ARTICLES[1].text)], fake_index,
                 FakeEmbedder())  # fmt: skip
    # The commit the snapshot ranks with still has the article, its passages and old title.
    rows = before.passage_rows(ids)
    assert sorted(rows) == ids and {r.article.id for r in rows.values()} == {"corridor"}
    assert all(r.text == ARTICLES[0].text[r.start : r.end] for r in rows.values())
    assert rows[ids[0]].article.tags == ["trade", "Caspian"]
    article = before.article("corridor")
    assert article is not None and article.text == ARTICLES[0].text
    assert _title(before, "accords") == "Abraham Accords"
    after = before.refresh()
    assert after.generation > before.generation
    assert after.passage_rows(ids) == {} and after.article("corridor") is None
    assert _title(after, "accords") == "Renamed"
    assert _title(before, "accords") == "Abraham Accords"


def _in_threads(n: int, work: Callable[[], int]) -> list[int]:
    seen: list[int] = []
    threads = [threading.Thread(target=lambda: seen.append(work())) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    return seen


def test_threads_read_one_commit_at_once(fake_index: Path) -> None:
    snapshot = Snapshot.open(fake_index)
    ids = _passages_of(snapshot, "weather")
    together = threading.Barrier(4, timeout=10)

    def read_together() -> int:
        with snapshot.view.reading() as catalog:  # four at once: the pool grows to four
            together.wait()
            return len(catalog.passage_rows(ids, snapshot.view.texts))

    assert _in_threads(4, read_together) == [len(ids)] * 4
    remove_articles(["weather"], fake_index, merge=False)
    # New connections cannot join the old commit now: the threads take turns on those held.
    assert _in_threads(8, lambda: len(snapshot.passage_rows(ids))) == [len(ids)] * 8


def test_a_view_reads_on_after_the_index_is_rebuilt_from_nothing(
    fake_index: Path, fake_embedder: FakeEmbedder
) -> None:
    old = Snapshot.open(fake_index)
    shutil.rmtree(fake_index)
    build_index(ARTICLES[2:], fake_index, fake_embedder)
    new = old.refresh()
    assert new is not old and _title(new, "corridor") is None
    assert _title(old, "corridor") is not None
    old.close()
    assert _title(new, "weather") is not None


def test_the_write_ahead_log_starts_over_at_a_quiet_refresh(tmp_path: Path) -> None:
    """Views hold commits open; without `settle` every write would grow the log for good."""
    embedder = FakeEmbedder()
    index_dir = tmp_path / "index"
    build_index(ARTICLES, index_dir, embedder)
    log = index_dir / "catalog.sqlite-wal"
    snapshot = Snapshot.open(index_dir)
    sizes = []
    for n in range(24):
        text = f"Churn number {n} of the writer. " * 40
        add_articles([Article(id=f"churn{n % 3}", title="Churn", text=text)], index_dir, embedder,
                     merge=False)  # fmt: skip
        snapshot = snapshot.refresh()  # the new commit (the old view closes as it is dropped)
        snapshot = snapshot.refresh()  # a refresh that finds nothing new settles the view
        sizes.append(log.stat().st_size)
    # Each write adds about 50 KB to the log; here it starts over instead of growing.
    assert max(sizes[12:]) <= max(sizes[:12]) + 16 * 1024, sizes
    assert max(sizes) < 256 * 1024, sizes
