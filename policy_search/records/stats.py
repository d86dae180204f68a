"""What the index holds and whether the service is up (GET /stats, GET /health)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from policy_search.records.article import short_source
from policy_search.records.fields import _about


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceCount:
    """A source and how many articles it has."""

    source: str
    articles: int
    source_name: str | None = field(
        default=None, metadata=_about("Its short name, for display (the source filter takes it).")
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "source_name", short_source(self.source))  # always derived


@dataclass(frozen=True, slots=True, kw_only=True)
class Stats:
    """What the index holds."""

    articles: int
    passages: int
    sources: list[SourceCount] = field(metadata=_about("Sources, most articles first."))
    date_min: str | None = field(metadata=_about("The earliest article's date."))
    date_max: str | None = field(metadata=_about("The latest article's date."))
    generation: int = field(metadata=_about("The served commit; every write adds one."))
    built_at: str = field(metadata=_about("When that commit was made (ISO 8601, UTC)."))
    model: str = field(metadata=_about("The embedding model the index was built with."))
    bytes_on_disk: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Health:
    """The service is up and an index is loaded: its generation, counts and model."""

    ok: Literal[True] = True
    generation: int = field(metadata=_about("The served commit; every write adds one."))
    articles: int
    passages: int
    model: str = field(metadata=_about("The embedding model the index was built with."))
    built_at: str = field(metadata=_about("When the served commit was made (ISO 8601, UTC)."))
