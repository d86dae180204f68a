"""Facet counts, ordered and named as each facet's entry says (`policy_search.facets.FACETS`).

The index counts each facet's values over the passages that paging yields (its catalog holds
the SQL of each kind of condition); here they are put in order (by value, every one; or by
count, the most frequent first, cut at the limit) and each value gets its name for display.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from policy_search.facets import FacetSpec, facet
from policy_search.records import FacetCount, short_source

__all__ = ["collect_facets", "facet_value_name"]


class Counting(Protocol):
    """What counts facets: one index's snapshot, or a sharded one."""

    def facet_counts(self, ids: np.ndarray, facets: Sequence[str]) -> dict[str, dict[str, int]]:
        """Each facet's values with their counts of these passages' articles."""
        ...


def collect_facets(
    corpus: Counting, ids: np.ndarray, asked: Sequence[str], *, limit: int
) -> tuple[dict[str, list[FacetCount]], dict[str, int]]:
    """The facet counts of the matching passages' articles, and how many values each facet has
    past the limit (a facet in value order: none, all of them are given, in order)."""
    if not asked:
        return {}, {}
    names = list(dict.fromkeys(asked))
    counts = corpus.facet_counts(ids, names) if len(ids) else {}
    facets: dict[str, list[FacetCount]] = {}
    for name in names:
        spec = facet(name)
        found = counts.get(name, {})
        if spec.order == "value":
            ordered = sorted(found.items())
        else:
            ordered = sorted(found.items(), key=lambda item: (-item[1], item[0]))[:limit]
        facets[name] = [FacetCount(value=v, count=n, name=facet_value_name(spec, v))
                        for v, n in ordered]  # fmt: skip
    more = {name: len(counts.get(name, {})) - len(facets[name]) for name in names}
    return facets, more


def facet_value_name(spec: FacetSpec, value: str) -> str | None:
    """A facet value's name for display: a country's English name, a source's short name."""
    if spec.names == "country":
        from policy_search.index.analysis.countries import country_name

        return country_name(value)
    if spec.names == "source":
        return short_source(value)
    return None
