"""What operators watch: `GET /metrics` in Prometheus' text format.

The metrics live here, at the edge: requests and their latency by route template, method and
status (a middleware); searches by mode; writes and merges with their durations (the write
queue); the model's time (a timing wrapper around the embedder); alerts matched
(`count_alerts_matched`); and the served index's passages, articles, segments, deleted passages
and generation, read from the served snapshot when scraped rather than kept up to date.

Labels are bounded and say nothing about a request's content: a route is its path template
(`/articles/{article_id}`, never the id), a search its mode, never its query.

Under `serve --workers N` each worker is a process of its own: `serve` sets
PROMETHEUS_MULTIPROC_DIR (a fresh directory per run) before the workers start, prometheus_client
then keeps every counter in a memory-mapped file there, and a scrape, whichever worker answers
it, sums them all (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.supervisors import Multiprocess

from policy_search.index.analysis.embed import Embedder, TokenSpans
from policy_search.index.errors import IndexStoreError

__all__ = [
    "MULTIPROCESS_DIR",
    "MetricsMiddleware",
    "TimedEmbedder",
    "Workers",
    "count_alerts_matched",
    "count_search",
    "exposition",
    "install",
    "multiprocess_dir",
    "timed_merge",
    "timed_write",
]

# The variable prometheus_client reads once, when imported: set, every metric is kept in files.
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED = "unmatched"  # the route of a request answered before routing (404, 413, 408)

# Queries answer in milliseconds, so the default buckets (5 ms first) would lump them together.
_FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_SLOW = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

REGISTRY = CollectorRegistry()
_HTTP = ("route", "method", "status")
REQUESTS = Counter(
    "policy_search_http_requests", "HTTP requests answered, by route template, method and status.",
    _HTTP, registry=REGISTRY,
)  # fmt: skip
LATENCY = Histogram(
    "policy_search_http_request_duration_seconds",
    "Seconds from a request's arrival to the end of its answer, by route template, method and "
    "status.",
    _HTTP, buckets=_FAST, registry=REGISTRY,
)  # fmt: skip
IN_PROGRESS = Gauge(
    "policy_search_http_requests_in_progress", "Requests being answered now (all workers).",
    registry=REGISTRY, multiprocess_mode="livesum",
)  # fmt: skip
SEARCHES = Counter(
    "policy_search_searches", "Searches answered (pages and exports), by the mode that ranked.",
    ["mode"], registry=REGISTRY,
)  # fmt: skip
WRITES = Counter(
    "policy_search_writes", "Writes through the API (add, replace, remove), by outcome.",
    ["outcome"], registry=REGISTRY,
)  # fmt: skip
WRITE_SECONDS = Histogram(
    "policy_search_write_duration_seconds",
    "Seconds a write took on the writer thread: embedding, its durable commit, serving it.",
    buckets=_SLOW, registry=REGISTRY,
)  # fmt: skip
MERGES = Counter(
    "policy_search_merges", "Segment merges done by the server after its writes.",
    registry=REGISTRY,
)  # fmt: skip
MERGE_FAILURES = Counter(
    "policy_search_merge_failures", "Merges that failed (the index stays as it was).",
    registry=REGISTRY,
)  # fmt: skip
MERGE_SECONDS = Histogram(
    "policy_search_merge_duration_seconds",
    "Seconds of each merge run that merged segments, serving the merged commit included.",
    buckets=_SLOW, registry=REGISTRY,
)  # fmt: skip
MODEL_SECONDS = Histogram(
    "policy_search_model_encode_seconds",
    "Seconds of each call to the embedding model (queries not in the query cache, writes).",
    buckets=_FAST, registry=REGISTRY,
)  # fmt: skip
MODEL_TEXTS = Counter(
    "policy_search_model_texts", "Texts embedded by the model.", registry=REGISTRY
)
ALERTS_MATCHED = Counter(
    "policy_search_alerts_matched", "Saved alerts matched by the passages of written articles.",
    registry=REGISTRY,
)  # fmt: skip
if MULTIPROCESS_DIR not in os.environ:
    # One process: its own memory and CPU (under workers, each worker's would be one of N).
    ProcessCollector(registry=REGISTRY)


def count_search(mode: str) -> None:
    """Count a search answered in `mode` (hybrid, dense, lexical)."""
    SEARCHES.labels(mode).inc()


def count_alerts_matched(n: int) -> None:
    """Count `n` saved alerts matched by a write (the writer's percolation calls this)."""
    if n > 0:
        ALERTS_MATCHED.inc(n)


@contextmanager
def timed_write() -> Iterator[None]:
    """Count and time one write, and whether it failed."""
    start = time.perf_counter()
    try:
        yield
    except BaseException:
        WRITES.labels("error").inc()
        raise
    WRITES.labels("ok").inc()
    WRITE_SECONDS.observe(time.perf_counter() - start)


def timed_merge(merge: Callable[[], int]) -> int:
    """Run `merge()` (it returns the merges done), counting and timing those that merged."""
    start = time.perf_counter()
    try:
        done = int(merge())
    except BaseException:
        MERGE_FAILURES.inc()
        raise
    if done:
        MERGES.inc(done)
        MERGE_SECONDS.observe(time.perf_counter() - start)
    return done


class TimedEmbedder:
    """An embedder whose `encode` calls are timed; everything else is the model's own."""

    def __init__(self, model: Embedder) -> None:
        self.model = model
        self.model_id, self.dim = model.model_id, model.dim
        self.max_tokens, self.special_tokens = model.max_tokens, model.special_tokens

    def __getattr__(self, name: str) -> Any:
        # Whatever else a backend offers (its session, its tokenizer): the wrapped model's.
        return getattr(self.model, name)

    def token_spans(self, texts: Sequence[str]) -> list[TokenSpans]:
        """The model's own token spans (no model call)."""
        return self.model.token_spans(texts)

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False
    ) -> np.ndarray:
        """The model's vectors for `texts`, its time observed."""
        start = time.perf_counter()
        vectors = self.model.encode(texts, batch_size=batch_size, progress=progress)
        MODEL_SECONDS.observe(time.perf_counter() - start)
        MODEL_TEXTS.inc(len(texts))
        return vectors


