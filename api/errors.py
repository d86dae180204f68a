"""Every error, whatever raised it, leaves the API as `{"ok": false, "error": …, "status": N}`.

One table gives each error family its status; what is not in it is a fault of ours:

    PolicySearchError               (policy_search.index.errors: every error raised on purpose)
    ├── QueryError            422   the query or its options (policy_search.search.errors)
    │   └── CursorError       422   a cursor that cannot be followed (policy_search.api.cursors)
    ├── CorpusError           422   the article sent; FetchError answers its own `status`
    ├── ArticleNotFound       404
    ├── ArticleExists         409   an add of an id that exists (PUT replaces)
    ├── AlertNotFound         404   an alert id not saved
    ├── AlertLimit            409   past POLICY_SEARCH_MAX_ALERTS
    ├── IndexStoreError       503   no index, another model's, damaged, or locked
    ├── AuthError             401 or 403, its own `status`: a write without the right key
    └── any other             500   an internal fault: logged with its trace, never the client's
    RequestValidationError    422   pydantic's, in one line
    HTTPException             its status (404 and 405 of the router, 408 and 413 of the limits)
    any other exception       500   as an internal fault

The body is `records.ErrorBody`, made by `error_body` alone: the handlers here, the body limits
(policy_search.api.limits) and the request-head deadline (policy_search.api.protocol) use it.
"""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException
from starlette.routing import Match

from policy_search.index.errors import (
    AlertLimit,
    AlertNotFound,
    ArticleExists,
    ArticleNotFound,
    CorpusError,
    FetchError,
    IndexStoreError,
    PolicySearchError,
)
from policy_search.patterns import describe
from policy_search.records import ErrorBody, to_json
from policy_search.search.errors import QueryError

__all__ = [
    "AuthError",
    "allowed_methods",
    "error_body",
    "error_response",
    "install_error_handlers",
    "status_of",
    "validation_message",
]

log = logging.getLogger("policy_search.api")


class AuthError(PolicySearchError):
    """A write without the right key: 401 without one, 403 with a wrong one or writes off."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


# The client's errors, most specific first. An error of ours not in this table is a fault of
# the server, whatever it is: 500.
_STATUS: list[tuple[type[PolicySearchError], int]] = [
    (QueryError, 422),
    (CorpusError, 422),
    (ArticleNotFound, 404),
    (ArticleExists, 409),
    (AlertNotFound, 404),
    (AlertLimit, 409),
    (IndexStoreError, 503),
]
_OWN_STATUS = (AuthError, FetchError)  # errors that carry the status to answer


def status_of(exc: PolicySearchError) -> int | None:
    """The HTTP status of one of our errors, or None: not the client's, a fault of ours."""
    if isinstance(exc, _OWN_STATUS):
        return exc.status
    return next((code for kind, code in _STATUS if isinstance(exc, kind)), None)


def error_body(status: int, message: str) -> bytes:
    """The one error shape, `records.ErrorBody`, as the JSON bytes of a response."""
    record = ErrorBody(error=message, status=status)
    return json.dumps(to_json(record), ensure_ascii=False).encode()


def error_response(status: int, message: str) -> Response:
    """The one error shape, as a response (401 names the scheme, as HTTP asks)."""
    response = Response(error_body(status, message), status, media_type="application/json")
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


_INTERNAL = "internal error; the server log has the details"
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
_BODY_UNPARSABLE = "There was an error parsing the body"


def validation_message(exc: RequestValidationError) -> str:
    """One readable line from pydantic's list of errors."""
    parts = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            return f"malformed JSON body: {err.get('ctx', {}).get('error', 'cannot parse')}"
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query"))
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        if err.get("type") == "string_pattern_mismatch":
            message = f"must be {describe(str(err.get('ctx', {}).get('pattern')))}"
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts) or "invalid request"


def allowed_methods(request: Request) -> list[str]:
    """Every method some route answers on this path.

    Starlette's 405 names only the methods of the first route matching the path, but GET, PUT
    and DELETE of `/articles/{id}` are three routes; so ask the router about each method.
    """
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes
        )
    ]


def install_error_handlers(app: FastAPI) -> None:
    """Translate each error family into the one shape with the right status."""

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> Response:
        return error_response(422, validation_message(exc))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 400 and exc.detail == _BODY_UNPARSABLE:
            # FastAPI's answer to a body that is not even text (invalid UTF-8): malformed JSON.
            return error_response(422, "malformed JSON body: it is not valid UTF-8 text")
        response = error_response(exc.status_code, str(exc.detail))
        response.headers.update(exc.headers or {})
        if exc.status_code == 405:
            response.headers["Allow"] = ", ".join(allowed_methods(request))
        return response

    @app.exception_handler(PolicySearchError)
    async def _ours(request: Request, exc: PolicySearchError) -> Response:
        status = status_of(exc)
        return error_response(status, str(exc)) if status else _internal(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        return _internal(request, exc)


def _internal(request: Request, exc: Exception) -> Response:
    """A fault of ours: its trace in the log, a 500 that blames nobody in the answer."""
    log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, _INTERNAL)
