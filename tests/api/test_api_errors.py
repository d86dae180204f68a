"""The error handlers: each family's status in the one shape; a fault of ours is a logged 500."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from policy_search.api import protocol
from policy_search.api.errors import AuthError, error_body, install_error_handlers
from policy_search.api.limits import BodyLimit
from policy_search.index.errors import (
    ArticleExists,
    ArticleNotFound,
    CorpusError,
    FetchError,
    IndexInternalError,
    IndexLocked,
    IndexMissing,
    PolicySearchError,
)
from policy_search.records import ErrorBody, parse
from policy_search.search.errors import QueryError

INTERNAL = "internal error; the server log has the details"


class InternalFault(PolicySearchError):
    """An error of ours that no client caused (as the index raises for a broken invariant)."""


def raising(exc: Exception) -> TestClient:
    """An app whose one route raises `exc`, with the handlers and the body limit."""
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(BodyLimit, limit=10)

    @app.post("/boom")
    def boom() -> None:
        raise exc

    return TestClient(app, raise_server_exceptions=False)


def the_error(response, status: int) -> ErrorBody:
    """The body, read strictly as the one error shape with this status."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = parse(ErrorBody, response.json())
    assert body.status == status and set(response.json()) == {"ok", "error", "status"}
    return body


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (QueryError("k must be between 1 and 100"), 422),
        (CorpusError("missing 'title'", path="a.md", line=2), 422),
        (FetchError("the server answered 503", url="https://example.org", status=502), 502),
        (ArticleNotFound("no article 'x'"), 404),
        (ArticleExists("an article with id 'x' exists; replace it instead"), 409),
        (IndexMissing("no index: run `policy-search index` first"), 503),
        (IndexLocked("another writer holds the lock"), 503),
        (AuthError(401, "this route needs a key"), 401),
        (AuthError(403, "the API key is wrong"), 403),
    ],
)
def test_each_error_family_has_its_status_and_its_message(exc: Exception, status: int) -> None:
    response = raising(exc).post("/boom")
    assert the_error(response, status).error == str(exc)
    assert (response.headers.get("www-authenticate") == "Bearer") is (status == 401)


def test_the_auth_error_is_in_the_tree() -> None:
    assert issubclass(AuthError, PolicySearchError)


@pytest.mark.parametrize(
    "exc",
    [
        IndexInternalError("articles to embed but no embedding model"),
        InternalFault("the segment's rows do not add up"),
        KeyError("x"),
    ],
)
def test_a_fault_of_ours_is_a_logged_500_that_blames_nobody(
    exc: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="policy_search.api"):
        response = raising(exc).post("/boom")
    assert the_error(response, 500).error == INTERNAL
    assert str(exc) not in response.text and "Traceback" not in response.text
    [record] = [r for r in caplog.records if r.name == "policy_search.api"]
    assert "POST /boom" in record.getMessage()
    assert record.exc_info is not None and record.exc_info[1] is exc  # the trace is logged
    assert "in boom" in caplog.text


def test_every_error_body_is_the_one_function_s() -> None:
    assert json.loads(error_body(404, "no article")) == {
        "ok": False,
        "error": "no article",
        "status": 404,
    }
    # The body limit and the request-head deadline answer with it too.
    too_big = raising(QueryError("unused")).post("/boom", content=b"x" * 11)
    assert the_error(too_big, 413).error == "request body over the limit of 10 bytes"
    assert too_big.content == error_body(413, "request body over the limit of 10 bytes")
    assert protocol._TIMEOUT.endswith(error_body(408, "the request head came too slowly"))
