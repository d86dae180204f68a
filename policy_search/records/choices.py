"""What a search offers (GET /search/options), built from the records' and registries' lists."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import policy_search.facets as _registry
from policy_search.records.fields import MODE_LABELS, MODES, SORT_LABELS, SORTS, _about


@dataclass(frozen=True, slots=True, kw_only=True)
class Choice:
    """One value a request field may take, and its name for a person."""

    name: str = field(metadata=_about("The value, as the field takes it."))
    label: str = field(metadata=_about("Its name in a menu (the page's wording)."))


@dataclass(frozen=True, slots=True, kw_only=True)
class FacetChoice:
    """A facet a search may count by (`facets`), as `policy_search.facets` declares it."""

    name: str = field(metadata=_about("The value of `facets` that asks for it."))
    label: str = field(metadata=_about("A heading for its values."))
    order: Literal["value", "count"] = field(
        metadata=_about(
            "value: every value, in order (years); count: the most frequent first, cut at the "
            "server's limit (`facets_more` says how many more)."
        )
    )
    filter: str = field(
        metadata=_about("The filter (or `field:` of the query's text) its values are given to.")
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class FilterChoice:
    """A filter a search may be narrowed by, or a `field:` the query's text may say."""

    name: str = field(metadata=_about("The request field (or the query text's `name:`)."))
    label: str = field(metadata=_about("Its name for a person."))
    many: bool = field(metadata=_about("Whether it takes several values (any of them)."))
    request: bool = field(
        metadata=_about("Whether it is a field of the request (else only the query's `name:`).")
    )
    syntax: str | None = field(
        metadata=_about("How the query's text says it (an example), or null when it cannot.")
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchChoices:
    """What a search offers (GET /search/options): its modes, orders, facets and filters, so
    that a page or a client builds its controls from the server's own lists."""

    modes: list[Choice] = field(metadata=_about("The values of `mode`, the default first."))
    sorts: list[Choice] = field(metadata=_about("The values of `sort`, the default first."))
    facets: list[FacetChoice] = field(metadata=_about("The values of `facets`."))
    filters: list[FilterChoice] = field(
        metadata=_about("The filters, request fields and the query text's `field:`s alike.")
    )

    @classmethod
    def offered(cls) -> SearchChoices:
        """The choices of this server: its records' and registries' own lists."""
        fields = {f.name for f in _registry.FILTERS}
        specs = {f.name: f for f in (*_registry.FILTERS, *_registry.RESTRICTIONS)}
        return cls(
            modes=[Choice(name=m, label=MODE_LABELS[m]) for m in MODES],
            sorts=[Choice(name=s, label=SORT_LABELS[s]) for s in SORTS],
            facets=[FacetChoice(name=f.name, label=f.label, order=f.order, filter=f.filter)
                    for f in _registry.FACETS],
            filters=[FilterChoice(name=f.name, label=f.label, many=f.many,
                                  request=f.name in fields, syntax=f.syntax)
                     for f in specs.values()],
        )  # fmt: skip
