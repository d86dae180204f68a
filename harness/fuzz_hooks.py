"""schemathesis hooks for `harness.fuzz_api` (loaded through SCHEMATHESIS_HOOKS).

Two rules of the API that an OpenAPI spec cannot state:
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
    a valid-looking cursor is left out (the server signs its own)."""
    body, url_id = case.body, (case.path_parameters or {}).get("article_id")
    put = case.method == "PUT" and isinstance(body, dict)
    if put and _valid_id(body.get("id")) and _valid_id(url_id):
        body["id"] = url_id
    for asked in (case.query, body):
        if isinstance(asked, dict) and _valid_cursor(asked.get("cursor")):
            del asked["cursor"]
    return case


def _valid_cursor(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_CURSOR


def _is_fetch(case: Any) -> bool:
    body = case.body
    return (
        isinstance(body, dict)
        and isinstance(body.get("url"), str)
        and body.get("title") is None
        and body.get("text") is None
    )


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """Keep every failure except a fetch's 422/502/504 that says the upstream failed."""
    if response is None or response.status_code not in (422, 502, 504) or not _is_fetch(case):
        return True
    try:
        error = str(json.loads(response.content).get("error", ""))
    except (ValueError, AttributeError):
        return True
    if not any(reason in error for reason in _UPSTREAM):
        return True
    tally = os.environ.get("POLICY_SEARCH_FUZZ_ACCEPTED")
    if tally:
        with open(tally, "a", encoding="utf-8") as out:
            out.write(f"{case.method} {case.path} {response.status_code} {error}\n")
    return False
