"""A bounded, closed-loop HTTP load generator: N clients, each with one keep-alive connection.

    .venv/bin/python -m harness.load URL --clients 8 --seconds 10 --queries queries.txt

Each client sends a request, waits for the answer, and sends the next, cycling through the
requests (clients start spread over the list, so concurrent clients ask different things).
`run_threads` takes any requests (`harness.mix`, for `harness.soak`); `run` and the command send
GET /search for a list of queries (`bench.queries` runs it). Runs in its own process so its CPU
time is not the server's; prints one JSON object: requests, errors (non-2xx or failed
connections), queries/s, latency percentiles in ms.
"""

from __future__ import annotations

import argparse
import http.client
import json
import threading
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.latency import percentiles

__all__ = ["Request", "errors_of", "run", "run_threads"]


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request: method, path with its query string, and a JSON body for POST."""

    kind: str
    method: str
    path: str
    body: str = ""


def errors_of(figures: dict) -> int:
    """Every failed request in a generator's figures: not 2xx, or a socket error."""
    return int(figures["non2xx"]) + sum(int(v) for v in figures["socket_errors"].values())


class _Tally:
    """What the client threads record (list.append and += under a lock are thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.non2xx = 0
        self.socket = {"connect": 0, "read": 0, "write": 0, "timeout": 0}
        self.samples: list[str] = []

    def failed(self, kind: str, sample: str) -> None:
        with self.lock:
            if kind == "status":
                self.non2xx += 1
            else:
                self.socket[kind] += 1
            if len(self.samples) < 5:
                self.samples.append(sample)


def _client(
    url: urllib.parse.SplitResult,
    requests: Sequence[Request],
    start: int,
    deadline: float,
    timeout: float,
    tally: _Tally,
) -> None:
    def connect() -> http.client.HTTPConnection:
        return http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)

    conn, i = connect(), start
    while time.perf_counter() < deadline:
        request = requests[i % len(requests)]
        i += 1
        headers = {"Content-Type": "application/json"} if request.body else {}
        began = time.perf_counter()
        try:
            conn.request(request.method, request.path, request.body or None, headers)
            response = conn.getresponse()
            body = response.read()
        except TimeoutError as exc:
            tally.failed("timeout", f"{request.path}: {exc}")
            conn.close()
            conn = connect()
            continue
        except (OSError, http.client.HTTPException) as exc:
            tally.failed("read", f"{request.path}: {exc.__class__.__name__}: {exc}")
            conn.close()
            conn = connect()
            continue
        tally.latencies.append((time.perf_counter() - began) * 1000)
        if not 200 <= response.status < 300:
            tally.failed("status", f"HTTP {response.status} {request.path}: {body[:300]!r}")
    conn.close()


def run_threads(
    base_url: str,
    requests: Sequence[Request],
    *,
    connections: int,
    seconds: float,
    timeout: float = 10.0,
) -> dict:
    """Load `base_url` from `connections` threads cycling through `requests`."""
    url = urllib.parse.urlsplit(base_url)
    tally = _Tally()
    began = time.perf_counter()
    deadline = began + seconds
    step = max(1, len(requests) // connections)
    clients = [
        threading.Thread(
            target=_client, args=(url, requests, n * step, deadline, timeout, tally), daemon=True
        )
        for n in range(connections)
    ]
    for client in clients:
        client.start()
    for client in clients:
        client.join()
    figures = percentiles(tally.latencies)
    return {
        "generator": "threads",
        "requests": len(tally.latencies) + sum(tally.socket.values()),
        "seconds": time.perf_counter() - began,
        "non2xx": tally.non2xx,
        "socket_errors": tally.socket,
        "latency_ms": {key: float(value) for key, value in figures.items()},
        "error_samples": tally.samples,
    }


def run(base_url: str, queries: list[str], *, clients: int, seconds: float) -> dict[str, float]:
    """Load `base_url` with `clients` clients sending GET /search for `queries`; the figures."""
    requests = [
        Request("search", "GET", "/search?" + urllib.parse.urlencode({"q": q})) for q in queries
    ]
    figures = run_threads(base_url, requests, connections=clients, seconds=seconds, timeout=60)
    failed = errors_of(figures)
    return {
        "clients": clients,
        "requests": figures["requests"],
        "errors": failed,
        "first_errors": figures["error_samples"][:3],
        "qps": (figures["requests"] - failed) / figures["seconds"],
        **figures["latency_ms"],
    }


def main() -> None:
    """Print the figures of one run as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--queries", type=Path, required=True, help="One query a line.")
    args = parser.parse_args()
    queries = [q for q in args.queries.read_text(encoding="utf-8").splitlines() if q.strip()]
    print(json.dumps(run(args.url, queries, clients=args.clients, seconds=args.seconds)))


if __name__ == "__main__":
    main()
