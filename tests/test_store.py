"""The index directory: round trip, manifest checks, atomic generations, damaged indexes."""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import pytest

from index.article import Article
from index.build import add_articles, build_index
from index.errors import CorpusError, IndexCorrupt, IndexLocked, IndexMismatch, IndexMissing
from index.manifest import read_manifest
from index.store import GENERATIONS, current_generation, writer_lock
from search.searcher import Searcher
from tests.conftest import ARTICLES
from tests.fakes import FakeEmbedder


def test_round_trip(fake_index: Path, fake_embedder: FakeEmbedder) -> None:
    searcher = Searcher.load(fake_index, fake_embedder)
    manifest = searcher.manifest
    assert (manifest.articles, manifest.model_id, manifest.dim) == (3, "fake/bow", 256)
    assert manifest.passages >= 3
    article = searcher.article("corridor")
    assert article.text == ARTICLES[0].text
    assert article.tags == ("trade", "Caspian")
    assert (article.source, article.author, article.date) == (
        "Example Wire",
        "A. Writer",
        "2024-05-01",
    )
    hits = searcher.search("Middle Corridor Europe", k=2).hits
    assert hits[0].article.id == "corridor"
    for hit in hits:
        full = searcher.article(hit.article.id).text or ""
        assert full[hit.start : hit.end] == hit.text


def test_manifest_is_self_describing(fake_index: Path) -> None:
    data = json.loads((current_generation(fake_index) / "manifest.json").read_text())
    assert data["format_version"] == 5
    assert data["model_id"] == "fake/bow" and data["dim"] == 256
    assert data["lexical"] == {"k1": 1.2, "b": 0.5, "language": "english"}
    assert data["normalised"] is True and data["metric"] == "inner_product"
    assert data["chunking"]["max_tokens"] == 256
    assert data["articles"] == 3 and data["generation"] == 1


def test_other_model_is_refused_with_rebuild_advice(fake_index: Path) -> None:
    with pytest.raises(IndexMismatch, match="policy-search index"):
        Searcher.load(fake_index, FakeEmbedder(model_id="another/model"))
    with pytest.raises(IndexMismatch, match="dimensions"):
        Searcher.load(fake_index, FakeEmbedder(dim=32))


def test_other_format_version_is_refused(fake_index: Path, fake_embedder: FakeEmbedder) -> None:
    path = current_generation(fake_index) / "manifest.json"
    data = json.loads(path.read_text())
    data["format_version"] = 99
    path.write_text(json.dumps(data))
    with pytest.raises(IndexMismatch, match="format version 99"):
        Searcher.load(fake_index, fake_embedder)


def test_missing_index_says_how_to_build(tmp_path: Path, fake_embedder: FakeEmbedder) -> None:
    with pytest.raises(IndexMissing, match="policy-search index"):
        Searcher.load(tmp_path / "nothing", fake_embedder)


@pytest.mark.parametrize("damage", ["manifest", "vectors", "store", "pointer"])
def test_damaged_index_is_refused(
    fake_index: Path, fake_embedder: FakeEmbedder, damage: str
) -> None:
    generation = current_generation(fake_index)
    if damage == "manifest":
        (generation / "manifest.json").write_text("{not json")
    elif damage == "vectors":
        (generation / "vectors.faiss").write_bytes(b"garbage")
    elif damage == "store":
        (generation / "store.sqlite").unlink()
    else:
        (fake_index / "CURRENT").write_text("gen-999999\n")
    with pytest.raises(IndexCorrupt):
        Searcher.load(fake_index, fake_embedder)


def test_rebuild_makes_a_new_generation_and_keeps_one_back(
    fake_index: Path, fake_embedder: FakeEmbedder
) -> None:
    build_index(ARTICLES[:1], fake_index, fake_embedder)
    build_index(ARTICLES[:2], fake_index, fake_embedder)
    assert read_manifest(current_generation(fake_index)).generation == 3
    kept = sorted(p.name for p in (fake_index / "generations").iterdir())
    assert kept == ["gen-000002", "gen-000003"]
    assert Searcher.load(fake_index, fake_embedder).manifest.articles == 2


def test_failed_build_leaves_previous_generation(
    fake_index: Path, fake_embedder: FakeEmbedder
) -> None:
    def articles():
        yield ARTICLES[0]
        raise CorpusError("broken front matter", path="corpus/bad.md", line=3)

    before = (fake_index / "CURRENT").read_text()
    with pytest.raises(CorpusError, match=r"corpus/bad.md:3"):
        build_index(articles(), fake_index, fake_embedder)
    assert (fake_index / "CURRENT").read_text() == before
    assert not [p for p in (fake_index / "generations").iterdir() if p.name.endswith(".tmp")]
    assert Searcher.load(fake_index, fake_embedder).manifest.articles == 3


