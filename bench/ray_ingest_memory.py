"""The driver's peak memory of a streamed Ray ingest at N and 10×N passages: the goal is at most
1.2× for 10× the passages (the driver holds a batch, never the corpus:
index/distributed/ray_ingest.py).

    .venv/bin/python -m bench.ray_ingest_memory [--passages 10000] [--factor 10] [--cpus 2]

A one-node Ray cluster on loopback (harness.ray_cluster) with `--cpus` CPUs; each size's ingest
runs in a driver process of its own (a fresh Python), whose peak resident memory (`ru_maxrss`)
is the figure, next to its resident memory once joined to the cluster, before the build. The
articles are synthetic (JSONL files of 200 articles, about 8 passages each, words drawn from a
fixed vocabulary) and embedded by the stand-in embedder (hashed words, 384 dimensions like the
model): what is measured is what the driver holds, which does not depend on how the vectors are
computed, and the real model on 2 cores would take an hour at 10×N. The vectors alone are
N × 1.5 KB: 15 MB at 10k passages, 150 MB at 100k, which a driver that gathered them would show.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from harness.embedders import StandInEmbedder
from harness.ray_cluster import running_cluster

ARTICLES_PER_FILE = 200
WORDS_PER_ARTICLE = 1200  # about 8 passages of the default chunking
VOCABULARY = 5000


def stand_in(device: str) -> StandInEmbedder:
    """The embedder a Ray worker loads (picklable by name)."""
    return StandInEmbedder()


def main() -> None:
    """Print each size's driver memory and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=10_000, help="N (about).")
    parser.add_argument("--factor", type=int, default=10, help="The larger size: N × this.")
    parser.add_argument("--cpus", type=int, default=2, help="The node's CPUs.")
    parser.add_argument("--child", nargs=3, metavar=("ADDRESS", "SOURCE", "INDEX"),
                        help=argparse.SUPPRESS)  # fmt: skip
    args = parser.parse_args()
    if args.child:
        _child(*args.child, cpus=args.cpus)
        return
    results = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-ray-memory-") as tmp,
        running_cluster(nodes=1, cpus_per_node=args.cpus) as cluster,
    ):
        for size in (args.passages, args.passages * args.factor):
            source = _corpus(Path(tmp) / f"source-{size}", size)
            command = [sys.executable, "-m", "bench.ray_ingest_memory", "--cpus",
                       str(args.cpus), "--child", cluster.address, str(source),
                       str(Path(tmp) / f"index-{size}")]  # fmt: skip
            done = subprocess.run(command, check=True, capture_output=True, text=True)
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    for r in results:
        parts = ", ".join(f"{k} {v:.0f}" for k, v in r["peaks"].items())
        print(
            f"{r['passages']:>8} passages ({r['articles']} articles): driver peak "
            f"{r['peak_mb']:.0f} MB, {r['joined_mb']:.0f} MB once joined, "
            f"+{r['peak_mb'] - r['joined_mb']:.0f} MB for the build ({r['seconds']:.0f} s); "
            f"peaks of its parts (MB): {parts}"
        )
    small, large = results
    times = large["passages"] / small["passages"]
    for label, key in (("its own memory (RssAnon)", "RssAnon"), ("all of it (VmRSS)", "VmRSS")):
        ratio = large["peaks"][key] / small["peaks"][key]
        print(f"peak of {label}: {ratio:.2f}× for {times:.1f}× the passages (goal ≤ 1.2×)")


def _corpus(folder: Path, passages: int) -> Path:
    """JSONL files of synthetic articles, about `passages` passages in all."""
    folder.mkdir(parents=True)
    rng = random.Random(passages)
    words = [f"w{n}" for n in range(VOCABULARY)]
    articles = max(1, passages // 8)
    for start in range(0, articles, ARTICLES_PER_FILE):
        with open(folder / f"part-{start:07d}.jsonl", "w", encoding="utf-8") as handle:
            for n in range(start, min(start + ARTICLES_PER_FILE, articles)):
                text = ". ".join(
                    " ".join(rng.choices(words, k=12)) for _ in range(WORDS_PER_ARTICLE // 12)
                )
                record = {"id": f"a{n}", "title": f"Article {n}", "text": text + "."}
                handle.write(json.dumps(record) + "\n")
    return folder


def _child(address: str, source: str, index_dir: str, *, cpus: int) -> None:
    """One driver: join, ingest, print its memory as one JSON line."""
    from policy_search.index.distributed.ray_ingest import RayIngest, RayOptions

    options = RayOptions(address, timeout=120, actors=cpus, cpus_per_actor=1)
    peaks: dict[str, float] = {}
    done = threading.Event()

    def sample() -> None:  # the peak of each kind of resident memory, 5 looks a second
        while not done.wait(0.2):
            for name, mb in _status().items():
                peaks[name] = max(peaks.get(name, 0.0), mb)

    with RayIngest(options, stand_in) as cluster:
        joined = _status()
        threading.Thread(target=sample, daemon=True).start()
        started = time.perf_counter()
        report = cluster.build([Path(source)], Path(index_dir), StandInEmbedder())
        seconds = time.perf_counter() - started
        done.set()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({
        "passages": report.passages, "articles": report.articles, "peak_mb": peak,
        "joined_mb": joined["VmRSS"], "joined": joined, "peaks": peaks, "seconds": seconds,
    }))  # fmt: skip


def _status() -> dict[str, float]:
    """This process's resident memory now, MB: all of it (VmRSS) and its parts, its own heap
    (RssAnon), files mapped (RssFile) and shared memory (RssShmem: Ray's object store, as the
    driver maps the objects it reads or writes)."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in {"VmRSS", "RssAnon", "RssFile", "RssShmem"}:
            out[name] = int(value.split()[0]) / 1024
    return out


if __name__ == "__main__":
    main()
