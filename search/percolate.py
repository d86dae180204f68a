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
4. its confidence is at or above the alert's `min_confidence`, else the server's floor (none
   where the alert's phrases require words: search/stages/order.py `confidence_floor`), the
   confidence computed among A's passages that pass 1-3 (before phrases are read) as a search
   restricted to A computes it (search/rerank.py `Ranker.confidence`, `fused_confidence`):
   dense, the dense calibration of the cosine and the best of A's; lexical, the lexical one
   of P's BM25, the best of A's and the query's distinct words; hybrid, the fused score
   (search/fusion.py) after the query moved toward A's best `prf_passages` fused passages,
   with the figures the fused calibration reads of A's passages.

BM25 is the whole live index's as a search right after the write scores it: the writer hands
its statistics after the write (`NewPassages.stats`: passage count, mean length and document
frequencies, this write's tombstones and new passages counted; index/storage/live_stats.py).
So a passage is in the feed iff a search of the query restricted to its article returns it,
up to the fp16 rounding of stored vectors and the last bit of a BM25 sum (`python -m
bench.alerts_agreement` on the judged index's real vectors: 100% of pairs agree in each mode,
20 questions x 40 articles: 235 of 236 in dense mode). Hybrid alerts are fused so only where
the matcher reproduces the server's fusion (`_reproduced`: score fusion, feedback from the
fused candidates re-scored, no bonus, not the learned ranker's order); otherwise their own
`min_confidence` is read of the dense calibration and the server's floor is not applied. A
sharded index's shard scores BM25 with its own statistics, not the set's; a query in a language
the model does not read is not capped at the search's FOREIGN_CONFIDENCE.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse

from policy_search.facets import (
    FILTERS,
    ArticleColumn,
    ArticleDate,
    ArticleTags,
    FilterSpec,
    PassageCountries,
)
from policy_search.index.analysis.analyzer import Analyzer
from policy_search.index.storage.alerts import AlertCache, NewPassages, StoredAlert
from policy_search.index.storage.lexical import term_scores
from policy_search.index.storage.live_stats import LiveStatsCache
from policy_search.records import AlertRequest
from policy_search.search.filters import Filters, source_names
from policy_search.search.fusion import FusionSettings, fuse
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
class _Compiled:
    """The saved alerts as arrays, built once per set of saved alerts: each alert's query terms,
    required and excluded terms as rows of sparse matrices over their vocabulary, its mode's
    cosine floor, its confidence floor; which alerts need their filters or text read."""

    alerts: Sequence[StoredAlert]
    vocabulary: dict[str, int]
    words: sparse.csr_matrix  # (alerts, vocabulary): the terms ranked
    distinct: np.ndarray  # how many terms each ranks (the query's distinct words)
    scored: np.ndarray  # the columns of the terms BM25 reads (lexical and hybrid alerts')
    required: sparse.csr_matrix  # the terms its phrases require
    required_count: np.ndarray
    excluded: sparse.csr_matrix  # its excluded words' terms
    near: np.ndarray  # the cosine that makes a passage relevant without a shared term
    lexical: np.ndarray  # lexical mode: a shared term is needed
    dense: np.ndarray  # dense mode: the cosine alone
    modes: np.ndarray  # each one's mode
    floor: np.ndarray  # its confidence floor (NaN: the server's)
    usable: np.ndarray  # neither an empty date range nor anything else that matches nothing
    filtered: dict[str, list[int]]  # the alerts of each set of filters (its JSON)
    texts: list[int]  # alerts with phrases, excluded phrases or excluded countries

    @classmethod
    def of(cls, alerts: Sequence[StoredAlert]) -> _Compiled:
        vocabulary: dict[str, int] = {}
        rows: dict[str, tuple[list[int], list[int]]] = {
            k: ([], []) for k in ("terms", "required", "excluded")
        }
        filtered: dict[str, list[int]] = defaultdict(list)
        texts = []
        for i, alert in enumerate(alerts):
            compiled = alert.compiled
            for key, (r, c) in rows.items():
                for term in dict.fromkeys(compiled[key]):
                    r.append(i)
                    c.append(vocabulary.setdefault(term, len(vocabulary)))
            if compiled["filters"]:
                filtered[json.dumps(compiled["filters"], sort_keys=True)].append(i)
            if (
                compiled["phrases"]
                or compiled["excluded_phrases"]
                or compiled["excluded_countries"]
            ):
                texts.append(i)
        shape = (len(alerts), max(len(vocabulary), 1))

        def matrix(key: str) -> sparse.csr_matrix:
            r, c = rows[key]
            return sparse.csr_matrix((np.ones(len(r), np.float32), (r, c)), shape=shape)

        modes = [a.compiled["mode"] for a in alerts]
        floors = {"dense": DENSE_FLOOR, "hybrid": MEANING_FLOOR, "lexical": np.inf}
        required = matrix("required")
        words = matrix("terms")
        lexical = np.array([m == "lexical" for m in modes])
        dense = np.array([m == "dense" for m in modes])
        return cls(
            alerts, vocabulary, words, np.asarray(words.sum(axis=1)).ravel(),
            np.unique(words[np.flatnonzero(~dense)].indices), required,
            np.asarray(required.sum(axis=1)).ravel(), matrix("excluded"),
            np.array([floors[m] for m in modes], np.float32),
            lexical, dense, np.array(modes),
            np.array([np.nan if a.compiled["floor"] is None else a.compiled["floor"]
                      for a in alerts], np.float64),
            np.array([not a.compiled["empty"] for a in alerts]), dict(filtered), texts,
        )  # fmt: skip


@dataclass(slots=True)
class AlertMatcher:
    """The index's `Percolator`: new passages against saved alerts, as a search would match
    them (the module's docstring); `floor` is the server's confidence floor. Array work over all
    alerts at once; Python only for the pairs left that need a filter or the text read."""

    ranker: Ranker | None
    floor: float
    feed_length: int = 100
    floored: tuple[str, ...] = ("dense", "lexical", "hybrid")  # the server's floor applies
    alerts: AlertCache = field(default_factory=AlertCache)
    stats: LiveStatsCache = field(default_factory=LiveStatsCache)
    # How hybrid searches fuse; None: hybrid alerts' own floor is read of the dense
    # calibration (the searches order hybrid by the learned ranker, not read here)
    fusion: FusionSettings | None = field(default_factory=FusionSettings)
    _compiled: _Compiled | None = field(default=None, repr=False)
    _analyzers: dict[Any, Analyzer] = field(default_factory=dict, repr=False)

    def match(
        self, new: NewPassages, alerts: Sequence[StoredAlert], vectors: np.ndarray
    ) -> list[tuple[int, int]]:
        """(alert index, passage index) of every match."""
        c = self._of(alerts)
        tf = self._terms(new, c.vocabulary)
        held = tf.sign()
        shares = (held @ c.words.T).toarray() > 0  # (passages, alerts)
        has_all = (held @ c.required.T).toarray() >= c.required_count
        excluded = (held @ c.excluded.T).toarray() > 0
        cosine = new.vectors @ vectors.T
        near = cosine >= c.near
        relevant = np.where(c.dense, near, np.where(c.lexical, shares, shares | near))
        ok = relevant & has_all & ~excluded & c.usable
        for key, members in c.filtered.items():
            if ok[:, members].any():  # (only what is left needs its filters read)
                ok[:, members] &= self._meeting(json.loads(key), new)[:, None]
        candidates = ok.copy()  # what a search calibrates: before it reads phrases
        if c.texts:
            grams: dict[int, _Grams] = {}  # each passage's terms, its text's alone
            passages, which = np.nonzero(ok[:, c.texts])
            for p, i in zip(passages.tolist(), which.tolist(), strict=True):
                a = c.texts[i]
                if p not in grams:
                    grams[p] = _Grams(self._analyzer(new).terms(new.texts[p]))
                ok[p, a] = _holds(alerts[a].compiled, new, grams[p], p)
        evidence = _Evidence(cosine, tf, new, vectors)
        ok = self._confident(c, ok, candidates, evidence)
        passages, matched = np.nonzero(ok)
        return sorted(zip(matched.tolist(), passages.tolist(), strict=True))

    def _of(self, alerts: Sequence[StoredAlert]) -> _Compiled:
        """The alerts as arrays, kept while the same alerts are saved."""
        if self._compiled is None or self._compiled.alerts is not alerts:
            self._compiled = _Compiled.of(alerts)
        return self._compiled

    def _analyzer(self, new: NewPassages) -> Analyzer:
        analyzer = self._analyzers.get(new.lexical)
        if analyzer is None:
            analyzer = self._analyzers[new.lexical] = Analyzer.of(new.lexical)
        return analyzer

    @staticmethod
    def _terms(new: NewPassages, vocabulary: dict[str, int]) -> sparse.csr_matrix:
        """How often each passage holds each of the alerts' terms (capped at 255, as the
        postings keep it: lexical.py)."""
        rows: list[int] = []
        cols: list[int] = []
        for p, terms in enumerate(new.terms):
            held = [vocabulary[t] for t in terms if t in vocabulary]
            rows += [p] * len(held)
            cols += held
        shape = (len(new.terms), max(len(vocabulary), 1))
        tf = sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=shape)
        tf.sum_duplicates()  # (each occurrence counted once more)
        np.minimum(tf.data, 255, out=tf.data)
        return tf

    @staticmethod
    def _meeting(filters: list[list[Any]], new: NewPassages) -> np.ndarray:
        """Which passages meet these filters."""
        return np.array([_meets(filters, new, p) for p in range(len(new.terms))], dtype=bool)

    def _floors(self, c: _Compiled) -> np.ndarray:
        """Each alert's confidence floor as a search of it has it (stages/order.py
        `confidence_floor`): its own, else the server's in the floored modes, none where its
        phrases require words (the reader's own test of relevance)."""
        modes = set(self.floored) - (set() if _reproduced(self.fusion) else {"hybrid"})
        floored = np.isin(c.modes, sorted(modes))
        server = np.where(floored & (c.required_count == 0), self.floor, 0.0)
        return np.where(np.isnan(c.floor), server, c.floor)

    def _confident(
        self, c: _Compiled, ok: np.ndarray, candidates: np.ndarray, evidence: _Evidence
    ) -> np.ndarray:
        """`ok` less the pairs below their alert's confidence floor: each article's candidates
        (`candidates`: past 1-3) read together, as a search restricted to that article reads
        them (`Ranker.confidence`: the passage's score, the best of the article's, the query's
        distinct words; hybrid: `Ranker.fused_confidence`). The score is the cosine in dense
        mode, BM25 in lexical mode, with the whole index's statistics after the write
        (`NewPassages.stats`), the fused score after feedback in hybrid mode."""
        known = evidence.new.stats is not None
        lexical = c.lexical & known
        fusion = _reproduced(self.fusion)
        fused = ~c.lexical & ~c.dense & known & (fusion is not None)
        floors = self._floors(c)
        checked = ok & (floors > 0.0) & (lexical | ~c.lexical)
        if self.ranker is None or not checked.any():
            return ok
        scores = evidence.cosine
        if (checked & (lexical | fused)).any():
            scores = np.where(lexical | fused, evidence.bm25(c), scores)
        names = [a["id"] for a in evidence.new.articles]
        article = np.unique(names, return_inverse=True)[1]
        sure = np.zeros(ok.shape)
        hybrid = np.flatnonzero(fused & checked.any(axis=0))
        plain = np.flatnonzero(~fused & checked.any(axis=0))
        for k in range(article.max() + 1):
            rows = np.flatnonzero(article == k)
            mask = candidates[rows]
            if len(plain):
                sure[np.ix_(rows, plain)] = self._plain(
                    c, plain, scores[np.ix_(rows, plain)], mask[:, plain], lexical[plain]
                )
            if len(hybrid):
                assert fusion is not None
                sure[np.ix_(rows, hybrid)] = evidence.fused(
                    self.ranker, fusion, rows, hybrid, scores[np.ix_(rows, hybrid)],
                    mask[:, hybrid], c.distinct[hybrid],
                )  # fmt: skip
        return ok & (~checked | (sure >= floors))

    def _plain(
        self, c: _Compiled, alerts: np.ndarray, scores: np.ndarray, mask: np.ndarray,
        lexical: np.ndarray,
    ) -> np.ndarray:  # fmt: skip
        """One article's confidence for dense and lexical alerts (hybrid ones without fused
        scores read the dense calibration of the cosine)."""
        assert self.ranker is not None
        best = np.broadcast_to(np.where(mask, scores, -np.inf).max(axis=0), scores.shape)
        terms = np.broadcast_to(c.distinct[alerts], scores.shape)
        out = np.zeros(scores.shape)
        for mode, columns in (("dense", ~lexical), ("lexical", lexical)):
            read = mask & columns  # (a column without candidates has no best)
            if read.any():
                out[read] = self.ranker.probability(mode, scores[read], best[read], terms[read])
        return out


@dataclass(frozen=True, slots=True)
class _Evidence:
    """What a write's new passages score for every alert: each pair's cosine, how often each
    passage holds each alert term, the passages themselves (their statistics) and the alerts'
    query vectors."""

    cosine: np.ndarray  # (passages, alerts)
    tf: sparse.csr_matrix  # (passages, vocabulary)
    new: NewPassages
    queries: np.ndarray  # (alerts, dim)

    def bm25(self, c: _Compiled) -> np.ndarray:
        """(passages, alerts): each passage's BM25 for each alert's terms, as a search right
        after the write scores it (lexical.py's formula and its float32 steps, with
        `NewPassages.stats`); the terms are summed in another order, so a score may differ from
        the search's in its last bit."""
        stats, tf = self.new.stats, self.tf
        assert stats is not None
        present = np.intersect1d(tf.indices, c.scored)  # (the others score for no alert here)
        terms = list(c.vocabulary)  # (in column order: each was added at its column)
        df = stats.frequencies([terms[j] for j in present])
        totals = stats.totals()
        idf = np.zeros(tf.shape[1], np.float32)
        idf[present] = np.log1p((totals.n - df + 0.5) / (df + 0.5)).astype(np.float32)
        mean = totals.length / totals.n if totals.n else 1.0
        k1, b = self.new.lexical.k1, self.new.lexical.b
        lengths = np.fromiter((len(t) for t in self.new.terms), np.int32, len(self.new.terms))
        norm = (k1 * (1 - b + b * lengths / max(mean, 1e-9))).astype(np.float32)
        rows = np.repeat(np.arange(tf.shape[0]), np.diff(tf.indptr))
        weights = term_scores(idf[tf.indices], tf.data.astype(np.float32), norm[rows])
        scored = sparse.csr_matrix((weights, tf.indices, tf.indptr), shape=tf.shape)
        return (scored @ c.words.T).toarray()

    def fused(
        self, ranker: Ranker, fusion: FusionSettings, rows: np.ndarray, alerts: np.ndarray,
        bm25: np.ndarray, mask: np.ndarray, terms: np.ndarray,
    ) -> np.ndarray:  # fmt: skip
        """One article's (`rows`) confidence for hybrid alerts, as a hybrid search restricted
        to it computes it (search/stages/rank.py `rank`, `rescore`; `Ranker.fused_confidence`):
        the candidates fused, the query moved toward the best `prf_passages` of them, fused
        again with the moved cosine."""
        none = np.zeros(len(rows), np.int64)
        cosine = self.cosine[np.ix_(rows, alerts)]
        first = np.where(mask, fuse(cosine, bm25, none, none, fusion), -np.inf)
        depth = min(fusion.prf_passages, len(rows))
        nth = -np.partition(-first, depth - 1, axis=0)[depth - 1]
        top = (first >= nth) & mask
        vectors = self.new.vectors[rows]
        counts = np.maximum(top.sum(axis=0), 1)[:, None]
        moved = self.queries[alerts] + fusion.prf_weight * (top.T @ vectors) / counts
        moved /= np.maximum(np.linalg.norm(moved, axis=1, keepdims=True), 1e-12)
        feedback = vectors @ moved.astype(np.float32).T
        scores = fuse(feedback, bm25, none, none, fusion)
        shared = [  # each alert's figures over its candidates (a column without any: none read)
            np.where(mask, scores, -np.inf).max(axis=0),
            np.where(mask, feedback, -np.inf).max(axis=0),
            np.log1p(np.maximum(np.where(mask, bm25, 0.0).max(axis=0), 0.0)),
            terms.astype(np.float64),
            np.log1p(mask.sum(axis=0)),
        ]
        context = [scores[mask], *(np.broadcast_to(v, scores.shape)[mask] for v in shared)]
        out = np.zeros(scores.shape)
        out[mask] = ranker.calibrations["fused"].probability(np.column_stack(context))
        return out


def _reproduced(fusion: FusionSettings | None) -> FusionSettings | None:
    """The fusion, where the matcher scores as its search does: score fusion of saturated
    BM25, feedback from the fused candidates re-scored, no phrase or title bonus (else None:
    hybrid alerts' own floor read of the dense calibration, no server's floor)."""
    if fusion is None or fusion.method != "score" or fusion.lexical_scale != "saturate":
        return None
    if fusion.prf_source != "hybrid" or fusion.prf_search or fusion.proximity or fusion.title:
        return None
    return fusion


@dataclass(slots=True)
class _Grams:
    """A passage's indexed words, and their runs of each length asked for (made once)."""

    words: list[str]
    runs: dict[int, set[tuple[str, ...]]] = field(default_factory=dict)

    def holds(self, phrase: list[str]) -> bool:
        """Whether the phrase's terms are side by side, in order, among the words."""
        n = len(phrase)
        if n not in self.runs:
            self.runs[n] = set(zip(*(self.words[i:] for i in range(n)), strict=False))
        return tuple(phrase) in self.runs[n]


def _holds(alert: dict[str, Any], new: NewPassages, grams: _Grams, p: int) -> bool:
    """Whether the passage holds the alert's phrases and none of its excluded phrases or
    countries (its terms are checked already). A phrase is its terms side by side among the
    passage's indexed words (`Analyzer.phrase_spans`), read here from the passage's terms."""
    if set(alert["excluded_countries"]) & new.countries[p]:
        return False
    return all(grams.holds(phrase) for phrase in alert["phrases"]) and not any(
        grams.holds(phrase) for phrase in alert["excluded_phrases"]
    )


def _meets(filters: list[list[Any]], new: NewPassages, p: int) -> bool:
    """Whether the passage and its article meet every filter (search/filters.py's rules)."""
    return all(_meets_one(_SPECS[name], values, new.articles[p], new.countries[p])
               for name, values in filters)  # fmt: skip


def _meets_one(
    spec: FilterSpec, values: list[Any], article: dict[str, Any], countries: AbstractSet[str]
) -> bool:
    """Whether one filter's values let the passage through, by the kind of its condition (each
    kind as catalog_filters.py writes its SQL; a new kind must be read here too)."""
    match spec.condition:
        case None:  # it narrows other filters (`year:` the date range), read there
            return True
        case ArticleColumn("source"):  # by any of a source's names, as a search reads it
            source = article.get("source")
            if not source:
                return False
            return bool(source_names(source) & set(values))
        case PassageCountries():
            return bool(set(values) & countries)
        case ArticleTags():
            tags = {t.casefold() for t in article.get("tags", ())}
            return bool(tags & {v.casefold() for v in values})
        case ArticleDate(bound=side):
            bound = article.get("date_end" if side == "from" else "date_start")
            return bound is not None and all(
                (bound >= v) if side == "from" else (bound <= v) for v in values
            )
        case ArticleColumn(column=column, exact=exact):
            value = article.get(column)
            if value is None:
                return False
            return value in values if exact else value.casefold() in {v.casefold() for v in values}
    raise TypeError(f"alerts cannot match the filter {spec.name!r}: its condition is not read here")
