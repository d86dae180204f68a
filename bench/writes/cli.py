"""What one write costs on a small and a large index, and what many writes do to search.

    .venv/bin/python -m bench.writes [--small 880] [--large 11500] [--reps 9] [--writes 1000]
                                     [--queries 200] [--load-on small|large|both]
                                     [--server/--no-server] [--server-on small|large|both]
                                     [--server-writes 100] [--server-seconds 20] [--only server]

Two indexes of UN General Debate speeches, about 20,000 and 200,000 passages (~17 passages a
speech at 256 tokens: the corpus's 10,952 speeches give ~190,000; then copies under new ids), built
once with a stand-in encoder (`harness.embedders.StandInEmbedder`: hashed bags of words,
microseconds a passage) into var/bench/writes/ and reused; every run works on a fresh copy. So
the figures are the index's own work (chunking, BM25, FAISS, the segment files, the catalog's
commit) with the model left out; the model's share is timed on its own (one speech's passages
with the real model).

For each index: add one new speech, replace it (another speech's text under its id), remove it,
each with merge=False and its time and bytes written (the write() bytes of this process, from
/proc/self/io, and the growth of the index directory), then the following `merge_segments`;
the median of `--reps` rounds, and the ratio large/small. Then `--writes` single-speech writes
as a server makes them (add, add, replace, add, remove; each followed by the merge policy's
merges) and query latency (`Searcher.search`, hybrid, k=10, one at a time) over `--queries`
distinct queries, against the same index after `optimize` (one segment).

With `--server` (the default), a copy of the small index (`--server-on`) is served by a real
uvicorn server (`harness.standin_app`: the app on the stand-in, one process, serve's options and
MALLOC_ARENA_MAX=2) on a free 127.0.0.1 port, and stopped at the end, also on error. Its memory
(VmRSS of /proc/PID/status, and Pss of smaps_rollup: the segments are memory-mapped, so RSS
counts shared page cache) sampled every 0.1 s: idle 3 s, during `--server-writes` back-to-back
writes (harness.writer's Writer and cycle: POST /articles, PUT /articles/{id} over the newest,
DELETE; its texts whole speeches), and 3 s after once the served generation has settled. Then
GET /search (k=10) from 8 threads, each its own httpx.Client, over `--queries` phrases:
`--server-seconds` idle, then as long again during one write a second; p50, p99 and the ratio
during/idle. `--only server` runs only this part and keeps the rest of --out. Prints a table;
saves every figure to var/bench/writes.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
from pathlib import Path

from bench.writes.corpus import Speeches, base_index, index_state, work_copy
from bench.writes.load import write_load
from bench.writes.model import model_share
from bench.writes.report import print_report
from bench.writes.served import serve_figures
from bench.writes.single import single_writes
from harness.embedders import StandInEmbedder
from harness.query_list import make_queries

__all__ = ["main"]


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # so that `finally` stops the server and removes the copies


def _previous(path: Path) -> dict:
    """The figures an earlier run saved (for --only server), or none."""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return report if isinstance(report, dict) else {}


def main() -> None:
    """Print the table; save var/bench/writes.json."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.writes", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--small", type=int, default=880, help="Speeches in the small index.")
    parser.add_argument("--large", type=int, default=11500, help="Speeches in the large index.")
    parser.add_argument("--reps", type=int, default=9, help="Rounds of add, replace, remove.")
    parser.add_argument("--writes", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--load-on", choices=["small", "large", "both"], default="both")
    parser.add_argument("--no-model", action="store_true", help="Skip timing the real model.")
    parser.add_argument(
        "--server", action=argparse.BooleanOptionalAction, default=True,
        help="Serve a copy with a real server: its memory, and its reads while it writes.",
    )  # fmt: skip
    parser.add_argument("--server-on", choices=["small", "large", "both"], default="small")
    parser.add_argument("--server-writes", type=int, default=100, help="The memory's writes.")
    parser.add_argument("--server-seconds", type=float, default=20.0,
                        help="Seconds of reads idle, and again during writes.")  # fmt: skip
    parser.add_argument("--only", choices=["server"],
                        help="Only this part; the rest of --out stays as it was.")  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("var/bench/writes.json"))
    args = parser.parse_args()
    if args.only == "server" and not args.server:
        parser.error("--only server with --no-server leaves nothing to do")
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    import faiss

    faiss.omp_set_num_threads(1)  # as the server runs, writes and searches alike
    data = Path(os.environ.get("POLICY_SEARCH_DATA_DIR", "../shared/data"))
    speeches = Speeches(data / "policy/un-general-debates/articles.jsonl.gz")
    embedder = StandInEmbedder()
    report: dict = _previous(args.out) if args.only else {}
    report |= {"encoder": f"{embedder.model_id} (a stand-in: the model is left out)",
               "cores": os.cpu_count()}  # fmt: skip
    report.setdefault("sizes", {})
    sizes = {"small": args.small, "large": args.large}
    served = [name for name in sizes if args.server and args.server_on in (name, "both")]
    bases = {}
    for name, n in sizes.items():
        if args.only and name not in served:
            continue
        bases[name], built = base_index(speeches, n, embedder)
        figures = {"speeches": n, **built, **index_state(bases[name])}
        if args.only and report["sizes"].get(name, {}).get("speeches") == n:
            report["sizes"][name] |= figures  # keep the earlier run's figures of this index
        else:
            report["sizes"][name] = figures
        print(f"{name}: {n:,} speeches, {figures['passages']:,} passages, "
              f"{'cached' if built['cached'] else 'built'} ({built['built_s']:.0f} s to build)",
              flush=True)  # fmt: skip
    if not args.only:
        _index_figures(report, bases, speeches, embedder, args)
    if not args.only or not isinstance(report.get("server"), dict):
        report["server"] = {}  # --only server keeps an earlier run's figures of other indexes
    for name in served:
        report["server"][name] = serve_figures(
            bases[name], name, speeches, writes=args.server_writes, seconds=args.server_seconds,
            queries=args.queries,
        )  # fmt: skip
    print_report(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"figures: {args.out}")


def _index_figures(
    report: dict, bases: dict[str, Path], speeches: Speeches, embedder: StandInEmbedder,
    args: argparse.Namespace,
) -> None:  # fmt: skip
    """The index's own figures: single writes on both, the write load, the model's share."""
    copies = {name: work_copy(base, name) for name, base in bases.items()}
    try:
        for name, ops in single_writes(copies, speeches, args.reps, embedder).items():
            report["sizes"][name]["ops"] = ops
        for name, base in bases.items():
            if args.load_on not in (name, "both"):
                continue
            index_dir = work_copy(base, name)  # the same index as the writes above started from
            queries = make_queries(index_dir, args.queries)
            report["sizes"][name]["load"] = write_load(
                index_dir, speeches, 2 * args.reps, args.writes, embedder, queries
            )
            print(f"{name}: {args.writes} writes and the queries done", flush=True)
    finally:
        for index_dir in copies.values():
            shutil.rmtree(index_dir, ignore_errors=True)
    if not args.no_model:
        report["model_share"] = model_share(speeches.written(0))
