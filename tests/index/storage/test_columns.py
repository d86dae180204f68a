"""Facets and date sorts read columns (index/storage/columns.py): the same counts and dates as
the catalog's SQL (CatalogReads.facet_counts, passage_dates), over segments, deletions, a
replaced article and metadata changed in place, for the snapshots of every commit alike."""

from __future__ import annotations

import dataclasses
import gc
import weakref
from pathlib import Path

import numpy as np
import pytest

from policy_search.facets import FACETS
from policy_search.index.build import add_articles, build_index, remove_articles
from policy_search.index.readers.article import Article
from policy_search.index.storage.catalog import Catalog
from policy_search.index.storage.columns import day_number, distinct, gather
from policy_search.index.storage.snapshot import Snapshot
from tests.fakes import FakeEmbedder

NAMES = [f.name for f in FACETS]
PLACES = ["Azerbaijan and Georgia", "Iran", "Kazakhstan, Oman and Iran", "Brazil", "no place"]


def _article(n: int, **meta: object) -> Article:
    place = PLACES[n % len(PLACES)]
    text = (f"Report {n} on trade. Officials from {place} met on the corridor.\n\n"
            f"A second part of report {n} names {PLACES[(n + 2) % len(PLACES)]} too.")  # fmt: skip
    return Article(id=f"a{n}", title=f"Report {n}", text=text, **meta)  # type: ignore[arg-type]


FIRST = [
    _article(0, source="Example Wire", date="2024-05-01", tags=["trade", "Caspian"]),
    _article(1, source="example wire", date="2024", tags=["Trade", "trade"]),  # twice: counts twice
    _article(2, source="Other Source", date="2023-11", tags=["TRADE", "énergie"]),
    _article(3, date="1999-12-31", tags=["Énergie"]),
    _article(4, source="Other Source"),
    _article(5, source="", tags=["caspian"]),
]
SECOND = [
    _article(6, source="Example Wire", date="2025-01-02", tags=["energy"]),
    _article(7, source="Third", date="2025", tags=["Energy", "trade"]),
]


def _sql(snapshot: Snapshot, ids: np.ndarray) -> tuple[dict, dict]:
    """What the catalog's SQL counts and dates for these ids, in the snapshot's commit."""
    live = snapshot.live_ids(ids)
    rowids = np.unique(snapshot.article_keys(live)).tolist()
    counts = snapshot.view.read(Catalog.facet_counts, live.tolist(), rowids, NAMES)
    return counts, snapshot.view.read(Catalog.passage_dates, [int(i) for i in ids])


def _check(snapshot: Snapshot, seed: int) -> None:
    """The columns' counts and dates equal the SQL's for many sets of passages."""
    rng = np.random.default_rng(seed)
    every = np.sort(snapshot.ids)  # dead passages too: both leave them out
    sets = [every, snapshot.ids[snapshot.live], np.array([10**6, -1], np.int64), every[:0]]
    sets += [rng.choice(every, size=rng.integers(1, len(every) + 1)) for _ in range(25)]
    for ids in sets:
        counts, dates = _sql(snapshot, ids)
        assert snapshot.facet_counts(ids, NAMES) == counts
        assert snapshot.passage_dates(ids) == dates
        live = snapshot.live_ids(ids)
        days = [day_number(dates.get(i)) for i in live.tolist()]
        assert snapshot.passage_days(live).tolist() == days


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    build_index(FIRST, tmp_path / "index", FakeEmbedder())
    return tmp_path / "index"


def test_columns_count_and_date_as_the_catalog_does_through_every_kind_of_write(
    index_dir: Path,
) -> None:
    embedder = FakeEmbedder()
    snapshots = [Snapshot.open(index_dir)]
    writes = [
        lambda: add_articles(SECOND, index_dir, embedder, merge=False),  # a second segment
        lambda: add_articles([dataclasses.replace(FIRST[2], text="Iran, rewritten.",
                                                  source="Third", date="2022")],
                             index_dir, embedder, merge=False),  # replaced: new passages
        lambda: add_articles([dataclasses.replace(FIRST[0], source="Moved", date="2020",
                                                  tags=["moved"])], index_dir, embedder,
                             merge=False),  # metadata alone: its passages are kept
        lambda: remove_articles(["a4"], index_dir, merge=False),
        lambda: add_articles([_article(9, source="Late", date="2026")], index_dir, embedder),
    ]  # fmt: skip
    for n, write in enumerate(writes):
        snapshots[-1].columns()  # read before the write: the next snapshot must not reuse it
        write()
        snapshots.append(snapshots[-1].refresh())
        assert snapshots[-1].generation > snapshots[-2].generation
        for old in snapshots:  # older snapshots still count their own commit's
            _check(old, n)
    assert len({s.segments[0].name for s in snapshots}) > 1 or len(snapshots[-2].segments) > 1
    latest = snapshots[-1]
    moved = latest.passage_dates(latest.ids[latest.live])
    assert (
        "2020-01-01" in moved.values()
        and latest.facet_counts(latest.ids, ["source"])["source"].get("Moved") == 1
    )


def test_an_older_snapshot_reads_the_countries_of_passages_deleted_since(index_dir: Path) -> None:
    old = Snapshot.open(index_dir)
    remove_articles(["a1", "a2"], index_dir, merge=False)
    new = old.refresh()
    new.columns()  # the segment's countries read first in the commit without a1 and a2
    assert new.segments[0] is old.segments[0]
    _check(old, 1)
    _check(new, 2)
    old_counts = old.facet_counts(old.ids, ["country"])["country"]
    assert old_counts != new.facet_counts(new.ids, ["country"])["country"]


def test_gather_lists_each_rows_entries_in_order() -> None:
    offsets = np.array([0, 2, 2, 5, 6])
    at, owner = gather(offsets, np.array([3, 0, 1, 2, 0]))
    assert at.tolist() == [5, 0, 1, 2, 3, 4, 0, 1]
    assert owner.tolist() == [0, 1, 1, 3, 3, 3, 4, 4]


def test_a_day_number_orders_as_the_dates_do() -> None:
    dates = [None, "", "2024", "2024-05", "2024-05-01", "2024-05-01T10:00:00Z", "1999-12-31", "x"]
    assert [day_number(d) for d in dates] == [
        -1, -1, 20240000, 20240500, 20240501, 20240501, 19991231, -1
    ]  # fmt: skip


def test_distinct_is_np_unique() -> None:
    values = np.random.default_rng(3).integers(0, 50, 400)
    assert distinct(values).tolist() == np.unique(values).tolist()
    assert distinct(values[:0]).tolist() == [] and distinct(values[:1]).tolist() == [values[0]]


def test_a_snapshot_with_its_columns_read_is_freed_when_dropped(index_dir: Path) -> None:
    """No cycle through the columns: the snapshot's view (a read transaction that keeps the
    write-ahead log from starting over) closes as soon as the snapshot is dropped."""
    snapshot = Snapshot.open(index_dir)
    snapshot.facet_counts(snapshot.ids, NAMES)  # both kinds of columns read
    dropped = weakref.ref(snapshot)
    gc.disable()
    try:
        del snapshot
        assert dropped() is None
    finally:
        gc.enable()
