"""The collect stage: the records of one page, built apart from the ranking (Lucene's
collectors). Each of the page's passages is read once, from the commit its ranking's segments
are of; each hit gets its highlights, a snippet beside it and, asked for, an explanation of its
score. Facets count the articles of every passage paging yields."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from policy_search.index.analysis.chunk import sentence_spans
from policy_search.index.analysis.embed import Embedder
from policy_search.index.analysis.static import static_vectors_of
from policy_search.index.storage.catalog import PassageRow
from policy_search.index.storage.lexical import Analyzer
from policy_search.records import Explanation, Hit, Passage, Snippet
from policy_search.search.highlight import highlight_spans
from policy_search.search.ranking import Ranking
from policy_search.search.snippet import make_snippet
from policy_search.search.stages import Corpus

__all__ = ["Collecting", "Marks", "collect_hits"]


@dataclass(frozen=True, slots=True)
class Collecting:
    """What building hits reads: the corpus, the analysis that marks the query's words, the
    model whose static vectors find a snippet by meaning, and the fusion named in explanations."""

    corpus: Corpus
    analyzer: Analyzer
    embedder: Embedder
    fusion: str  # FusionSettings.method


@dataclass(frozen=True, slots=True)
class Marks:
    """What a hit marks of the query: its free words and its phrases (whole); `vector`: the
    query's, for the snippets of passages that matched by meaning alone."""

    words: Iterable[str]  # terms
    phrases: Sequence[Sequence[str]] = ()  # each its terms in order
    vector: np.ndarray | None = None


def collect_hits(
    collecting: Collecting,
    ranking: Ranking,
    positions: np.ndarray,
    marks: Marks,
    *,
    first_rank: int = 1,
    mode: str = "hybrid",
    explain: bool = False,
    more: dict[int, int] | None = None,
    scores: dict[int, float] | None = None,
) -> list[Hit]:
    """The hits of these positions of a ranking (ranked from `first_rank`) with their articles;
    `scores` replaces the passages' own (an article's score when grouping)."""
    ids = [int(ranking.ids[i]) for i in positions]
    if not ids:
        return []
    # The corpus reads the commit the ranking's segments are of: every ranked passage is there.
    rows = collecting.corpus.passage_rows(ids)
    found = [
        (n, int(i), rows[pid])
        for n, (i, pid) in enumerate(zip(positions, ids, strict=True))
        if pid in rows
    ]  # a shard's passage deleted between its ranking and its reading
    analyzer = collecting.analyzer
    spans = [highlight_spans(row.text, marks.words, analyzer, marks.phrases)
             for _, _, row in found]  # fmt: skip
    snippets = _snippets(collecting.embedder, [row.text for _, _, row in found], spans,
                         marks.vector)  # fmt: skip
    fusion = collecting.fusion if mode == "hybrid" else "none"
    return [
        _hit(row, first_rank + n, i, ranking, mode, explain, more, scores, marked, snippet, fusion)
        for (n, i, row), marked, snippet in zip(found, spans, snippets, strict=True)
    ]  # fmt: skip


def _snippets(
    embedder: Embedder,
    texts: list[str],
    marks: list[list[tuple[int, int]]],
    vector: np.ndarray | None,
) -> list[Snippet]:
    """Each passage's snippet: around its matched words, or, with none, its sentences nearest
    the query by the model's static vectors (its tokenizer only: no model call)."""
    sentences = [sentence_spans(text) for text in texts]  # split once, for both uses
    unmatched = [j for j, spans in enumerate(marks) if not spans]
    nearness: dict[int, list[float]] = {}
    static = static_vectors_of(embedder) if unmatched else None
    if static is not None and vector is not None and vector.any():
        scores = static.nearness([texts[j] for j in unmatched],
                                 [sentences[j] for j in unmatched], vector)  # fmt: skip
        nearness = dict(zip(unmatched, scores, strict=True))
    return [make_snippet(text, spans, sentences=sentences[j], nearness=nearness.get(j))
            for j, (text, spans) in enumerate(zip(texts, marks, strict=True))]  # fmt: skip


def _hit(
    row: PassageRow,
    rank: int,
    i: int,
    ranking: Ranking,
    mode: str,
    explain: bool,
    more: dict[int, int] | None,
    scores: dict[int, float] | None,
    highlights: list[tuple[int, int]],
    snippet: Snippet,
    fusion: str,
) -> Hit:
    """The hit of the ranking's `i`-th passage, read from its row."""
    passage = Passage(id=row.id, text=row.text, start=row.start, end=row.end,
                      highlights=highlights, countries=list(row.countries))  # fmt: skip
    confidence = float(ranking.confidence[i]) if ranking.confidence is not None else 0.0
    return Hit(
        rank=rank, score=scores[i] if scores else float(ranking.scores[i]), passage=passage,
        confidence=confidence,
        snippet=snippet, article=row.article,
        explain=_explain(ranking, i, mode, fusion) if explain else None,
        more=more.get(i) if more is not None else None,
    )  # fmt: skip


def _explain(ranking: Ranking, i: int, mode: str, fusion: str) -> Explanation:
    feedback = ranking.feedback
    return Explanation(
        dense_rank=int(ranking.dense_ranks[i]) or None,
        dense_score=float(ranking.cosine[i]) if mode != "lexical" else None,
        lexical_rank=int(ranking.lexical_ranks[i]) or None,
        lexical_score=float(ranking.bm25[i]) if mode != "dense" else None,
        feedback_score=float(feedback[i]) if feedback is not None else None,
        fusion=fusion,
    )
