"""Queries served over HTTP beside the index's bare work, on the UN corpus with stand-in vectors.

    .venv/bin/python -m bench.queries [INDEX_DIR] [--workers 2] [--clients 1,32] [--seconds 10]
                                      [--against CHECKOUT]

Against an index built with the stand-in encoder (`harness.embedders.StandInEmbedder`: hashed
words; default var/bench/un-standin, which `make bench-un-standin` builds once from the whole UN
General Debate corpus): what is measured is the index's own work, searching, building hits and
serving them, not the model's. The queries are distinct (2–4 consecutive words from random
passages, seeded, plus a few questions), so no cache flatters a figure. Prints, in one run:

- bare: FAISS's search and BM25's best passages (`depth` each, as a hybrid query asks) of the
  same queries in a tight loop, one process per worker side by side, no hit building, no HTTP;
- in process: `Searcher.search` (hybrid, k=10) p50 with everything on (snippets, the server's
  confidence floor), with facets, without confidence's floor, without snippets (stubbed);
- served: the app on the stand-in encoder (`harness.standin_app`) in `--workers` processes,
  loaded by wrk (`make wrk`) at each client count: q/s, p50, p99, errors; at 1 client also with
  facets and without the confidence floor; served q/s at the most clients over bare q/s.

`--against CHECKOUT` (a plain copy of another commit: `git archive COMMIT | tar -x -C DIR`)
serves the same index with that checkout's package too, first, in the same run.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any
from unittest import mock

from harness.embedders import StandInEmbedder
from harness.indexes import index_manifest
from harness.latency import percentiles
from harness.memory import memory_kb
from harness.query_list import make_queries
from harness.server import ROOT, running_server
from harness.traffic import run_wrk
from policy_search.records import SearchRequest, Snippet
from policy_search.search.searcher import Searcher
from policy_search.search.stages import collect
from policy_search.search.stages.parse import parse

FACETS = ["source", "year", "country"]
# The served variants at 1 client: the request's extra parameters.
VARIANTS = {
    "default": {},
    "facets": {"facets": FACETS},
    "no confidence floor": {"min_confidence": 0},
}


def _bare_worker(index_dir: Path, queries: list[str], start: Any, out: Any) -> None:
    """One process's tight loop: FAISS then BM25 of each query, its vector and terms made before."""
    import faiss

    faiss.omp_set_num_threads(1)  # as the app does: one query, one thread
    searcher = Searcher.load(index_dir, StandInEmbedder())
    corpus, depth = searcher.snapshot, searcher.fusion.depth
    made = [parse(SearchRequest.of(q, {}), analyzer=searcher.analyzer, languages=searcher.languages)
            for q in queries]  # fmt: skip
    vectors = [searcher.queries.vector(m.text) for m in made]
    for vector, query in zip(vectors[:20], made[:20], strict=False):  # warm
        corpus.dense_top(vector, depth)
        corpus.lexical(query.terms).top(depth)
    start.wait()
    dense, lexical = [], []
    began = time.perf_counter()
    for vector, query in zip(vectors, made, strict=True):
        t0 = time.perf_counter()
        corpus.dense_top(vector, depth)
        t1 = time.perf_counter()
        corpus.lexical(query.terms).top(depth)
        lexical.append((time.perf_counter() - t1) * 1000)
        dense.append((t1 - t0) * 1000)
    seconds = time.perf_counter() - began
    out.put({"seconds": seconds, "dense": dense, "lexical": lexical, "depth": depth})


def bare(index_dir: Path, queries: list[str], workers: int) -> dict[str, float]:
    """q/s of the bare loop in `workers` processes side by side (each its share of the queries),
    and the p50 of each half."""
    ctx = mp.get_context("spawn")
    start, out = ctx.Barrier(workers), ctx.Queue()
    procs = [ctx.Process(target=_bare_worker, args=(index_dir, queries[w::workers], start, out))
             for w in range(workers)]  # fmt: skip
    for proc in procs:
        proc.start()
    results = [out.get() for _ in procs]
    for proc in procs:
        proc.join()
    dense = [ms for r in results for ms in r["dense"]]
    lexical = [ms for r in results for ms in r["lexical"]]
    qps = sum(len(r["dense"]) / r["seconds"] for r in results)
    return {"qps": qps, "depth": results[0]["depth"], "dense_p50": percentiles(dense)["p50"],
            "lexical_p50": percentiles(lexical)["p50"]}  # fmt: skip


