"""Train the learned ranker and its calibrations; write the model file the searcher ships.

    .venv/bin/python -m bench.train_ranker [--out search/models/ranker-v1.json]
    (make train-ranker)

On SciFact's training judgments and the judged benchmark's tune half only (never SciFact's test
or the judged report half, which `bench.confidence` and `policy-search eval` report on), from
the cached indexes `make eval` builds. Each hybrid candidate is a row (`bench.ranker_rows`),
labelled with its article's grade (0 where unjudged).

1. The ranker: LightGBM gradient-boosted trees trained with LambdaRank (each query's candidates
   ordered for nDCG; out of fold it beat a binary log-loss by 3 points of nDCG@10 on SciFact's
   training queries and 2.7 on the tune half), monotone where the evidence can only help (both
   cosines, BM25, the shares of words, phrases, near pairs and title words) or only hurt (the
   ranks), so a passage holding the query's words side by side never ranks below one holding
   them apart, all else equal.
2. The calibrations, on out-of-fold scores (5 folds by query, so no row is scored by trees
   that saw it), each to the probability that the article is relevant; the judged set's 26
   queries weigh as much as SciFact's 809 together. The ranker's score has no meaning from one
   query to the next (LambdaRank orders within a query), so its calibration reads the query's
   context as well (`confidence.ContextCalibration`: Platt scaling over the score and figures
   shared by all the query's candidates, then isotonic); an isotonic regression each for
   hybrid's fused score, the dense cosine and BM25.
3. The default confidence floor: the one with the best F1 of counted articles (relevant among
   the counted, counted among the relevant) on the same out-of-fold probabilities, the mean of
   both training sets' F1.

Deterministic (fixed seeds, one thread): rerunning on the same indexes writes the same file.
Rerun it after any change to the analysis, the fusion or the features (the model file names the
features it reads; the searcher refuses one of another set).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from bench.ranker_rows import TRAINING, Rows, collect
from policy_search.search.confidence import (
    CONTEXT,
    DENSE_CONTEXT,
    FUSED_CONTEXT,
    LEXICAL_CONTEXT,
    fit_context_calibration,
    query_context,
)
from policy_search.search.features import FEATURES, FeatureSettings
from policy_search.search.rerank import DEFAULT_RANKER, context_of, squash

NAME, VERSION = "ranker", 1
FOLDS = 5
INCREASING = {"cosine", "feedback", "bm25", "bm25_saturated", "fused", "terms", "terms_idf",
              "phrase", "near", "title"}  # fmt: skip
DECREASING = {"dense_rank", "lexical_rank"}
PARAMS = {
    "objective": "lambdarank",
    "learning_rate": 0.1,
    "num_leaves": 15,
    "min_data_in_leaf": 100,
    "feature_fraction": 0.9,
    "lambda_l2": 1.0,
    "monotone_constraints": [1 if f in INCREASING else -1 if f in DECREASING else 0
                             for f in FEATURES],
    "monotone_constraints_method": "advanced",
    "num_threads": 1,
    "deterministic": True,
    "seed": 26,
    "verbose": -1,
}  # fmt: skip
ROUNDS = 100
# The hybrid calibration is fitted on each query's best CALIBRATION_DEPTH candidates by the
# out-of-fold score: the hits a reader sees and where the confidence floor falls; the hundreds
# below them are nearly all irrelevant and would outweigh them.
CALIBRATION_DEPTH = 30
FLOORS = np.round(np.arange(0.05, 0.95, 0.05), 2)


def weights(rows: list[Rows]) -> list[np.ndarray]:
    """Each row's weight in calibration: each training set weighs the same in all."""
    total = sum(len(r.grades) for r in rows)
    return [np.full(len(r.grades), total / (len(rows) * len(r.grades))) for r in rows]


def fit(features: np.ndarray, grades: np.ndarray, queries: np.ndarray) -> object:
    """LambdaRank trees over rows that come query by query."""
    import lightgbm

    sizes = [s.stop - s.start for s in by_query(queries)]
    data = lightgbm.Dataset(features, grades, group=sizes, feature_name=list(FEATURES),
                            free_raw_data=False)  # fmt: skip
    return lightgbm.train(PARAMS, data, num_boost_round=ROUNDS)


