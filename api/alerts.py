"""Alert routes: save a query to follow, list and delete saved ones (behind the API key), and
each alert's Atom feed (no key: its random id is the capability a feed reader holds).

Saving compiles the query once (search/percolate.py: parsed, its vector embedded) and stores it
in the index's catalog on the writer thread; every later write matches its new passages
against it (index/storage/alerts.py).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import anyio
import numpy as np
from fastapi import APIRouter, Path, Request, Response
from feedgen.feed import FeedGenerator
from pydantic import field_validator

from policy_search import records
from policy_search.api.live import LiveSearcher
from policy_search.api.render.cite import permalink
from policy_search.api.schemas import _ITEMS, _Query, fields_of, json_number
from policy_search.api.settings import Settings
from policy_search.api.writequeue import WriteQueue
from policy_search.api.writes import WRITE_ERRORS, Writer
from policy_search.index.storage.alerts import (
    AlertMatch,
    StoredAlert,
    alert_feed,
    delete_alert,
    list_alerts,
    save_alert,
)
from policy_search.index.storage.lexical import Analyzer
from policy_search.search.percolate import AlertMatcher, compile_alert

__all__ = ["alert_matcher", "atom_feed", "new_alert", "router"]

router = APIRouter(tags=["alerts"])
# The feed needs no key: only an unknown id (404) or no index (503) goes wrong.
FEED_ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": records.ErrorBody} for code in (404, 422, 503)
}
# An id is 22 characters of base64url (128 random bits); any other is simply not found (404).
AlertIdParam = Annotated[str, Path(max_length=64)]
ATOM = "application/atom+xml"


@fields_of(records.AlertRequest, item_schemas=_ITEMS)
class AlertBody(_Query):
    """POST /alerts' JSON body."""

    _json_number = field_validator("min_confidence", mode="before", check_fields=False)(json_number)

    def record(self) -> records.AlertRequest:
        """The validated body as its wire record."""
        return records.AlertRequest(**self.model_dump())


def alert_matcher(settings: Settings, live: LiveSearcher) -> AlertMatcher:
    """What the server's writes match new passages with: the searcher's ranker (its
    calibrations), confidence floor and fusion (none read where the ranker orders hybrid
    searches), and the feed's length."""
    floor = live.confidence_floor or 0.0
    fusion = None if live.learned_order else live.fusion
    return AlertMatcher(live.ranker, floor, feed_length=settings.feed_length, fusion=fusion)


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _feed_url(request: Request, alert_id: str) -> str:
    base = _settings(request).page_url(str(request.base_url))
    return f"{base}/alerts/{alert_id}/feed"


def new_alert(
    body: records.AlertRequest, analyzer: Analyzer, vector_of: Callable[[str], np.ndarray]
) -> StoredAlert:
    """A new alert, compiled with the index's analysis and the model's vector of its text
    (QueryError as /search gives), a random id (the feed's URL is its capability) and the time."""
    compiled, vector = compile_alert(body, analyzer, vector_of)
    created = datetime.now(UTC).isoformat(timespec="microseconds")
    return StoredAlert(secrets.token_urlsafe(16), records.to_json(body), compiled, vector, created)


def _compiled(request: Request, body: records.AlertRequest) -> StoredAlert:
    """The alert compiled against the served index."""
    live = request.app.state.live
    return new_alert(body, live.get().analyzer, live.queries.vector)


@router.post("/alerts", operation_id="create_alert", response_model=records.AlertCreated,
             status_code=201, responses=WRITE_ERRORS)  # fmt: skip
async def create_alert(_: Writer, request: Request, body: AlertBody) -> records.AlertCreated:
    """Follow a query: each article written from now on whose passages it matches adds them to
    the alert's Atom feed; 409 past the limit of alerts."""
    alert = await anyio.to_thread.run_sync(_compiled, request, body.record())
    index_dir = request.app.state.live.index_dir
    limit = _settings(request).max_alerts
    queue: WriteQueue = request.app.state.writes
    await queue.run(lambda: save_alert(index_dir, alert, limit=limit))
    return records.AlertCreated(id=alert.id, feed=_feed_url(request, alert.id))