def test_embedding_failure_leaves_previous_generation(
    fake_index: Path, fake_embedder: FakeEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args, **kwargs):
        raise RuntimeError("model crashed")

    monkeypatch.setattr(fake_embedder, "encode", explode)
    changed = Article(id="corridor", title="Trade routes", text="A new text to embed.")
    with pytest.raises(RuntimeError):
        build_index([changed], fake_index, fake_embedder)
    assert Searcher.load(fake_index, FakeEmbedder()).manifest.articles == 3


def test_empty_input_is_an_error(tmp_path: Path, fake_embedder: FakeEmbedder) -> None:
    with pytest.raises(CorpusError, match="no articles"):
        build_index([], tmp_path / "index", fake_embedder)
    assert not (tmp_path / "index" / "CURRENT").exists()


def test_duplicate_ids_are_an_error(tmp_path: Path, fake_embedder: FakeEmbedder) -> None:
    twice = [ARTICLES[0], Article(id="corridor", title="Again", text="Same id.")]
    with pytest.raises(CorpusError, match="duplicate"):
        build_index(twice, tmp_path / "index", fake_embedder)


def test_one_writer_at_a_time(fake_index: Path, fake_embedder: FakeEmbedder) -> None:
    with writer_lock(fake_index), pytest.raises(IndexLocked, match="another process"):
        build_index(ARTICLES, fake_index, fake_embedder, wait=0.2)


def test_a_generation_never_published_is_dropped_and_the_live_one_kept_for_readers(
    fake_index: Path, fake_embedder: FakeEmbedder
) -> None:
    """A writer killed between renaming its generation into place and pointing CURRENT at it
    leaves a generation that no reader ever opened. The next write drops it; otherwise it would
    take the place kept for the generation that readers may still hold (the live one)."""
    build_index(ARTICLES[:2], fake_index, fake_embedder)
    live = current_generation(fake_index)
    assert live.name == "gen-000002"
    shutil.copytree(live, live.with_name("gen-000003"))  # renamed into place, never published
    build_index(ARTICLES[:1], fake_index, fake_embedder)
    kept = sorted(p.name for p in (fake_index / "generations").iterdir())
    assert kept == ["gen-000002", "gen-000004"]  # numbers only grow, even past a dropped one
    assert current_generation(fake_index).name == "gen-000004"
    assert Searcher.load(fake_index, fake_embedder).manifest.articles == 1


def test_without_a_readable_current_no_generation_is_dropped(
    fake_index: Path, fake_embedder: FakeEmbedder
) -> None:
    (fake_index / "CURRENT").write_text("gen-000099\n")  # names nothing: nothing is provably stale
    build_index(ARTICLES, fake_index, fake_embedder)
    kept = sorted(p.name for p in (fake_index / "generations").iterdir())
    assert kept == ["gen-000001", "gen-000002"]


def test_a_generation_is_durable_names_included_before_current_names_it(
    fake_index: Path, fake_embedder: FakeEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """fsync of a file does not make its name durable; its folder's fsync does. Without it, a
    power cut could leave CURRENT naming a generation whose files have no names."""
    synced: list[str] = []
    fsync = os.fsync

    def spy(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    build_index(ARTICLES[:1], fake_index, fake_embedder)
    staging = str(fake_index.resolve() / "generations" / "gen-000002.tmp")
    published = current_generation(fake_index)
    files = {str(p.relative_to(published)) for p in published.rglob("*") if p.is_file()}
    folders = {str(p.relative_to(published)) for p in published.rglob("*") if p.is_dir()}
    assert {f"{staging}/{name}" for name in files} <= set(synced)
    assert {staging, *(f"{staging}/{name}" for name in folders)} <= set(synced)
    assert synced.index(staging) < synced.index(str(fake_index.resolve() / "CURRENT.tmp"))


def test_a_generation_being_served_is_not_pruned(
    fake_index: Path, fake_embedder: FakeEmbedder
) -> None:
    """Another server process may still serve an old generation: writes leave it on disk."""
    old = Searcher.load(fake_index, fake_embedder)  # what a slower worker still serves
    for i in range(3):
        note = Article(id=f"new-{i}", title="New", text="Ports on the Caspian.")
        add_articles([note], fake_index, fake_embedder)
    got: dict[str, object] = {}

    def read(searcher: Searcher) -> None:  # a thread opens its own connection only now
        got["title"] = searcher.article("corridor").title
        got["articles"] = searcher.stats().articles

    thread = threading.Thread(target=read, args=(old,))
    thread.start()
    thread.join()
    assert got == {"title": "Trade routes across the Caspian", "articles": 3}
    assert len(list((fake_index / GENERATIONS).iterdir())) == 3  # the held one stayed
    del old
    add_articles([Article(id="new-9", title="New", text="Ports.")], fake_index, fake_embedder)
    assert len(list((fake_index / GENERATIONS).iterdir())) == 2  # released, then pruned