def out_of_fold(features: np.ndarray, grades: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Each row's score by trees trained without its query (FOLDS folds by query)."""
    from sklearn.model_selection import GroupKFold

    scores = np.zeros(len(grades))
    for train, held in GroupKFold(n_splits=FOLDS).split(features, grades, groups=queries):
        model = fit(features[train], grades[train], queries[train])  # whole queries, in order
        scores[held] = squash(model.predict(features[held], num_threads=1))  # type: ignore[attr-defined]
    return scores


def article_f1(rows: Rows, probability: np.ndarray, floor: float) -> float:
    """Mean over queries of F1 between the articles counted (best passage's probability past
    `floor`) and the articles judged relevant."""
    f1s = []
    for qid, relevant in rows.relevant.items():
        mine = rows.queries == qid
        best: dict[str, float] = {}
        for a, p in zip(rows.articles[mine], probability[mine], strict=True):
            best[a] = max(best.get(a, 0.0), float(p))
        grade = dict(zip(rows.articles[mine], rows.grades[mine], strict=True))
        counted = [a for a, p in best.items() if p >= floor]
        hit = sum(1 for a in counted if grade.get(a, 0) > 0)
        precision = hit / len(counted) if counted else 1.0
        recall = hit / relevant if relevant else 1.0
        f1s.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return float(np.mean(f1s)) if f1s else 0.0


def best_of(scores: np.ndarray, among: np.ndarray, runs: list[slice]) -> np.ndarray:
    """A mask of each query's best CALIBRATION_DEPTH rows by `scores` among the `among` rows."""
    top = np.zeros(len(scores), dtype=bool)
    for m in runs:
        mine = np.flatnonzero(among[m]) + m.start
        top[mine[np.argsort(-scores[mine], kind="stable")[:CALIBRATION_DEPTH]]] = True
    return top


def by_query(queries: np.ndarray) -> list[slice]:
    """The runs of rows of each query (rows come query by query)."""
    starts = np.flatnonzero(np.r_[True, queries[1:] != queries[:-1]])
    ends = np.r_[starts[1:], len(queries)]
    return [slice(int(a), int(b)) for a, b in zip(starts, ends, strict=True)]


def article_metrics(rows: Rows, scores: np.ndarray) -> dict[str, float]:
    """P@5 and nDCG@10 (×100) of the articles ranked by their best passage's score, as
    `policy-search eval` ranks them, against the judgments the rows carry."""
    import pytrec_eval

    run: dict[str, dict[str, float]] = {}
    qrels: dict[str, dict[str, int]] = {}
    for qid in rows.relevant:
        mine = rows.queries == qid
        best: dict[str, float] = {}
        for a, score in zip(rows.articles[mine].tolist(), scores[mine].tolist(), strict=True):
            best[a] = max(best.get(a, -np.inf), score)
        run[qid] = dict(sorted(best.items(), key=lambda x: -x[1])[:100])
        judged = {a: int(g) for a, g in zip(rows.articles[mine], rows.grades[mine], strict=True)}
        qrels[qid] = judged if any(judged.values()) else {"-": 1}
    each = pytrec_eval.RelevanceEvaluator(qrels, {"P.5", "ndcg_cut.10"}).evaluate(run)
    return {m: round(100 * float(np.mean([e[m] for e in each.values()])), 1)
            for m in ("P_5", "ndcg_cut_10")}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=DEFAULT_RANKER)
    parser.add_argument(
        "--bench",
        action="append",
        choices=TRAINING,
        help="Train on these alone (a check; the shipped model takes both).",
    )
    args = parser.parse_args()
    from policy_search.api.settings import Settings

    embedder = Settings().embedder()
    settings = FeatureSettings()
    rows = [collect(bench, args.data, embedder, settings) for bench in args.bench or TRAINING]
    weight = np.concatenate(weights(rows))
    features = np.concatenate([r.features for r in rows])
    labels = np.concatenate([(r.grades > 0).astype(np.float64) for r in rows])
    queries = np.concatenate([np.array([f"{r.bench}/{q}" for q in r.queries]) for r in rows])
    print(f"{len(labels)} candidates of {len(set(queries))} queries, {int(labels.sum())} relevant")
    grades = np.concatenate([r.grades for r in rows])
    oof = out_of_fold(features, grades, queries)
    model = fit(features, grades, queries)
    cosine = np.concatenate([r.cosine for r in rows])
    bm25 = np.concatenate([r.bm25 for r in rows])
    dense = np.concatenate([r.dense for r in rows])
    lexical = np.concatenate([r.lexical for r in rows])
    runs = by_query(queries)
    context = np.concatenate([context_of(features[m], oof[m]) for m in runs])
    top = best_of(oof, np.ones(len(labels), dtype=bool), runs)
    hybrid = fit_context_calibration(CONTEXT, context[top], labels[top], weight[top])
    calibration = {"ranker": hybrid}
    terms = features[:, FEATURES.index("query_terms")]
    fused = np.concatenate([r.fused for r in rows])
    everyone = np.ones(len(labels), dtype=bool)
    fused_context = np.concatenate([context_of(features[m], fused[m], squashed=False)
                                    for m in runs])  # fmt: skip
    top = best_of(fused, everyone, runs)
    calibration["fused"] = fit_context_calibration(
        FUSED_CONTEXT, fused_context[top], labels[top], weight[top]
    )
    for mode, side, score, names in (
        ("dense", dense, cosine, DENSE_CONTEXT),
        ("lexical", lexical, np.log1p(bm25), LEXICAL_CONTEXT),
    ):
        rows_of = [np.flatnonzero(side[m]) + m.start for m in runs]
        shared = [(terms[i[0]],) if mode == "lexical" and len(i) else () for i in rows_of]
        mode_context = np.concatenate(
            [query_context(score[i], *extra) for i, extra in zip(rows_of, shared, strict=True)]
        )
        chosen = np.concatenate(rows_of)
        top_side = best_of(score, side, runs)[chosen]
        calibration[mode] = fit_context_calibration(
            names, mode_context[top_side], labels[chosen][top_side], weight[chosen][top_side]
        )
    for mode, fitted in calibration.items():
        if fitted.weights[0] <= 0:
            raise SystemExit(f"the {mode} calibration weighs its score down: not a calibration")
    # The default floor is chosen for the default order (the fused ranking; the ranker's is an
    # option): on the fused score's confidence (the fused score is not learned: no folds).
    probability = calibration["fused"].probability(fused_context)
    start = 0
    for r in rows:  # out of fold, so a fair look at the training sets themselves
        mine = slice(start, start + len(r.grades))
        start += len(r.grades)
        print(r.bench, "fused", article_metrics(r, r.fused), "ranker (out of fold)",
              article_metrics(r, oof[mine]))  # fmt: skip
    start = 0
    f1 = np.zeros(len(FLOORS))
    for r in rows:
        mine = probability[start : start + len(r.grades)]
        start += len(r.grades)
        each = np.array([article_f1(r, mine, float(t)) for t in FLOORS])
        print(
            r.bench, "F1 by floor", dict(zip(FLOORS.tolist(), each.round(3).tolist(), strict=True))
        )
        f1 += each / len(rows)
    floor = float(FLOORS[int(np.argmax(f1))])
    print(f"confidence floor {floor} (mean article F1 {f1.max():.3f})")
    importance = dict(
        zip(FEATURES, model.feature_importance("gain").round(1).tolist(), strict=True)
    )  # type: ignore[attr-defined]
    print("gain by feature", importance)
    out = {
        "name": NAME,
        "version": VERSION,
        "trained_on": "SciFact qrels/train.tsv and the judged benchmark's tune half "
        f"(bench/train_ranker.py; {len(set(queries))} queries, {len(labels)} candidates)",
        "features": list(FEATURES),
        "text_depth": settings.text_depth,
        "confidence_floor": floor,
        "calibration": {k: c.as_json() for k, c in calibration.items()},
        "lightgbm": model.model_to_string(),  # type: ignore[attr-defined]
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
