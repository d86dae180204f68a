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
  refused, 422, saying to start the search again without it. Those refusals are accepted (and
  counted) the same way.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import schemathesis

from policy_search.patterns import ARTICLE_ID

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
    """A valid id in a PUT body becomes the URL's valid id (an invalid one is left to fail)."""
    body, url_id = case.body, (case.path_parameters or {}).get("article_id")
    put = case.method == "PUT" and isinstance(body, dict)
    if put and _valid_id(body.get("id")) and _valid_id(url_id):
        body["id"] = url_id
    return case


def _is_fetch(case: Any) -> bool:
    body = case.body
    return (
        isinstance(body, dict)
        and isinstance(body.get("url"), str)
        and body.get("title") is None
        and body.get("text") is None
    )


def _has_cursor(case: Any) -> bool:
    asked = [case.query or {}, case.body if isinstance(case.body, dict) else {}]
    return any(where.get("cursor") is not None for where in asked)


def _refused(response: Any) -> str | None:
    """The error of a 422/502/504 answer in the one shape, or None."""
    if response is None or response.status_code not in (422, 502, 504):
        return None
    try:
        return str(json.loads(response.content).get("error", ""))
    except (ValueError, AttributeError):
        return None


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """Keep every failure except a fetch's 422/502/504 that says the upstream failed, and a
    made-up cursor's 422."""
    error = _refused(response)
    if error is None:
        return True
    fetch = _is_fetch(case) and any(reason in error for reason in _UPSTREAM)
    cursor = _has_cursor(case) and response.status_code == 422 and "cursor" in error
    if not (fetch or cursor):
        return True
    tally = os.environ.get("POLICY_SEARCH_FUZZ_ACCEPTED")
    if tally:
        with open(tally, "a", encoding="utf-8") as out:
            out.write(f"{case.method} {case.path} {response.status_code} {error}\n")
    return False
