"""Re-analysing an index in place: every segment's BM25 postings made anew by another analyzer
(lexical.Analyzer), from the passages' text in the catalog; vectors untouched, nothing embedded.

An index records its analyzer in its manifest (LexicalSettings: stemmer, its version, the
chain's version), and a searcher refuses an index analysed otherwise than it would analyse a
query. This is how such an index is brought to this program's analyzer (`policy-search
upgrade`, a write, and format 7, which predates the record) or to another one (bench/stemmers.py).

Crash-safe as a merge is: each live segment is rewritten into a new segment folder (its vectors
and articles linked or copied byte for byte, its postings written anew), made durable and
renamed into place, and one transaction of the catalog then names the new segments instead of
the old ones, with the new manifest. A crash before that commit leaves the old index whole (the
orphan folders go with the next writer's clean-up); after it, the new one. Rows keep their order
and passage ids, so tombstones still apply; a deleted row's postings are left empty. The caller
holds the writer lock.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from policy_search.index.analysis.chunk import ChunkSettings, embed_text, title_prefix
from policy_search.index.analysis.embed import Embedder
from policy_search.index.defaults import WRITER_WAIT
from policy_search.index.errors import IndexMismatch
from policy_search.index.storage.catalog import Catalog, SegmentRow, unpack_text
from policy_search.index.storage.lexical import Analyzer, LexicalIndex, LexicalSettings
from policy_search.index.storage.segment import (
    ARTICLES,
    LEXICAL,
    VECTORS,
    StagedSegment,
    file_sums,
    segment_ids,
)
from policy_search.index.storage.store import CATALOG, clean, new_segment_name, segments_dir

__all__ = ["TitlePrefix", "Tokenizer", "reanalyze", "reanalyze_locked", "title_prefixes"]

TitlePrefix = Callable[[str], str]  # an article's title → the part of it indexed with a passage
# The index's model (only its tokenizer is used), or what loads it when first needed.
Tokenizer = Embedder | Callable[[], Embedder] | None
_BATCH = 500  # passage ids a catalog query asks for at once


def title_prefixes(settings: ChunkSettings, embedder: Tokenizer) -> TitlePrefix:
    """The title prefix of each passage's indexed text, as a write makes it (chunk.title_prefix).

    A title of at most `title_tokens` characters is whole (a word piece is a character or
    more); a longer one is cut by the model's tokenizer, so it needs `embedder` (only its
    tokenizer is used; a callable: what loads it, called once if ever), else IndexMismatch says
    how to upgrade with it.
    """
    from policy_search.index.readers.article import Article

    loaded: list[Embedder] = []

    def model() -> Embedder:
        if not loaded:
            if embedder is None:
                raise IndexMismatch(
                    "re-analysing this index needs the model's tokenizer (its titles are "
                    "long); run `policy-search upgrade`, which loads it"
                )
            loaded.append(embedder() if callable(embedder) else embedder)
        return loaded[0]

    def prefix(title: str) -> str:
        if not settings.with_title or len(title) <= settings.title_tokens:
            return title if settings.with_title else ""
        return title_prefix(Article(id="-", title=title, text="-"), model(), settings)

    return prefix


def reanalyze(
    index_dir: Path,
    lexical: LexicalSettings,
    *,
    embedder: Tokenizer = None,
    analyzer: Analyzer | None = None,
    wait: float = WRITER_WAIT,
) -> int:
    """Take the writer lock and re-analyse an index (of this format) with the analyzer of
    `lexical` (or `analyzer`, one that analyses as `lexical` says: a stemmer of no registry,
    as bench/stemmers.py measures); the new generation."""
    from policy_search.index.storage.store import read_manifest, writer_lock

    with writer_lock(index_dir, wait=wait):
        catalog = Catalog(index_dir / CATALOG, readonly=True)
        try:
            with catalog.reading():
                chunking = read_manifest(catalog).chunking  # refuses another format
                manifest = catalog.meta("manifest")
        finally:
            catalog.close()
        prefix = title_prefixes(chunking, embedder)
        return reanalyze_locked(index_dir, manifest, lexical, prefix, analyzer=analyzer)


def reanalyze_locked(
    index_dir: Path,
    manifest: dict[str, Any],
    lexical: LexicalSettings,
    prefix: TitlePrefix,
    *,
    analyzer: Analyzer | None = None,
) -> int:
    """Rewrite every live segment's postings with the analyzer of `lexical` and commit them with
    `manifest` (the catalog's, as JSON: any upgradable format) made format `FORMAT_VERSION` and
    `lexical`; the new generation. The caller holds the writer lock."""
    from policy_search.index.storage.manifest import FORMAT_VERSION

    if analyzer is None:
        analyzer = Analyzer.of(lexical)
    elif not analyzer.analyses(lexical):
        raise ValueError("the analyzer given is not the one the lexical settings name")
    catalog = Catalog(index_dir / CATALOG, readonly=False)
    staged: list[StagedSegment] = []
    try:
        with catalog.reading():
            rows = catalog.segments()
            deleted = catalog.deletions(-1)[0]
        rewritten = []
        for row in rows:
            staging = StagedSegment(segments_dir(index_dir), new_segment_name())
            staged.append(staging)
            rewritten.append(_rewrite(catalog, index_dir, row, deleted, staging, analyzer,
                                      lexical, prefix))  # fmt: skip
        with catalog.transaction():
            if [r.name for r in catalog.segments()] != [r.name for r in rows]:
                raise IndexMismatch(f"the index at {index_dir} changed while it was re-analysed")
            catalog.drop_segments([r.name for r in rows])
            for row in rewritten:
                catalog.add_segment(row)
            generation = int(catalog.meta("generation", 0)) + 1
            data = {**manifest, "format_version": FORMAT_VERSION, "lexical": asdict(lexical),
                    "generation": generation}  # fmt: skip
            catalog.set_meta("manifest", data)
            catalog.set_meta("generation", generation)
        for staging in staged:
            staging.release()
        staged = []
        clean(index_dir, catalog)  # the old segments, once no reader holds them
        return generation
    finally:
        for staging in staged:
            staging.discard()
        catalog.close()


def _rewrite(
    catalog: Catalog,
    index_dir: Path,
    row: SegmentRow,
    deleted: np.ndarray,
    staged: StagedSegment,
    analyzer: Analyzer,
    lexical: LexicalSettings,
    prefix: TitlePrefix,
) -> SegmentRow:
    """One segment with new postings, published (named by no commit yet)."""
    source = segments_dir(index_dir) / row.name
    ids = np.asarray(segment_ids(source))
    texts = _passage_texts(catalog, ids[~np.isin(ids, deleted)], prefix)
    terms = [analyzer.terms(texts[int(pid)]) if int(pid) in texts else [] for pid in ids]
    for name in (VECTORS, ARTICLES):  # the same bytes: a link, or a copy across devices
        try:
            os.link(source / name, staged.path / name)
        except OSError:
            shutil.copyfile(source / name, staged.path / name)
    LexicalIndex.from_terms(terms, ids, lexical).save(staged.path / LEXICAL)
    files = file_sums(staged.path)
    staged.publish()
    return SegmentRow(staged.name, row.passages, files, row.base)


def _passage_texts(catalog: Catalog, ids: np.ndarray, prefix: TitlePrefix) -> dict[int, str]:
    """The indexed text (title prefix and passage) of each of these live passages."""
    texts: dict[int, str] = {}
    for start in range(0, len(ids), _BATCH):
        chunk = [int(pid) for pid in ids[start : start + _BATCH]]
        with catalog.reading():
            found = catalog.passage_spans(chunk)
        article: tuple[int, str, str] | None = None  # (rowid, prefix, text), unpacked once
        for pid, begin, end, rowid, title, body in found:
            if article is None or article[0] != rowid:
                article = (rowid, prefix(title), unpack_text(body))
            texts[pid] = embed_text(article[1], article[2][begin:end])
    return texts
