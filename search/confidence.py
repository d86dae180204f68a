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

import numpy as np

__all__ = ["Calibration", "expected_calibration_error", "fit_calibration"]


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
