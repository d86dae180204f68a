"""Percolation: a saved alert compiled once, and a write's new passages matched against every
saved alert as a search of the alert's query would match them (index/storage/alerts.py stores
both and calls `AlertMatcher.match` inside the write's transaction).

What "matches" means. A new passage P of an article A matches an alert when:
1. A and P meet the alert's filters and its text's restrictions (`country:`, `year:`, ...),
   exactly as a search's filters read them (search/filters.py: whole values, case-insensitively,
   sources by any of their names, date ranges by overlap, countries P names);
2. P holds every term of the alert's phrases, none of its excluded words, none of its excluded
   countries, each phrase side by side (the index's own analysis: search/query.py);
3. P passes the search's relevance floor (search/stages/rank.py `relevant`): dense, cosine >=
   DENSE_FLOOR; lexical, P holds one of the query's terms; hybrid, it holds one or its cosine
   is >= MEANING_FLOOR;
4. its confidence is at or above the alert's `min_confidence` (else the server's floor), the
   confidence being the dense calibration of its cosine among A's passages that pass 1-3, as
   a dense search restricted to A computes it (search/rerank.py `Ranker.confidence`).

So in dense mode a passage is in the feed iff a dense search of the query restricted to its
article returns it (up to the fp16 rounding of stored vectors). In hybrid mode 1-3 are the
search's own, and the floor in 4 reads the cosine alone: the search's hybrid confidence reads
fused scores whose BM25 half needs corpus-wide statistics and feedback, which a write cannot
afford per alert. In lexical mode 4 is not applied (its calibration reads BM25).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from policy_search.facets import FILTERS, ArticleColumn, ArticleDate, ArticleTags
from policy_search.index.analysis.analyzer import Analyzer
from policy_search.index.storage.alerts import AlertCache, NewPassages, StoredAlert
from policy_search.records import AlertRequest
from policy_search.search.filters import Filters, source_names
from policy_search.search.query import analyze, parse_query
from policy_search.search.rerank import Ranker
from policy_search.search.stages.parse import check_request
from policy_search.search.stages.rank import DENSE_FLOOR, MEANING_FLOOR

__all__ = ["AlertMatcher", "compile_alert"]

_SPECS = {spec.name: spec for spec in FILTERS}


def compile_alert(
    request: AlertRequest, analyzer: Analyzer, vector: Callable[[str], np.ndarray]
) -> tuple[dict[str, Any], np.ndarray | None]:
    """What matching reads of an alert (its query parsed and analysed, its filters read), and
    its query's vector (`vector`: the model's; None in lexical mode); QueryError as a search
    of it would give."""
    search = check_request(request.search())
    parsed = parse_query(search.q)
    matching = analyze(parsed, analyzer)
    filters = Filters.of(search, parsed, matching)
    held: list[list[Any]] = []
    for name, values in filters.values:
        spec = _SPECS[name]
        if values and spec.condition is not None:
            days = filters._held(spec, None)  # dates as the catalog compares them
            if spec.values == "source":
                days = [v.strip().casefold() for v in values]
            held.append([name, list(days)])
    compiled = {
        "mode": search.mode,
        "terms": sorted(set(analyzer.terms(parsed.text))),
        "required": list(matching.required),
        "excluded": list(matching.excluded),
        "phrases": [list(p) for p in matching.phrases],
        "excluded_phrases": [list(p) for p in matching.excluded_phrases],
        "excluded_countries": list(matching.excluded_countries),
        "filters": held,
        "empty": filters.empty,
        "floor": search.min_confidence,
    }
    dense = None if search.mode == "lexical" else np.asarray(vector(parsed.text), np.float32)
    return compiled, dense


@dataclass(slots=True)
class _Words:
    """The saved alerts' query terms, inverted: which alerts each term may match."""

    alerts: Sequence[StoredAlert]
    by_term: dict[str, list[int]]


