"""Upgrade an index of an older format in place, as a new generation, without re-embedding.

Format 3 kept each passage's analyzed words in the store (`passages.terms`) and a bm25s index
of precomputed scores; format 4 keeps term-frequency postings (index.lexical) and no words in
the store; format 5 also compresses article texts (`articles.body`). The upgrade builds the
postings from the stored words (from 3), compresses the texts (from 3 and 4), compacts the store
and keeps the vectors as they are. Every write upgrades first; `policy-search upgrade` does it
alone.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from index.errors import IndexCorrupt, IndexMissing
from index.lexical import LexicalIndex, LexicalSettings
from index.manifest import FORMAT_VERSION, MANIFEST_NAME
from index.store import (
    LEXICAL,
    STORE,
    VECTORS,
    current_generation,
    new_generation,
    open_store,
    pack_text,
    writer_lock,
)

__all__ = ["UPGRADABLE", "upgrade", "upgrade_locked"]

UPGRADABLE = (3, 4)  # the older formats that can be upgraded


def upgrade(index_dir: Path, *, wait: float = 60.0) -> int | None:
    """Take the writer lock and upgrade (see upgrade_locked)."""
    with writer_lock(index_dir, wait=wait):
        return upgrade_locked(index_dir)


def upgrade_locked(index_dir: Path) -> int | None:
    """Upgrade the live generation if it is format 3 or 4; the new generation, or None.

    The caller holds the writer lock.
    """
    try:
        generation = current_generation(index_dir)
        data = json.loads((generation / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (IndexMissing, IndexCorrupt, OSError, ValueError):
        return None  # nothing there, or damaged: the caller's own checks say so
    version = data.get("format_version") if isinstance(data, dict) else None
    if version not in UPGRADABLE:
        return None
    with new_generation(index_dir) as (number, staging):
        shutil.copyfile(generation / STORE, staging / STORE)
        shutil.copyfile(generation / VECTORS, staging / VECTORS)
        conn = open_store(staging / STORE, readonly=False)
        try:
            if version == 3:
                rows = conn.execute("SELECT id, terms FROM passages ORDER BY id").fetchall()
                ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
                settings = LexicalSettings(**data["lexical"])
                lexical = LexicalIndex.from_terms([r[1].split() for r in rows], ids, settings)
                lexical.save(staging / LEXICAL)
                conn.execute("ALTER TABLE passages DROP COLUMN terms")
            else:
                shutil.copytree(generation / LEXICAL, staging / LEXICAL)
            conn.create_function("pack_text", 1, pack_text, deterministic=True)
            conn.execute("ALTER TABLE articles ADD COLUMN body BLOB NOT NULL DEFAULT x''")
            conn.execute("UPDATE articles SET body = pack_text(text)")
            conn.execute("ALTER TABLE articles DROP COLUMN text")
            conn.commit()
            conn.execute("VACUUM")
        finally:
            conn.close()
        data.update(format_version=FORMAT_VERSION, generation=number)
        (staging / MANIFEST_NAME).write_text(
            json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
    return number
