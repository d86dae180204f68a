"""The rules records share: a request's limits and choices (modes, sorts, facets, the query's
fields, export formats, citation styles), and the helpers that write a field's metadata."""

from __future__ import annotations

import typing
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import policy_search.facets as _registry

# The limits of a request, for the app's validation and spec, the searcher and the client alike.
MAX_QUERY_CHARS = 1000
MAX_K = 100
MAX_OFFSET = 10_000
# MAX_ARTICLE_ID and MAX_COUNTRIES (countries one query may filter by): policy_search.facets.
MAX_CURSOR = 512  # a cursor's characters (api/cursors.py makes them, about 150)

Mode = Literal["hybrid", "dense", "lexical"]
MODES: tuple[str, ...] = typing.get_args(Mode)
Sort = Literal["relevance", "newest", "oldest"]
SORTS: tuple[str, ...] = typing.get_args(Sort)
# How each is offered to a person (the page's "Match by …" and "Order").
MODE_LABELS = {"hybrid": "both", "dense": "meaning", "lexical": "words"}
SORT_LABELS = {"relevance": "Best match first", "newest": "Newest first", "oldest": "Oldest first"}
# The facets (`facets=`) and the fields a query's text may restrict by (`country:AZ`,
# `year:2020..2024`), as its filters do: from their registries (policy_search.facets). Checked
# as choices at run time (the spec's enum, the CLI's choices, `problems`); plain text to mypy,
# which cannot read a Literal built from a registry.
FACETS: tuple[str, ...] = tuple(f.name for f in _registry.FACETS)
QUERY_FIELDS: tuple[str, ...] = tuple(f.name for f in _registry.RESTRICTIONS)
if TYPE_CHECKING:
    Facet = str
    QueryField = str
else:
    Facet = Literal[FACETS]
    QueryField = Literal[QUERY_FIELDS]
# The output formats of an export (`format=` on /search) and the styles of a citation; each is
# an entry of the app's renderer registry (policy_search.api.render), which checks it has these.
ExportFormat = Literal["csv", "jsonl", "bibtex", "ris"]
EXPORT_FORMATS: tuple[str, ...] = typing.get_args(ExportFormat)
CiteStyle = Literal["apa", "chicago", "mla", "bibtex", "ris"]
CITE_STYLES: tuple[str, ...] = typing.get_args(CiteStyle)


def _about(description: str, **rules: object) -> dict[str, object]:
    """A field's metadata: its description for the spec, and the rules a request must meet."""
    return {"description": description, **rules}


def _listed(names: Sequence[str], last: str) -> str:
    """ "a, b or c"."""
    return f"{', '.join(names[:-1])} {last} {names[-1]}" if len(names) > 1 else "".join(names)


# Responses always carry every field, defaults or not: pydantic (which documents the records in
# the app's spec) reads this from a dataclass, so that the spec says so. A plain dict here.
_ALWAYS_SENT = {"json_schema_serialization_defaults_required": True}
