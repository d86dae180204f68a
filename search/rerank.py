"""The learned ranker: hybrid candidates ordered by a model of their evidence, and every hit's
confidence in every mode.

The model is data, not code: one JSON file (`models/ranker-v<N>.json`, shipped in the package; a
setting may name another) holding its name and version, the FEATURES it reads (refused if they
are not this code's), a LightGBM LambdaRank model (its own text format), the isotonic
calibrations that turn each mode's score into a probability (`confidence.py`), and the default
confidence floor. `bench/train_ranker.py` (`make train-ranker`) rebuilds it from SciFact's
training judgments and the judged benchmark's tune half.

Re-scoring keeps paging exact: every candidate of the query's window is scored, whatever page
is asked, and ordered by its score (ties by passage id), so every page is a slice of one order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from policy_search.search.confidence import Calibration, ContextCalibration, query_context
from policy_search.search.errors import RankerError
from policy_search.search.features import FEATURES, FeatureSettings
from policy_search.search.ranking import Ranking

__all__ = ["DEFAULT_RANKER", "Ranker", "context_of", "reorder"]

DEFAULT_RANKER = Path(__file__).parent / "models" / "ranker-v1.json"
# Which calibration reads which score: the fused score in hybrid mode without the ranker; the
# cosine in dense mode; BM25 in lexical mode. The ranker's score has its own, which reads the
# query's context too (`Ranker.hybrid_confidence`).
CALIBRATIONS = ("fused", "dense", "lexical")
_COLUMN = {name: j for j, name in enumerate(FEATURES)}


@dataclass(frozen=True, slots=True)
class Ranker:
    """A trained ranker and its calibrations (module docstring); safe to share."""

    name: str
    version: int
    booster: Any  # lightgbm.Booster
    calibrations: dict[str, Calibration]
    hybrid: ContextCalibration
    confidence_floor: float
    features: FeatureSettings
    trained_on: str = ""

    @classmethod
    def load(cls, path: Path | None = None) -> Ranker:
        """The model file at `path` (the shipped one by default), or RankerError."""
        path = path or DEFAULT_RANKER
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise RankerError(f"cannot read the ranker model {path}: {error}") from None
        return cls.from_json(data, source=str(path))

    @classmethod
    def from_json(cls, data: dict[str, Any], *, source: str = "") -> Ranker:
        import lightgbm

        if tuple(data.get("features", ())) != FEATURES:
            raise RankerError(
                f"the ranker model {source} reads other features than this version computes; "
                "retrain it with `make train-ranker`"
            )
        try:
            booster = lightgbm.Booster(model_str=data["lightgbm"])
            calibrations = {k: Calibration.from_json(data["calibration"][k]) for k in CALIBRATIONS}
            hybrid = ContextCalibration.from_json(data["calibration"]["ranker"])
            return cls(
                name=str(data["name"]), version=int(data["version"]), booster=booster,
                calibrations=calibrations, hybrid=hybrid,
                confidence_floor=float(data["confidence_floor"]),
                features=FeatureSettings(text_depth=int(data["text_depth"])),
                trained_on=str(data.get("trained_on", "")),
            )  # fmt: skip
        except (KeyError, TypeError, ValueError, lightgbm.basic.LightGBMError) as error:
            raise RankerError(f"the ranker model {source} is malformed: {error}") from None

    def score(self, features: np.ndarray) -> np.ndarray:
        """The model's score of each row of FEATURES (higher: more likely relevant)."""
        if len(features) == 0:
            return np.zeros(0)
        return np.asarray(self.booster.predict(features, num_threads=1), dtype=np.float64)

    def confidence(self, which: str, scores: np.ndarray) -> np.ndarray:
        """Probabilities of `scores` by one of CALIBRATIONS."""
        return self.calibrations[which].probability(scores)

    def hybrid_confidence(self, features: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """Probabilities of one query's candidates, from their ranker scores and the query's
        context (its rows of FEATURES)."""
        if len(scores) == 0:
            return np.zeros(0)
        return self.hybrid.probability(context_of(features, scores))


def context_of(features: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """One query's rows of `confidence.CONTEXT`, from its candidates' features and scores."""
    best = {
        "best_feedback": float(features[:, _COLUMN["feedback"]].max()),
        "best_bm25": float(features[:, _COLUMN["bm25"]].max()),
        "query_terms": float(features[0, _COLUMN["query_terms"]]),
    }
    size = float(np.log1p(features[:, _COLUMN["article_passages"]]).mean())
    return query_context(scores, best, size)


def reorder(ranking: Ranking, scores: np.ndarray, confidence: np.ndarray) -> Ranking:
    """The ranking's candidates ordered by new scores (ties by passage id), with confidences."""
    order = np.lexsort((ranking.ids, -scores))
    feedback = ranking.feedback[order] if ranking.feedback is not None else None
    return replace(
        ranking, ids=ranking.ids[order], scores=scores[order], cosine=ranking.cosine[order],
        bm25=ranking.bm25[order], dense_ranks=ranking.dense_ranks[order],
        lexical_ranks=ranking.lexical_ranks[order], feedback=feedback,
        confidence=confidence[order],
    )  # fmt: skip