def in_process(index_dir: Path, queries: list[str]) -> dict[str, float]:
    """`Searcher.search` p50 (hybrid, k=10, one thread) as served, and with each part changed."""
    searcher = Searcher.load(index_dir, StandInEmbedder())
    for q in queries[:20]:
        searcher.search(q, k=10)
    blank = Snippet(text="", start=0, end=0, highlights=[])

    def timed(**options: Any) -> float:
        ms = []
        for q in queries:
            began = time.perf_counter()
            searcher.search(q, k=10, **options)
            ms.append((time.perf_counter() - began) * 1000)
        return percentiles(ms)["p50"]

    figures = {"default": timed(), "facets": timed(facets=FACETS),
               "no confidence floor": timed(min_confidence=0.0)}  # fmt: skip
    with mock.patch.object(collect, "_snippets", lambda _e, texts, *_: [blank] * len(texts)):
        figures["no snippets"] = timed()
    return figures


def disk(index_dir: Path, passages: int) -> dict[str, float]:
    """Bytes per passage on disk, in all and by part (a top-level entry of the index directory;
    inside a folder of folders, such as the segments, by the name within each)."""
    parts: dict[str, float] = {}
    for path in index_dir.rglob("*"):
        if path.is_file() and not path.name.startswith("."):
            names = path.relative_to(index_dir).parts
            part = names[0] if len(names) < 3 else f"{names[0]}/*/{names[2]}"
            parts[part] = parts.get(part, 0) + path.stat().st_size
    return {"total": sum(parts.values()) / passages} | {
        k: v / passages for k, v in sorted(parts.items())
    }


def _requests_file(directory: Path, name: str, queries: list[str], extra: dict) -> Path:
    """The GET /search lines wrk cycles through (harness/mixed.lua's format)."""
    path = directory / f"{name.replace(' ', '-')}.tsv"
    lines = []
    for q in queries:
        params = urllib.parse.urlencode({"q": q, "k": 10, **extra}, doseq=True)
        lines.append(f"GET\t/search?{params}\t")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _package_tree(checkout: Path) -> Path:
    """A folder holding `policy_search` as another checkout installs it (its policy_search/ with
    its index/, search/ and api/ inside, as links), to put first on a server's path."""
    tree = checkout / ".bench-package"
    package = tree / "policy_search"
    package.mkdir(parents=True, exist_ok=True)
    layers = [checkout / name for name in ("index", "search", "api")]
    for item in [*(checkout / "policy_search").iterdir(), *layers]:
        link = package / item.name
        if not link.exists():
            link.symlink_to(item.resolve())
    return tree


def _children(pid: int) -> list[int]:
    """The processes `pid` started (the server's workers)."""
    found = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in found.read_text().split()] if found.exists() else []


