"""Exports of one row per hit: CSV and JSON Lines.

Both hold the same columns, in this order. CSV cells of text that an article or a query
supplies are neutralised against formula injection (OWASP, "CSV Injection"): a cell starting
with `=`, `+`, `-`, `@`, a tab or a carriage return gets a `'` in front, so a spreadsheet shows
it as text instead of running it. Numbers the server computes (rank, score, offsets) are left
as numbers: a negative score is data, not a formula.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator

from policy_search.api.render.cite import permalink
from policy_search.records import Hit

__all__ = ["COLUMNS", "neutralise", "render_csv", "render_jsonl", "row"]

COLUMNS = (
    "rank", "score", "confidence", "article_id", "title", "source", "author", "date", "url",
    "tags", "passage_start", "passage_end", "passage_text", "countries", "permalink",
)  # fmt: skip
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: object) -> object:
    """A text cell that a spreadsheet would read as a formula, made text ('=1+1' → "'=1+1")."""
    if isinstance(cell, str) and cell.startswith(_FORMULA):
        return "'" + cell
    return cell


def row(hit: Hit, base_url: str) -> dict[str, object]:
    """One hit as the export's columns (lists as lists)."""
    a, p = hit.article, hit.passage
    return {
        "rank": hit.rank, "score": hit.score, "confidence": hit.confidence,
        "article_id": a.id, "title": a.title, "source": a.source, "author": a.author,
        "date": a.date, "url": a.url, "tags": list(a.tags),
        "passage_start": p.start, "passage_end": p.end, "passage_text": p.text,
        "countries": list(p.countries),
        "permalink": permalink(base_url, a.id, p.start, p.end),
    }  # fmt: skip


def render_csv(hits: Iterable[Hit], base_url: str) -> Iterator[str]:
    """A header, then a row per hit; lists as `; `-separated text, nulls as empty cells."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180's line ends
    writer.writerow(COLUMNS)
    yield _drain(buffer)
    for hit in hits:
        values = row(hit, base_url)
        writer.writerow(
            [
                neutralise("; ".join(v) if isinstance(v, list) else v)
                for v in (values[c] if values[c] is not None else "" for c in COLUMNS)
            ]
        )
        yield _drain(buffer)


def render_jsonl(hits: Iterable[Hit], base_url: str) -> Iterator[str]:
    """A JSON object per hit, per line (the CSV's columns; lists as arrays, nulls as null)."""
    for hit in hits:
        yield json.dumps(row(hit, base_url), ensure_ascii=False) + "\n"


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
