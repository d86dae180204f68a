"""uvicorn's HTTP/1.1 protocol with a deadline for each request's head (slow-client defence).

uvicorn closes an idle keep-alive connection after `timeout_keep_alive`, but a client that opens
a connection and sends its request line and headers a byte at a time is never cut off: enough of
them hold every file descriptor the server has (slowloris). Here the head of every request must
arrive within `head_timeout` seconds of its first byte (or of the connection opening); after that
the connection is answered 408 and closed. The body has its own deadline
(`policy_search.api.limits`).
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from policy_search.api.errors import error_body
from policy_search.api.settings import REQUEST_TIMEOUT

__all__ = ["DeadlineH11Protocol"]

_BODY = error_body(408, "the request head came too slowly")
_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
    b"content-length: %d\r\n\r\n%s" % (len(_BODY), _BODY)
)


class DeadlineH11Protocol(H11Protocol):
    """`H11Protocol` whose connections must deliver each request head within `head_timeout` s."""

    def __init__(self, *args: Any, head_timeout: float = REQUEST_TIMEOUT, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.head_timeout = head_timeout
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._waiting_for_head():
            self._arm()  # the first byte of the next request on a kept-alive connection
        super().data_received(data)

    def handle_events(self) -> None:
        super().handle_events()
        if not self._waiting_for_head():
            self._disarm()

    def _waiting_for_head(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _arm(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.head_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _too_slow(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or not self._waiting_for_head():
            return
        if self.conn.our_state in (h11.IDLE, h11.DONE):
            self.transport.write(_TIMEOUT)
        self.transport.close()
