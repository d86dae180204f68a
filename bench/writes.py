"""What one write costs on a small and a large index, and what many writes do to search.

    .venv/bin/python -m bench.writes [--small 880] [--large 11500] [--reps 9] [--writes 1000]
                                     [--queries 200] [--load-on small|large|both]

Two indexes of UN General Debate speeches, about 20,000 and 200,000 passages (~17 passages a
speech at 256 tokens: the corpus's 10,952 speeches give ~190,000; then copies under new ids), built
once with a stand-in encoder (`bench.standin`: hashed bags of words, microseconds a passage)
into var/bench/writes/ and reused; every run works on a fresh copy. So the figures are the
index's own work (chunking, BM25, FAISS, the segment files, the catalog's commit) with the model
left out; the model's share is timed on its own (one speech's passages with the real model).

For each index: add one new speech, replace it (another speech's text under its id), remove it,
each with merge=False and its time and bytes written (the write() bytes of this process, from
/proc/self/io, and the growth of the index directory), then the following `merge_segments`;
the median of `--reps` rounds, and the ratio large/small. Then `--writes` single-speech writes
as a server makes them (add, add, replace, add, remove; each followed by the merge policy's
merges) and query latency (`Searcher.search`, hybrid, k=10, one at a time) over `--queries`
distinct queries, against the same index after `optimize` (one segment). Prints a table; saves
every figure to var/bench/writes.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import re
import shutil
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from bench.load import percentiles
from bench.standin import StandInEmbedder
from index.article import Article
from index.build import add_articles, build_index, remove_articles
from index.chunk import ChunkSettings, chunk_article, embed_text, title_prefix
from index.merge import merge_segments, optimize
from index.readers import read_file
from index.store import exists, open_catalog, read_manifest
from search.searcher import Searcher

__all__ = ["main"]

WORK = Path("var/bench/writes")
CYCLE = ("add", "add", "replace", "add", "remove")  # as bench.writer's
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]{2,}")


class Speeches:
    """The corpus's speeches in order, then copies of them under new ids, as far as needed."""

    def __init__(self, path: Path) -> None:
        self.corpus = list(read_file(path))

    def __getitem__(self, i: int) -> Article:
        base = self.corpus[i % len(self.corpus)]
        if i < len(self.corpus):
            return base
        return dataclasses.replace(base, id=f"{base.id}~copy{i // len(self.corpus)}")

    def written(self, i: int) -> Article:
        """The i-th speech the writes use, the same one on every index: a copy under a new id."""
        base = self.corpus[(7919 * i) % len(self.corpus)]
        return dataclasses.replace(base, id=f"bench-write-{i}")


def _io() -> dict[str, int]:
    fields = {}
    for line in Path("/proc/self/io").read_text().splitlines():
        name, _, value = line.partition(":")
        fields[name] = int(value)
    return fields


def _size(index_dir: Path) -> int:
    return sum(p.stat().st_size for p in index_dir.rglob("*") if p.is_file())


def _measured(index_dir: Path, action: Callable[[], object]) -> dict[str, float]:
    """Seconds, bytes passed to write() (wchar), bytes sent to storage, growth on disk."""
    io, size = _io(), _size(index_dir)
    began = time.perf_counter()
    action()
    seconds = time.perf_counter() - began
    after = _io()
    return {
        "seconds": seconds,
        "written": after["wchar"] - io["wchar"],
        "storage": after["write_bytes"] - io["write_bytes"],
        "growth": _size(index_dir) - size,
    }


def _base(speeches: Speeches, n: int, embedder: StandInEmbedder) -> tuple[Path, dict]:
    """The cached index of the first n speeches (built and optimized once)."""
    index_dir = WORK / f"un-{n}"
    if exists(index_dir):
        catalog = open_catalog(index_dir, readonly=True)
        try:
            manifest = read_manifest(catalog)
            segments = len(catalog.segments())
        finally:
            catalog.close()
        if manifest.articles == n and manifest.model_id == embedder.model_id and segments == 1:
            return index_dir, {"built_s": manifest.build_seconds, "cached": True}
    shutil.rmtree(index_dir, ignore_errors=True)
    began = time.perf_counter()
    build_index((speeches[i] for i in range(n)), index_dir, embedder, merge=False)
    optimize(index_dir)
    return index_dir, {"built_s": time.perf_counter() - began, "cached": False}


def _copy(base: Path, name: str) -> Path:
    target = WORK / "runs" / name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(base, target, ignore=shutil.ignore_patterns(".lock"))
    return target


def _state(index_dir: Path) -> dict[str, int]:
    catalog = open_catalog(index_dir, readonly=True)
    try:
        articles, passages = catalog.counts()
        segments, tombstones = len(catalog.segments()), catalog.deleted_count()
    finally:
        catalog.close()
    return {"articles": articles, "passages": passages, "segments": segments,
            "tombstones": tombstones}  # fmt: skip


