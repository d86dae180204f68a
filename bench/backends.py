"""The model's backends side by side: encode speed against torch fp32, and SciFact nDCG@10.

    .venv/bin/python -m bench.backends [--passages 2000]

Speed: each backend encodes the same SciFact passages (this project's chunks, title prefix
included) in the same process, batches of 64, after a warm-up; the figure that matters is the
ratio to torch. Also a single short query, which is what a search pays. Quality: nDCG@10 (dense
and hybrid) of `policy-search eval` for each backend, using the indexes cached in
var/eval/scifact-<backend> (built on the first run: minutes each); fp32 ONNX gives the torch
vectors, so its figures are torch's ("=").
"""

from __future__ import annotations

import argparse
import itertools
import os
import time
from pathlib import Path

import numpy as np

from policy_search.index.analysis.chunk import (
    ChunkSettings,
    chunk_article,
    embed_text,
    title_prefix,
)
from policy_search.index.analysis.embed import BACKENDS, load_embedder
from policy_search.search.evaluate import evaluate, read_beir_corpus


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=2000)
    parser.add_argument("--no-eval", action="store_true", help="Speed only.")
    args = parser.parse_args()
    scifact = Path(os.environ.get("POLICY_SEARCH_DATA_DIR", "../shared/data")) / "beir/scifact"
    embedders = {backend: load_embedder(backend=backend) for backend in BACKENDS}
    reference, settings = embedders["torch"], ChunkSettings()
    texts = list(itertools.islice(
        (embed_text(title_prefix(a, reference, settings), p.text)
         for a in read_beir_corpus(scifact) for p in chunk_article(a, reference, settings)),
        args.passages,
    ))  # fmt: skip
    queries = ["nuclear disarmament treaty", "Middle Corridor", "vitamin D and bone density"] * 20
    print(f"{len(texts)} SciFact passages, batches of 64; {os.cpu_count()} cores")
    print(f"{'backend':<10} {'passages/s':>10} {'vs torch':>8} {'query ms':>8} {'cos to torch':>12}"
          f" {'dense':>6} {'hybrid':>6}")  # fmt: skip
    base = reference.encode(texts[:256])
    speed: dict[str, float] = {}
    for backend, embedder in embedders.items():
        embedder.encode(texts[:64])  # warm up
        began = time.perf_counter()
        vectors = embedder.encode(texts)
        speed[backend] = len(texts) / (time.perf_counter() - began)
        one = []
        for q in queries:
            began = time.perf_counter()
            embedder.encode([q])
            one.append((time.perf_counter() - began) * 1000)
        cosine = float((vectors[:256] * base).sum(axis=1).mean())
        quality = ["", ""]
        if backend == "onnx":  # the torch vectors (cos above), so the torch figures
            quality = ["=", "="]
        elif not args.no_eval:
            cache = Path("var/eval") / f"scifact-{backend}"
            quality = [
                f"{100 * evaluate(scifact, embedder, cache=cache, mode=m).ndcg_at_10:.1f}"
                for m in ("dense", "hybrid")
            ]
        ratio = speed[backend] / speed["torch"]
        print(f"{backend:<10} {speed[backend]:>10.1f} {ratio:>7.2f}x {np.median(one):>8.2f} "
              f"{cosine:>12.4f} {quality[0]:>6} {quality[1]:>6}")  # fmt: skip


if __name__ == "__main__":
    main()
