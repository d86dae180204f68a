"""schemathesis hooks for `harness.fuzz_api` (loaded through SCHEMATHESIS_HOOKS).

Three rules of the API that an OpenAPI spec cannot state:
- PUT /articles/{id} takes an `id` in its body only if it is the URL's (else 422): generated
  bodies that carry a valid id get the URL's, as a real client's do. (The spec marks that id
  read-only, so schemathesis rarely sends one.)
- POST/PUT of a bare `url` fetches that page, and what the page is cannot be in the spec. This
  machine has no network, so a fetch fails: 502 (cannot reach), 504 (no answer in time), or 422
  (a private address refused, or something local answered: a 404, not HTML, no article text) —
  the documented answers for an upstream that fails. Those failures of fetches, and only those,
  are accepted; each is counted in the file named by POLICY_SEARCH_FUZZ_ACCEPTED so the run
  reports how many.
- A search's `cursor` is a token the server signed (api/cursors.py): any other string is
  refused, 422 (tests/api/test_cursors.py). A generated cursor that the spec calls valid is left
  out, or four searches in five would be that refusal and test nothing else; one the spec calls
  invalid (too long, not a string) is kept, to be refused.
- GET /articles/{id}/cite quotes `[start, end)`: both or neither, start before end, inside the
  article's text (else 422). Generated pairs are made so where the hook sees them, as a real
  client's are; whether the span lies inside the text depends on the article, and schemathesis's
  coverage phase sends one end alone, so a 422 saying either is accepted and counted.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import schemathesis

from policy_search.patterns import ARTICLE_ID
from policy_search.records import MAX_CURSOR

_UPSTREAM = (
    "cannot reach the server", "no answer within", "timed out while reading", "the server answered",
    "not an HTML page or PDF", "no article text", "no title found", "too large", "empty HTML page",
    "redirects", "not a public address",
)  # fmt: skip


def _valid_id(value: object) -> bool:
    return (
        isinstance(value, str) and len(value) <= 200 and re.fullmatch(ARTICLE_ID, value) is not None
    )


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    """A valid id in a PUT body becomes the URL's valid id (an invalid one is left to fail);
    a valid-looking cursor is left out (the server signs its own); a citation's span gets both
    ends, in order."""
    body, url_id = case.body, (case.path_parameters or {}).get("article_id")
    put = case.method == "PUT" and isinstance(body, dict)
    if put and _valid_id(body.get("id")) and _valid_id(url_id):
        body["id"] = url_id
    for asked in (case.query, body):
        if isinstance(asked, dict) and _valid_cursor(asked.get("cursor")):
            del asked["cursor"]
    if case.method == "GET" and case.path.endswith("/cite"):
        _span(case.query)
    return case


def _valid_cursor(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_CURSOR


def _span(query: dict[str, Any] | None) -> None:
    """Integer ends made a pair in order: one alone gets the other, equal ones are parted."""
    if not query:
        return
    start, end = query.get("start"), query.get("end")
    if not all(isinstance(v, int | None) and not isinstance(v, bool) for v in (start, end)):
        return  # not integers: the request is invalid anyway, and must be refused
    if start is None and end is None:
        return
    start = end - 1 if start is None else start
    end = start + 1 if end is None else end
    low, high = sorted((start, end))
    query["start"], query["end"] = max(low, 0), max(high, max(low, 0) + 1)


def _is_fetch(case: Any) -> bool:
    body = case.body
    return (
        isinstance(body, dict)
        and isinstance(body.get("url"), str)
        and body.get("title") is None
        and body.get("text") is None
    )


# policy_search.api.render.cite.SpanError's messages.
_SPAN_ERRORS = ("is not a non-empty part of the article's text", "give both start and end")


def _span_refused(case: Any, response: Any) -> str | None:
    """What a citation refused for its span said (one of _SPAN_ERRORS), or None."""
    if response is None or response.status_code != 422 or not case.path.endswith("/cite"):
        return None
    said = bytes(response.content).decode("utf-8", "replace")
    return next((reason for reason in _SPAN_ERRORS if reason in said), None)


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """Keep every failure except a fetch's 422/502/504 that says the upstream failed, and a
    citation's 422 for its span."""
    if (reason := _span_refused(case, response)) is not None:
        _count(case, response, reason)
        return False
    if response is None or response.status_code not in (422, 502, 504) or not _is_fetch(case):
        return True
    try:
        error = str(json.loads(response.content).get("error", ""))
    except (ValueError, AttributeError):
        return True
    if not any(reason in error for reason in _UPSTREAM):
        return True
    _count(case, response, error)
    return False


def _count(case: Any, response: Any, error: str) -> None:
    """A failure accepted, written to the file named by POLICY_SEARCH_FUZZ_ACCEPTED."""
    tally = os.environ.get("POLICY_SEARCH_FUZZ_ACCEPTED")
    if tally:
        with open(tally, "a", encoding="utf-8") as out:
            out.write(f"{case.method} {case.path} {response.status_code} {error}\n")