def single_writes(
    index_dirs: dict[str, Path], speeches: Speeches, reps: int, embedder: StandInEmbedder
) -> dict[str, dict[str, dict[str, float]]]:
    """By index: median figures of add, replace, remove (merge=False each) and the merge after
    them. The indexes take turns, in A B B A order, so that the machine's drift weighs on all."""
    rounds: dict[str, dict[str, list[dict[str, float]]]] = {
        name: {op: [] for op in ("add", "replace", "remove", "merge")} for name in index_dirs
    }
    for r in range(reps):
        new, other = speeches.written(2 * r), speeches.written(2 * r + 1)
        changed = dataclasses.replace(other, id=new.id)
        names = list(index_dirs) if r % 2 == 0 else list(reversed(index_dirs))
        for name in names:
            index_dir = index_dirs[name]
            steps: dict[str, Callable[[], object]] = {
                "add": partial(add_articles, [new], index_dir, embedder, merge=False),
                "replace": partial(add_articles, [changed], index_dir, embedder, merge=False),
                "remove": partial(remove_articles, [new.id], index_dir, merge=False),
                "merge": partial(merge_segments, index_dir),
            }
            for op, step in steps.items():
                rounds[name][op].append(_measured(index_dir, step))
    return {
        name: {op: {k: statistics.median(f[k] for f in figures) for k in figures[0]}
               for op, figures in ops.items()}
        for name, ops in rounds.items()
    }  # fmt: skip


def make_queries(index_dir: Path, n: int, seed: int = 13) -> list[str]:
    """`n` distinct 2–4 word phrases from random passages of the index (as bench.queries's)."""
    rng = random.Random(seed)
    catalog = open_catalog(index_dir, readonly=True)
    try:
        count = catalog.passage_count()
        queries: list[str] = []
        seen: set[str] = set()
        for _ in range(50 * n):
            if len(queries) >= n:
                break
            words = _WORD.findall(catalog.passage_text(rng.randrange(count)) or "")
            if len(words) < 5:
                continue
            size = rng.randint(2, 4)
            start = rng.randrange(len(words) - size)
            query = " ".join(words[start : start + size])
            if query.lower() not in seen:
                seen.add(query.lower())
                queries.append(query)
    finally:
        catalog.close()
    return queries


def query_latency(index_dir: Path, queries: list[str], embedder: StandInEmbedder) -> dict:
    """Percentiles of Searcher.search (hybrid, k=10), one query at a time, after 10 to warm."""
    searcher = Searcher.load(index_dir, embedder)
    for q in queries[:10]:
        searcher.search(q, k=10)
    out = []
    for q in queries:
        began = time.perf_counter()
        searcher.search(q, k=10)
        out.append((time.perf_counter() - began) * 1000)
    return percentiles(out)


def write_load(
    index_dir: Path, speeches: Speeches, first: int, writes: int, embedder: StandInEmbedder,
    queries: list[str],
) -> dict:  # fmt: skip
    """`writes` single-speech writes (merging as a server does; speeches.written from `first`),
    then query latency; then the same after optimize."""
    present: list[str] = []
    nxt = first
    began = time.perf_counter()
    for step in range(writes):
        op = CYCLE[step % len(CYCLE)]
        if op == "add" or not present:
            add_articles([speeches.written(nxt)], index_dir, embedder)
            present.append(speeches.written(nxt).id)
            nxt += 1
        elif op == "replace":  # the newest, with another speech's text
            add_articles(
                [dataclasses.replace(speeches.written(nxt), id=present[-1])], index_dir, embedder
            )
            nxt += 1
        else:
            remove_articles([present.pop(0)], index_dir)
    seconds = time.perf_counter() - began
    after = _state(index_dir)
    fragmented = query_latency(index_dir, queries, embedder)
    optimize_s = _measured(index_dir, lambda: optimize(index_dir))
    merged = query_latency(index_dir, queries, embedder)
    return {
        "writes": writes, "seconds": seconds, "after_writes": after, "query_after_writes":
        fragmented, "optimize": optimize_s, "after_optimize": _state(index_dir),
        "query_after_optimize": merged,
    }  # fmt: skip


def model_share(article: Article) -> dict:
    """Seconds the real model takes to embed one speech's passages (loaded once, warmed)."""
    from index.embed import load_embedder

    embedder = load_embedder()
    settings = ChunkSettings()
    prefix = title_prefix(article, embedder, settings)
    texts = [embed_text(prefix, p.text) for p in chunk_article(article, embedder, settings)]
    embedder.encode(texts[:4])
    began = time.perf_counter()
    embedder.encode(texts)
    return {"model": embedder.model_id, "passages": len(texts),
            "seconds": time.perf_counter() - began}  # fmt: skip


def _mb(n: float) -> str:
    return f"{n / 1e6:.2f}"


