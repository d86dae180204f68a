"""Every error, whatever raised it, leaves the API as `{"ok": false, "error": …, "status": N}`."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match

from policy_search.api.writes import AuthError
from policy_search.index.errors import CorpusError, IndexLocked, IndexStoreError, PolicySearchError
from policy_search.patterns import describe
from policy_search.search.errors import ArticleNotFound, QueryError

__all__ = ["allowed_methods", "error_response", "install_error_handlers", "validation_message"]

log = logging.getLogger("policy_search.api")

_STATUS: list[tuple[type[PolicySearchError], int]] = [
    (QueryError, 422),
    (CorpusError, 422),
    (ArticleNotFound, 404),
    (IndexLocked, 503),
    (IndexStoreError, 503),
]


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
_BODY_UNPARSABLE = "There was an error parsing the body"


def error_response(status: int, message: str) -> JSONResponse:
    """The one error shape."""
    return JSONResponse({"ok": False, "error": message, "status": status}, status_code=status)


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
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, validation_message(exc))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.detail == _BODY_UNPARSABLE:
            # FastAPI's answer to a body that is not even text (invalid UTF-8): malformed JSON.
            return error_response(422, "malformed JSON body: it is not valid UTF-8 text")
        response = error_response(exc.status_code, str(exc.detail))
        response.headers.update(exc.headers or {})  # WWW-Authenticate on 401
        if exc.status_code == 405:
            response.headers["Allow"] = ", ".join(allowed_methods(request))
        return response

    @app.exception_handler(AuthError)
    async def _auth(_: Request, exc: AuthError) -> JSONResponse:
        response = error_response(exc.status, str(exc))
        if exc.status == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.exception_handler(PolicySearchError)
    async def _ours(_: Request, exc: PolicySearchError) -> JSONResponse:
        status = getattr(exc, "status", None) or next(
            (code for kind, code in _STATUS if isinstance(exc, kind)), 500
        )
        return error_response(status, str(exc))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "internal error; the server log has the details")
