"""Diversity among the first five: does it help the judged benchmark's P@5? (It did not: off.)

    .venv/bin/python -m bench.diversity [--split tune --split report]

The rule tried: among the first five articles, at most two of one speaker's country (a UN
statement's delegation, from its id; a presidential speech's: the United States), or of one
source (the UN General Debate corpus, the Miller Center's speeches), unless nothing else
matches: an article that would break the rule waits, and fills the first five only when the
ranking runs out of others. Measured on the hybrid ranking with the learned ranker as shipped;
the first five articles by `search.evaluate`'s rule (an article is its best passage).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np

from policy_search.search.articles import rank_articles
from policy_search.search.evaluate import PASSAGE_DEPTH, load_qrels, load_queries
from policy_search.search.searcher import Searcher

FIRST, MOST = 5, 2


def country(article: str) -> str:
    return article.split("-")[1] if article.startswith("UNGDC-") else "USA"


def un_country(article: str) -> str:
    """A UN statement's delegation; a presidential speech is its own (no limit among them)."""
    return article.split("-")[1] if article.startswith("UNGDC-") else article


def source(article: str) -> str:
    return "un" if article.startswith("UNGDC-") else "presidential"


def diversify(articles: list[str], keys: list[Callable[[str], str]]) -> list[str]:
    """The articles with the first FIRST re-chosen: none past MOST of any key, unless nothing
    else is left."""
    chosen: list[str] = []
    waiting: list[str] = []
    counts = [Counter[str]() for _ in keys]
    rest = iter(articles)
    for article in rest:
        values = [key(article) for key in keys]
        if all(c[v] < MOST for c, v in zip(counts, values, strict=True)):
            chosen.append(article)
            for c, v in zip(counts, values, strict=True):
                c[v] += 1
        else:
            waiting.append(article)
        if len(chosen) == FIRST:
            break
    chosen += waiting[: FIRST - len(chosen)]
    top = set(chosen)
    return chosen + [a for a in articles if a not in top]


def precision_at_5(ranked: list[str], judged: dict[str, int]) -> float:
    return sum(1 for a in ranked[:FIRST] if judged.get(a, 0) > 0) / FIRST


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", action="append", choices=["tune", "report"])
    args = parser.parse_args()
    from policy_search.api.settings import Settings

    settings = Settings()
    embedder = settings.embedder()
    directory = Path("var/judged/policy-judged")
    searcher = Searcher.load(Path("var/eval/policy-judged-onnx-int8"), embedder,
                             ranker=settings.ranker(), learned_order=True)  # fmt: skip
    doc_of = searcher.passage_articles()
    rules: dict[str, list[Callable[[str], str]]] = {
        "none": [], "country": [country], "source": [source], "country+source": [country, source],
        "UN delegation only": [un_country],
    }  # fmt: skip
    for split in args.split or ["tune"]:
        qrels = load_qrels(directory, split)
        asked = load_queries(directory)
        queries = {q: asked[q] for q in qrels if q in asked}
        vectors = embedder.encode(list(queries.values()))
        p5: dict[str, list[float]] = {name: [] for name in rules}
        for (qid, text), vector in zip(queries.items(), vectors, strict=True):
            ranking = searcher.rank(vector, searcher.analyzer.terms(text), mode="hybrid",
                                    depth=PASSAGE_DEPTH, min_score=float("-inf"))  # fmt: skip
            of = np.array([doc_of.get(int(p), "") for p in ranking.ids], dtype=object)
            ranked = [str(a) for a in rank_articles(of, ranking.scores, searcher.articles).articles]
            for name, keys in rules.items():
                p5[name].append(precision_at_5(diversify(ranked, keys) if keys else ranked,
                                               qrels[qid]))  # fmt: skip
        figures = {name: round(100 * float(np.mean(v)), 1) for name, v in p5.items()}
        print(json.dumps({"split": split, "P@5": figures}))


if __name__ == "__main__":
    main()
