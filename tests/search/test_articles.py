"""Ranking articles from their passages' scores (search/articles.py)."""

from __future__ import annotations

import numpy as np
import pytest

from policy_search.search.articles import ArticleSettings, rank_articles


def test_the_best_passage_alone_keeps_the_order_of_first_appearance() -> None:
    ranked = rank_articles(
        np.array([7, 3, 7, 9, 3]), np.array([0.9, 0.8, 0.7, 0.6, 0.5]), ArticleSettings()
    )
    assert ranked.articles.tolist() == [7, 3, 9]
    assert ranked.scores.tolist() == pytest.approx([0.9, 0.8, 0.6])
    assert ranked.best.tolist() == [0, 1, 3]  # positions of each article's best passage
    assert ranked.counts.tolist() == [2, 2, 1]


def test_a_decay_lets_an_article_with_several_matches_pass_one_with_a_single_match() -> None:
    # "a" has the best passage; "b" has three nearly as good.
    articles = np.array(["a", "b", "b", "b", "c"], dtype=object)
    scores = np.array([0.60, 0.55, 0.50, 0.45, 0.40])
    ranked = rank_articles(articles, scores, ArticleSettings(decay=0.5, top=3))
    assert ranked.articles.tolist() == ["b", "a", "c"]
    assert ranked.scores.tolist() == pytest.approx([0.55 + 0.25 + 0.1125, 0.60, 0.40])
    assert ranked.best.tolist() == [1, 0, 4]


def test_only_the_best_top_passages_count() -> None:
    articles = np.array([1, 1, 1, 1])
    scores = np.array([0.4, 0.3, 0.2, 0.1])
    ranked = rank_articles(articles, scores, ArticleSettings(decay=1.0, top=2))
    assert ranked.scores.tolist() == pytest.approx([0.7])


def test_no_passages_rank_no_articles() -> None:
    ranked = rank_articles(np.zeros(0, dtype=np.int64), np.zeros(0), ArticleSettings(decay=0.5))
    assert len(ranked.articles) == len(ranked.scores) == len(ranked.best) == 0
