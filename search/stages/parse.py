"""The parse stage: the request checked against its record's rules, its text parsed (phrases,
exclusions, restrictions, free words) and analysed as the index's passages were, its language
guessed; then, past the restrictions, the query's vector."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from policy_search import records
from policy_search.index.storage.lexical import Analyzer
from policy_search.records import QueryReading, SearchRequest
from policy_search.search.cache import QueryCache
from policy_search.search.errors import QueryError
from policy_search.search.language import LanguageGuess, Languages
from policy_search.search.query import Matching, ParsedQuery, analyze, parse_query

__all__ = ["Query", "check_request", "parse", "query_vector"]


@dataclass(frozen=True, slots=True)
class Query:
    """A request, read: what the later stages rank, restrict and mark with."""

    request: SearchRequest
    parsed: ParsedQuery
    matching: Matching  # the phrases, exclusions and free words, analysed
    terms: list[str]  # what is ranked (the free words and the phrases), analysed
    language: LanguageGuess

    @property
    def text(self) -> str:
        """What is ranked: the free words and the phrases."""
        return self.parsed.text

    def reading(self) -> QueryReading:
        """How the query was read, with its language and every notice about it."""
        notices = [*self.parsed.reading.notices, *self.matching.notices]
        if self.language.notice:
            notices.append(self.language.notice)
        return dataclasses.replace(self.parsed.reading, language=self.language.language,
                                   notices=notices)  # fmt: skip


def check_request(request: SearchRequest) -> SearchRequest:
    """The request, or QueryError naming the first rule it breaks (the rules of its record)."""
    if not isinstance(request.q, str):
        raise QueryError(f"the query must be text, not {type(request.q).__name__}")
    if broken := records.problems(request):
        raise QueryError(broken[0])
    return request


def parse(request: SearchRequest, *, analyzer: Analyzer, languages: Languages) -> Query:
    """The checked request's text read (QueryError where it cannot be), analysed by `analyzer`."""
    parsed = parse_query(request.q)
    matching = analyze(parsed, analyzer)
    text = parsed.text
    return Query(request=request, parsed=parsed, matching=matching,
                 terms=analyzer.terms(text), language=languages.guess(text))  # fmt: skip


def query_vector(query: Query, queries: QueryCache, dim: int) -> np.ndarray:
    """The query's vector (zeros in lexical mode, which reads none); asked once the filters
    are known to be good, so that a refused request never costs the model a call."""
    if query.request.mode == "lexical":
        return np.zeros(dim, dtype=np.float32)
    return queries.vector(query.text)