@router.get("/alerts", operation_id="list_alerts", response_model=records.AlertList,
            responses=WRITE_ERRORS)  # fmt: skip
def get_alerts(_: Writer, request: Request) -> records.AlertList:
    """Every saved alert, newest first."""
    saved = list_alerts(request.app.state.live.index_dir)
    return records.AlertList(alerts=[_record(request, a) for a in saved])


def _record(request: Request, alert: StoredAlert) -> records.Alert:
    given: dict[str, Any] = dict(alert.request)
    feed = _feed_url(request, alert.id)
    matched = min(alert.matched, _settings(request).feed_length)  # (pruned every few writes)
    return records.Alert(**given, id=alert.id, created=alert.created, feed=feed,
                         matched=matched)  # fmt: skip


@router.delete("/alerts/{alert_id}", operation_id="delete_alert", status_code=204,
               response_class=Response, responses=WRITE_ERRORS)  # fmt: skip
async def remove_alert(_: Writer, request: Request, alert_id: AlertIdParam) -> Response:
    """Stop following a query: the alert and its feed go; 404 if there is none."""
    index_dir = request.app.state.live.index_dir
    queue: WriteQueue = request.app.state.writes
    await queue.run(lambda: delete_alert(index_dir, alert_id))
    return Response(status_code=204)


@router.get(
    "/alerts/{alert_id}/feed", operation_id="get_alert_feed", response_class=Response,
    responses={200: {"content": {ATOM: {"schema": {"type": "string"}}},
                     "description": "The alert's Atom feed (RFC 4287)."},
               **FEED_ERRORS},
)  # fmt: skip
def get_alert_feed(request: Request, alert_id: AlertIdParam) -> Response:
    """The passages the alert matched, newest first, as an Atom feed (no key needed)."""
    settings = _settings(request)
    alert, matches = alert_feed(request.app.state.live.index_dir, alert_id, settings.feed_length)
    base = settings.page_url(str(request.base_url))
    body = atom_feed(alert, matches, base, _feed_url(request, alert_id))
    return Response(body, media_type=ATOM, headers={"Cache-Control": "no-cache"})


# What XML 1.0 cannot hold, escaped or not (most C0 controls, lone surrogates, U+FFFE/U+FFFF):
# an alert's query or an article may hold it, and lxml refuses the whole feed for one.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: str) -> str:
    """`text` with each character XML cannot hold replaced by U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)


def atom_feed(alert: StoredAlert, matches: list[AlertMatch], base: str, self_url: str) -> bytes:
    """The feed (RFC 4287); feedgen escapes every text it writes, and what XML cannot hold at
    all is replaced first."""
    feed = FeedGenerator()
    feed.id(f"urn:policy-search:alert:{alert.id}")
    feed.title(_xml(f"policy-search: {alert.request.get('q', '')}"))
    feed.link(href=self_url, rel="self")
    feed.link(href=f"{base}/?{_query(alert)}", rel="alternate")
    feed.updated(matches[0].matched if matches else alert.created)
    feed.author({"name": "policy-search"})
    for match in reversed(matches):  # feedgen puts each new entry first: oldest in first
        entry = feed.add_entry()
        entry.id(f"urn:policy-search:alert:{alert.id}:passage:{match.passage}")
        entry.title(_xml(match.title))
        entry.link(href=permalink(base, match.article, match.start, match.end))
        entry.updated(match.matched)
        entry.summary(_xml(match.text))
        if match.author:
            entry.author({"name": _xml(match.author)})
        if match.source:
            entry.source(title=_xml(match.source), url=match.url or None)
    return feed.atom_str(pretty=True)


def _query(alert: StoredAlert) -> str:
    """The web page's URL state of the alert's search."""
    from urllib.parse import urlencode

    q = {k: v for k, v in alert.request.items() if v not in (None, [], "")}
    return urlencode(q, doseq=True)
