"""How sure each hit is, measured on judgments the ranker and its calibrations never saw.

    .venv/bin/python -m bench.confidence [--bench judged-report ...] [--plot bench/reliability.png]

For each benchmark (by default SciFact's test judgments and the judged report half; the training
ones can be asked for, as a check on fitting), every hybrid candidate of every query as a search
finds it (`bench.ranker_rows`, the default window: each side's best 200) is scored by the
shipped ranker and given its confidence; a passage counts as relevant when its article is
judged relevant.

- expected calibration error (10 equal bins) over the first 10 hits of each query (what a reader
  sees) and over every candidate past the relevance floor, in hybrid mode; and dense and lexical
  modes' own (their calibrations, on the candidates each side proposed);
- what counts as a result: the articles of the passages past the relevance floor (before) and
  past the confidence floor too (after): how many of them are relevant (precision) and how many
  of the relevant articles they hold (recall), the mean over queries;
- a reliability plot: the share relevant against the mean confidence in each bin.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from bench.ranker_rows import BENCHES, Rows, collect
from bench.train_ranker import by_query
from policy_search.search.confidence import expected_calibration_error
from policy_search.search.features import FEATURES
from policy_search.search.rerank import Ranker, context_of

REPORTED = ("judged-report", "scifact-test")
BINS = 10


def top_hits(rows: Rows, scores: np.ndarray, k: int = 10) -> np.ndarray:
    """A mask of each query's first `k` candidates by `scores`."""
    mask = np.zeros(len(scores), dtype=bool)
    for qid in rows.relevant:
        mine = np.flatnonzero(rows.queries == qid)
        mask[mine[np.argsort(-scores[mine], kind="stable")[:k]]] = True
    return mask


def counted(rows: Rows, probability: np.ndarray, floor: float) -> tuple[float, float, float]:
    """Mean precision and recall of the articles counted past `floor`, and articles per query."""
    precision, recall, sizes = [], [], []
    for qid, relevant in rows.relevant.items():
        mine = (rows.queries == qid) & (probability >= floor)
        articles = set(rows.articles[mine].tolist())
        grade = dict(zip(rows.articles[mine].tolist(), rows.grades[mine].tolist(), strict=True))
        hit = sum(1 for a in articles if grade[a] > 0)
        precision.append(hit / len(articles) if articles else 1.0)
        recall.append(hit / relevant if relevant else 1.0)
        sizes.append(len(articles))
    return float(np.mean(precision)), float(np.mean(recall)), float(np.mean(sizes))


def reliability(probability: np.ndarray, labels: np.ndarray) -> tuple[list[float], list[float]]:
    which = np.minimum((probability * BINS).astype(int), BINS - 1)
    xs, ys = [], []
    for b in range(BINS):
        inside = which == b
        if inside.sum() >= 5:
            xs.append(float(probability[inside].mean()))
            ys.append(float(labels[inside].mean()))
    return xs, ys


def measure(rows: Rows, ranker: Ranker) -> tuple[dict[str, object], dict[str, np.ndarray]]:
    labels = (rows.grades > 0).astype(np.float64)
    scores = ranker.score(rows.features)
    probability = np.zeros(len(scores))
    for mine in by_query(rows.queries):
        probability[mine] = ranker.hybrid_confidence(rows.features[mine], scores[mine])
    top = top_hits(rows, scores)
    dense, lexical = np.zeros(len(scores)), np.zeros(len(scores))
    terms = rows.features[:, FEATURES.index("query_terms")]
    for mine in by_query(rows.queries):
        d = np.flatnonzero(rows.dense[mine]) + mine.start
        x = np.flatnonzero(rows.lexical[mine]) + mine.start
        dense[d] = ranker.confidence("dense", rows.cosine[d], 0)
        if len(x):
            lexical[x] = ranker.confidence("lexical", rows.bm25[x], int(terms[x[0]]))
    dense, lexical = dense[rows.dense], lexical[rows.lexical]
    fused = np.zeros(len(scores))  # the default: the fused order, its own calibration
    for mine in by_query(rows.queries):
        context = context_of(rows.features[mine], rows.fused[mine], squashed=False)
        fused[mine] = ranker.calibrations["fused"].probability(context)
    fused_top = top_hits(rows, rows.fused)
    default = counted(rows, fused, ranker.confidence_floor)
    before = counted(rows, np.ones(len(labels)), 0.0)
    after = counted(rows, probability, ranker.confidence_floor)
    figures: dict[str, object] = {
        "bench": rows.bench,
        "queries": len(rows.relevant),
        "ece_top10_fused": round(expected_calibration_error(fused[fused_top], labels[fused_top]),
                                 4),
        "ece_all_fused": round(expected_calibration_error(fused, labels), 4),
        "counted_after_fused": {"precision": round(default[0], 3),
                                "recall": round(default[1], 3),
                                "articles": round(default[2], 1)},
        "ece_top10": round(expected_calibration_error(probability[top], labels[top]), 4),
        "ece_all": round(expected_calibration_error(probability, labels), 4),
        "ece_dense": round(expected_calibration_error(dense, labels[rows.dense]), 4),
        "ece_lexical": round(expected_calibration_error(lexical, labels[rows.lexical]), 4),
        "relevant_share_top10": round(float(labels[top].mean()), 3),
        "mean_confidence_top10": round(float(probability[top].mean()), 3),
        "floor": ranker.confidence_floor,
        "counted_before": {"precision": round(before[0], 3), "recall": round(before[1], 3),
                           "articles": round(before[2], 1)},
        "counted_after": {"precision": round(after[0], 3), "recall": round(after[1], 3),
                          "articles": round(after[2], 1)},
    }  # fmt: skip
    return figures, {
        "top": probability[top],
        "top_labels": labels[top],
        "fused": fused[fused_top],
        "fused_labels": labels[fused_top],
    }


def plot(curves: dict[str, dict[str, np.ndarray]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfectly calibrated")
    for bench, c in curves.items():
        xs, ys = reliability(c["fused"], c["fused_labels"])
        ax.plot(xs, ys, marker="o", label=f"{bench}, hybrid (default)")
        xs, ys = reliability(c["top"], c["top_labels"])
        ax.plot(xs, ys, marker="s", linestyle="--", label=f"{bench}, hybrid + ranker")
    ax.set_xlabel("confidence (mean in bin)")
    ax.set_ylabel("share of hits whose article is judged relevant")
    ax.set_title("Reliability of the first 10 hits, unseen judgments")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--bench", action="append", choices=list(BENCHES))
    parser.add_argument("--ranker", type=Path, default=None, help="A model file to measure.")
    parser.add_argument("--plot", type=Path, default=Path("bench/reliability.png"))
    args = parser.parse_args()
    from policy_search.api.settings import Settings

    embedder = Settings().embedder()
    ranker = Ranker.load(args.ranker)
    curves = {}
    for bench in args.bench or REPORTED:
        figures, curves[bench] = measure(collect(bench, args.data, embedder, ranker.features),
                                         ranker)  # fmt: skip
        print(json.dumps(figures), flush=True)
    if args.plot and args.plot.name:
        plot(curves, args.plot)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