@dataclass(slots=True)
class AlertMatcher:
    """The index's `Percolator`: new passages against saved alerts, as a search would match
    them (the module's docstring); `floor` is the server's confidence floor."""

    ranker: Ranker | None
    floor: float
    feed_length: int = 100
    alerts: AlertCache = field(default_factory=AlertCache)
    _words: _Words | None = field(default=None, repr=False)

    def match(
        self, new: NewPassages, alerts: Sequence[StoredAlert], vectors: np.ndarray
    ) -> list[tuple[int, int]]:
        """(alert index, passage index) of every match."""
        words = self._inverted(alerts)
        cosine = new.vectors @ vectors.T if len(vectors) else np.zeros((len(new.ids), 0))
        near = cosine >= min(DENSE_FLOOR, MEANING_FLOOR)
        candidates: dict[int, set[int]] = defaultdict(set)  # alert → passages
        for p, terms in enumerate(new.terms):
            for term in set(terms):
                for a in words.by_term.get(term, ()):
                    candidates[a].add(p)
            for a in np.flatnonzero(near[p]).tolist():
                candidates[a].add(p)
        terms = [frozenset(t) for t in new.terms]
        found: list[tuple[int, int]] = []
        for a, passages in candidates.items():
            found += [(a, p) for p in self._matches(alerts[a].compiled, sorted(passages),
                                                    new, terms, cosine[:, a])]  # fmt: skip
        return sorted(found)

    def _inverted(self, alerts: Sequence[StoredAlert]) -> _Words:
        """The alerts' terms inverted, kept while the same alerts are saved."""
        if self._words is None or self._words.alerts is not alerts:
            by_term: dict[str, list[int]] = defaultdict(list)
            for i, alert in enumerate(alerts):
                for term in alert.compiled["terms"]:
                    by_term[term].append(i)
            self._words = _Words(alerts, dict(by_term))
        return self._words

    def _matches(
        self,
        alert: dict[str, Any],
        passages: list[int],
        new: NewPassages,
        terms: list[frozenset[str]],
        cosine: np.ndarray,
    ) -> list[int]:
        """The passages (of `passages`) the alert matches."""
        if alert["empty"]:
            return []
        mode, words = alert["mode"], frozenset(alert["terms"])
        kept = []
        for p in passages:
            shares = bool(words & terms[p])
            if mode == "dense":
                relevant = cosine[p] >= DENSE_FLOOR
            elif mode == "lexical":
                relevant = shares
            else:
                relevant = shares or cosine[p] >= MEANING_FLOOR
            if relevant and _holds(alert, new, terms[p], p) and _meets(alert, new, p):
                kept.append(p)
        return self._confident(alert, kept, new, cosine)

    def _confident(
        self, alert: dict[str, Any], kept: list[int], new: NewPassages, cosine: np.ndarray
    ) -> list[int]:
        """The kept passages at or above the confidence floor, each article's passages read
        together as a search restricted to that article reads them."""
        floor = self.floor if alert["floor"] is None else float(alert["floor"])
        if alert["mode"] == "lexical" or self.ranker is None or floor <= 0.0 or not kept:
            return kept
        by_article: dict[str, list[int]] = defaultdict(list)
        for p in kept:
            by_article[new.articles[p]["id"]].append(p)
        out = []
        for group in by_article.values():
            sure = self.ranker.confidence("dense", cosine[group], len(alert["terms"]))
            out += [p for p, c in zip(group, sure, strict=True) if c >= floor]
        return sorted(out)


def _holds(alert: dict[str, Any], new: NewPassages, terms: frozenset[str], p: int) -> bool:
    """Whether the passage holds the alert's phrases and none of its exclusions."""
    if any(t not in terms for t in alert["required"]) or any(t in terms for t in alert["excluded"]):
        return False
    if set(alert["excluded_countries"]) & new.countries[p]:
        return False
    text, analyzer = new.texts[p], new.analyzer
    return all(analyzer.phrase_spans(text, phrase) for phrase in alert["phrases"]) and not any(
        analyzer.phrase_spans(text, phrase) for phrase in alert["excluded_phrases"]
    )


def _meets(alert: dict[str, Any], new: NewPassages, p: int) -> bool:
    """Whether the passage and its article meet every filter (search/filters.py's rules)."""
    article = new.articles[p]
    for name, values in alert["filters"]:
        spec = _SPECS[name]
        condition = spec.condition
        if spec.values == "source":
            source = article.get("source")
            if not source or not source_names(source) & set(values):
                return False
        elif spec.values == "country":
            if not set(values) & new.countries[p]:
                return False
        elif isinstance(condition, ArticleTags):
            if not {t.casefold() for t in article.get("tags", ())} & {v.casefold() for v in values}:
                return False
        elif isinstance(condition, ArticleDate):
            bound = article.get("date_end" if condition.bound == "from" else "date_start")
            if bound is None or not all(
                (bound >= v) if condition.bound == "from" else (bound <= v) for v in values
            ):
                return False
        elif isinstance(condition, ArticleColumn):
            value = article.get(condition.column)
            if value is None:
                return False
            if condition.exact and value not in values:
                return False
            if not condition.exact and value.casefold() not in {v.casefold() for v in values}:
                return False
    return True