def main() -> None:
    """Print the table; save var/bench/writes.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=880, help="Speeches in the small index.")
    parser.add_argument("--large", type=int, default=11500, help="Speeches in the large index.")
    parser.add_argument("--reps", type=int, default=9, help="Rounds of add, replace, remove.")
    parser.add_argument("--writes", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--load-on", choices=["small", "large", "both"], default="both")
    parser.add_argument("--no-model", action="store_true", help="Skip timing the real model.")
    parser.add_argument("--out", type=Path, default=Path("var/bench/writes.json"))
    args = parser.parse_args()
    import faiss

    faiss.omp_set_num_threads(1)  # as the server runs, writes and searches alike
    data = Path(os.environ.get("POLICY_SEARCH_DATA_DIR", "../shared/data"))
    speeches = Speeches(data / "policy/un-general-debates/articles.jsonl.gz")
    embedder = StandInEmbedder()
    report: dict = {"encoder": f"{embedder.model_id} (a stand-in: the model is left out)",
                    "cores": os.cpu_count(), "sizes": {}}  # fmt: skip
    sizes = {"small": args.small, "large": args.large}
    bases = {}
    for name, n in sizes.items():
        bases[name], built = _base(speeches, n, embedder)
        report["sizes"][name] = {"speeches": n, **built, **_state(bases[name])}
        print(f"{name}: {n:,} speeches, {report['sizes'][name]['passages']:,} passages, "
              f"{'cached' if built['cached'] else 'built'} ({built['built_s']:.0f} s to build)",
              flush=True)  # fmt: skip
    copies = {name: _copy(base, name) for name, base in bases.items()}
    for name, ops in single_writes(copies, speeches, args.reps, embedder).items():
        report["sizes"][name]["ops"] = ops
    for name, base in bases.items():
        if args.load_on not in (name, "both"):
            continue
        index_dir = _copy(base, name)  # the same index as the writes above started from
        queries = make_queries(index_dir, args.queries)
        report["sizes"][name]["load"] = write_load(
            index_dir, speeches, 2 * args.reps, args.writes, embedder, queries
        )
        print(f"{name}: {args.writes} writes and the queries done", flush=True)
    for index_dir in copies.values():
        shutil.rmtree(index_dir, ignore_errors=True)
    if not args.no_model:
        report["model_share"] = model_share(speeches.written(0))
    _print(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"figures: {args.out}")


def _print(report: dict) -> None:
    small, large = report["sizes"]["small"], report["sizes"]["large"]
    print(
        f"\nencoder: {report['encoder']}; {report['cores']} cores; median of the rounds\n"
        "write(): bytes this process passed to write(); storage: bytes it sent to the disk"
    )
    print(f"{'one speech':<12} {'':>5} {'small ms':>9} {'large ms':>9} {'ratio':>6}   "
          f"{'write() MB s/l':>15} {'storage MB s/l':>15} {'on disk +MB s/l':>16}")  # fmt: skip
    for op in ("add", "replace", "remove", "merge"):
        s, lg = small["ops"][op], large["ops"][op]
        ratio = lg["seconds"] / s["seconds"] if s["seconds"] else float("nan")
        print(f"{op:<12} {'':>5} {s['seconds'] * 1000:>9.1f} {lg['seconds'] * 1000:>9.1f} "
              f"{ratio:>6.2f}   {_mb(s['written']):>7}/{_mb(lg['written']):<7} "
              f"{_mb(s['storage']):>7}/{_mb(lg['storage']):<7} "
              f"{_mb(s['growth']):>8}/{_mb(lg['growth']):<7}")  # fmt: skip
    for name, figures in report["sizes"].items():
        load = figures.get("load")
        if not load:
            continue
        a, o = load["after_writes"], load["after_optimize"]
        fq, mq = load["query_after_writes"], load["query_after_optimize"]
        print(f"\n{name} ({figures['passages']:,} passages): {load['writes']} single-speech "
              f"writes in {load['seconds']:.0f} s ({load['seconds'] / load['writes'] * 1000:.0f} "
              f"ms each, merges included)")  # fmt: skip
        print(f"  {'':<22} {'segments':>8} {'tombstones':>10} {'p50 ms':>7} {'p99 ms':>7}")
        print(f"  {'after the writes':<22} {a['segments']:>8} {a['tombstones']:>10} "
              f"{fq['p50']:>7.2f} {fq['p99']:>7.2f}")  # fmt: skip
        took = load["optimize"]
        print(f"  {'after optimize':<22} {o['segments']:>8} {o['tombstones']:>10} "
              f"{mq['p50']:>7.2f} {mq['p99']:>7.2f}   (optimize took {took['seconds']:.1f} s, "
              f"wrote {_mb(took['written'])} MB)")  # fmt: skip
    share = report.get("model_share")
    if share:
        print(f"\nthe model's share, left out above: {share['model']} embeds one speech's "
              f"{share['passages']} passages in {share['seconds'] * 1000:.0f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
