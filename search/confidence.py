"""How sure each hit is: a score turned into the probability that the hit answers the query.

A `Calibration` is an isotonic regression (Zadrozny & Elkan, "Transforming classifier scores into
accurate multiclass probability estimates", KDD 2002) fitted by scikit-learn on judged queries
(`bench/train_ranker.py`) and kept as its step points; applying it is `np.interp` over them,
exactly what scikit-learn's `IsotonicRegression.predict` does (with `out_of_bounds="clip"`), so
the searcher needs no scikit-learn. A hit's probability is that its article is judged relevant.

It is non-decreasing in the score, so within one ranking a confidence floor keeps a prefix.
`expected_calibration_error` is the figure the calibration is reported with.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "CONTEXT",
    "DENSE_CONTEXT",
    "FUSED_CONTEXT",
    "LEXICAL_CONTEXT",
    "Calibration",
    "ContextCalibration",
    "expected_calibration_error",
    "fit_calibration",
    "fit_context_calibration",
    "query_context",
]


@dataclass(frozen=True, slots=True)
class Calibration:
    """A non-decreasing map from a score to a probability: step points `x` → `y`."""

    x: tuple[float, ...]
    y: tuple[float, ...]

    def probability(self, scores: np.ndarray) -> np.ndarray:
        """Each score's probability, clipped to the fitted range."""
        scores = np.asarray(scores, dtype=np.float64)
        if not self.x:
            return np.zeros(len(scores))
        return np.clip(np.interp(scores, self.x, self.y), 0.0, 1.0)

    def as_json(self) -> dict[str, list[float]]:
        return {"x": list(self.x), "y": list(self.y)}

    @classmethod
    def from_json(cls, data: dict[str, Sequence[float]]) -> Calibration:
        x, y = tuple(float(v) for v in data["x"]), tuple(float(v) for v in data["y"])
        if len(x) != len(y) or any(b < a for a, b in itertools.pairwise(y)):
            raise ValueError("a calibration needs as many x as y, y non-decreasing")
        return cls(x, y)


def fit_calibration(
    scores: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None
) -> Calibration:
    """Isotonic regression of the labels (0/1) on the scores (training only: scikit-learn)."""
    from sklearn.isotonic import IsotonicRegression

    model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    model.fit(np.asarray(scores, np.float64), np.asarray(labels, np.float64), sample_weight=weights)
    return Calibration(
        tuple(float(v) for v in model.X_thresholds_), tuple(float(v) for v in model.y_thresholds_)
    )


def expected_calibration_error(
    probabilities: np.ndarray, labels: np.ndarray, *, bins: int = 10
) -> float:
    """Σ over equal-width bins of (share of the hits in the bin) × |mean probability − share
    relevant| (Naeini et al., AAAI 2015; Guo et al., ICML 2017)."""
    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if len(p) == 0:
        return 0.0
    which = np.minimum((p * bins).astype(int), bins - 1)
    error = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            error += inside.mean() * abs(p[inside].mean() - y[inside].mean())
    return float(error)


# What a query's context says of how likely its hits are: figures shared by all the query's
# candidates, so that within a query the confidence still never falls as the score rises.
# Hybrid (the ranker's score): the query's best ranker score, best feedback cosine and best BM25,
# its distinct words, and how many passages its candidates' articles have (long speeches or
# short abstracts). Dense: the cosine and the query's best. Lexical: log(1 + BM25), the query's
# best, and its distinct words.
CONTEXT = ("score", "best_score", "best_feedback", "best_bm25", "query_terms", "article_size")
DENSE_CONTEXT = ("score", "best_score")
FUSED_CONTEXT = CONTEXT  # hybrid's fused score, not ordered by the ranker: the same figures
LEXICAL_CONTEXT = ("score", "best_score", "query_terms")


@dataclass(frozen=True, slots=True)
class ContextCalibration:
    """Platt scaling with the query's context, then an isotonic calibration of that: a logistic
    regression over the score and figures shared by the query's candidates (`names`, the score
    first), whose weight on the score is positive, so that within one query the probability
    follows the score."""

    names: tuple[str, ...]
    weights: tuple[float, ...]
    intercept: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    isotonic: Calibration

    def probability(self, context: np.ndarray) -> np.ndarray:
        """Each row of the context's probability."""
        x = (np.asarray(context, np.float64) - np.array(self.mean)) / np.array(self.scale)
        logit = x @ np.array(self.weights) + self.intercept
        return self.isotonic.probability(1.0 / (1.0 + np.exp(-logit)))

    def as_json(self) -> dict[str, object]:
        return {"context": list(self.names), "weights": list(self.weights),
                "intercept": self.intercept, "mean": list(self.mean), "scale": list(self.scale),
                "isotonic": self.isotonic.as_json()}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any], names: tuple[str, ...]) -> ContextCalibration:
        if tuple(data["context"]) != names:
            raise ValueError(f"a calibration of another context than {names}")
        weights = tuple(float(v) for v in data["weights"])
        if len(weights) != len(names) or weights[0] <= 0:
            raise ValueError("the score's weight must be positive")
        return cls(names, weights, float(data["intercept"]),
                   tuple(float(v) for v in data["mean"]), tuple(float(v) for v in data["scale"]),
                   Calibration.from_json(data["isotonic"]))  # fmt: skip


def query_context(scores: np.ndarray, *shared: float) -> np.ndarray:
    """Rows of a context for one query's candidates: each score, the query's best, then the
    figures all its candidates share."""
    scores = np.asarray(scores, np.float64)
    n = len(scores)
    top = float(scores.max()) if n else 0.0
    return np.column_stack([scores, np.full(n, top), *(np.full(n, v) for v in shared)])


def fit_context_calibration(
    names: tuple[str, ...], context: np.ndarray, labels: np.ndarray, weights: np.ndarray
) -> ContextCalibration:
    """Fit a ContextCalibration (training only: scikit-learn)."""
    from sklearn.linear_model import LogisticRegression

    mean, scale = context.mean(axis=0), context.std(axis=0) + 1e-9
    model = LogisticRegression(C=1.0, max_iter=1000)
    model.fit((context - mean) / scale, labels, sample_weight=weights)
    platt = model.predict_proba((context - mean) / scale)[:, 1]
    return ContextCalibration(
        names, tuple(float(v) for v in model.coef_[0]), float(model.intercept_[0]),
        tuple(float(v) for v in mean), tuple(float(v) for v in scale),
        fit_calibration(platt, labels, weights),
    )  # fmt: skip
