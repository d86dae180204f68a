"""The index writer: open (lock, live state) → upsert / delete / keep_only → commit → what changed;
nothing is written before a commit, and a failed commit leaves the index as it was."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from policy_search.index.errors import (
    ArticleExists,
    ArticleNotFound,
    CorpusError,
    IndexCorrupt,
    IndexInternalError,
    IndexLocked,
    IndexMissing,
    IndexStoreError,
)
from policy_search.index.readers.article import Article
from policy_search.index.storage.catalog import Catalog
from policy_search.index.storage.snapshot import Snapshot
from policy_search.index.storage.store import CATALOG, segments_dir
from policy_search.index.storage.writer import IndexWriter, OpenMode, WriteOptions
from tests.conftest import ARTICLES
from tests.fakes import FakeEmbedder
from tests.index.storage.test_store import generation, segment_names

NEW = Article(id="new", title="Ferries", text="A new ferry crosses the Caspian Sea from Baku.")


def ids_in(index_dir: Path) -> set[str]:
    catalog = Catalog(index_dir / CATALOG, readonly=True)
    try:
        return set(catalog.existing())
    finally:
        catalog.close()


def test_a_writer_commits_its_changes_and_reports_what_changed(
    tmp_path: Path, fake_embedder: FakeEmbedder
) -> None:
    index_dir = tmp_path / "index"
    with IndexWriter.open(index_dir, fake_embedder, mode=OpenMode.CREATE) as writer:
        writer.upsert(ARTICLES)
        first = writer.commit()
    assert (first.generation, first.articles) == (1, 3)
    assert sorted(first.added) == sorted(a.id for a in ARTICLES) and first.removed == []
    assert first.embedded == first.passages

    retitled = dataclasses.replace(ARTICLES[1], title="Another title")
    with IndexWriter.open(index_dir, fake_embedder) as writer:
        writer.upsert([NEW, retitled, ARTICLES[0]])
        writer.delete(["weather"])
        report = writer.commit()
    assert (report.added, report.updated, report.unchanged) == (["new"], ["accords"], 1)
    assert report.removed == ["weather"] and report.generation == 2
    assert ids_in(index_dir) == {"corridor", "accords", "new"}


def test_keep_only_drops_the_rest_and_a_writer_commits_again(
    fake_index: Path, fake_embedder: FakeEmbedder
) -> None:
    with IndexWriter.open(fake_index, fake_embedder, mode=OpenMode.CREATE) as writer:
        writer.keep_only(["corridor"])
        writer.upsert([NEW])
        report = writer.commit()
        assert sorted(report.removed) == ["accords", "weather"] and report.added == ["new"]
        writer.delete(["new"])  # the writer goes on from its own commit
        again = writer.commit()
    assert again.removed == ["new"] and again.generation == report.generation + 1
    assert ids_in(fake_index) == {"corridor"}


def test_keeping_exactly_what_is_there_commits_nothing(
    fake_index: Path, fake_embedder: FakeEmbedder
) -> None:
    before = generation(fake_index)
    with IndexWriter.open(fake_index, fake_embedder, mode=OpenMode.CREATE) as writer:
        writer.keep_only(a.id for a in ARTICLES)
        writer.upsert(ARTICLES)
        report = writer.commit()
    assert report.generation == before == generation(fake_index) and report.unchanged == 3


def test_nothing_is_written_before_the_commit(
    fake_index: Path, fake_embedder: FakeEmbedder
) -> None:
    before = (generation(fake_index), segment_names(fake_index))
    with IndexWriter.open(fake_index, fake_embedder) as writer:
        writer.upsert([NEW])
        writer.delete(["weather"])
    assert (generation(fake_index), segment_names(fake_index)) == before
    assert ids_in(fake_index) == {a.id for a in ARTICLES}


@pytest.mark.parametrize("failure", ["unknown id", "existing id", "embedding"])
def test_a_failed_commit_leaves_the_index_as_it_was(
    fake_index: Path, fake_embedder: FakeEmbedder, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    before = (generation(fake_index), segment_names(fake_index))
    with IndexWriter.open(fake_index, fake_embedder) as writer:
        writer.delete(["accords"])
        if failure == "unknown id":
            writer.delete(["nowhere"])
            expected: type[Exception] = ArticleNotFound
        elif failure == "existing id":
            writer.upsert([NEW, ARTICLES[0]], replace=False)
            expected = ArticleExists
        else:
            writer.upsert([NEW])
            monkeypatch.setattr(fake_embedder, "encode", _explode)
            expected = RuntimeError
        with pytest.raises(expected):
            writer.commit()
    assert (generation(fake_index), segment_names(fake_index)) == before
    assert sorted(p.name for p in segments_dir(fake_index).iterdir()) == sorted(before[1])
    assert ids_in(fake_index) == {a.id for a in ARTICLES}


def _explode(*args: object, **kwargs: object) -> None:
    raise RuntimeError("model crashed")


def test_an_open_writer_holds_the_lock(fake_index: Path, fake_embedder: FakeEmbedder) -> None:
    with IndexWriter.open(fake_index, fake_embedder), pytest.raises(IndexLocked):
        IndexWriter.open(fake_index, fake_embedder, wait=0.1)
    with IndexWriter.open(fake_index, fake_embedder, wait=0.1) as writer:
        writer.delete(["weather"])
        assert writer.commit().removed == ["weather"]


def test_modes_over_a_missing_and_a_damaged_index(
    tmp_path: Path, fake_index: Path, fake_embedder: FakeEmbedder
) -> None:
    with pytest.raises(IndexMissing, match="policy-search index"):
        IndexWriter.open(tmp_path / "none", fake_embedder)
    (fake_index / CATALOG).write_bytes(b"broken" * 1000)
    with pytest.raises(IndexCorrupt):
        IndexWriter.open(fake_index, fake_embedder, mode=OpenMode.CREATE)
    with IndexWriter.open(fake_index, fake_embedder, mode=OpenMode.REBUILD) as writer:
        assert writer.manifest is None  # the damaged index was removed: built anew
        writer.upsert([NEW])
        assert writer.commit().articles == 1


def test_an_upsert_without_a_model_is_an_internal_error(fake_index: Path) -> None:
    with IndexWriter.open(fake_index) as writer, pytest.raises(IndexInternalError) as caught:
        writer.upsert([NEW])
    assert not isinstance(caught.value, (CorpusError, IndexStoreError))  # ours, not the client's


def test_options_refuse_an_unknown_kind_before_opening() -> None:
    with pytest.raises(IndexStoreError, match="unknown vector index 'annoy'"):
        WriteOptions(vectors="annoy")


def test_an_index_whose_manifest_lacks_the_kind_still_opens(
    fake_index: Path, fake_embedder: FakeEmbedder
) -> None:
    catalog = Catalog(fake_index / CATALOG, readonly=False)
    with catalog.transaction():
        manifest = catalog.meta("manifest")
        del manifest["vector_kind"]  # as written before the kind was stored
        catalog.set_meta("manifest", manifest)
    catalog.close()
    assert Snapshot.open(fake_index).vector_kind == "flat"  # read from faiss_index
    with IndexWriter.open(fake_index, fake_embedder) as writer:
        writer.upsert([NEW])
        writer.commit()
    catalog = Catalog(fake_index / CATALOG, readonly=True)
    assert catalog.meta("manifest")["vector_kind"] == "flat"  # stored by the next write
    catalog.close()
