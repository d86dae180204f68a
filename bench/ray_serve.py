"""Query latency through Ray Serve against the plain server: p50 and p99 at 1 and 8 clients.

    .venv/bin/python -m bench.ray_serve [--corpus corpus] [--clients 1,8] [--seconds 15]

The same articles (corpus/, the real model) as one index served by `policy-search serve`, and
as 2 shards served by `policy-search serve --ray ADDRESS --replicas 1` on a two-node Ray
cluster on loopback (harness.ray_cluster; one replica per shard and the ingress, half a CPU
each). Both servers are up for the whole run and asked the same queries (distinct, seeded:
harness.query_list) by the same closed-loop generator (harness.load, a process of its own),
in rounds ABBA per client count, so neither side has the warmer machine. Prints each run and
the ratios Ray/plain. The indexes are built once into var/bench/ray-serve and reused.

What it measures on one machine of 2 cores is Ray Serve's overhead (the proxy, the ingress,
a fan-out to each shard through Serve's handles and pickled answers), not what more machines
would add: the shards here share the same two cores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

from harness.indexes import backend_of, index_manifest
from harness.query_list import make_queries
from harness.ray_cluster import running_cluster
from harness.server import ROOT, free_port, running_server, stop, wait_until_up

OUT = ROOT / "var" / "bench" / "ray-serve"


def built(corpus: Path, index_dir: Path, *extra: str) -> Path:
    """`index_dir` built from `corpus` with the real model, unless it is there already."""
    cli = [sys.executable, "-m", "policy_search"]
    if subprocess.run([*cli, "stats", "--index-dir", str(index_dir)],
                      capture_output=True).returncode != 0:  # fmt: skip
        print(f"building {index_dir} from {corpus} (minutes, once)", flush=True)
        subprocess.run([*cli, "index", str(corpus), "--index-dir", str(index_dir), *extra],
                       check=True, cwd=ROOT)  # fmt: skip
    return index_dir


def serve_on_ray(index_dir: Path, address: str, backend: str) -> tuple[str, subprocess.Popen]:
    """`policy-search serve --ray` on a free loopback port, up and answering."""
    port = free_port()
    env = {
        **os.environ, "POLICY_SEARCH_BACKEND": backend, "POLICY_SEARCH_REPLICA_CPUS": "0.5",
        "POLICY_SEARCH_SHARD_TIMEOUT": "60",
    }  # fmt: skip
    command = [sys.executable, "-m", "policy_search", "serve", "--ray", address, "--replicas",
               "1", "--index-dir", str(index_dir), "--port", str(port)]  # fmt: skip
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed by harness.server.stop)
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    proc.log = log  # type: ignore[attr-defined]
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(proc, url, timeout=300)
    except BaseException:
        stop(proc)
        raise
    return url, proc


def load(url: str, queries_file: str, clients: int, seconds: float) -> dict:
    """One closed-loop run of harness.load; its figures."""
    command = [sys.executable, "-m", "harness.load", url, "--clients", str(clients),
               "--seconds", str(seconds), "--queries", queries_file]  # fmt: skip
    return json.loads(subprocess.run(command, capture_output=True, check=True).stdout)


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--clients", default="1,8")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--queries", type=int, default=2000)
    args = parser.parse_args()
    single = built(args.corpus, OUT / "single")
    sharded = built(args.corpus, OUT / "sharded", "--shards", "2")
    manifest = index_manifest(single)
    backend = backend_of(manifest.model_id)
    queries = make_queries(single, args.queries)
    print(f"{manifest.articles} articles, {manifest.passages} passages, model "
          f"{manifest.model_id}; plain: one index; Ray: 2 shards x 1 replica")  # fmt: skip
    counts = [int(c) for c in args.clients.split(",")]
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as file, running_cluster(2) as cluster:
        file.write("\n".join(queries))
        file.flush()
        with running_server(single, env={"POLICY_SEARCH_BACKEND": backend}) as plain:
            ray_url, ray_proc = serve_on_ray(sharded, cluster.address, backend)
            try:
                urls = {"plain": plain.url, "ray": ray_url}
                for url in urls.values():  # warm up on queries the runs reach last, if at all
                    for q in queries[-20:]:
                        httpx.get(f"{url}/search", params={"q": q}, timeout=60)
                rows = rounds(urls, file.name, counts, args.seconds)
            finally:
                stop(ray_proc)
    print("\nper client count (the two half-runs of each side averaged):")
    for clients in counts:
        plain_p, ray_p = _mean(rows[("plain", clients)]), _mean(rows[("ray", clients)])
        print(f"{clients} clients: plain p50 {plain_p['p50']:.1f} p99 {plain_p['p99']:.1f} ms, "
              f"{plain_p['qps']:.1f} q/s; Ray p50 {ray_p['p50']:.1f} p99 {ray_p['p99']:.1f} ms, "
              f"{ray_p['qps']:.1f} q/s; Ray/plain p50 {ray_p['p50'] / plain_p['p50']:.2f}x "
              f"p99 {ray_p['p99'] / plain_p['p99']:.2f}x q/s "
              f"{ray_p['qps'] / plain_p['qps']:.2f}x")  # fmt: skip


def rounds(
    urls: dict[str, str], queries_file: str, counts: list[int], seconds: float
) -> dict[tuple[str, int], list[dict]]:
    """Each client count's runs, ABBA: plain, Ray, Ray, plain, each half of `seconds`."""
    rows: dict[tuple[str, int], list[dict]] = {}
    print(f"{'server':>6} {'clients':>7} {'requests':>8} {'errors':>6} {'q/s':>7} "
          f"{'p50':>7} {'p99':>7}  (ms)")  # fmt: skip
    for clients in counts:
        for name in ("plain", "ray", "ray", "plain"):
            result = load(urls[name], queries_file, clients, seconds / 2)
            rows.setdefault((name, clients), []).append(result)
            print(f"{name:>6} {clients:>7} {result['requests']:>8} {result['errors']:>6} "
                  f"{result['qps']:>7.1f} {result['p50']:>7.1f} {result['p99']:>7.1f}",
                  flush=True)  # fmt: skip
    return rows


def _mean(runs: list[dict]) -> dict[str, float]:
    return {key: sum(r[key] for r in runs) / len(runs) for key in ("p50", "p99", "qps")}


if __name__ == "__main__":
    main()
