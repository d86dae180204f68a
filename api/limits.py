"""Limits on request bodies: over a size, 413 (declared length or not); too slow, 408."""

from __future__ import annotations

import asyncio

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from policy_search.api.errors import error_body
from policy_search.api.settings import REQUEST_TIMEOUT

__all__ = ["BodyLimit"]


class BodyLimit:
    """ASGI middleware: a body over `limit` bytes gets the one error shape with status 413, and
    one that has not fully arrived `timeout` seconds after the request's head, 408."""

    def __init__(self, app: ASGIApp, *, limit: int, timeout: float = REQUEST_TIMEOUT) -> None:
        self.app = app
        self.limit = limit
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await self._refuse(send, 400, "invalid Content-Length header")
                return
            if int(declared) > self.limit:
                await self._refuse(send, 413, self._message())
                return
        seen = 0
        started = False
        complete = False
        deadline = asyncio.get_running_loop().time() + self.timeout

        async def counted() -> Message:
            nonlocal seen, complete
            if complete:  # after the body, receive() waits for a disconnect: no deadline
                return await receive()
            left = deadline - asyncio.get_running_loop().time()
            try:
                message = await asyncio.wait_for(receive(), timeout=max(left, 0.001))
            except TimeoutError:
                # FastAPI lets an HTTPException through its body parsing untouched.
                raise HTTPException(status_code=408, detail=self._slow()) from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                complete = not message.get("more_body", False)
                if seen > self.limit:
                    raise HTTPException(status_code=413, detail=self._message())
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except HTTPException as exc:  # raised while a body was read outside a route
            if started or exc.status_code not in (408, 413):
                raise
            await self._refuse(send, exc.status_code, str(exc.detail))

    def _message(self) -> str:
        return f"request body over the limit of {self.limit} bytes"

    def _slow(self) -> str:
        return f"the request body did not arrive within {self.timeout:g} s"

    @staticmethod
    async def _refuse(send: Send, status: int, message: str) -> None:
        body = error_body(status, message)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
