"""What each ranking lever costs a query, in process, against the ranking before them.

Runs the judged benchmark's questions and the README's three through `Searcher.search` (hybrid,
k = 10, query vectors cached so the model is out of it) under each setting, rounds alternating
in order (ABC, CBA, ...) so that a noisy machine weighs on all alike, and prints each setting's
median over rounds of the per-round median latency, and its ratio to `before`.

    .venv/bin/python -m bench.ranking_cost [INDEX_DIR]   (default: the judged benchmark's index)
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from pathlib import Path

import yaml

from policy_search.api.settings import Settings
from policy_search.search.fusion import FusionSettings
from policy_search.search.searcher import Searcher

README_QUERIES = [
    "Middle Corridor",
    "Azerbaijan and the Abraham Accords",
    "who argues the US should follow Israel's lead in Baku?",
]
NOW = FusionSettings()
SETTINGS = {
    "before (no feedback)": dataclasses.replace(NOW, prf_weight=0.0),
    "now (feedback, re-scoring)": NOW,
    "feedback, searching again": dataclasses.replace(NOW, prf_search=True),
    "now + phrase bonus": dataclasses.replace(NOW, proximity=0.02, proximity_depth=20),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index_dir", type=Path, nargs="?",
                        default=Path("var/eval/policy-judged-onnx-int8"))  # fmt: skip
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    embedder = Settings().embedder()
    base = Searcher.load(args.index_dir, embedder)
    asked = yaml.safe_load(Path("bench/judged/questions.yaml").read_text(encoding="utf-8"))
    queries = [str(q["query"]) for q in asked] + README_QUERIES
    for query in queries:
        base.queries.vector(query)
    searchers = {
        name: Searcher(
            base.snapshot, embedder, fusion=fusion, queries=base.queries, analyzer=base.analyzer
        )
        for name, fusion in SETTINGS.items()
    }
    rounds: dict[str, list[float]] = {name: [] for name in SETTINGS}
    for n in range(args.rounds):
        for name in list(SETTINGS) if n % 2 == 0 else list(reversed(SETTINGS)):
            latencies = []
            for query in queries:
                started = time.perf_counter()
                searchers[name].search(query, k=10)
                latencies.append((time.perf_counter() - started) * 1000)
            rounds[name].append(statistics.median(latencies))
    medians = {name: statistics.median(values) for name, values in rounds.items()}
    before = medians["before (no feedback)"]
    print(f"{args.index_dir}: {base.snapshot.passages:,} passages, {len(queries)} queries, "
          f"{args.rounds} rounds")  # fmt: skip
    for name, value in medians.items():
        print(f"  {name:<30} {value:6.2f} ms  {value / before:4.2f}x")


if __name__ == "__main__":
    main()
