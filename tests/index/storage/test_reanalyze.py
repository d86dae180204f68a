"""Format 8: the analyzer recorded in the manifest, and an index re-analysed in place (its
postings made anew from the catalog's text, its vectors untouched) by `upgrade` and by writes."""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from policy_search.index.build import add_articles, build_index, remove_articles
from policy_search.index.distributed.shards import ShardSet, build_sharded
from policy_search.index.errors import IndexMismatch
from policy_search.index.readers.article import Article
from policy_search.index.storage.lexical import Analyzer, LexicalIndex, LexicalSettings
from policy_search.index.storage.manifest import FORMAT_VERSION
from policy_search.index.storage.reanalyze import reanalyze
from policy_search.index.storage.store import CATALOG, manifest_of, segments_dir
from policy_search.index.storage.upgrade import upgrade
from policy_search.search.searcher import Searcher
from tests.conftest import ARTICLES
from tests.fakes import FakeEmbedder

SNOWBALL = LexicalSettings().with_analyzer("snowball")
FORMAT_7 = replace(SNOWBALL, analysis=1)  # what format 7 indexed: plain words, Snowball

MORE = [
    Article(id="accordance", title="Procedure",
            text="In accordance with the rules, and according to the chair, it stood."),
    Article(id="nations", title="The United Nations",
            text="Nations met. National pride and nationalism rose; the treaties held."),
    Article(id="npt", title="Arms control",
            text="The non-proliferation treaty binds them; proliferation goes on elsewhere."),
]  # fmt: skip


def as_format_7(index_dir: Path) -> None:
    """What the code of format 7 left: Snowball's postings of plain words (the same chain, as
    analysis 1) and a manifest of format 7 with no analyzer recorded."""
    conn = sqlite3.connect(index_dir / CATALOG)
    try:
        conn.execute(
            "UPDATE meta SET value = json_set(value, '$.format_version', 7, "
            "'$.lexical', json(?)) WHERE key = 'manifest'",
            ('{"k1": 1.2, "b": 0.5, "language": "english"}',),
        )
        conn.commit()
    finally:
        conn.close()


@pytest.fixture
def old_index(tmp_path: Path) -> Path:
    """An index as format 7 built it, with a deleted article (a tombstone) among its rows."""
    index_dir = tmp_path / "old"
    build_index(ARTICLES + MORE, index_dir, FakeEmbedder(), lexical=FORMAT_7, merge=False)
    remove_articles(["weather"], index_dir)
    as_format_7(index_dir)
    return index_dir


def files_named(index_dir: Path, name: str) -> list[bytes]:
    return sorted(p.read_bytes() for p in segments_dir(index_dir).rglob(name))


def lexical_ids(index_dir: Path, query: str) -> list[str]:
    result = Searcher.load(index_dir, FakeEmbedder()).search(query, k=10, mode="lexical")
    return sorted(h.article.id for h in result.hits)


def test_a_format_7_index_is_refused_then_upgraded_in_place_keeping_its_vectors(
    old_index: Path, tmp_path: Path
) -> None:
    with pytest.raises(IndexMismatch, match="policy-search upgrade"):
        Searcher.load(old_index, FakeEmbedder())
    vectors, articles = (
        files_named(old_index, "vectors.faiss"),
        files_named(old_index, "articles.npy"),
    )
    before = manifest_of_raw(old_index)
    generation = upgrade(old_index)
    assert generation == before["generation"] + 1
    assert files_named(old_index, "vectors.faiss") == vectors  # byte for byte: not re-embedded
    assert files_named(old_index, "articles.npy") == articles
    manifest = manifest_of(old_index)
    assert manifest.format_version == FORMAT_VERSION and manifest.lexical == LexicalSettings()
    # The new stems: inflections meet, derivations and hyphenated prefixes do not.
    assert lexical_ids(old_index, "accords") == ["accords"]
    assert lexical_ids(old_index, "nations") == ["nations"]
    assert lexical_ids(old_index, "treaty") == ["nations", "npt"]
    assert lexical_ids(old_index, "nonproliferation") == ["npt"]
    assert lexical_ids(old_index, "rain") == []  # the deleted article stays deleted
    # The same results as an index built anew with this analyzer.
    fresh = tmp_path / "fresh"
    build_index(ARTICLES + MORE, fresh, FakeEmbedder())
    remove_articles(["weather"], fresh)
    for query in ("Caspian route", "accords of nations", "non-proliferation treaty"):
        got = Searcher.load(old_index, FakeEmbedder()).search(query, k=10, mode="lexical")
        want = Searcher.load(fresh, FakeEmbedder()).search(query, k=10, mode="lexical")
        assert [(h.article.id, h.score) for h in got.hits] == [
            (h.article.id, h.score) for h in want.hits
        ]
    assert upgrade(old_index) is None  # nothing more to do


