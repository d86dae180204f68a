"""Slow clients cannot hold the server: a real uvicorn on loopback, raw sockets (fake embedder).

With POLICY_SEARCH_REQUEST_TIMEOUT=1, a client that trickles its request head or its body is
answered 408 and cut off after about a second, and while a hundred such clients hang on, the
server goes on answering everyone else.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from harness.server import Server, running_server
from policy_search.index.build import build_index
from tests.conftest import ARTICLES
from tests.fakes import FakeEmbedder

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    index_dir = tmp_path_factory.mktemp("slow") / "index"
    build_index(ARTICLES, index_dir, FakeEmbedder())
    env = {"POLICY_SEARCH_REQUEST_TIMEOUT": "1", "POLICY_SEARCH_MAX_BODY_BYTES": "4096"}
    with running_server(index_dir, fake=True, env=env) as running:
        yield running


def _connect(server: Server) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (10 s at most)."""
    chunks = []
    with contextlib.suppress(TimeoutError, ConnectionResetError):
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_a_trickled_head_is_cut_off(server: Server) -> None:
    sock = _connect(server)
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
    began = time.monotonic()
    answer = _read_all(sock)
    waited = time.monotonic() - began
    sock.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert b'"status": 408' in answer
    assert waited < 9, "the server held the connection until the client's own timeout"


def test_a_silent_connection_is_cut_off(server: Server) -> None:
    sock = _connect(server)
    answer = _read_all(sock)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer


def test_a_trickled_body_is_408(server: Server) -> None:
    sock = _connect(server)
    sock.sendall(
        b"POST /search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n" + b'{"q": "Cas'
    )
    answer = _read_all(sock)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert b"did not arrive" in answer


def test_a_kept_alive_connection_gets_a_deadline_per_request(server: Server) -> None:
    sock = _connect(server)
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    first = sock.recv(65536)
    assert first.startswith(b"HTTP/1.1 200"), first
    sock.sendall(b"GET /health HTTP/1.1\r\n")  # the second request trickles
    answer = first + _read_all(sock)
    sock.close()
    assert answer.count(b"HTTP/1.1 200") == 1 and b"HTTP/1.1 408" in answer, answer


def test_a_body_over_the_limit_is_413_even_undeclared(server: Server) -> None:
    sock = _connect(server)
    sock.sendall(
        b"POST /search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    payload = b'{"q": "' + b"x" * 8000 + b'"}'
    sock.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(payload), payload))
    answer = _read_all(sock)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_many_slow_clients_do_not_hold_the_others(server: Server) -> None:
    slow = [_connect(server) for _ in range(100)]
    for sock in slow:
        sock.sendall(b"GET /search?q=Caspian HTTP/1.1\r\nHost: x\r\n")
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            for _ in range(20):
                response = client.get("/search", params={"q": "Caspian corridor"})
                assert response.status_code == 200
                assert response.json()["results"]
        cut = sum(_read_all(sock).startswith(b"HTTP/1.1 408") for sock in slow)
    finally:
        for sock in slow:
            sock.close()
    assert cut == len(slow)
