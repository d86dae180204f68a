"""Ray's overhead on ingest: passages/s of `index --ray` on a local Ray cluster against the
local build of the same input, in the same run.

    .venv/bin/python -m bench.ray_ingest [--data PATH] [--limit N] [--cpus 2] [--actors 1] [--abba]

One machine cannot show what more nodes add (on 2 cores a second node only splits the same
cores), so this measures what Ray costs: a one-node cluster with the machine's CPUs
(harness.ray_cluster, on loopback), one embedding actor holding them all, against
`build_index` in this process with the model loaded once. Both read, chunk, embed and write the
same files into a fresh index; Ray's time includes joining the cluster and its workers loading
the model. The goal is a ratio of at least 0.9. `--abba`: each twice, in A B B A order, so that
a drift in the machine's load weighs on both alike.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from harness.ray_cluster import running_cluster
from policy_search.index.analysis.embed import BACKENDS, DEFAULT_BACKEND, MODEL_CACHE, load_embedder
from policy_search.index.build import build_index
from policy_search.index.distributed.ray_ingest import ModelSpec, RayIngest, RayOptions
from policy_search.index.readers import iter_files, read_paths


def main() -> None:
    """Print passages/s of both and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("corpus"),
                        help="Files or a folder to index (default corpus/).")  # fmt: skip
    parser.add_argument("--limit", type=int, default=None, help="The first N files only.")
    parser.add_argument("--backend", choices=BACKENDS, default=DEFAULT_BACKEND)
    parser.add_argument("--cpus", type=int, default=os.cpu_count() or 2, help="The node's CPUs.")
    parser.add_argument("--actors", type=int, default=1, help="Embedding actors.")
    parser.add_argument("--abba", action="store_true", help="Each twice, in A B B A order.")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory(prefix="bench-ray-") as tmp:
        source = _source(args.data, args.limit, Path(tmp) / "source")
        embedder = load_embedder(backend=args.backend, cache_dir=MODEL_CACHE)
        spec = ModelSpec("default", args.backend, MODEL_CACHE)
        cpus_per_actor = args.cpus / args.actors
        times = {"local": 0.0, "ray": 0.0}
        passages = 0
        with running_cluster(nodes=1, cpus_per_node=args.cpus) as cluster:
            options = RayOptions(cluster.address, timeout=120, actors=args.actors,
                                 cpus_per_actor=cpus_per_actor)  # fmt: skip
            for n, step in enumerate(("local", "ray", "ray", "local")[: 4 if args.abba else 2]):
                index_dir = Path(tmp) / f"index-{n}"
                started = time.perf_counter()
                if step == "local":
                    report = build_index(read_paths([source]), index_dir, embedder)
                else:
                    with RayIngest(options, spec) as ray:
                        report = ray.build([source], index_dir, embedder)
                took = time.perf_counter() - started
                times[step] += took
                passages = report.passages
                print(f"  {step:<6} {passages} passages in {took:6.1f} s", flush=True)
    rounds = 2 if args.abba else 1
    local, ray_rate = rounds * passages / times["local"], rounds * passages / times["ray"]
    print(
        f"{report.articles} articles, {passages} passages, backend {args.backend}; Ray: 1 node "
        f"of {args.cpus} CPUs, {args.actors} actor(s) of {cpus_per_actor:g} CPUs"
    )
    print(f"local build_index   {local:8.1f} passages/s")
    print(f"index --ray         {ray_rate:8.1f} passages/s")
    print(f"ratio (ray / local) {ray_rate / local:8.2f}   (goal >= 0.9)")


def _source(data: Path, limit: int | None, folder: Path) -> Path:
    """The input as one folder (the first `limit` files of `data`, ids kept by their path)."""
    if limit is None:
        return data
    for path in list(iter_files(data))[:limit]:
        target = folder / path.relative_to(data) if data.is_dir() else folder / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    return folder


if __name__ == "__main__":
    main()
