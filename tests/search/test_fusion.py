"""Fusion of dense and lexical evidence."""

from __future__ import annotations

import numpy as np
import pytest

from policy_search.search.fusion import FusionSettings, fuse, reciprocal_rank, saturate


def test_saturate_is_bounded_and_monotonic() -> None:
    values = saturate(np.array([0.0, 5.0, 10.0, 1e6, -3.0]), 10.0)
    assert values.tolist()[:3] == [0.0, pytest.approx(1 / 3), 0.5]
    assert values[3] < 1.0 and values[4] == 0.0


def test_reciprocal_rank_ignores_unranked() -> None:
    assert reciprocal_rank(np.array([1, 2, 0]), 60).tolist() == [1 / 61, 1 / 62, 0.0]


def test_score_fusion_weighs_both_sides() -> None:
    cosine = np.array([0.9, 0.2, 0.6])
    bm25 = np.array([0.0, 30.0, 10.0])
    ranks = np.array([1, 3, 2])
    only_dense = fuse(cosine, bm25, ranks, ranks, FusionSettings(alpha=1.0))
    only_words = fuse(cosine, bm25, ranks, ranks, FusionSettings(alpha=0.0))
    both = fuse(cosine, bm25, ranks, ranks, FusionSettings(alpha=0.5))
    assert np.argmax(only_dense) == 0 and np.argmax(only_words) == 1
    assert np.argmax(both) == 2  # good on both sides beats best on one
    assert both[2] == pytest.approx(0.5 * 0.6 + 0.5 * 0.5)


def test_rrf_rewards_agreement() -> None:
    dense = np.array([1, 2, 0])
    lexical = np.array([2, 0, 1])
    scores = fuse(np.zeros(3), np.zeros(3), dense, lexical, FusionSettings(method="rrf", rrf_k=60))
    assert scores.tolist() == pytest.approx([1 / 61 + 1 / 62, 1 / 62, 1 / 61])
    assert np.argmax(scores) == 0
