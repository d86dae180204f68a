"""What the searcher reads: a corpus, one index or the shards of one behind one interface.

A corpus is one commit of an index (Lucene's `IndexReader`): `policy_search.index.storage.snapshot.
Snapshot` for one index, where each read is written once, and `policy_search.search.shards.
ShardedSnapshot` for a sharded one, which answers each of those reads by asking its shards and
combining their answers by one declared rule a read, at one commit of each shard. The searcher
sees only `Corpus` and `Evidence`; it never reads the catalog or a view itself.

Passages are named by id, articles by key (`article_keys`: a catalog rowid for one index,
`rowid · S + shard` for a sharded one) or by article id. A read that answers for each passage
(`vectors`, `cosine`, `article_keys`, `passage_days`) raises UnknownPassages for an id that is
not a live passage of its commit; a read that answers with a dict (`passage_rows`, `passage_dates`,
`facet_counts`) leaves such an id out. Both kinds of corpus agree on that
(tests/search/test_shards_pinned.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, Unpack

import numpy as np

from policy_search.index.storage.catalog import PassageRow
from policy_search.index.storage.manifest import Manifest
from policy_search.index.storage.snapshot import Allowed, Pass, Restriction
from policy_search.records import Article, ArticleMeta, Stats

__all__ = ["Allowed", "Corpus", "Evidence", "Pass"]


class Evidence(Protocol):
    """A query's first pass over a corpus: both sides' candidates (best first), how many
    passages matched its words, and any passage's score on either side."""

    dense_ids: np.ndarray
    dense_scores: np.ndarray
    lexical_ids: np.ndarray
    matched: int  # lexical mode: every passage with a query word (at least the min_score)

    def cosine(self, ids: np.ndarray) -> np.ndarray:
        """The query vector's cosine with each of these passages."""
        ...

    def bm25(self, ids: np.ndarray) -> np.ndarray:
        """Each of these passages' BM25 for the query, with the whole index's statistics."""
        ...

    def again(self, vector: np.ndarray) -> Evidence:
        """The same query's evidence for another vector (feedback's), its lexical side reused."""
        ...


class Corpus(Protocol):
    """One commit of an index, one or sharded: what a searcher ranks and reads."""

    index_dir: Path
    manifest: Manifest
    generation: int  # the commit (a sharded index's: the sum of its shards')
    passages: int  # live passages
    vector_kind: str

    # -- ranking --------------------------------------------------------------------------

    def restrict(self, filters: Restriction) -> Allowed:
        """A query's filters, to hand to `evidence` and `dense_top` as `allowed`."""
        ...

    def evidence(
        self,
        vector: np.ndarray,
        terms: list[str],
        **options: Unpack[Pass],
    ) -> Evidence:
        """A query's first pass: each side's best `depth` passages and their scores."""
        ...

    def dense_top(
        self, vector: np.ndarray, n: int, allowed: Allowed | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The `n` live passages nearest to `vector` (ids, scores; best first, ties by id)."""
        ...

    def cosine(self, vector: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """The inner product of `vector` with each passage's stored vector."""
        ...

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors of these passages, in order."""
        ...

    def document_frequencies(self, terms: list[str]) -> np.ndarray:
        """How many live passages hold each of `sorted(set(terms))`."""
        ...

    def centroid(self, article_id: str) -> tuple[int, int, np.ndarray] | None:
        """An article's key, its live passage count and the normalised mean of their vectors;
        None when there is no such article."""
        ...

    # -- rows ---------------------------------------------------------------------------------

    def article_keys(self, ids: np.ndarray) -> np.ndarray:
        """The article key of each of these passages."""
        ...

    def passage_rows(self, ids: Sequence[int]) -> dict[int, PassageRow]:
        """Live passages by id, with their text and their article's metadata."""
        ...

    def article_metas(self, keys: Sequence[int]) -> dict[int, ArticleMeta]:
        """Articles' metadata by key."""
        ...

    def article(self, article_id: str) -> Article | None:
        """A whole article, or None."""
        ...

    def passage_articles(self) -> dict[int, str]:
        """Every live passage id with its article id."""
        ...

    def passage_dates(self, ids: np.ndarray) -> dict[int, str]:
        """The start of each dated passage's article date (ISO 8601), by passage id."""
        ...

    def passage_days(self, ids: np.ndarray) -> np.ndarray:
        """Each passage's article date as a day number to order by (20240501; -1: undated)."""
        ...

    def facet_counts(self, ids: np.ndarray, facets: Sequence[str]) -> dict[str, dict[str, int]]:
        """For each facet, each value's count of the distinct articles of these passages."""
        ...

    def stats(self) -> Stats:
        """Counts, sources, date range, generation and size on disk."""
        ...

    # -- commits ------------------------------------------------------------------------------

    def refresh(self) -> Corpus:
        """The latest commit: this corpus when nothing was committed since."""
        ...

    def close(self) -> None:
        """Release the commit now rather than when the corpus is dropped."""
        ...
