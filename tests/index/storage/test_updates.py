"""Incremental writes: only new or changed articles are embedded; every write is one commit."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from policy_search.index.build import add_articles, build_index, remove_articles
from policy_search.index.errors import ArticleNotFound, IndexMismatch, IndexMissing
from policy_search.index.readers.article import Article
from policy_search.search.searcher import Searcher
from tests.conftest import ARTICLES
from tests.fakes import FakeEmbedder
from tests.index.storage.test_store import generation

NEW = Article(id="new", title="Pipelines", text="The gas pipeline runs under the Caspian Sea.")


class CountingEmbedder(FakeEmbedder):
    """Counts the texts it embeds."""

    def __init__(self) -> None:
        super().__init__()
        self.embedded = 0

    def encode(self, texts, **kwargs):
        self.embedded += len(texts)
        return super().encode(texts, **kwargs)


@pytest.fixture
def embedder() -> CountingEmbedder:
    return CountingEmbedder()


@pytest.fixture
def index_dir(tmp_path: Path, embedder: CountingEmbedder) -> Path:
    build_index(ARTICLES, tmp_path / "index", embedder)
    embedder.embedded = 0
    return tmp_path / "index"


def ids_in(index_dir: Path) -> set[str]:
    searcher = Searcher.load(index_dir, FakeEmbedder())
    return set(searcher.passage_articles().values())


def test_rebuilding_the_same_articles_writes_nothing(index_dir: Path, embedder) -> None:
    report = build_index(ARTICLES, index_dir, embedder)
    assert (report.embedded, report.unchanged, report.added, report.removed) == (0, 3, [], [])
    assert embedder.embedded == 0 and report.generation == 1
    assert generation(index_dir) == 1


def test_a_changed_tag_alone_is_a_new_generation_without_embedding(
    index_dir: Path, embedder
) -> None:
    retagged = dataclasses.replace(ARTICLES[0], tags=["trade"])
    report = build_index([retagged, *ARTICLES[1:]], index_dir, embedder)
    assert report.generation == 2 and embedder.embedded == 0
    assert Searcher.load(index_dir, FakeEmbedder()).article(retagged.id).tags == ["trade"]


LONG = Article(
    id="long", title="A long report",
    text=" ".join(f"Sentence {i} is about topic{i} and nothing else at all." for i in range(24)),
)  # fmt: skip


def test_an_edited_article_keeps_the_vectors_of_its_unchanged_passages(
    index_dir: Path, embedder
) -> None:
    add_articles([LONG], index_dir, embedder)
    before = Searcher.load(index_dir, FakeEmbedder())
    passages = before.manifest.passages - 3
    assert passages >= 3  # the fake tokenizer's 64-token passages
    first = before.search("topic0", mode="dense", min_score=-1.0).hits[0]
    embedder.embedded = 0
    edited = dataclasses.replace(LONG, text=LONG.text.replace("topic23", "a new ending"))
    report = add_articles([edited], index_dir, embedder)
    assert report.updated == ["long"] and embedder.embedded == report.embedded == 1
    after = Searcher.load(index_dir, FakeEmbedder())
    again = after.search("topic0", mode="dense", min_score=-1.0).hits[0]
    assert (again.passage.text, again.score) == (first.passage.text, first.score)
    assert after.search("new ending", mode="lexical").hits[0].article.id == "long"
    retitled = dataclasses.replace(edited, title="Another title")  # every passage carries it
    embedder.embedded = 0
    assert add_articles([retitled], index_dir, embedder).embedded == passages


def test_a_changed_article_alone_is_embedded(index_dir: Path, embedder) -> None:
    changed = dataclasses.replace(ARTICLES[2], text="Snow fell in the valley instead.")
    report = build_index([*ARTICLES[:2], changed], index_dir, embedder)
    assert report.updated == ["weather"] and report.unchanged == 2
    assert embedder.embedded == report.embedded == 1
    searcher = Searcher.load(index_dir, FakeEmbedder())
    assert searcher.article("weather").text == "Snow fell in the valley instead."
    assert searcher.search("snow", mode="lexical").hits[0].article.id == "weather"
    assert searcher.search("farmers welcomed", mode="lexical").hits == []


def test_metadata_change_updates_without_embedding(index_dir: Path, embedder) -> None:
    changed = dataclasses.replace(ARTICLES[0], source="New Wire", tags=["ports"])
    report = build_index([changed, *ARTICLES[1:]], index_dir, embedder)
    assert embedder.embedded == 0 and report.unchanged == 3
    article = Searcher.load(index_dir, FakeEmbedder()).article("corridor")
    assert (article.source, article.tags) == ("New Wire", ["ports"])


def test_index_drops_articles_no_longer_given(index_dir: Path, embedder) -> None:
    report = build_index(ARTICLES[:2], index_dir, embedder)
    assert report.removed == ["weather"] and report.articles == 2
    assert ids_in(index_dir) == {"corridor", "accords"}


def test_add_and_replace(index_dir: Path, embedder) -> None:
    report = add_articles([NEW], index_dir, embedder)
    assert report.added == ["new"] and report.articles == 4 and embedder.embedded == 1
    assert ids_in(index_dir) == {"corridor", "accords", "weather", "new"}
    replaced = dataclasses.replace(NEW, text="The pipeline was cancelled.")
    report = add_articles([replaced], index_dir, embedder)
    assert report.updated == ["new"] and report.articles == 4
    searcher = Searcher.load(index_dir, FakeEmbedder())
    assert searcher.article("new").text == "The pipeline was cancelled."
    assert searcher.manifest.passages == sum(1 for _ in searcher.passage_articles())


def test_remove(index_dir: Path) -> None:
    report = remove_articles(["accords"], index_dir)
    assert report.removed == ["accords"] and report.articles == 2
    searcher = Searcher.load(index_dir, FakeEmbedder())
    with pytest.raises(ArticleNotFound):
        searcher.article("accords")
    assert all(h.article.id != "accords" for h in searcher.search("Abraham Accords Baku").hits)


def test_removing_an_unknown_id_changes_nothing(index_dir: Path) -> None:
    before = generation(index_dir)
    with pytest.raises(ArticleNotFound, match="nope"):
        remove_articles(["weather", "nope"], index_dir)
    assert generation(index_dir) == before
    assert "weather" in ids_in(index_dir)


def test_removing_everything_leaves_an_empty_searchable_index(index_dir: Path) -> None:
    remove_articles([a.id for a in ARTICLES], index_dir)
    searcher = Searcher.load(index_dir, FakeEmbedder())
    assert searcher.manifest.articles == 0 and searcher.manifest.passages == 0
    assert searcher.search("anything", min_score=-1.0).hits == []
    assert add_articles([NEW], index_dir, FakeEmbedder()).articles == 1


def test_add_needs_an_index_built_with_the_same_model(tmp_path: Path, index_dir: Path) -> None:
    with pytest.raises(IndexMissing, match="policy-search index"):
        add_articles([NEW], tmp_path / "none", FakeEmbedder())
    with pytest.raises(IndexMismatch, match="policy-search index"):
        add_articles([NEW], index_dir, FakeEmbedder(model_id="other/model"))


def test_index_with_another_model_rebuilds_everything(index_dir: Path) -> None:
    other = CountingEmbedder()
    other.model_id = "other/model"
    report = build_index(ARTICLES, index_dir, other)
    assert other.embedded == report.embedded == report.passages
    assert Searcher.load(index_dir, other).manifest.model_id == "other/model"


def test_index_rebuilds_over_an_outdated_or_damaged_index(index_dir: Path, embedder) -> None:
    from policy_search.index.storage.catalog import Catalog
    from policy_search.index.storage.store import CATALOG

    catalog = Catalog(index_dir / CATALOG, readonly=False)
    with catalog.transaction():
        catalog.set_meta("manifest", {**catalog.meta("manifest"), "format_version": 1})
    catalog.close()
    with pytest.raises(IndexMismatch, match="format version 1"):
        add_articles([NEW], index_dir, embedder)
    report = build_index(ARTICLES, index_dir, embedder)
    assert report.embedded == report.passages and report.articles == 3
    (index_dir / CATALOG).write_bytes(b"broken" * 1000)
    assert build_index(ARTICLES, index_dir, embedder).articles == 3


def test_an_add_that_may_not_replace_refuses_an_existing_id(index_dir: Path, embedder) -> None:
    from policy_search.index.errors import ArticleExists

    before = generation(index_dir)
    with pytest.raises(ArticleExists, match="corridor"):
        add_articles([NEW, ARTICLES[0]], index_dir, embedder, replace=False)
    assert generation(index_dir) == before and embedder.embedded == 0
    assert add_articles([NEW], index_dir, embedder, replace=False).added == ["new"]


FORMAT_5 = (
    Path(__file__).resolve().parents[2] / "data" / "format5-index"
)  # built by the format-5 code


def test_a_format_5_index_is_refused_with_advice_then_upgraded_keeping_vectors(
    tmp_path: Path, embedder
) -> None:
    from policy_search.index.storage.upgrade import upgrade

    old = tmp_path / "old"
    shutil.copytree(FORMAT_5, old)
    with pytest.raises(IndexMismatch, match="policy-search upgrade"):
        Searcher.load(old, FakeEmbedder())
    fresh = tmp_path / "fresh"
    build_index(ARTICLES, fresh, FakeEmbedder())
    expected = Searcher.load(fresh, FakeEmbedder()).search("Caspian Sea route", k=10)
    assert upgrade(old) == 2  # the catalog of format 7 (1), then its postings re-analysed (2)
    upgraded = Searcher.load(old, FakeEmbedder())
    got = upgraded.search("Caspian Sea route", k=10)
    assert [(h.article.id, h.passage.text, h.score) for h in got.hits] == [
        (h.article.id, h.passage.text, h.score) for h in expected.hits
    ]
    assert upgraded.article("corridor").text == ARTICLES[0].text
    report = add_articles([NEW], old, embedder)
    assert embedder.embedded == 1 and report.generation == 3
    assert "new" in {
        h.article.id for h in Searcher.load(old, FakeEmbedder()).search("Caspian").hits
    }
    assert upgrade(old) is None


def test_a_write_upgrades_a_format_5_index_first(tmp_path: Path, embedder) -> None:
    old = tmp_path / "old"
    shutil.copytree(FORMAT_5, old)
    report = remove_articles(["weather"], old)
    assert report.articles == 2
    assert "weather" not in ids_in(old)