def served(
    index_dir: Path, queries: list[str], args: argparse.Namespace, checkout: Path | None
) -> list[dict[str, Any]]:
    """wrk's figures at each client count (and the variants at 1 client), one server."""
    env = {"POLICY_SEARCH_WORKERS": str(args.workers), "MALLOC_ARENA_MAX": "2"}
    if checkout is not None:  # its package first; the harness (the stand-in app) is this one's
        env |= {"PYTHONSAFEPATH": "1", "PYTHONPATH": f"{_package_tree(checkout)}:{ROOT}"}
    rows = []
    with (
        tempfile.TemporaryDirectory() as work,
        running_server(index_dir, env=env, module="harness.standin_app") as server,
    ):
        files = {name: _requests_file(Path(work), name, queries, extra)
                 for name, extra in VARIANTS.items()}  # fmt: skip
        # Warm both workers (each loads its searcher, language detector and ranker on first use).
        run_wrk(server.url, files["default"], connections=4, threads=2, seconds=args.warm)
        runs = [(c, "default") for c in args.clients] + [(1, n) for n in VARIANTS if n != "default"]
        for clients, name in runs:
            figures = run_wrk(server.url, files[name], connections=clients,
                              threads=min(clients, 2), seconds=args.seconds)  # fmt: skip
            errors = figures["non2xx"] + sum(figures["socket_errors"].values())
            rows.append({"clients": clients, "variant": name, "errors": errors,
                         "qps": figures["requests"] / figures["seconds"],
                         **figures["latency_ms"]})  # fmt: skip
        # The parent's and its workers' resident memory (each worker holds its own searcher).
        pids = [server.proc.pid, *_children(server.proc.pid)]
        rows.append({"resident_mb": sum(memory_kb(p)["VmRSS"] for p in pids) / 1024})
    return rows


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index_dir", nargs="?", type=Path, default=Path("var/bench/un-standin"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", default="1,32")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warm", type=float, default=8.0, help="Seconds of load before each.")
    parser.add_argument("--queries", type=int, default=3000)
    parser.add_argument("--in-process", type=int, default=300, help="Queries timed in process.")
    parser.add_argument("--against", type=Path, help="Another checkout, served first.")
    args = parser.parse_args()
    args.clients = [int(c) for c in args.clients.split(",")]
    manifest = index_manifest(args.index_dir)
    queries = make_queries(args.index_dir, args.queries)
    print(f"index {args.index_dir}: {manifest.articles} articles, {manifest.passages} passages, "
          f"{manifest.faiss_index}, model {manifest.model_id} (stand-in vectors: this measures "
          f"the index's work, not the model's); hybrid, k=10, {args.workers} workers")  # fmt: skip
    sides = [("against", args.against)] if args.against else []
    tables = [(label, served(args.index_dir, queries, args, checkout))
              for label, checkout in [*sides, ("this checkout", None)]]  # fmt: skip
    own = bare(args.index_dir, queries, args.workers)
    print(f"bare ({args.workers} processes side by side; FAISS's and BM25's best {own['depth']} "
          f"each, no hits, no HTTP): {own['qps']:.1f} q/s; FAISS p50 {own['dense_p50']:.2f} ms, "
          f"BM25 p50 {own['lexical_p50']:.2f} ms")  # fmt: skip
    for label, rows in tables:
        print(f"served, {label} (resident after the runs, parent and workers: "
              f"{rows[-1]['resident_mb']:.0f} MB):")  # fmt: skip
        print(f"  {'clients':>7} {'variant':<20} {'q/s':>7} {'p50':>6} {'p90':>6} {'p99':>6} "
              f"{'errors':>6}  (ms)")  # fmt: skip
        for row in rows[:-1]:
            print(
                f"  {row['clients']:>7} {row['variant']:<20} {row['qps']:>7.1f} "
                f"{row['p50']:>6.1f} {row['p90']:>6.1f} {row['p99']:>6.1f} {row['errors']:>6}"
            )
        most = max((r for r in rows[:-1] if r["variant"] == "default"), key=lambda r: r["clients"])
        print(f"  served/bare q/s at {most['clients']} clients: {most['qps'] / own['qps']:.2f}")
    figures = in_process(args.index_dir, queries[: args.in_process])
    print(f"in process, Searcher.search p50 (1 thread, {args.in_process} queries; this checkout): "
          + ", ".join(f"{k} {v:.1f} ms" for k, v in figures.items()))  # fmt: skip
    print(f"  FAISS's share of a query (bare FAISS p50 / search p50): "
          f"{own['dense_p50'] / figures['default']:.2f}")  # fmt: skip
    parts = disk(args.index_dir, manifest.passages)
    print("bytes on disk per passage: " + ", ".join(f"{k} {v:.0f}" for k, v in parts.items()))


if __name__ == "__main__":
    main()
