"""A real server over a copy of an index: its memory idle, during writes and after; its reads
idle and during one write a second."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import threading
import time
from pathlib import Path

import httpx

from bench.writes.corpus import Speeches, index_state, work_copy
from harness.latency import percentiles
from harness.memory import MemorySampler, memory_kb
from harness.query_list import make_queries
from harness.server import running_server, server_log
from harness.writer import Writer

__all__ = ["SERVER_READERS", "serve_figures"]

SERVER_READERS = 8
MEMORY = ("VmRSS", "Pss", "RssAnon", "RssFile", "Pss_Anon", "Pss_File")
_5XX = re.compile(r'HTTP/1\.[01]" 5\d\d ')


def _settle(url: str, quiet: float = 2.5, limit: float = 30.0) -> float:
    """Wait until the served generation has not changed for `quiet` seconds (the merges after
    the writes are done and served), at most `limit`; the seconds waited."""
    began = time.monotonic()
    last, since = None, began
    with httpx.Client(base_url=url, timeout=10, trust_env=False) as client:
        while time.monotonic() - began < limit:
            generation = client.get("/health").json()["generation"]
            if generation != last:
                last, since = generation, time.monotonic()
            elif time.monotonic() - since >= quiet:
                break
            time.sleep(0.25)
    return time.monotonic() - began


def _reads(url: str, queries: list[str], seconds: float, writes: Writer | None = None) -> dict:
    """SERVER_READERS threads, each with its own httpx.Client, sending GET /search (k=10) for
    `queries` one after another for `seconds`; with `writes`, one write a second meanwhile."""
    deadline = time.perf_counter() + seconds
    latencies: list[list[float]] = [[] for _ in range(SERVER_READERS)]
    failures: list[str] = []
    step = max(1, len(queries) // SERVER_READERS)

    def reader(n: int) -> None:
        with httpx.Client(base_url=url, timeout=30, trust_env=False) as client:
            i = n * step
            while time.perf_counter() < deadline:
                query = queries[i % len(queries)]
                i += 1
                began = time.perf_counter()
                try:
                    response = client.get("/search", params={"q": query, "k": 10})
                except httpx.HTTPError as exc:
                    failures.append(f"{exc.__class__.__name__}: {exc}")
                    continue
                latencies[n].append((time.perf_counter() - began) * 1000)
                if response.status_code != 200:
                    failures.append(f"HTTP {response.status_code}: {response.text[:200]}")

    def writer() -> None:
        assert writes is not None
        began = time.perf_counter()
        for second in range(int(seconds) + 1):
            pause = began + second - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            if time.perf_counter() >= deadline:
                break
            writes.write_once()

    threads = [threading.Thread(target=reader, args=(n,), daemon=True)
               for n in range(SERVER_READERS)]  # fmt: skip
    if writes is not None:
        threads.append(threading.Thread(target=writer, daemon=True))
    began, done = time.perf_counter(), len(writes.latencies) if writes else 0
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 180)
    elapsed = time.perf_counter() - began
    every = [ms for own in latencies for ms in own]
    out = {"clients": SERVER_READERS, "seconds": elapsed, "requests": len(every),
           "qps": len(every) / elapsed, "failures": len(failures),
           "failure_samples": failures[:3], "latency_ms": percentiles(every)}  # fmt: skip
    if writes is not None:
        out["writes"] = writes.figures(done)
    return out


def _texts(speeches: Speeches, first: int, n: int) -> list[tuple[str, str, str | None]]:
    """(title, text, date) of n whole speeches for the writer, from speeches.written(first) on."""
    return [(a.title, a.text, a.date) for a in map(speeches.written, range(first, first + n))]


def _memory(url: str, pid: int, stream: Writer, writes: int) -> dict:
    """The server's memory (MB, median and max) idle for 3 s, during `writes` back-to-back
    writes, and for 3 s once the served generation has settled, sampled every 0.1 s."""
    sampler = MemorySampler(pid, 0.1, fields=MEMORY)
    sampler.start()
    try:
        began = time.monotonic()
        time.sleep(3.0)
        idle = sampler.window(began, time.monotonic())
        began = time.monotonic()
        stop_at = began + max(60.0, writes * 2.0)
        for _ in range(writes):
            if time.monotonic() > stop_at:
                break
            stream.write_once()
        ended = time.monotonic()
        during = sampler.window(began, ended)
        written = stream.figures() | {"seconds": ended - began}
        settled = _settle(url)
        began = time.monotonic()
        time.sleep(3.0)
        after = sampler.window(began, time.monotonic())
    finally:
        sampler.stop()
    return {"idle": idle, "during": during, "after": after, "writes": written,
            "settle_s": settled, "every_s": sampler.every}  # fmt: skip


def serve_figures(
    base: Path, name: str, speeches: Speeches, *, writes: int, seconds: float, queries: int
) -> dict:
    """On a copy of `base` served by a real server (harness.standin_app): its memory idle, during
    `writes` back-to-back writes and after; then search latency from SERVER_READERS clients
    for `seconds` idle and `seconds` during one write a second."""
    index_dir = work_copy(base, f"server-{name}")
    phrases = make_queries(index_dir, queries)
    key = secrets.token_urlsafe(24)
    report: dict = {"passages": index_state(index_dir)["passages"], "loadavg": os.getloadavg()}
    try:
        env = {
            "POLICY_SEARCH_API_KEY": key,
            "POLICY_SEARCH_HOST": "127.0.0.1",
            "POLICY_SEARCH_WORKERS": "1",
            "MALLOC_ARENA_MAX": "2",
        }  # as `serve` runs
        with running_server(index_dir, module="harness.standin_app", env=env) as server:
            url, proc = server.url, server.proc
            texts = _texts(speeches, 10_001, writes + int(seconds) + 1)
            stream = Writer(url, key, texts, run="bench")
            try:
                _reads(url, phrases, 2.0)  # warm: the first searches load caches
                report["memory"] = _memory(url, proc.pid, stream, writes)
                written = report["memory"]["writes"]
                print(f"server on {name}: memory done ({written['writes']} writes in "
                      f"{written['seconds']:.0f} s)", flush=True)  # fmt: skip
                _reads(url, phrases, 2.0)
                quiet = _reads(url, phrases, seconds)
                loaded = _reads(url, phrases, seconds, stream)
                _settle(url)
                end = memory_kb(proc.pid, MEMORY)
            finally:
                stream.close()
            log = server_log(proc)
            report["reads"] = {
                "idle": quiet, "during_writes": loaded,
                "ratio": {p: loaded["latency_ms"][p] / quiet["latency_ms"][p]
                          for p in ("p50", "p99") if quiet["latency_ms"][p]},
            }  # fmt: skip
            report["memory"]["end"] = {k: v / 1024 for k, v in end.items()}
            report["server"] = {"alive": proc.poll() is None, "write_errors": stream.errors[:5],
                                "tracebacks": log.count("Traceback (most recent call last)"),
                                "5xx_logged": len(_5XX.findall(log))}  # fmt: skip
        report["loadavg_after"] = os.getloadavg()
        print(f"server on {name}: reads done", flush=True)
    finally:
        shutil.rmtree(index_dir, ignore_errors=True)
    return report
