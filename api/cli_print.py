"""How `policy-search search` prints a result for a person: how the query was read and what
it found, each hit's title, confidence, source, place and snippet (its matched words marked),
then the facets asked for."""

from __future__ import annotations

import click

from policy_search.facets import FACETS
from policy_search.records import FacetCount, Hit, QueryReading, SearchResult

__all__ = ["print_result"]

_FACET_TITLES = {f.name: f.label for f in FACETS}


def print_result(result: SearchResult, *, full: bool = False) -> None:
    """How the query was read, the hits, best first (snippets, or whole passages with
    `full`), then the facets (which count articles)."""
    if read := _reading(result.reading):
        click.echo(f"Read as {read}.")
    for notice in result.reading.notices:
        click.echo(click.style(f"Note: {notice}.", fg="yellow"))
    if not result.hits:
        click.echo("No results." + _loose(result.loose))
    else:
        first, last = result.hits[0].rank, result.hits[-1].rank
        unit = "articles" if result.hits[0].more is not None else "passages"
        click.echo(f"Showing {first}–{last} of {result.total} {unit}.{_loose(result.loose)}\n")
    for hit in result.hits:
        _print_hit(hit, full=full)
    for name, values in result.facets.items():
        more = result.facets_more.get(name, 0)
        shown = ", ".join(_facet_value(v) for v in values) or "none"
        click.echo(
            f"{_FACET_TITLES.get(name, name)} (articles): {shown}"
            + (f" (+{more} more)" if more else "")
        )
    if result.next_cursor:  # the next page of this ranking, at this commit
        click.echo(f"Next page: --cursor {result.next_cursor}")


def _reading(reading: QueryReading) -> str:
    """The parts of the query that are more than free words, in words ("" when none)."""
    parts = [" ".join(reading.words)] if reading.words else []
    parts += [f'the phrase "{p}"' for p in reading.phrases]
    if reading.excluded:
        parts.append("without " + ", ".join(reading.excluded))
    parts += [f"{r.name}: {r.value}" for r in reading.restrictions]
    return "; ".join(parts) if reading.phrases or reading.excluded or reading.restrictions else ""


def _loose(loose: int) -> str:
    return f" And {loose} loosely related (--min-confidence 0 shows them)." if loose else ""


def _print_hit(hit: Hit, *, full: bool) -> None:
    a, p = hit.article, hit.passage
    meta = " · ".join(x for x in (a.source_name or a.source, a.author, a.date) if x)
    more = f"  (+{hit.more} more passages)" if hit.more else ""
    click.echo(
        click.style(f"{hit.rank}. {a.title}", bold=True)
        + f"  [confidence {hit.confidence:.2f} · score {hit.score:.3f}]{more}"
    )
    if meta:
        click.echo(f"   {meta}")
    countries = f"  countries: {' '.join(p.countries)}" if p.countries else ""
    click.echo(f"   {a.id} [{p.start}:{p.end}]" + (f"  {a.url}" if a.url else "") + countries)
    if hit.explain:
        e = hit.explain
        dense = f"{e.dense_score:.3f}" if e.dense_score is not None else "-"
        lexical = f"{e.lexical_score:.2f}" if e.lexical_score is not None else "-"
        moved = f" · feedback {e.feedback_score:.3f}" if e.feedback_score is not None else ""
        click.echo(
            f"   dense #{e.dense_rank or '-'} {dense} · lexical #{e.lexical_rank or '-'} "
            f"{lexical}{moved} · fusion {e.fusion}"
        )
    if full:
        text, marks = p.text, p.highlights
    else:
        text, marks = hit.snippet.text, hit.snippet.highlights
    ellipsis = (
        "…" if not full and hit.snippet.start > 0 else "",
        "…" if not full and hit.snippet.end < len(p.text) else "",
    )
    click.echo("   " + ellipsis[0] + " ".join(_marked(text, marks).split()) + ellipsis[1] + "\n")


def _marked(text: str, marks: list[tuple[int, int]]) -> str:
    """`text` with its matched words in bold (plain where the terminal has no colour)."""
    out, at = [], 0
    for start, end in sorted(marks):
        if start < at:
            continue
        out += [text[at:start], click.style(text[start:end], bold=True)]
        at = end
    return "".join([*out, text[at:]])


def _facet_value(value: FacetCount) -> str:
    label = (
        f"{value.name} ({value.value})" if value.name and value.name != value.value else value.value
    )
    if value.name and len(value.value) > 40:  # a long source: its short name is enough
        label = value.name
    return f"{label} {value.count}"
