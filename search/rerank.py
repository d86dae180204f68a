"""The learned ranker: hybrid candidates ordered by a model of their evidence, and every hit's
confidence in every mode.

The model is data, not code: one JSON file (`models/ranker-v<N>.json`, shipped in the package; a
setting may name another) holding its name and version, the FEATURES it reads (refused if they
are not this code's), a LightGBM LambdaRank model (its own text format), the isotonic
calibrations that turn each mode's score into a probability (`confidence.py`), and the default
confidence floor. `bench/train_ranker.py` (`make train-ranker`) rebuilds it from SciFact's
training judgments and the judged benchmark's tune half. The searcher's rerank stage
(`stages/rerank.py`) applies it to a query's ranking.

Re-scoring keeps paging exact: every candidate of the query's window is scored, whatever page
is asked, and ordered by its score (ties by passage id), so every page is a slice of one order.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from policy_search.search.confidence import (
    CONTEXT,
    DENSE_CONTEXT,
    FUSED_CONTEXT,
    LEXICAL_CONTEXT,
    ContextCalibration,
    query_context,
)
from policy_search.search.errors import RankerError
from policy_search.search.features import FEATURES, FeatureSettings
from policy_search.search.ranking import Ranking, rank_order

__all__ = ["DEFAULT_RANKER", "Ranker", "context_of", "reorder", "squash"]

DEFAULT_RANKER = Path(__file__).parent / "models" / "ranker-v1.json"
# Each mode's calibration and the context it reads (`confidence.ContextCalibration`): the
# ranker's score in hybrid mode, the fused score in hybrid mode not ordered by the ranker, the
# cosine in dense mode, BM25 in lexical mode.
CALIBRATIONS = {"ranker": CONTEXT, "fused": FUSED_CONTEXT, "dense": DENSE_CONTEXT,
                "lexical": LEXICAL_CONTEXT}  # fmt: skip
_COLUMN = {name: j for j, name in enumerate(FEATURES)}


@dataclass(frozen=True, slots=True)
class Ranker:
    """A trained ranker and its calibrations (module docstring); safe to share."""

    name: str
    version: int
    model: str  # LightGBM's model text: its trees are built when first scored (`booster`)
    calibrations: dict[str, ContextCalibration]
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
        if tuple(data.get("features", ())) != FEATURES:
            raise RankerError(
                f"the ranker model {source} reads other features than this version computes; "
                "retrain it with `make train-ranker`"
            )
        try:
            if not isinstance(data["lightgbm"], str):
                raise TypeError("its lightgbm model is not text")
            calibrations = {k: ContextCalibration.from_json(data["calibration"][k], names)
                            for k, names in CALIBRATIONS.items()}  # fmt: skip
            return cls(
                name=str(data["name"]), version=int(data["version"]), model=data["lightgbm"],
                calibrations=calibrations,
                confidence_floor=float(data["confidence_floor"]),
                features=FeatureSettings(text_depth=int(data["text_depth"])),
                trained_on=str(data.get("trained_on", "")),
            )  # fmt: skip
        except (KeyError, TypeError, ValueError) as error:
            raise RankerError(f"the ranker model {source} is malformed: {error}") from None

    @property
    def booster(self) -> Any:
        """The LightGBM booster of `model`, built once, when first asked: only the learned
        order needs it, and importing LightGBM and building the trees took more than a second
        of every start (the default order reads the calibrations alone)."""
        return _booster(self.model)

    def score(self, features: np.ndarray) -> np.ndarray:
        """The model's score of each row of FEATURES, 0–1 (higher: ranked higher)."""
        if len(features) == 0:
            return np.zeros(0)
        return squash(np.asarray(self.booster.predict(features, num_threads=1), np.float64))

    def confidence(self, mode: str, scores: np.ndarray, terms: int) -> np.ndarray:
        """Probabilities of one query's candidates by their scores (`mode`: dense, the cosine;
        lexical, BM25; fused, hybrid's fused score) and the query's context; `terms`: its
        distinct words."""
        if len(scores) == 0:
            return np.zeros(0)
        scores = np.asarray(scores)
        return self.probability(mode, scores, np.full(len(scores), scores.max()), terms)

    def probability(
        self, mode: str, scores: np.ndarray, best: np.ndarray, terms: np.ndarray | int
    ) -> np.ndarray:
        """`confidence` of candidates of many queries at once: each candidate's score, its
        query's best and its query's distinct words, one a row."""
        if mode == "dense":
            return self.calibrations["dense"].probability(np.column_stack([scores, best]))
        lexical = [np.log1p(np.maximum(np.asarray(s, np.float64), 0.0)) for s in (scores, best)]
        context = np.column_stack([*lexical, np.broadcast_to(terms, len(lexical[0]))])
        return self.calibrations["lexical"].probability(context)

    def fused_confidence(self, ranking: Ranking, terms: int, articles: np.ndarray) -> np.ndarray:
        """Probabilities of one query's fused candidates (hybrid, not ordered by the ranker),
        from their fused scores and the query's context: the figures `context_of` reads of the
        features, read here of the ranking (`articles`: each candidate's article key)."""
        if len(ranking.ids) == 0:
            return np.zeros(0)
        feedback = ranking.cosine if ranking.feedback is None else ranking.feedback
        _, inverse, counts = np.unique(articles, return_inverse=True, return_counts=True)
        context = query_context(
            ranking.scores,
            float(np.max(feedback)),
            float(np.log1p(max(float(np.max(ranking.bm25)), 0.0))),
            float(terms),
            float(np.log1p(counts[inverse].astype(np.float64)).mean()),
        )
        return self.calibrations["fused"].probability(context)

    def hybrid_confidence(self, features: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """Probabilities of one query's candidates, from their ranker scores and the query's
        context (its rows of FEATURES)."""
        if len(scores) == 0:
            return np.zeros(0)
        return self.calibrations["ranker"].probability(context_of(features, scores))


def squash(raw: np.ndarray) -> np.ndarray:
    """LambdaRank's scores (unbounded, meaningful only within a query) onto 0–1, in order, so
    that hybrid's scores keep the range a request's min_score has; a probability they are not
    (that is the confidence)."""
    return 1.0 / (1.0 + np.exp(-np.asarray(raw, np.float64)))


def context_of(features: np.ndarray, scores: np.ndarray, *, squashed: bool = True) -> np.ndarray:
    """One query's rows of `confidence.CONTEXT`, from its candidates' features and scores (the
    ranker's, squashed; or, `squashed=False`, the fused ones)."""
    scores = np.asarray(scores, np.float64)
    if squashed:  # the model's own (unsquashed) scores
        clipped = np.clip(scores, 1e-12, 1 - 1e-12)
        scores = np.log(clipped) - np.log1p(-clipped)
    return query_context(
        scores,
        float(features[:, _COLUMN["feedback"]].max()),
        float(features[:, _COLUMN["bm25"]].max()),
        float(features[0, _COLUMN["query_terms"]]),
        float(np.log1p(features[:, _COLUMN["article_passages"]]).mean()),
    )


@functools.lru_cache(maxsize=4)
def _booster(model: str) -> Any:
    import lightgbm

    try:
        return lightgbm.Booster(model_str=model)
    except lightgbm.basic.LightGBMError as error:
        raise RankerError(f"the ranker model is malformed: {error}") from None


def reorder(ranking: Ranking, scores: np.ndarray, confidence: np.ndarray) -> Ranking:
    """The ranking's candidates ordered by new scores (ties by passage id), with confidences."""
    order = rank_order(ranking.ids, scores)
    return replace(ranking.take(order), scores=scores[order], confidence=confidence[order],
                   total=ranking.total)  # fmt: skip
