"""A build streamed in (index/storage/bulk.py): batch after batch, a segment staged whenever enough
passages have gathered, one commit; what it makes is `build_index`'s, and until the commit the
index is the one it was."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import pytest

from policy_search.index.analysis.chunk import ChunkSettings, embed_text
from policy_search.index.build import build_index
from policy_search.index.readers import read_paths
from policy_search.index.readers.article import Article
from policy_search.index.storage.bulk import Arrival, BulkWriter
from policy_search.index.storage.lexical import Analyzer, LexicalSettings
from policy_search.index.storage.store import open_catalog, segments_dir
from policy_search.index.storage.transaction import prepare_article
from tests.conftest import CORPUS
from tests.fakes import FakeEmbedder
from tests.index_dump import dump


def _articles(n: int) -> list[Article]:
    return list(read_paths(sorted((CORPUS / "un-general-debates").glob("*.md"))[:n]))


def _arrivals(articles: Sequence[Article], embedder: FakeEmbedder) -> list[Arrival]:
    """Each article chunked and embedded, as a Ray actor hands it over (no passage ids)."""
    analyzer = Analyzer.of(LexicalSettings())
    out: list[Arrival] = []
    for article in articles:
        ready = prepare_article(article, embedder, ChunkSettings(), analyzer)
        texts = [embed_text(ready.prefix, p.text) for p in ready.passages]
        vectors = embedder.encode(texts, batch_size=64)
        out.append((article, dataclasses.replace(ready, vectors=vectors), None))
    return out


def _bulk(index_dir: Path, embedder: FakeEmbedder, segment_passages: int) -> BulkWriter:
    return BulkWriter.begin(
        index_dir, model_id=embedder.model_id, dim=embedder.dim, settings=ChunkSettings(),
        lexical=LexicalSettings(), segment_passages=segment_passages,
    )  # fmt: skip


def _segments(index_dir: Path) -> int:
    catalog = open_catalog(index_dir, readonly=True)
    try:
        return len(catalog.segments())
    finally:
        catalog.close()


def test_a_streamed_build_is_build_index_s_in_segments(
    tmp_path: Path, fake_embedder: FakeEmbedder
) -> None:
    articles = _articles(8)
    local = tmp_path / "local"
    build_index(articles, local, fake_embedder, merge=False)
    arrivals = _arrivals(articles, fake_embedder)
    with _bulk(tmp_path / "bulk", fake_embedder, segment_passages=40) as writer:
        for start in range(0, len(arrivals), 3):  # batches as they arrive
            writer.add(arrivals[start : start + 3])
        report = writer.commit()
    assert report.articles == len(articles) and report.embedded == report.passages
    assert _segments(tmp_path / "bulk") > 1  # staged as the passages gathered
    mine, theirs = dump(local), dump(tmp_path / "bulk")
    assert mine.articles == theirs.articles and mine.passages == theirs.passages
    assert all((mine.vectors[i] == theirs.vectors[i]).all() for i in mine.vectors)


def test_a_rebuild_keeps_what_is_unchanged_and_removes_what_did_not_arrive(
    tmp_path: Path, fake_embedder: FakeEmbedder
) -> None:
    articles = _articles(4)
    index_dir = tmp_path / "index"
    build_index(articles[:3], index_dir, fake_embedder)
    edited = dataclasses.replace(articles[1], text=articles[1].text + " One more sentence.")
    with _bulk(index_dir, fake_embedder, segment_passages=1000) as writer:
        writer.add(_arrivals([articles[0], edited, articles[3]], fake_embedder))
        report = writer.commit()
    assert report.unchanged == 1 and report.updated == [edited.id]
    assert report.added == [articles[3].id] and report.removed == [articles[2].id]
    local = tmp_path / "local"
    build_index(articles[:3], local, fake_embedder)
    build_index([articles[0], edited, articles[3]], local, fake_embedder)
    assert dump(local).passages == dump(index_dir).passages


def test_a_bulk_writer_closed_without_a_commit_leaves_the_index(
    tmp_path: Path, fake_embedder: FakeEmbedder
) -> None:
    """Segments staged, then the writer closed (a failed ingest): the index is as it was,
    the staged segments gone."""
    articles = _articles(6)
    index_dir = tmp_path / "index"
    build_index(articles[:1], index_dir, fake_embedder)
    before = dump(index_dir)
    folders = sorted(p.name for p in segments_dir(index_dir).iterdir())
    with _bulk(index_dir, fake_embedder, segment_passages=20) as writer:
        writer.add(_arrivals(articles, fake_embedder))
        assert len(list(segments_dir(index_dir).iterdir())) > len(folders)  # staged
    after = dump(index_dir)
    assert after.passages == before.passages and after.articles == before.articles
    assert sorted(p.name for p in segments_dir(index_dir).iterdir()) == folders
    with pytest.raises(Exception, match="after its commit or close"):
        writer.add([])
