"""What results at a glance cost a query: snippets, facets and date sorts, against the same
queries without them, in one interleaved run.

    .venv/bin/python -m bench.glance [INDEX_DIR] [--queries 300]

Against an existing index (default var/bench/un, the whole UN General Debate corpus; `make
bench-glance` builds it once, and upgrades an older one). `Searcher.search` in this process, one
query at a time, k=10; each query is asked in every variant, the variants in a rotating order, so
that a slow second of this shared machine falls on all of them alike. The query vectors are
embedded once beforehand (the query cache), so no variant pays the model for the query: the
ratios are of the searcher's own work, a stricter measure than a served query's. "no snippets"
gives each hit its whole passage as its snippet (no sentence split, no model call): what a hit
cost before snippets (the collect stage's snippets swapped out while it runs). Prints each
variant's p50 and p90 and its p50 over its baseline's, and the snippets' p50 and p90 ratios.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from harness.embedders import StandInEmbedder
from harness.indexes import backend_of, index_manifest
from harness.latency import percentiles
from harness.query_list import make_queries
from policy_search.index.analysis.embed import load_embedder
from policy_search.records import FACETS, Snippet
from policy_search.search.searcher import Searcher
from policy_search.search.stages import collect

ALL = list(FACETS)
# Variant name → (its baseline, the search options).
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "hybrid": ("hybrid", {}),
    "hybrid, no snippets": ("hybrid", {}),
    "hybrid + facets": ("hybrid", {"facets": ALL}),
    "hybrid + sort newest": ("hybrid", {"sort": "newest"}),
    "hybrid grouped": ("hybrid grouped", {"group": True}),
    "hybrid grouped + facets": ("hybrid grouped", {"group": True, "facets": ALL}),
    "dense": ("dense", {"mode": "dense"}),
    "dense, no snippets": ("dense", {"mode": "dense"}),
    "dense + facets": ("dense", {"mode": "dense", "facets": ALL}),
    "dense + sort newest": ("dense", {"mode": "dense", "sort": "newest"}),
    "lexical": ("lexical", {"mode": "lexical"}),
    "lexical + facets": ("lexical", {"mode": "lexical", "facets": ALL}),
    "lexical + sort newest": ("lexical", {"mode": "lexical", "sort": "newest"}),
}


def whole_passages(
    embedder: Any, texts: list[str], marks: list[list[tuple[int, int]]], vector: Any
) -> list:
    """The baseline's snippets: each passage whole, as a hit showed it before snippets."""
    return [Snippet(text=t, start=0, end=len(t), highlights=m)
            for t, m in zip(texts, marks, strict=True)]  # fmt: skip


def _embedder(model_id: str) -> Any:
    """The index's own model, or the stand-in encoder for an index built with it (the UN
    index of `bench.writes`: the searcher's own work, no model)."""
    if model_id == StandInEmbedder().model_id:
        return StandInEmbedder()
    return load_embedder(backend=backend_of(model_id))


def without_snippets(search: Callable[[], object]) -> Callable[[], object]:
    """`search` with the collect stage's snippets swapped for whole passages while it runs."""

    def run() -> object:
        own = collect._snippets
        collect._snippets = whole_passages
        try:
            return search()
        finally:
            collect._snippets = own

    return run


def timed(search: Callable[[], object]) -> float:
    began = time.perf_counter()
    search()
    return (time.perf_counter() - began) * 1000


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index_dir", nargs="?", type=Path, default=Path("var/bench/un"))
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    manifest = index_manifest(args.index_dir)
    embedder = _embedder(manifest.model_id)
    searcher = Searcher.load(args.index_dir, embedder)
    queries = make_queries(args.index_dir, args.queries)
    print(f"index {args.index_dir}: {manifest.articles} articles, {manifest.passages} passages, "
          f"{manifest.faiss_index}; {len(queries)} queries, k=10, one at a time")  # fmt: skip
    for q in queries:  # embed each query once, and warm the caches
        searcher.search(q, facets=ALL)
    names = list(VARIANTS)
    times: dict[str, list[float]] = {name: [] for name in names}
    for n, q in enumerate(queries):
        for name in names[n % len(names) :] + names[: n % len(names)]:
            options = VARIANTS[name][1]
            search = partial(searcher.search, q, k=10, **options)
            times[name].append(
                timed(without_snippets(search) if name.endswith("no snippets") else search)
            )
    figures = {name: percentiles(ms) for name, ms in times.items()}
    print(f"{'variant':<26}{'p50 ms':>9}{'p90 ms':>9}  p50 over")
    for name in names:
        base = VARIANTS[name][0]
        ratio = figures[name]["p50"] / figures[base]["p50"]
        print(f"{name:<26}{figures[name]['p50']:>9.2f}{figures[name]['p90']:>9.2f}  "
              f"{ratio:.2f}x {base}" if base != name else
              f"{name:<26}{figures[name]['p50']:>9.2f}{figures[name]['p90']:>9.2f}")  # fmt: skip
    for mode in ("hybrid", "dense"):
        with_, without = figures[mode], figures[f"{mode}, no snippets"]
        print(f"snippets: {mode} with / without = {with_['p50'] / without['p50']:.2f}x p50, "
              f"{with_['p90'] / without['p90']:.2f}x p90")  # fmt: skip
    columns = getattr(searcher.snapshot, "columns", None)  # one index (a sharded one: none)
    if columns is not None:
        held = columns().nbytes
        print(f"facet and sort columns: {held / 1e6:.1f} MB, "
              f"{held / manifest.passages:.1f} bytes a passage")  # fmt: skip


if __name__ == "__main__":
    main()
