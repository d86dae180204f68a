"""What an index holds, read the way search reads it, for tests that compare two builds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from policy_search.index.distributed.shards import ShardSet, is_sharded
from policy_search.index.readers.article import Article
from policy_search.index.storage.snapshot import Snapshot

__all__ = ["Dump", "dump"]


@dataclass
class Dump:
    """Passages by id (article id, start, end, text), their vectors by id, and the articles."""

    passages: dict[int, tuple[str, int, int, str]]
    vectors: dict[int, np.ndarray]
    articles: dict[str, Article]

    def matrix(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids ascending, their vectors as one array)."""
        ids = np.array(sorted(self.vectors), dtype=np.int64)
        return ids, np.stack([self.vectors[int(i)] for i in ids])


def dump(index_dir: Path) -> Dump:
    """Everything live in an index, or in every shard of a sharded one (merged by id)."""
    dirs = ShardSet.open(index_dir).dirs if is_sharded(index_dir) else (index_dir,)
    out = Dump({}, {}, {})
    for directory in dirs:
        snap = Snapshot.open(directory)
        try:
            ids = snap.ids[snap.live]
            rows = snap.passage_rows([int(i) for i in ids])
            vectors = snap.vectors(ids)
            for pid, vector in zip(ids.tolist(), vectors, strict=True):
                assert pid not in out.passages, f"passage id {pid} in two shards"
                row = rows[pid]
                out.passages[pid] = (row.article.id, row.start, row.end, row.text)
                out.vectors[pid] = vector
                if row.article.id not in out.articles:
                    article = snap.article(row.article.id)
                    assert article is not None
                    out.articles[row.article.id] = article
        finally:
            snap.close()
    return out
