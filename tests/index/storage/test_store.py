"""The index directory: round trip, manifest checks, segments and commits, damaged indexes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from policy_search.index.build import add_articles, build_index, remove_articles
from policy_search.index.errors import (
    CorpusError,
    IndexCorrupt,
    IndexLocked,
    IndexMismatch,
    IndexMissing,
)
from policy_search.index.readers.article import Article
from policy_search.index.storage.catalog import Catalog
from policy_search.index.storage.merge import optimize
from policy_search.index.storage.segment import (
    LEXICAL,
    READERS,
    STAGING_LOCK,
    STAGING_SUFFIX,
    VECTORS,
)
from policy_search.index.storage.snapshot import Snapshot
from policy_search.index.storage.store import (
    CATALOG,
    exists,
    open_catalog,
    read_manifest,
    segments_dir,
    writer_lock,
)
from policy_search.search.searcher import Searcher
from tests.conftest import ARTICLES
from tests.fakes import FakeEmbedder


def generation(index_dir: Path) -> int:
    catalog = open_catalog(index_dir, readonly=True)
    try:
        return int(catalog.meta("generation"))
    finally:
        catalog.close()


def segment_names(index_dir: Path) -> list[str]:
    catalog = open_catalog(index_dir, readonly=True)
    try:
        return [s.name for s in catalog.segments()]
    finally:
        catalog.close()


def test_round_trip(fake_index: Path, fake_embedder: FakeEmbedder) -> None:
    searcher = Searcher.load(fake_index, fake_embedder)
    manifest = searcher.manifest
    assert (manifest.articles, manifest.model_id, manifest.dim) == (3, "fake/bow", 256)
    assert manifest.passages >= 3
    hit = searcher.search("Middle Corridor", k=1).hits[0]
    assert hit.article.id == "corridor"


def test_manifest_is_self_describing(fake_index: Path) -> None:
    catalog = open_catalog(fake_index, readonly=True)
    manifest = read_manifest(catalog)
    assert manifest.format_version == 8 and manifest.model_id == "fake/bow"
    assert manifest.chunking.max_tokens > 0 and manifest.lexical.k1 > 0
    assert manifest.faiss_index == "IDMap2,SQfp16"


def test_other_model_is_refused_with_rebuild_advice(fake_index: Path) -> None:
    with pytest.raises(IndexMismatch, match="policy-search index"):
        Searcher.load(fake_index, FakeEmbedder(dim=128, model_id="other/model"))


def test_other_format_version_is_refused(fake_index: Path, fake_embedder: FakeEmbedder) -> None:
    catalog = Catalog(fake_index / CATALOG, readonly=False)
    with catalog.transaction():
        data = catalog.meta("manifest")
        catalog.set_meta("manifest", {**data, "format_version": 99})
    catalog.close()
    with pytest.raises(IndexMismatch, match="format version 99"):
        Searcher.load(fake_index, fake_embedder)


def test_missing_index_says_how_to_build(tmp_path: Path, fake_embedder: FakeEmbedder) -> None:
    with pytest.raises(IndexMissing, match="policy-search index"):
        Searcher.load(tmp_path / "nothing", fake_embedder)


@pytest.mark.parametrize("damage", ["flipped", "truncated", "missing", "folder", "catalog"])
def test_damaged_index_is_refused_naming_the_file(
    fake_index: Path, fake_embedder: FakeEmbedder, damage: str
) -> None:
    """Sizes and checksums recorded at commit find damage when the index opens."""
    segment = segments_dir(fake_index) / segment_names(fake_index)[0]
    vectors = segment / VECTORS
    if damage == "flipped":  # same size, other bytes: only the checksum tells
        data = bytearray(vectors.read_bytes())
        data[-10] ^= 0xFF
        vectors.write_bytes(bytes(data))
    elif damage == "truncated":
        os.truncate(vectors, vectors.stat().st_size // 2)
    elif damage == "missing":
        next((segment / LEXICAL).glob("*.npy")).unlink()
    elif damage == "folder":
        os.rename(segment, segment.with_name("elsewhere"))
    else:
        (fake_index / CATALOG).write_bytes(b"this is not a database" * 200)
        for suffix in ("-wal", "-shm"):
            (fake_index / f"{CATALOG}{suffix}").unlink(missing_ok=True)
    with pytest.raises(IndexCorrupt) as caught:
        Searcher.load(fake_index, fake_embedder)
    named = CATALOG if damage == "catalog" else segment.name
    assert named in str(caught.value)


def test_a_write_adds_one_small_segment_and_touches_no_other(
    fake_index: Path, fake_embedder: FakeEmbedder
) -> None:
    before = segment_names(fake_index)
    files = {p: (p.stat().st_ino, p.stat().st_mtime_ns)
             for p in segments_dir(fake_index).rglob("*") if p.is_file()}  # fmt: skip
    new = Article(id="new", title="Pipelines", text="A pipeline under the Caspian Sea.")
    report = add_articles([new], fake_index, fake_embedder, merge=False)
    after = segment_names(fake_index)
    assert after[: len(before)] == before and len(after) == len(before) + 1
    assert report.generation == generation(fake_index)
    for path, stamp in files.items():
        assert (path.stat().st_ino, path.stat().st_mtime_ns) == stamp
    searcher = Searcher.load(fake_index, fake_embedder)
    assert searcher.search("pipeline Caspian", k=1).hits[0].article.id == "new"


def test_replaced_and_removed_passages_are_tombstones_never_seen(
    fake_index: Path, fake_embedder: FakeEmbedder
) -> None:
    edited = Article(id="corridor", title="Trade routes", text="Ferries cross the Caspian.")
    add_articles([edited], fake_index, fake_embedder, merge=False)
    remove_articles(["weather"], fake_index, merge=False)
    searcher = Searcher.load(fake_index, fake_embedder)
    for mode in ("hybrid", "dense", "lexical"):
        result = searcher.search("Middle Corridor rain valley Caspian", mode=mode, k=50)
        assert {h.article.id for h in result.hits} <= {"corridor", "accords"}
        assert all("Middle Corridor" not in h.passage.text for h in result.hits)
    assert searcher.stats().passages == searcher.manifest.passages
    assert searcher.snapshot.passages == searcher.manifest.passages
    lexical = searcher.search("rain", mode="lexical")
    assert lexical.total == 0 and lexical.hits == []


def test_failed_build_leaves_the_index_as_it_was(
    fake_index: Path, fake_embedder: FakeEmbedder
) -> None:
    def articles():
        yield ARTICLES[0]
        raise CorpusError("broken front matter", path="corpus/bad.md", line=3)

    before = generation(fake_index)
    with pytest.raises(CorpusError, match=r"corpus/bad.md:3"):
        build_index(articles(), fake_index, fake_embedder)
    assert generation(fake_index) == before
    assert not list(segments_dir(fake_index).glob(f"*{STAGING_SUFFIX}"))
    assert Searcher.load(fake_index, fake_embedder).manifest.articles == 3


def test_embedding_failure_leaves_the_index_as_it_was(
    fake_index: Path, fake_embedder: FakeEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args, **kwargs):
        raise RuntimeError("model crashed")

    monkeypatch.setattr(fake_embedder, "encode", explode)
    changed = Article(id="corridor", title="Trade routes", text="A new text to embed.")
    before = segment_names(fake_index)
    with pytest.raises(RuntimeError):
        build_index([changed], fake_index, fake_embedder)
    assert segment_names(fake_index) == before
    assert sorted(p.name for p in segments_dir(fake_index).iterdir()) == sorted(before)
    assert Searcher.load(fake_index, FakeEmbedder()).manifest.articles == 3


def test_empty_input_is_an_error(tmp_path: Path, fake_embedder: FakeEmbedder) -> None:
    with pytest.raises(CorpusError, match="no articles"):
        build_index([], tmp_path / "index", fake_embedder)
    assert not exists(tmp_path / "index")


def test_duplicate_ids_are_an_error(tmp_path: Path, fake_embedder: FakeEmbedder) -> None:
    twice = [ARTICLES[0], Article(id="corridor", title="Again", text="Same id.")]
    with pytest.raises(CorpusError, match="duplicate"):
        build_index(twice, tmp_path / "index", fake_embedder)


def test_one_writer_at_a_time(fake_index: Path, fake_embedder: FakeEmbedder) -> None:
    with writer_lock(fake_index), pytest.raises(IndexLocked, match="another process"):
        build_index(ARTICLES, fake_index, fake_embedder, wait=0.2)


def test_what_a_killed_writer_left_is_cleaned_by_the_next_write(
    fake_index: Path, fake_embedder: FakeEmbedder
) -> None:
    """A staging folder whose writer died, and a segment renamed into place that no commit
    names, are dropped by the next write; the named ones stay."""
    root = segments_dir(fake_index)
    (root / f"deadbeef{STAGING_SUFFIX}").mkdir()
    (root / f"deadbeef{STAGING_SUFFIX}" / STAGING_LOCK).touch()
    (root / "0rphan").mkdir()
    (root / "0rphan" / READERS).touch()
    add_articles([Article(id="x", title="X", text="Some words.")], fake_index, fake_embedder)
    assert sorted(p.name for p in root.iterdir()) == sorted(segment_names(fake_index))


def test_a_segment_being_served_is_not_removed_until_released(
    fake_index: Path, fake_embedder: FakeEmbedder
) -> None:
    add_articles([Article(id="x", title="X", text="Some words.")], fake_index, fake_embedder,
                 merge=False)  # fmt: skip
    reader = Snapshot.open(fake_index)
    held = {s.name for s in reader.segments}
    assert optimize(fake_index) == 1
    assert len(segment_names(fake_index)) == 1
    on_disk = {p.name for p in segments_dir(fake_index).iterdir()}
    assert held <= on_disk  # merged away but still served: kept
    hits = Searcher(reader, fake_embedder).search("Middle Corridor", k=3).hits
    assert hits and hits[0].article.id == "corridor"
    del hits, reader
    add_articles([Article(id="y", title="Y", text="More words.")], fake_index, fake_embedder,
                 merge=False)  # fmt: skip
    assert {p.name for p in segments_dir(fake_index).iterdir()} == set(segment_names(fake_index))


def test_a_reader_refresh_opens_only_new_segments(
    fake_index: Path, fake_embedder: FakeEmbedder
) -> None:
    first = Searcher.load(fake_index, fake_embedder)
    assert first.refreshed() is first  # nothing committed since
    add_articles([Article(id="x", title="X", text="Caspian ferries.")], fake_index,
                 fake_embedder, merge=False)  # fmt: skip
    remove_articles(["weather"], fake_index, merge=False)
    second = first.refreshed()
    assert second.generation == generation(fake_index)
    old = first.snapshot.segments
    assert all(a is b for a, b in zip(old, second.snapshot.segments, strict=False))
    assert len(second.snapshot.segments) == len(old) + 1
    assert second.manifest.articles == 3
    assert "weather" not in {h.article.id for h in second.search("rain spring", k=10).hits}


def test_a_server_follows_a_rebuild_over_a_damaged_catalog(
    fake_index: Path, fake_embedder: FakeEmbedder
) -> None:
    served = Searcher.load(fake_index, fake_embedder)
    (fake_index / CATALOG).unlink()  # a rebuild replaces the catalog file with a new one
    build_index(ARTICLES[:1], fake_index, fake_embedder)
    refreshed = served.refreshed()
    assert refreshed.manifest.articles == 1
    assert {h.article.id for h in refreshed.search("Caspian rain Accords", k=10).hits} == {
        "corridor"
    }


def test_the_kept_counts_match_the_tables_after_every_kind_of_write(
    fake_index: Path, fake_embedder: FakeEmbedder
) -> None:
    def counted() -> tuple[int, int]:
        searcher = Searcher.load(fake_index, fake_embedder)
        passages = len(searcher.passage_articles())
        return len(set(searcher.passage_articles().values())), passages

    add_articles([Article(id="x", title="X", text="Ferries. Ports. Rails.")], fake_index,
                 fake_embedder)  # fmt: skip
    edited = Article(id="corridor", title="Trade", text="One sentence now.")
    add_articles([edited], fake_index, fake_embedder)
    remove_articles(["weather"], fake_index)
    build_index([*ARTICLES[1:2], edited], fake_index, fake_embedder)
    catalog = open_catalog(fake_index, readonly=True)
    assert catalog.counts() == counted() == (2, counted()[1])
    assert read_manifest(catalog).passages == counted()[1]
