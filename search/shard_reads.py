"""How the shards of one index answer each read of one index (search/shards.py): a table.

Each read is written once, on `Snapshot`. `ShardedReads` lists them, each with its rule: which
shards are asked and with what (a `Split`: every shard, each passage's own shard, each article's
shard), and how their answers make one index's answer (a `Merge`: the best `n` by score then
id, a dict union, counts added up, per-passage values put back in place, article keys
`rowid · S + shard`). `ShardReader.CALLS` (what a shard answers) follows from it, and a shard
answers a read by calling the snapshot's method of that name.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar, overload

import numpy as np

from policy_search.index.distributed.shards import shard_of
from policy_search.index.errors import UnknownPassages
from policy_search.index.storage.snapshot import Snapshot
from policy_search.records import SourceCount, Stats

if TYPE_CHECKING:
    from policy_search.search.shards import ShardedSnapshot

__all__ = [
    "READS",
    "Answer",
    "Part",
    "Read",
    "ShardedReads",
    "each_passage",
    "every_shard",
    "placed",
]

P = ParamSpec("P")
R = TypeVar("R")

# -- the rules: how a read is split over the shards and how their answers merge ---------------

# One shard's part of a call: the shard, its arguments, and the positions in the split
# argument of what it answers for (None: the call is not split by passage).
Part = tuple[int, tuple[Any, ...], np.ndarray | None]
# One shard's answer: the shard, the positions it answers for, the answer.
Answer = tuple[int, np.ndarray | None, Any]
Split = Callable[["ShardedSnapshot", tuple[Any, ...]], list[Part]]
Merge = Callable[["ShardedSnapshot", tuple[Any, ...], list[Answer]], Any]


def every_shard(corpus: ShardedSnapshot, args: tuple[Any, ...]) -> list[Part]:
    """The same call to every shard."""
    return [(s, args, None) for s in range(len(corpus.shards))]


def each_passage(arg: int = 0, *, whole: bool = False) -> Split:
    """Argument `arg` (passage ids) split by the shard that holds each; `whole`: the answer has
    a value for each id, so an id no shard holds is UnknownPassages (else it is left out)."""

    def split(corpus: ShardedSnapshot, args: tuple[Any, ...]) -> list[Part]:
        ids = np.asarray(args[arg], dtype=np.int64)
        owners = corpus.owners(ids)
        if whole and (owners < 0).any():
            raise UnknownPassages(
                f"passages {ids[owners < 0][:5].tolist()} are in no shard of "
                f"{corpus.index_dir} at generations {corpus.generations}"
            )
        return [
            (s, (*args[:arg], ids[where], *args[arg + 1 :]), where)
            for s in np.unique(owners[owners >= 0]).tolist()
            for where in [np.flatnonzero(owners == s)]
        ]

    return split


def each_article_key(corpus: ShardedSnapshot, args: tuple[Any, ...]) -> list[Part]:
    """The first argument, article keys (`rowid · S + shard`), as each shard's own rowids."""
    count = len(corpus.shards)
    keys = np.asarray(args[0], dtype=np.int64)
    return [
        (s, ((keys[where] // count).tolist(), *args[1:]), where)
        for s in np.unique(keys % count).tolist()
        for where in [np.flatnonzero(keys % count == s)]
    ]


def the_article(corpus: ShardedSnapshot, args: tuple[Any, ...]) -> list[Part]:
    """The shard of the article the first argument names."""
    return [(shard_of(args[0], len(corpus.shards)), args, None)]


def _best(corpus: ShardedSnapshot, args: tuple[Any, ...], answers: list[Answer]) -> Any:
    """The best `n` (the second argument) of each shard's best, by score then id."""
    return corpus.top([(s, a[0], a[1]) for s, _, a in answers], int(args[1]))


def placed(arg: int, width: Callable[[ShardedSnapshot], tuple[int, ...]] = lambda c: ()) -> Merge:
    """Each shard's values put back at its passages' places in argument `arg`."""

    def merge(corpus: ShardedSnapshot, args: tuple[Any, ...], answers: list[Answer]) -> Any:
        out = np.zeros((len(args[arg]), *width(corpus)), dtype=np.float32)
        for _, where, values in answers:
            out[where] = values
        return out

    return merge


def _days(corpus: ShardedSnapshot, args: tuple[Any, ...], answers: list[Answer]) -> Any:
    """Each passage's day number, from its shard (whole numbers: placed's float32 would round)."""
    out = np.full(len(args[0]), -1, dtype=np.int64)
    for _, where, days in answers:
        out[where] = days
    return out


def _keys(corpus: ShardedSnapshot, args: tuple[Any, ...], answers: list[Answer]) -> Any:
    """Each passage's article key, `rowid · S + shard`."""
    out = np.full(len(args[0]), -1, dtype=np.int64)
    for s, where, rowids in answers:
        out[where] = np.asarray(rowids, dtype=np.int64) * len(corpus.shards) + s
    return out


def _union(corpus: ShardedSnapshot, args: tuple[Any, ...], answers: list[Answer]) -> Any:
    """The shards' dicts as one (their keys are passage ids: no two shards share one)."""
    merged: dict[Any, Any] = {}
    for _, _, part in answers:
        merged.update(part)
    return merged


def _by_key(corpus: ShardedSnapshot, args: tuple[Any, ...], answers: list[Answer]) -> Any:
    """The shards' dicts by rowid as one by article key."""
    count = len(corpus.shards)
    return {rowid * count + s: v for s, _, part in answers for rowid, v in part.items()}


def _counts(corpus: ShardedSnapshot, args: tuple[Any, ...], answers: list[Answer]) -> Any:
    """Each facet's counts added up: exact, since an article and its passages share a shard."""
    total: dict[str, dict[str, int]] = {name: {} for name in args[1]}
    for _, _, counts in answers:
        for name, values in counts.items():
            into = total.setdefault(name, {})
            for value, n in values.items():
                into[value] = into.get(value, 0) + n
    return total


def _summed(corpus: ShardedSnapshot, args: tuple[Any, ...], answers: list[Answer]) -> Any:
    """The shards' counts added up."""
    return np.sum([np.asarray(a, dtype=np.int64) for _, _, a in answers], axis=0).astype(np.int64)


def _noted(corpus: ShardedSnapshot, args: tuple[Any, ...], answers: list[Answer]) -> Any:
    """The ids live in some shard (each noted as that shard's), in `args[0]`'s order."""
    for s, _, held in answers:
        corpus.note(held, s)
    ids = np.asarray(args[0], dtype=np.int64)
    return ids[np.isin(ids, np.concatenate([np.zeros(0, np.int64), *(a for _, _, a in answers)]))]


def _one(corpus: ShardedSnapshot, args: tuple[Any, ...], answers: list[Answer]) -> Any:
    """The one shard's answer."""
    return answers[0][2]


def _centroid(corpus: ShardedSnapshot, args: tuple[Any, ...], answers: list[Answer]) -> Any:
    """The article's shard's centroid, its rowid made an article key."""
    s, _, found = answers[0]
    if found is None:
        return None
    rowid, own, centroid = found
    return rowid * len(corpus.shards) + s, own, centroid


def _stats(corpus: ShardedSnapshot, args: tuple[Any, ...], answers: list[Answer]) -> Any:
    """The shards' statistics added up: what one index of their articles reports."""
    parts: list[Stats] = [a for _, _, a in answers]
    sources: dict[str, int] = {}
    for part in parts:
        for count in part.sources:
            sources[count.source] = sources.get(count.source, 0) + count.articles
    ordered = sorted(sources.items(), key=lambda item: (-item[1], item[0]))
    manifest = corpus.manifest
    return Stats(
        articles=sum(p.articles for p in parts), passages=sum(p.passages for p in parts),
        sources=[SourceCount(source=name, articles=n) for name, n in ordered],
        date_min=min([p.date_min for p in parts if p.date_min], default=None),
        date_max=max([p.date_max for p in parts if p.date_max], default=None),
        generation=corpus.generation, built_at=manifest.built_at, model=manifest.model_id,
        bytes_on_disk=sum(p.bytes_on_disk for p in parts),
    )  # fmt: skip


READS: dict[str, Read[Any, Any]] = {}  # every read's rule by name (the table below)


class Read(Generic[P, R]):
    """A read of `Snapshot`, answered by a sharded index: `split` says which shards are asked
    and with what, `merge` makes one index's answer of theirs. As a class attribute of
    `ShardedSnapshot`, it is that read (its signature is the snapshot's)."""

    def __init__(
        self, read: Callable[Concatenate[Snapshot, P], R], split: Split, merge: Merge
    ) -> None:
        self.name = read.__name__
        self.split, self.merge = split, merge
        READS[self.name] = self

    def __set_name__(self, owner: type, name: str) -> None:
        if name != self.name:  # the shards are asked for the read by this name
            raise TypeError(f"the read {self.name!r} is named {name!r} in {owner.__name__}")

    @overload
    def __get__(self, corpus: None, owner: type) -> Read[P, R]: ...

    @overload
    def __get__(self, corpus: ShardedSnapshot, owner: type) -> Callable[P, R]: ...

    def __get__(self, corpus: ShardedSnapshot | None, owner: type) -> Any:
        return self if corpus is None else functools.partial(corpus.read, self)


class ShardedReads:
    """The table: each read of one index, and how the shards answer it (as a base class, each
    line is that read of `ShardedSnapshot`, with the snapshot's signature)."""

    passage_rows = Read(Snapshot.passage_rows, each_passage(), _union)
    passage_dates = Read(Snapshot.passage_dates, each_passage(), _union)
    passage_days = Read(Snapshot.passage_days, each_passage(whole=True), _days)
    facet_counts = Read(Snapshot.facet_counts, each_passage(), _counts)
    vectors = Read(Snapshot.vectors, each_passage(whole=True),
                   placed(0, lambda c: (c.manifest.dim,)))  # fmt: skip
    cosine = Read(Snapshot.cosine, each_passage(1, whole=True), placed(1))
    article_keys = Read(Snapshot.article_keys, each_passage(whole=True), _keys)
    live_ids = Read(Snapshot.live_ids, every_shard, _noted)
    dense_top = Read(Snapshot.dense_top, every_shard, _best)
    document_frequencies = Read(Snapshot.document_frequencies, every_shard, _summed)
    passage_articles = Read(Snapshot.passage_articles, every_shard, _union)
    stats = Read(Snapshot.stats, every_shard, _stats)
    article_metas = Read(Snapshot.article_metas, each_article_key, _by_key)
    article = Read(Snapshot.article, the_article, _one)
    centroid = Read(Snapshot.centroid, the_article, _centroid)