def manifest_of_raw(index_dir: Path) -> dict:
    import json

    conn = sqlite3.connect(index_dir / CATALOG)
    try:
        (value,) = conn.execute("SELECT value FROM meta WHERE key = 'manifest'").fetchone()
    finally:
        conn.close()
    return dict(json.loads(value))


def test_a_write_upgrades_first(old_index: Path) -> None:
    add_articles([replace(ARTICLES[2], id="rain")], old_index, FakeEmbedder())
    assert manifest_of(old_index).lexical == LexicalSettings()
    assert lexical_ids(old_index, "accords") == ["accords"]
    assert lexical_ids(old_index, "rain") == ["rain"]


def test_a_crash_before_the_commit_leaves_the_old_index_whole(
    old_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    segments = sorted(p.name for p in segments_dir(old_index).iterdir())

    def crash(self: LexicalIndex, directory: Path) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(LexicalIndex, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        upgrade(old_index)
    monkeypatch.undo()
    assert manifest_of_raw(old_index)["format_version"] == 7
    assert sorted(p.name for p in segments_dir(old_index).iterdir()) == segments
    assert upgrade(old_index) is not None
    assert lexical_ids(old_index, "accords") == ["accords"]


def test_an_index_of_another_stemmer_version_is_refused_with_advice(old_index: Path) -> None:
    upgrade(old_index)
    conn = sqlite3.connect(old_index / CATALOG)
    conn.execute(
        "UPDATE meta SET value = json_set(value, '$.lexical.stemmer_version', '0.1') "
        "WHERE key = 'manifest'"
    )
    conn.commit()
    conn.close()
    with pytest.raises(IndexMismatch, match=r"krovetz 0\.1.*policy-search upgrade --index-dir"):
        Searcher.load(old_index, FakeEmbedder())
    assert upgrade(old_index) is not None
    assert manifest_of(old_index).lexical == LexicalSettings()


def test_another_registered_analyzer_is_searched_with_its_own(old_index: Path) -> None:
    """An index analysed by another stemmer this program has (Snowball, here) is searched with
    that stemmer, queries and passages alike, never mixed with the default."""
    upgrade(old_index)
    reanalyze(old_index, SNOWBALL)
    searcher = Searcher.load(old_index, FakeEmbedder())
    assert searcher.analyzer.stemmer == "snowball" and searcher.manifest.lexical == SNOWBALL
    assert lexical_ids(old_index, "accords") == ["accordance", "accords"]  # Snowball's accord
    with pytest.raises(ValueError, match="not the one"):
        reanalyze(old_index, LexicalSettings(), analyzer=Analyzer(stemmer="snowball"))


def test_a_sharded_index_upgrades_shard_by_shard(tmp_path: Path) -> None:
    root = tmp_path / "sharded"
    build_sharded(ARTICLES + MORE, root, FakeEmbedder(), shards=2, lexical=FORMAT_7)
    dirs = ShardSet.open(root).dirs
    for directory in dirs:
        as_format_7(directory)
    with pytest.raises(IndexMismatch):
        Searcher.load(root, FakeEmbedder())
    vectors = [files_named(d, "vectors.faiss") for d in dirs]
    upgrade(dirs[0])
    with pytest.raises(IndexMismatch):  # one shard upgraded, one not: never mixed
        Searcher.load(root, FakeEmbedder())
    upgrade(dirs[1])
    assert [files_named(d, "vectors.faiss") for d in dirs] == vectors
    assert lexical_ids(root, "accords") == ["accords"]


def test_settings_record_the_analyzer() -> None:
    recorded = asdict(LexicalSettings())
    assert recorded["stemmer"] == "krovetz" and recorded["stemmer_version"]
    assert recorded["analysis"] == 2 and LexicalSettings().current()
    assert not replace(LexicalSettings(), stemmer_version="0").current()
