"""Every ranking lever tried for the judged benchmark, measured on each benchmark and split.

Each lever is a named change to the searcher's settings; each row is one lever (alone or on top
of the chosen ones) scored on the judged set's tune and report halves and on SciFact's test and
train judgments, all from cached indexes (`make eval` builds them). Query vectors are computed
once per benchmark.

    .venv/bin/python -m bench.judged.levers [--only NAME ...] [--bench judged-tune ...]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from policy_search.index.analysis.embed import Embedder
from policy_search.search.articles import ArticleSettings
from policy_search.search.evaluate import load_qrels, load_queries, measure
from policy_search.search.fusion import FusionSettings
from policy_search.search.searcher import Searcher

DEFAULT = FusionSettings(prf_weight=0.0)  # the fusion as it was before these levers
# (name, mode, fusion settings, article settings)
Lever = tuple[str, str, FusionSettings, ArticleSettings]


def _f(**changes: object) -> FusionSettings:
    return dataclasses.replace(DEFAULT, **changes)  # type: ignore[arg-type]


def _a(decay: float, top: int) -> ArticleSettings:
    return ArticleSettings(decay=decay, top=top)


MAX = ArticleSettings()
LEVERS: list[Lever] = [
    ("dense", "dense", DEFAULT, MAX),
    ("lexical", "lexical", DEFAULT, MAX),
    ("rrf", "hybrid", _f(method="rrf"), MAX),
    ("before (score a=0.4 s=10)", "hybrid", DEFAULT, MAX),
    ("now (before + prf hybrid rescore w=1.0 n=3)", "hybrid", FusionSettings(), MAX),
    # Each lever alone on top of `before`.
    *[(f"articles decay={d} top={t}", "hybrid", DEFAULT, _a(d, t))
      for d in (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0) for t in (2, 3, 5)],
    *[(f"fusion a={a} s={s}", "hybrid", _f(alpha=a, saturation=s), MAX)
      for a in (0.3, 0.4, 0.5, 0.6, 0.7) for s in (5.0, 10.0, 20.0, 40.0)],
    *[(f"fusion a={a} bm25/max", "hybrid", _f(alpha=a, lexical_scale="max"), MAX)
      for a in (0.3, 0.4, 0.5, 0.6, 0.7)],
    # Feedback from the dense side's top passages, or from the fused ranking's, searching the
    # dense side again with the moved vector or only re-scoring the fused candidates.
    *[(f"prf {name} w={w} n={n}", "hybrid",
       _f(prf_weight=w, prf_passages=n, prf_source=src, prf_search=again), MAX)
      for name, src, again in (("dense", "dense", True), ("hybrid search", "hybrid", True),
                               ("hybrid rescore", "hybrid", False))
      for w in (0.25, 0.5, 1.0, 2.0) for n in (3, 5, 10)],
    *[(f"proximity {p} window={w}", "hybrid", _f(proximity=p, proximity_window=w), MAX)
      for p in (0.05, 0.1, 0.2) for w in (1, 4)],
    *[(f"title {t}", "hybrid", _f(title=t), MAX) for t in (0.05, 0.1, 0.2)],
    # On top of `now`.
    *[(f"now + proximity {p} window=1 depth={d}", "hybrid",
       FusionSettings(proximity=p, proximity_depth=d), MAX)
      for p in (0.02, 0.05) for d in (20, 50)],
    *[(f"now + articles decay={d} top=3", "hybrid", FusionSettings(), _a(d, 3))
      for d in (0.05, 0.1)],
    *[(f"rrf k={k}", "hybrid", _f(method="rrf", rrf_k=k), MAX) for k in (10, 30, 100)],
]  # fmt: skip


# Levers together: the fusion's weight and saturation with feedback from the fused ranking.
GRID: list[Lever] = [
    (f"a={a} s={s_} prf hybrid w={w} n={n}", "hybrid",
     _f(alpha=a, saturation=s_, prf_weight=w, prf_passages=n, prf_source="hybrid",
        prf_search=True), MAX)
    for a in (0.3, 0.4, 0.5) for s_ in (10.0, 20.0) for w in (0.5, 1.0, 1.5) for n in (2, 3, 4)
]  # fmt: skip


class _Cached:
    """An embedder that answers repeated queries from memory (the sweep re-asks them)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.dim = inner.dim
        self.seen: dict[str, np.ndarray] = {}

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self.seen]
        if missing:
            for text, vector in zip(missing, self.inner.encode(missing, batch_size=batch_size),
                                    strict=True):  # fmt: skip
                self.seen[text] = vector
        return np.stack([self.seen[t] for t in texts])

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


BENCHES = {
    "judged-tune": ("var/judged/policy-judged", "policy-judged", "tune"),
    "judged-report": ("var/judged/policy-judged", "policy-judged", "report"),
    "scifact-test": ("{data}/beir/scifact", "scifact", "test"),
    "scifact-train": ("{data}/beir/scifact", "scifact", "train"),
}


def sweep(
    levers: list[Lever], benches: list[str], data: Path, backend: str
) -> list[dict[str, object]]:
    from policy_search.api.settings import Settings

    embedder = _Cached(Settings().embedder())
    rows: dict[str, dict[str, object]] = {name: {"lever": name} for name, *_ in levers}
    for bench in benches:
        folder, name, split = BENCHES[bench]
        directory = Path(folder.format(data=data))
        qrels = load_qrels(directory, split)
        asked = load_queries(directory)
        queries = {q: asked[q] for q in qrels if q in asked}
        base = Searcher.load(Path(f"var/eval/{name}-{backend}"), embedder)  # type: ignore[arg-type]
        for lever, mode, fusion, articles in levers:
            # The levers of the fused ranking: without the learned ranker (bench.train_ranker).
            searcher = Searcher(base.snapshot, embedder, fusion=fusion, articles=articles,  # type: ignore[arg-type]
                                queries=base.queries, analyzer=base.analyzer,
                                ranker=None)  # fmt: skip
            figures, _ = measure(searcher, queries, qrels, mode=mode)
            rows[lever][bench] = {k: round(100 * v, 1) for k, v in figures.items()}
            print(json.dumps({"lever": lever, "bench": bench, **rows[lever][bench]}), flush=True)  # type: ignore[dict-item]
    return list(rows.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--bench", action="append", choices=list(BENCHES))
    parser.add_argument("--only", action="append", help="Levers whose name starts so.")
    parser.add_argument("--backend", default="onnx-int8")
    parser.add_argument("--grid", action="store_true", help="The levers together (GRID).")
    args = parser.parse_args()
    pool = GRID if args.grid else LEVERS
    levers = [lv for lv in pool if not args.only or any(lv[0].startswith(o) for o in args.only)]
    rows = sweep(levers, args.bench or list(BENCHES), args.data, args.backend)
    benches = args.bench or list(BENCHES)
    print(f"\n{'lever':<44}" + "".join(f"{b:>22}" for b in benches))
    print(f"{'':<44}" + "".join(f"{'P@5 nDCG R@100':>22}" for _ in benches))
    for row in rows:
        cells = []
        for b in benches:
            f = row.get(b)
            cells.append(
                f"{f['P_5']:>8.1f}{f['ndcg_cut_10']:>7.1f}{f['recall_100']:>7.1f}"
                if f
                else f"{'':>22}"
            )  # type: ignore[index]
        print(f"{row['lever']!s:<44}" + "".join(cells))


if __name__ == "__main__":
    main()
