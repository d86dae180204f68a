"""Alerts: a saved query matched against every article written after it (POST/GET/DELETE
/alerts), and the Atom feed of its matches (GET /alerts/{id}/feed)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from policy_search.records.fields import _ALWAYS_SENT, Mode, _about
from policy_search.records.query import SearchRequest, _with_filters

_SEARCH = {f.name: f for f in dataclasses.fields(SearchRequest)}


def _as_search(name: str) -> Any:
    """SearchRequest's field `name` (its default and rules), for a record that takes it too."""
    same = _SEARCH[name]
    default: dict[str, Any] = {}
    if same.default is not dataclasses.MISSING:
        default["default"] = same.default
    return field(metadata=same.metadata, **default)


@dataclass(frozen=True, slots=True, kw_only=True)
@_with_filters(after="min_confidence")
class AlertRequest:
    """POST /alerts' JSON body: a query to follow, with SearchRequest's rules for `q`, `mode`,
    `min_confidence` and every filter. Each article written afterwards is matched against it;
    its passages that the same search would return go to the alert's feed."""

    # SearchRequest's own fields (default and rules): one statement of each rule.
    q: str = _as_search("q")
    mode: Mode = _as_search("mode")  # noqa: RUF009
    min_confidence: float | None = _as_search("min_confidence")

    def search(self) -> SearchRequest:
        """The search this alert follows."""
        return SearchRequest(**{f.name: getattr(self, f.name) for f in dataclasses.fields(self)})


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertCreated:
    """A saved alert: its id, and its feed's URL (which needs no key: the id is its secret)."""

    __pydantic_config__ = _ALWAYS_SENT

    id: str = field(metadata=_about("The alert's id: random, 128 bits, URL-safe."))
    feed: str = field(metadata=_about("The absolute URL of its Atom feed."))


@dataclass(frozen=True, slots=True, kw_only=True)
@_with_filters(after="min_confidence")
class Alert:
    """A saved alert, as GET /alerts lists it: its query, filters, when it was saved, its feed
    and how many entries the feed holds."""

    __pydantic_config__ = _ALWAYS_SENT

    id: str = field(metadata=_about("The alert's id."))
    q: str = field(metadata=_about("The query followed."))
    mode: Mode = field(metadata=_about("How passages are matched: hybrid, dense or lexical."))
    min_confidence: float | None = field(
        default=None,
        metadata=_about("The confidence floor of its matches; null: the server's own."),
    )
    created: str = field(metadata=_about("When it was saved (ISO 8601, UTC)."))
    feed: str = field(metadata=_about("The absolute URL of its Atom feed."))
    matched: int = field(metadata=_about("Entries its feed holds (the newest are kept)."))


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertList:
    """Every saved alert, newest first."""

    __pydantic_config__ = _ALWAYS_SENT

    alerts: list[Alert] = field(metadata=_about("The alerts, newest first."))
