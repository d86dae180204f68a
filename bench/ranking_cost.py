"""What each ranking lever costs a query, in process, against the ranking before them.

Runs the judged benchmark's questions and the README's three through `Searcher.search` (hybrid,
k = 10, query vectors cached so the model is out of it) under each setting, rounds alternating
in order (ABC, CBA, ...) so that a noisy machine weighs on all alike, and prints each setting's
median over rounds of the per-round median latency, and its ratio to the fused ranking of
before the learned ranker (with facets: to the same with facets).

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
# name → (fusion, learned ranker on, the request's options besides the query)
PLAIN: dict[str, object] = {"k": 10}
EVERYTHING: dict[str, object] = {"k": 10, "facets": ["year", "source", "country"]}
RANK_ONLY: dict[str, object] = {}  # `Searcher.rank` alone: the ranking, no hits nor snippets
# How each searcher ranks: `none`, as before issue 26 (no calibrations, no confidence);
# `confidence`, the fused order with each hit's confidence and the floor (the default now);
# `ranker`, ordered by the learned ranker.
SETTINGS: dict[str, tuple[FusionSettings, str, dict[str, object]]] = {
    "before (no feedback)": (dataclasses.replace(NOW, prf_weight=0.0), "none", PLAIN),
    "fused (feedback, re-scoring)": (NOW, "none", PLAIN),
    "feedback, searching again": (dataclasses.replace(NOW, prf_search=True), "none", PLAIN),
    "fused + phrase bonus": (dataclasses.replace(NOW, proximity=0.02, proximity_depth=20),
                             "none", PLAIN),
    "now (fused + confidence)": (NOW, "confidence", PLAIN),
    "learned ranker": (NOW, "ranker", PLAIN),
    # Everything on: facets, the confidence floor counting them, snippets.
    "fused, facets": (NOW, "none", EVERYTHING),
    "now (confidence), facets": (NOW, "confidence", EVERYTHING),
    "learned ranker, facets": (NOW, "ranker", EVERYTHING),
    # The ranking alone (no hits, snippets or facets): what the learned ranker itself costs.
    "fused, ranking only": (NOW, "none", RANK_ONLY),
    "now (confidence), ranking only": (NOW, "confidence", RANK_ONLY),
    "learned ranker, ranking only": (NOW, "ranker", RANK_ONLY),
}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index_dir", type=Path, nargs="?",
                        default=Path("var/eval/policy-judged-onnx-int8"))  # fmt: skip
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    settings = Settings()
    embedder = settings.embedder()
    ranker = settings.ranker()
    base = Searcher.load(args.index_dir, embedder)
    asked = yaml.safe_load(Path("bench/judged/questions.yaml").read_text(encoding="utf-8"))
    queries = [str(q["query"]) for q in asked] + README_QUERIES
    for query in queries:
        base.queries.vector(query)
    searchers = {
        name: Searcher(
            base.snapshot,
            embedder,
            fusion=fusion,
            queries=base.queries,
            analyzer=base.analyzer,
            ranker=ranker if kind != "none" else None,
            learned_order=kind == "ranker",
            confidence_floor=ranker.confidence_floor,
        )
        for name, (fusion, kind, _) in SETTINGS.items()
    }
    rounds: dict[str, list[float]] = {name: [] for name in SETTINGS}
    for n in range(args.rounds):
        for name in list(SETTINGS) if n % 2 == 0 else list(reversed(SETTINGS)):
            latencies = []
            searcher, options = searchers[name], SETTINGS[name][2]
            for query in queries:
                started = time.perf_counter()
                if options is RANK_ONLY:
                    searcher.rank(searcher.queries.vector(query), searcher.analyzer.terms(query),
                                  mode="hybrid", depth=searcher.fusion.depth)  # fmt: skip
                else:
                    searcher.search(query, **options)
                latencies.append((time.perf_counter() - started) * 1000)
            rounds[name].append(statistics.median(latencies))
    medians = {name: statistics.median(values) for name, values in rounds.items()}
    today = medians["fused (feedback, re-scoring)"]  # what searched before the learned ranker
    today_facets = medians["fused, facets"]
    today_ranking = medians["fused, ranking only"]
    print(f"{args.index_dir}: {base.snapshot.passages:,} passages, {len(queries)} queries, "
          f"{args.rounds} rounds")  # fmt: skip
    for name, value in medians.items():
        options = SETTINGS[name][2]
        base = {id(EVERYTHING): today_facets, id(RANK_ONLY): today_ranking}.get(id(options), today)
        print(f"  {name:<30} {value:6.2f} ms  {value / base:4.2f}x")


if __name__ == "__main__":
    main()
