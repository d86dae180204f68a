"""The searcher's stages, a module each, in the order a query passes them:

    parse     the request checked, its text parsed and analysed, its language guessed  → Query
    restrict  the filters and the query's restrictions → the passages allowed (or None: all)
    rank      evidence, fusion, dense feedback, the relevance floor, phrase checks → Ranking
    rerank    the learned ranker and every candidate's confidence → Ranking
    order     the confidence floor, grouping by article, date sorts, the page → Page
    collect   the page's hits (snippets, highlights, explanations) and the facet counts

`Searcher` (search/searcher.py) runs them; each reads the corpus (one index or its shards) only
through the corpus's own reads, never its internals.
"""

from __future__ import annotations

from policy_search.search.corpus import Allowed, Corpus, Evidence, Pass

__all__ = ["Allowed", "Corpus", "Evidence", "Pass"]
