"""A sharded index: S ordinary indexes side by side, the articles split by a hash of their id.

    <index dir>/
        shards.json              the shard set: {"format": 1, "shards": ["shard-000-…", …]}
        shard-000-<build>/       an ordinary index (index/storage/store.py): its own segments and
        catalog …

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
import dataclasses
import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from policy_search.index.analysis.chunk import ChunkSettings, embed_text
from policy_search.index.analysis.embed import Embedder
from policy_search.index.errors import CorpusError, IndexCorrupt, IndexInternalError, IndexMismatch
from policy_search.index.readers.article import Article
from policy_search.index.storage.lexical import Analyzer, LexicalSettings
from policy_search.index.storage.segment import fsync_dir
from policy_search.index.storage.store import exists
from policy_search.index.storage.transaction import (
    Prepared,
    PreparedArticle,
    prepare_article,
    unique,
)
from policy_search.index.storage.writer import BuildReport

__all__ = [
    "MAX_SHARDS", "SHARDS_FILE", "PreparedModel", "ShardJob", "ShardSet", "build_shard",
    "build_sharded", "first_passage_ids", "is_sharded", "next_passage_id", "shard_of",
]  # fmt: skip

T = TypeVar("T")
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

    def split(self, items: Iterable[T], article_id: Callable[[T], str]) -> list[list[T]]:
        """`items` by the shard that owns each one's article, in their order, one list a shard
        (empty where it owns none)."""
        owned: list[list[T]] = [[] for _ in self.dirs]
        for item in items:
            owned[self.owner(article_id(item))].append(item)
        return owned

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


# -- building a shard set ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShardJob:
    """One shard's build: its articles, prepared with their chunks and vectors, and the ids of
    their passages. Self-contained and picklable, so that a Ray task can run it (no model:
    everything is embedded before the set is split)."""

    index_dir: Path
    articles: tuple[Article, ...]
    prepared: Prepared
    passage_ids: dict[str, int]
    dim: int
    vectors: str | None = None  # the kind of vector index (vectors.VECTOR_INDEXES)


def next_passage_id(shard_set: ShardSet) -> int:
    """The lowest passage id above every id any shard ever used: the `first_passage_id` of a
    later write to any shard, so that passage ids stay unique across the set."""
    from policy_search.index.storage.store import open_catalog

    highest = 1
    for directory in shard_set.dirs:
        catalog = open_catalog(directory, readonly=True)
        try:
            highest = max(highest, catalog.next_passage_id())
        finally:
            catalog.close()
    return highest


def first_passage_ids(
    prepared: Mapping[str, PreparedArticle], order: Sequence[str]
) -> dict[str, int]:
    """Article id → the id of its first passage, as one new index of these articles in this
    order numbers them (from 1, article after article, passage after passage)."""
    ids: dict[str, int] = {}
    next_id = 1
    for aid in order:
        ids[aid] = next_id
        next_id += len(prepared[aid].passages)
    return ids


def build_sharded(
    articles: Sequence[Article],
    index_dir: Path,
    embedder: Embedder,
    *,
    shards: int,
    settings: ChunkSettings | None = None,
    lexical: LexicalSettings | None = None,
    batch_size: int = 64,
    vectors: str | None = None,
    run: Callable[[list[ShardJob]], list[BuildReport]] | None = None,
) -> BuildReport:
    """Build `index_dir` as `shards` shards holding exactly `articles`, published at once.

    Every article is chunked and every passage embedded in one call, as one index over all of
    them would, so each shard's vectors and passage ids are that index's. Then each shard is
    built as an ordinary index of its articles: `run` runs the jobs, else one after another
    here. A failure anywhere leaves the previous set served. (A Ray ingest streams instead:
    index/distributed/ray_ingest.py.)
    """
    started = time.perf_counter()
    kept = unique(articles)
    if not kept:
        raise CorpusError("no articles found: nothing to index")
    settings, lexical = settings or ChunkSettings(), lexical or LexicalSettings()
    made = _embedded(kept, embedder, settings, lexical, batch_size)
    ids = first_passage_ids(made, [a.id for a in kept])
    shard_set = ShardSet.fresh(index_dir, shards)
    owned = shard_set.split(kept, lambda a: a.id)
    jobs = [
        ShardJob(
            directory, tuple(mine),
            Prepared(embedder.model_id, settings, lexical, {a.id: made[a.id] for a in mine}),
            {a.id: ids[a.id] for a in mine}, embedder.dim, vectors,
        )
        for directory, mine in zip(shard_set.dirs, owned, strict=True)
    ]  # fmt: skip
    try:
        reports = (run or _run_here)(jobs)
        shard_set.publish()
    except BaseException:
        shard_set.discard()
        raise
    passages = sum(r.passages for r in reports)
    # As a sharded index counts them (search/shards.py): generations added up, the whole time.
    return BuildReport(
        index_dir, sum(r.generation for r in reports), len(kept), passages,
        time.perf_counter() - started, added=[a.id for a in kept], embedded=passages,
    )  # fmt: skip


def _embedded(
    articles: list[Article],
    embedder: Embedder,
    settings: ChunkSettings,
    lexical: LexicalSettings,
    batch_size: int,
) -> dict[str, PreparedArticle]:
    """Every article's chunks with their vectors, embedded in one call over all of them."""
    analyzer = Analyzer.of(lexical)
    chunked = [prepare_article(a, embedder, settings, analyzer) for a in articles]
    texts = [embed_text(r.prefix, p.text) for r in chunked for p in r.passages]
    vectors = embedder.encode(texts, batch_size=batch_size)
    made: dict[str, PreparedArticle] = {}
    start = 0
    for article, ready in zip(articles, chunked, strict=True):
        end = start + len(ready.passages)
        made[article.id] = dataclasses.replace(ready, vectors=vectors[start:end])
        start = end
    return made


def _run_here(jobs: list[ShardJob]) -> list[BuildReport]:
    return [build_shard(job) for job in jobs]


def build_shard(job: ShardJob) -> BuildReport:
    """Build one shard as an ordinary index from its prepared articles (no model needed)."""
    from policy_search.index.storage.writer import IndexWriter, OpenMode, WriteOptions

    settings, lexical = job.prepared.settings, job.prepared.lexical
    options = WriteOptions(
        settings=settings, lexical=lexical, vectors=job.vectors, prepared=job.prepared,
        passage_ids=job.passage_ids,
    )  # fmt: skip
    model = PreparedModel(job.prepared.model_id, job.dim)
    with IndexWriter.open(job.index_dir, model, mode=OpenMode.REBUILD, options=options) as writer:
        writer.keep_only(a.id for a in job.articles)
        writer.upsert(job.articles)
        return writer.commit()


class PreparedModel:
    """Stands for the model in a write whose articles all come prepared with their vectors:
    it names the model and its dimension, and refuses any other work (a bug if asked)."""

    special_tokens = 2
    max_tokens = 0

    def __init__(self, model_id: str, dim: int) -> None:
        self.model_id = model_id
        self.dim = dim

    def token_spans(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        raise IndexInternalError("a write of prepared articles tried to chunk one")

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False
    ) -> np.ndarray:
        raise IndexInternalError("a write of prepared articles tried to embed one")
