"""The shapes the HTTP API receives and sends, defined once for the app and the client.

Every request and response body is a frozen dataclass here, named as its JSON is shaped. A field's
`metadata` holds what the OpenAPI spec says of it (`description`) and, in requests, the rules a
value must meet (`min_length`, `max_length`, `ge`, `le`, `pattern`; `items` for each element of
a list), as plain data under the names pydantic's `Field` gives them. The app builds its
validation and its spec from these (`policy_search.api.schemas`); the client builds its
requests from them and reads every answer with `parse`, which refuses JSON of the wrong shape.

One module per concept, every public name imported from here: `fields` (limits, choices and the
metadata helpers), `alert` (saved queries and their feeds), `article`, `query`, `result` (hits,
the query's reading, similar articles),
`choices` (GET /search/options), `cite` (citations, formats), `write` (article input, write
results), `stats` (stats, health), `rules` (`problems`), `wire` (`to_json`, `parse`, the error
body). A record's annotations name records of its own module's globals, so that
`typing.get_type_hints` (the app's spec, the CLI, `parse`) resolves them there.

Standard library only (and `policy_search.patterns`, itself standard library only): importing this
needs neither httpx nor pydantic.
"""

from __future__ import annotations

from policy_search.facets import MAX_ARTICLE_ID, MAX_COUNTRIES
from policy_search.records.alert import Alert, AlertCreated, AlertList, AlertRequest
from policy_search.records.article import (
    Article,
    ArticleMeta,
    ArticlePassage,
    Passage,
    Snippet,
    short_source,
)
from policy_search.records.choices import Choice, FacetChoice, FilterChoice, SearchChoices
from policy_search.records.cite import Citation, CiteRequest, FormatInfo, Formats, StyleInfo
from policy_search.records.fields import (
    CITE_STYLES,
    EXPORT_FORMATS,
    FACETS,
    MAX_CURSOR,
    MAX_K,
    MAX_OFFSET,
    MAX_QUERY_CHARS,
    MODES,
    QUERY_FIELDS,
    SORTS,
    CiteStyle,
    ExportFormat,
    Facet,
    Mode,
    Sort,
)
from policy_search.records.query import SearchRequest
from policy_search.records.result import (
    Explanation,
    FacetCount,
    Hit,
    QueryReading,
    Restriction,
    SearchResult,
    Similar,
    SimilarResult,
)
from policy_search.records.rules import problems
from policy_search.records.stats import Health, SourceCount, Stats
from policy_search.records.wire import ErrorBody, WireError, parse, to_json
from policy_search.records.write import ArticleInput, ArticleReplacement, WriteResult

__all__ = [
    "CITE_STYLES",
    "EXPORT_FORMATS",
    "FACETS",
    "MAX_ARTICLE_ID",
    "MAX_COUNTRIES",
    "MAX_CURSOR",
    "MAX_K",
    "MAX_OFFSET",
    "MAX_QUERY_CHARS",
    "MODES",
    "QUERY_FIELDS",
    "SORTS",
    "Alert",
    "AlertCreated",
    "AlertList",
    "AlertRequest",
    "Article",
    "ArticleInput",
    "ArticleMeta",
    "ArticlePassage",
    "ArticleReplacement",
    "Choice",
    "Citation",
    "CiteRequest",
    "CiteStyle",
    "ErrorBody",
    "Explanation",
    "ExportFormat",
    "Facet",
    "FacetChoice",
    "FacetCount",
    "FilterChoice",
    "FormatInfo",
    "Formats",
    "Health",
    "Hit",
    "Mode",
    "Passage",
    "QueryReading",
    "Restriction",
    "SearchChoices",
    "SearchRequest",
    "SearchResult",
    "Similar",
    "SimilarResult",
    "Snippet",
    "Sort",
    "SourceCount",
    "Stats",
    "StyleInfo",
    "WireError",
    "WriteResult",
    "parse",
    "problems",
    "short_source",
    "to_json",
]