class MetricsMiddleware:
    """Counts and times every HTTP request by its route's path template, method and status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the server answers when the app raises before its answer

        async def noted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        start = time.perf_counter()
        IN_PROGRESS.inc()
        try:
            await self.app(scope, receive, noted)
        finally:
            IN_PROGRESS.dec()
            labels = (_route(scope), scope["method"], str(status))
            LATENCY.labels(*labels).observe(time.perf_counter() - start)
            REQUESTS.labels(*labels).inc()


def _route(scope: Scope) -> str:
    """The path template of the route that answered (set on the scope by the router)."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template if isinstance(template, str) and template else UNMATCHED


class IndexCollector(Collector):
    """The served index's counts, read from the served snapshot at each scrape."""

    def __init__(self, live: Any) -> None:
        self.live = live

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """One gauge per count this process's served commit knows."""
        if self.live is None:  # the app's lifespan has not run
            return
        try:
            corpus = self.live.get().snapshot
        except IndexStoreError:  # no index loaded yet: no gauges rather than a failed scrape
            return
        counts = {
            "generation": ("The served commit's generation.", corpus.generation),
            "articles": ("Articles in the served commit.", corpus.manifest.articles),
            "passages": ("Live passages in the served commit.", corpus.passages),
        }
        if hasattr(corpus, "segments") and hasattr(corpus, "live"):  # one index, not shards
            counts["segments"] = ("Segments of the served commit.", len(corpus.segments))
            dead = int(len(corpus.live) - corpus.passages)
            counts["deleted_passages"] = (
                "Deleted passages still held by segments (a merge drops them).", dead,
            )  # fmt: skip
        for name, (about, value) in counts.items():
            yield GaugeMetricFamily(f"policy_search_index_{name}", about, value=value)


def exposition(live: Any) -> tuple[bytes, str]:
    """The metrics as Prometheus' text format, and its content type; all workers' sums in
    multiprocess mode."""
    if MULTIPROCESS_DIR in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        text = generate_latest(registry)
    else:
        text = generate_latest(REGISTRY)
    index = CollectorRegistry()
    index.register(IndexCollector(live))
    return text + generate_latest(index), CONTENT_TYPE_PLAIN_0_0_4


def install(app: FastAPI) -> None:
    """Count the app's requests (outermost, so that refusals before routing count too) and
    serve `GET /metrics`: no API key, as it holds counts and timings, never a query or a
    secret; `POLICY_SEARCH_METRICS=false` leaves both out."""
    app.add_middleware(MetricsMiddleware)

    @app.get("/metrics", operation_id="get_metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        """Prometheus' text format (version 0.0.4)."""
        body, content_type = exposition(getattr(request.app.state, "live", None))
        return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})


@contextmanager
def multiprocess_dir(enabled: bool = True) -> Iterator[Path | None]:
    """The workers' metrics directory, named in PROMETHEUS_MULTIPROC_DIR before they start:
    a fresh one, removed afterwards, or the one already named there, emptied first (a past
    run's counts would be summed in)."""
    if not enabled:
        yield None
        return
    if given := os.environ.get(MULTIPROCESS_DIR):
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for old in path.glob("*.db"):
            old.unlink()
        yield path
        return
    path = Path(tempfile.mkdtemp(prefix="policy-search-metrics-"))
    os.environ[MULTIPROCESS_DIR] = str(path)  # read by each worker as it starts
    try:
        yield path
    finally:
        os.environ.pop(MULTIPROCESS_DIR, None)
        shutil.rmtree(path, ignore_errors=True)


class Workers(Multiprocess):
    """uvicorn's worker supervisor, which also forgets the live gauges of each worker that
    exits or is replaced (`mark_process_dead`), so requests in progress stay right."""

    def keep_subprocess_alive(self) -> None:
        """Replace dead workers, as uvicorn does, forgetting their gauges."""
        with self._forgetting():
            super().keep_subprocess_alive()

    def handle_signals(self) -> None:
        """Handle signals, as uvicorn does (HUP replaces workers, TTOU drops one)."""
        with self._forgetting():
            super().handle_signals()

    @contextmanager
    def _forgetting(self) -> Iterator[None]:
        before = {p.pid for p in self.processes}
        yield
        if MULTIPROCESS_DIR not in os.environ:
            return
        for pid in before - {p.pid for p in self.processes}:
            if pid is not None:
                multiprocess.mark_process_dead(pid)
