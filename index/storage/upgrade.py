"""Upgrade an index of format 5, 6 or 7 to the current format (8), in place and without
re-embedding: each step below is one commit, so a crash between two leaves an index of an
upgradable format, whole, which the next upgrade carries on from.

Format 7 lacks the analyzer's record (its postings are Snowball's stems of plain words): every
live segment's postings are made anew by this program's analyzer from the passages' text in the
catalog, their vectors untouched (index/storage/reanalyze.py). So is an index of format 8 analysed
by a stemmer version other than the one installed.

Format 6 lacks the countries each passage names: they are found in every live passage's text
(index/analysis/countries.py) and written with the manifest's new format in one transaction of the
catalog, under the writer lock: a crash leaves format 6 or 7, whole, and vectors, postings and
the generation are untouched.

Format 5 kept each generation whole: `CURRENT` naming `generations/gen-N/` with its
store.sqlite, vectors.faiss and lexical/ postings. The live generation's vectors and postings
become the index's one segment (copied, so the old files stay valid until the end), and a copy of
its store becomes the catalog, with the tables of format 6 and 7 (and format 7's number). The
catalog's appearance under its final name is the step that publishes that step; the old
generations are removed after it (or by the next write, if a crash came between). Formats before
5 are rebuilt.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import numpy as np

from policy_search.index.analysis.chunk import ChunkSettings
from policy_search.index.analysis.countries import detector
from policy_search.index.analysis.stemmers import STEMMERS
from policy_search.index.defaults import WRITER_WAIT
from policy_search.index.errors import IndexCorrupt, IndexMismatch
from policy_search.index.storage.catalog import (
    Catalog,
    SegmentRow,
    add_country_table,
    adopt_store,
    store_passages,
)
from policy_search.index.storage.lexical import LexicalSettings
from policy_search.index.storage.manifest import FORMAT_VERSION
from policy_search.index.storage.reanalyze import Tokenizer, reanalyze_locked, title_prefixes
from policy_search.index.storage.segment import (
    ARTICLES,
    LEXICAL,
    VECTORS,
    StagedSegment,
    file_sums,
    fsync_dir,
)
from policy_search.index.storage.store import (
    CATALOG,
    LEGACY_POINTER,
    legacy,
    new_segment_name,
    save_quantizer,
    segments_dir,
    writer_lock,
)
from policy_search.index.storage.vectors import kind_described, vector_kind

__all__ = ["upgrade", "upgrade_locked"]

_GENERATIONS = "generations"


_COUNTRIES = 7  # the format that added countries, and the last before the analyzer's record


def upgrade(
    index_dir: Path, *, embedder: Tokenizer = None, wait: float = WRITER_WAIT
) -> int | None:
    """Take the writer lock and upgrade (see upgrade_locked)."""
    with writer_lock(index_dir, wait=wait):
        return upgrade_locked(index_dir, embedder=embedder)


def upgrade_locked(index_dir: Path, *, embedder: Tokenizer = None) -> int | None:
    """Upgrade an index of format 5, 6 or 7 (or one analysed by another version of its
    stemmer); its generation, or None when there was nothing to upgrade. `embedder`: the
    index's model, or what loads it, whose tokenizer cuts long titles (reanalyze.Tokenizer).
    The caller holds the writer lock."""
    steps: list[int | None] = [_from_generations(index_dir)] if legacy(index_dir) else []
    _drop_legacy(index_dir)  # a crash after the last upgrade's publish left them
    steps += [_add_countries(index_dir), _reanalyze(index_dir, embedder)]
    done = [step for step in steps if step is not None]
    return done[-1] if done else None


def _from_generations(index_dir: Path) -> int:
    """Bring a format-5 index (generations) to format 7 (the module's docstring)."""
    pointer = index_dir / LEGACY_POINTER
    generation = index_dir / _GENERATIONS / pointer.read_text(encoding="utf-8").strip()
    try:
        data = json.loads((generation / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(
            f"{generation} is unreadable ({exc}); rebuild with `policy-search index`"
        ) from None
    version = data.get("format_version") if isinstance(data, dict) else None
    if version != 5:  # the one format kept in generations that can be upgraded
        raise IndexMismatch(
            f"the index at {index_dir} has format version {version}, which cannot be upgraded; "
            f"rebuild it with `policy-search index --index-dir {index_dir}`"
        )
    ids, articles = store_passages(generation / "store.sqlite")
    lexical_ids = np.load(generation / LEXICAL / "ids.npy")
    order = np.searchsorted(ids, lexical_ids)
    if len(ids) != len(lexical_ids) or not np.array_equal(ids[order], lexical_ids):
        raise IndexCorrupt(f"{generation} holds other passages in its store and postings; rebuild")
    name = new_segment_name()
    with StagedSegment(segments_dir(index_dir), name) as staged:
        shutil.copyfile(generation / VECTORS, staged.path / VECTORS)
        shutil.copytree(generation / LEXICAL, staged.path / LEXICAL)
        np.save(staged.path / ARTICLES, articles[order])
        files = file_sums(staged.path)
        staged.publish()
    extra = dict(data.get("extra") or {})
    kind = vector_kind(kind_described(str(data.get("faiss_index", ""))))  # format 5 kept no kind
    if kind.trains:
        import faiss

        quantizer = faiss.read_index(str(generation / VECTORS))
        quantizer.reset()  # the trained lists, emptied: what later segments start from
        extra["quantizer"] = save_quantizer(index_dir, quantizer)
    data.update(format_version=_COUNTRIES, extra=extra, vector_kind=kind.name)
    draft = index_dir / f"{CATALOG}.tmp"
    shutil.copyfile(generation / "store.sqlite", draft)
    adopt_store(draft, SegmentRow(name, len(lexical_ids), files, 0), data, detector().detect)
    _write_ahead(draft)
    with open(draft, "rb") as handle:
        os.fsync(handle.fileno())
    os.rename(draft, index_dir / CATALOG)  # the upgrade is published
    fsync_dir(index_dir)
    _drop_legacy(index_dir)
    return int(data["generation"])


def _add_countries(index_dir: Path) -> int | None:
    """Bring a format-6 catalog to format 7 (the module's docstring); its generation, or None
    when it is of another format (or there is none: loading it says what to do)."""
    if not (index_dir / CATALOG).is_file():
        return None
    catalog = Catalog(index_dir / CATALOG, readonly=False)
    try:
        with catalog.transaction():
            manifest = catalog.meta("manifest")
            if not isinstance(manifest, dict) or manifest.get("format_version") != 6:
                return None
            add_country_table(catalog.conn, detector().detect)
            catalog.set_meta("manifest", {**manifest, "format_version": _COUNTRIES})
        return int(catalog.meta("generation", 0))
    finally:
        catalog.close()


def _reanalyze(index_dir: Path, embedder: Tokenizer) -> int | None:
    """Re-analyse a format-7 index, or a format-8 one whose stemmer's installed version is
    another (the module's docstring); its generation, or None when there is nothing to do."""
    if not (index_dir / CATALOG).is_file():
        return None
    catalog = Catalog(index_dir / CATALOG, readonly=True)
    try:
        with catalog.reading():
            manifest = catalog.meta("manifest")
    finally:
        catalog.close()
    if not isinstance(manifest, dict) or not isinstance(manifest.get("lexical"), dict):
        return None
    version = manifest.get("format_version")
    kept = {k: manifest["lexical"][k] for k in ("k1", "b", "language") if k in manifest["lexical"]}
    if version == _COUNTRIES:
        target = LexicalSettings(**kept)  # this program's analyzer
    elif version == FORMAT_VERSION:
        try:
            recorded = LexicalSettings(**manifest["lexical"])
        except TypeError:
            return None  # unreadable: opening it says so
        if recorded.current():
            return None
        known = recorded.stemmer in STEMMERS  # the same stemmer, installed now; else ours
        target = recorded.with_analyzer(recorded.stemmer) if known else LexicalSettings(**kept)
    else:
        return None
    try:
        chunking = ChunkSettings(**manifest["chunking"])
    except (KeyError, TypeError):
        return None
    return reanalyze_locked(index_dir, manifest, target, title_prefixes(chunking, embedder))


def _write_ahead(path: Path) -> None:
    """Put the catalog in WAL mode now, as a new one is made: switching later, in a writer,
    would wait for every reader to let go of it."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
    finally:
        conn.close()


def _drop_legacy(index_dir: Path) -> None:
    if (index_dir / CATALOG).is_file():
        (index_dir / LEGACY_POINTER).unlink(missing_ok=True)
        shutil.rmtree(index_dir / _GENERATIONS, ignore_errors=True)
    (index_dir / f"{CATALOG}.tmp").unlink(missing_ok=True)
