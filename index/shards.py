"""A sharded index: S ordinary indexes side by side, the articles split by a hash of their id.

    <index dir>/
        shards.json              the shard set: {"format": 1, "shards": ["shard-000-…", …]}
        shard-000-<build>/       an ordinary index (index/store.py): its own segments and catalog
        …

Each article lives in exactly one shard, `shard_of(article id, S)`, so every write of an
article goes to one shard's writer and commits there. Passage ids are unique across the set:
a build numbers passages as one index over the same articles would, and a later write takes
ids above every shard's (WriteOptions.first_passage_id), so a sharded index ranks exactly as
one index (ties between equal scores are broken by passage id).

`shards.json` is the set's commit point for builds: a rebuild writes new shard folders under
a fresh build tag and then replaces the file in one rename, so readers see the old set or the
new one, never a mix; the old folders go once it is replaced.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from policy_search.index.errors import IndexCorrupt, IndexMismatch
from policy_search.index.segment import fsync_dir
from policy_search.index.store import exists

__all__ = ["MAX_SHARDS", "SHARDS_FILE", "ShardSet", "is_sharded", "shard_of"]

SHARDS_FILE = "shards.json"
FORMAT = 1
MAX_SHARDS = 256


def shard_of(article_id: str, count: int) -> int:
    """The shard that owns an article: a stable hash of its id (the same on every machine and
    every Python, unlike `hash`), modulo the shard count."""
    digest = hashlib.blake2b(article_id.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count


def is_sharded(index_dir: Path) -> bool:
    """Whether `index_dir` holds a sharded index."""
    return (index_dir / SHARDS_FILE).is_file()


@dataclass(frozen=True, slots=True)
class ShardSet:
    """The shards of a sharded index, in shard order (shard i owns `shard_of(id, S) == i`)."""

    root: Path
    dirs: tuple[Path, ...]

    @property
    def count(self) -> int:
        return len(self.dirs)

    def owner(self, article_id: str) -> int:
        """The shard number that holds (or will hold) this article."""
        return shard_of(article_id, self.count)

    @classmethod
    def open(cls, index_dir: Path) -> ShardSet:
        """The shard set of `index_dir`, checked: every shard it names is an index there."""
        path = index_dir / SHARDS_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            names = data["shards"]
            if data.get("format") != FORMAT or not isinstance(names, list) or not names:
                raise ValueError("not a shard list of format 1")
            if not all(isinstance(n, str) and n and "/" not in n for n in names):
                raise ValueError("a shard name is not a folder name")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexCorrupt(
                f"the shard list {path} is unreadable ({exc}); rebuild with "
                "`policy-search index --shards S`"
            ) from None
        dirs = tuple(index_dir / name for name in names)
        missing = [d.name for d in dirs if not exists(d)]
        if missing:
            raise IndexMismatch(
                f"the sharded index at {index_dir} lacks shard {missing[0]} of {len(dirs)}; "
                "rebuild it with `policy-search index --shards S`"
            )
        return cls(index_dir, dirs)

    @classmethod
    def fresh(cls, index_dir: Path, count: int) -> ShardSet:
        """New, empty shard folders for a build of `count` shards (not yet the set's: `publish`
        makes them so)."""
        if not 1 <= count <= MAX_SHARDS:
            raise ValueError(f"the shard count must be between 1 and {MAX_SHARDS}, not {count}")
        if exists(index_dir):
            raise IndexMismatch(
                f"{index_dir} holds an index of one shard; build the sharded index in another "
                "--index-dir"
            )
        build = uuid.uuid4().hex[:8]
        dirs = tuple(index_dir / f"shard-{i:03d}-{build}" for i in range(count))
        return cls(index_dir, dirs)

    def publish(self) -> None:
        """Make these shards the set of `root` in one rename; remove the folders of the set
        they replace (a reader holding them keeps its open files)."""
        old: tuple[Path, ...] = ()
        if is_sharded(self.root):
            with contextlib.suppress(IndexCorrupt, IndexMismatch):
                old = ShardSet.open(self.root).dirs
        staged = self.root / f"{SHARDS_FILE}.{uuid.uuid4().hex[:8]}.tmp"
        body = json.dumps({"format": FORMAT, "shards": [d.name for d in self.dirs]}, indent=1)
        with open(staged, "w", encoding="utf-8") as handle:
            handle.write(body + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(staged, self.root / SHARDS_FILE)
        fsync_dir(self.root)
        for stale in old:
            if stale not in self.dirs:
                shutil.rmtree(stale, ignore_errors=True)

    def discard(self) -> None:
        """Remove these shard folders (a build that failed before `publish`)."""
        for directory in self.dirs:
            shutil.rmtree(directory, ignore_errors=True)
