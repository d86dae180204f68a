"""What one write costs on a small and a large index, and what many writes do to search.

    .venv/bin/python -m bench.writes [--small 880] [--large 11500] [--reps 9] [--writes 1000]
                                     [--queries 200] [--load-on small|large|both]
                                     [--server/--no-server] [--server-on small|large|both]
                                     [--server-writes 100] [--server-seconds 20] [--only server]

Two indexes of UN General Debate speeches, about 20,000 and 200,000 passages (~17 passages a
speech at 256 tokens: the corpus's 10,952 speeches give ~190,000; then copies under new ids), built
once with a stand-in encoder (`harness.embedders.StandInEmbedder`: hashed bags of words,
microseconds a passage) into var/bench/writes/ and reused; every run works on a fresh copy. So
the figures are the index's own work (chunking, BM25, FAISS, the segment files, the catalog's
commit) with the model left out; the model's share is timed on its own (one speech's passages
with the real model).

For each index: add one new speech, replace it (another speech's text under its id), remove it,
each with merge=False and its time and bytes written (the write() bytes of this process, from
/proc/self/io, and the growth of the index directory), then the following `merge_segments`;
the median of `--reps` rounds, and the ratio large/small. Then `--writes` single-speech writes
as a server makes them (add, add, replace, add, remove; each followed by the merge policy's
merges) and query latency (`Searcher.search`, hybrid, k=10, one at a time) over `--queries`
distinct queries, against the same index after `optimize` (one segment).

With `--server` (the default), a copy of the small index (`--server-on`) is served by a real
uvicorn server (`harness.standin_app`: the app on the stand-in, one process, serve's options and
MALLOC_ARENA_MAX=2) on a free 127.0.0.1 port, and stopped at the end, also on error. Its memory
(VmRSS of /proc/PID/status, and Pss of smaps_rollup: the segments are memory-mapped, so RSS
counts shared page cache) sampled every 0.1 s: idle 3 s, during `--server-writes` back-to-back
writes (PUT /articles/{id} new and replaced, DELETE; harness.writer's cycle), and 3 s after once
the served generation has settled. Then GET /search (k=10) from 8 threads, each its own
httpx.Client, over `--queries` phrases: `--server-seconds` idle, then as long again during one
write a second; p50, p99 and the ratio during/idle. `--only server` runs only this part and keeps
the rest of --out. Prints a table; saves every figure to var/bench/writes.json.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import httpx

from harness.embedders import StandInEmbedder
from harness.indexes import copy_index
from harness.latency import percentiles
from harness.query_list import make_queries
from harness.server import running_server, server_log
from policy_search.index.article import Article
from policy_search.index.build import add_articles, build_index, remove_articles
from policy_search.index.chunk import ChunkSettings, chunk_article, embed_text, title_prefix
from policy_search.index.merge import merge_segments, optimize
from policy_search.index.readers import read_file
from policy_search.index.store import exists, open_catalog, read_manifest
from policy_search.search.searcher import Searcher

__all__ = ["main"]

WORK = Path("var/bench/writes")
CYCLE = ("add", "add", "replace", "add", "remove")  # as harness.writer's


class Speeches:
    """The corpus's speeches in order, then copies of them under new ids, as far as needed."""

    def __init__(self, path: Path) -> None:
        self.corpus = list(read_file(path))

    def __getitem__(self, i: int) -> Article:
        base = self.corpus[i % len(self.corpus)]
        if i < len(self.corpus):
            return base
        return dataclasses.replace(base, id=f"{base.id}~copy{i // len(self.corpus)}")

    def written(self, i: int) -> Article:
        """The i-th speech the writes use, the same one on every index: a copy under a new id."""
        base = self.corpus[(7919 * i) % len(self.corpus)]
        return dataclasses.replace(base, id=f"bench-write-{i}")


def _io() -> dict[str, int]:
    fields = {}
    for line in Path("/proc/self/io").read_text().splitlines():
        name, _, value = line.partition(":")
        fields[name] = int(value)
    return fields


def _size(index_dir: Path) -> int:
    return sum(p.stat().st_size for p in index_dir.rglob("*") if p.is_file())


def _measured(index_dir: Path, action: Callable[[], object]) -> dict[str, float]:
    """Seconds, bytes passed to write() (wchar), bytes sent to storage, growth on disk."""
    io, size = _io(), _size(index_dir)
    began = time.perf_counter()
    action()
    seconds = time.perf_counter() - began
    after = _io()
    return {
        "seconds": seconds,
        "written": after["wchar"] - io["wchar"],
        "storage": after["write_bytes"] - io["write_bytes"],
        "growth": _size(index_dir) - size,
    }


def _base(speeches: Speeches, n: int, embedder: StandInEmbedder) -> tuple[Path, dict]:
    """The cached index of the first n speeches (built and optimized once)."""
    index_dir = WORK / f"un-{n}"
    if exists(index_dir):
        catalog = open_catalog(index_dir, readonly=True)
        try:
            manifest = read_manifest(catalog)
            segments = len(catalog.segments())
        finally:
            catalog.close()
        if manifest.articles == n and manifest.model_id == embedder.model_id and segments == 1:
            return index_dir, {"built_s": manifest.build_seconds, "cached": True}
    shutil.rmtree(index_dir, ignore_errors=True)
    began = time.perf_counter()
    build_index((speeches[i] for i in range(n)), index_dir, embedder, merge=False)
    optimize(index_dir)
    return index_dir, {"built_s": time.perf_counter() - began, "cached": False}


def _copy(base: Path, name: str) -> Path:
    return copy_index(base, WORK / "runs" / name)


def _state(index_dir: Path) -> dict[str, int]:
    catalog = open_catalog(index_dir, readonly=True)
    try:
        articles, passages = catalog.counts()
        segments, tombstones = len(catalog.segments()), catalog.deleted_count()
    finally:
        catalog.close()
    return {"articles": articles, "passages": passages, "segments": segments,
            "tombstones": tombstones}  # fmt: skip


def single_writes(
    index_dirs: dict[str, Path], speeches: Speeches, reps: int, embedder: StandInEmbedder
) -> dict[str, dict[str, dict[str, float]]]:
    """By index: median figures of add, replace, remove (merge=False each) and the merge after
    them. The indexes take turns, in A B B A order, so that the machine's drift weighs on all."""
    rounds: dict[str, dict[str, list[dict[str, float]]]] = {
        name: {op: [] for op in ("add", "replace", "remove", "merge")} for name in index_dirs
    }
    for r in range(reps):
        new, other = speeches.written(2 * r), speeches.written(2 * r + 1)
        changed = dataclasses.replace(other, id=new.id)
        names = list(index_dirs) if r % 2 == 0 else list(reversed(index_dirs))
        for name in names:
            index_dir = index_dirs[name]
            steps: dict[str, Callable[[], object]] = {
                "add": partial(add_articles, [new], index_dir, embedder, merge=False),
                "replace": partial(add_articles, [changed], index_dir, embedder, merge=False),
                "remove": partial(remove_articles, [new.id], index_dir, merge=False),
                "merge": partial(merge_segments, index_dir),
            }
            for op, step in steps.items():
                rounds[name][op].append(_measured(index_dir, step))
    return {
        name: {op: {k: statistics.median(f[k] for f in figures) for k in figures[0]}
               for op, figures in ops.items()}
        for name, ops in rounds.items()
    }  # fmt: skip


def query_latency(index_dir: Path, queries: list[str], embedder: StandInEmbedder) -> dict:
    """Percentiles of Searcher.search (hybrid, k=10), one query at a time, after 10 to warm."""
    searcher = Searcher.load(index_dir, embedder)
    for q in queries[:10]:
        searcher.search(q, k=10)
    out = []
    for q in queries:
        began = time.perf_counter()
        searcher.search(q, k=10)
        out.append((time.perf_counter() - began) * 1000)
    return percentiles(out)


def write_load(
    index_dir: Path, speeches: Speeches, first: int, writes: int, embedder: StandInEmbedder,
    queries: list[str],
) -> dict:  # fmt: skip
    """`writes` single-speech writes (merging as a server does; speeches.written from `first`),
    then query latency; then the same after optimize."""
    present: list[str] = []
    nxt = first
    began = time.perf_counter()
    for step in range(writes):
        op = CYCLE[step % len(CYCLE)]
        if op == "add" or not present:
            add_articles([speeches.written(nxt)], index_dir, embedder)
            present.append(speeches.written(nxt).id)
            nxt += 1
        elif op == "replace":  # the newest, with another speech's text
            add_articles(
                [dataclasses.replace(speeches.written(nxt), id=present[-1])], index_dir, embedder
            )
            nxt += 1
        else:
            remove_articles([present.pop(0)], index_dir)
    seconds = time.perf_counter() - began
    after = _state(index_dir)
    fragmented = query_latency(index_dir, queries, embedder)
    optimize_s = _measured(index_dir, lambda: optimize(index_dir))
    merged = query_latency(index_dir, queries, embedder)
    return {
        "writes": writes, "seconds": seconds, "after_writes": after, "query_after_writes":
        fragmented, "optimize": optimize_s, "after_optimize": _state(index_dir),
        "query_after_optimize": merged,
    }  # fmt: skip


def model_share(article: Article) -> dict:
    """Seconds the real model takes to embed one speech's passages (loaded once, warmed)."""
    from policy_search.index.embed import load_embedder

    embedder = load_embedder()
    settings = ChunkSettings()
    prefix = title_prefix(article, embedder, settings)
    texts = [embed_text(prefix, p.text) for p in chunk_article(article, embedder, settings)]
    embedder.encode(texts[:4])
    began = time.perf_counter()
    embedder.encode(texts)
    return {"model": embedder.model_id, "passages": len(texts),
            "seconds": time.perf_counter() - began}  # fmt: skip


# --- The server: its memory and its reads while it writes -----------------------------------

SERVER_READERS = 8
_5XX = re.compile(r'HTTP/1\.[01]" 5\d\d ')


def _memory_kb(pid: int) -> dict[str, int]:
    """VmRSS (RssAnon, RssFile) of /proc/PID/status and Pss (Pss_Anon, Pss_File) of smaps_rollup,
    in kB: the segments are memory-mapped, so RSS counts page cache that Pss shares out."""
    out: dict[str, int] = {}
    for name in ("status", "smaps_rollup"):
        for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "Pss", "Pss_Anon", "Pss_File"):
                out[key] = int(value.split()[0])
    return out


class _MemorySampler(threading.Thread):
    """(monotonic time, _memory_kb) of one process every `every` seconds until stop()."""

    def __init__(self, pid: int, every: float = 0.1) -> None:
        super().__init__(name="server-memory", daemon=True)
        self.pid, self.every = pid, every
        self.samples: list[tuple[float, dict[str, int]]] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            with contextlib.suppress(OSError, ValueError):
                self.samples.append((time.monotonic(), _memory_kb(self.pid)))
            self._halt.wait(self.every)

    def stop(self) -> None:
        self._halt.set()
        self.join()

    def window(self, began: float, ended: float) -> dict:
        """Median and max (MB) of each figure over the samples from `began` to `ended`."""
        picked = [s for t, s in self.samples if began <= t <= ended]
        out: dict = {"samples": len(picked), "seconds": ended - began}
        for key in ("VmRSS", "Pss", "RssAnon", "RssFile", "Pss_Anon", "Pss_File"):
            values = [s[key] / 1024 for s in picked if key in s]
            if values:
                out[key] = {"median": statistics.median(values), "max": max(values)}
        return out


def _body(article: Article) -> dict:
    """The JSON of a PUT /articles/{id} (the id is the URL's)."""
    fields = {"title": article.title, "text": article.text, "source": article.source,
              "author": article.author, "date": article.date,
              "tags": list(article.tags)}  # fmt: skip
    return {k: v for k, v in fields.items() if v not in (None, [])}


class _Writes:
    """The server's writes of a run, one at a time over HTTP, in harness.writer's CYCLE: PUT new
    ids (bench-serve-N), PUT over the newest present one (another speech's text), DELETE the
    oldest present one. Records each write's latency (ms) and failures."""

    def __init__(self, url: str, key: str, speeches: Speeches, first: int) -> None:
        self.client = httpx.Client(base_url=url, timeout=120, trust_env=False,
                                   headers={"Authorization": f"Bearer {key}"})  # fmt: skip
        self.speeches, self.text = speeches, first
        self.step = self.ids = 0
        self.present: list[str] = []
        self.latencies: list[float] = []
        self.ops = {op: 0 for op in ("add", "replace", "remove")}
        self.errors: list[str] = []

    def one(self) -> None:
        op = CYCLE[self.step % len(CYCLE)] if self.present else "add"
        self.step += 1
        if op == "add":
            article_id = f"bench-serve-{self.ids}"
            self.ids += 1
        else:
            article_id = self.present[-1] if op == "replace" else self.present.pop(0)
        began = time.perf_counter()
        try:
            if op == "remove":
                response = self.client.delete(f"/articles/{article_id}")
            else:
                self.text += 1
                body = _body(self.speeches.written(self.text))
                response = self.client.put(f"/articles/{article_id}", json=body)
        except httpx.HTTPError as exc:
            self.errors.append(f"{op} {article_id}: {exc.__class__.__name__}: {exc}")
            return
        self.latencies.append((time.perf_counter() - began) * 1000)
        if response.status_code not in (200, 201):
            self.errors.append(f"{op} {article_id}: HTTP {response.status_code} "
                               f"{response.text[:200]}")  # fmt: skip
            return
        self.ops[op] += 1
        if op == "add":
            self.present.append(article_id)

    def figures(self, since: int = 0) -> dict:
        """Writes done, failures, latency percentiles, of the writes from the `since`-th on."""
        return {"writes": len(self.latencies) - since, "errors": len(self.errors),
                "latency_ms": percentiles(self.latencies[since:])}  # fmt: skip


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


def _reads(url: str, queries: list[str], seconds: float, writes: _Writes | None = None) -> dict:
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
            writes.one()

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


def serve_figures(
    base: Path, name: str, speeches: Speeches, *, writes: int, seconds: float, queries: int
) -> dict:
    """On a copy of `base` served by a real server (harness.standin_app): its memory idle, during
    `writes` back-to-back writes and after; then search latency from SERVER_READERS clients
    for `seconds` idle and `seconds` during one write a second."""
    index_dir = _copy(base, f"server-{name}")
    phrases = make_queries(index_dir, queries)
    key = secrets.token_urlsafe(24)
    report: dict = {"passages": _state(index_dir)["passages"], "loadavg": os.getloadavg()}
    try:
        env = {
            "POLICY_SEARCH_API_KEY": key,
            "POLICY_SEARCH_HOST": "127.0.0.1",
            "POLICY_SEARCH_WORKERS": "1",
            "MALLOC_ARENA_MAX": "2",
        }  # as `serve` runs
        with running_server(index_dir, module="harness.standin_app", env=env) as server:
            url, proc = server.url, server.proc
            stream = _Writes(url, key, speeches, 10_000)
            try:
                _reads(url, phrases, 2.0)  # warm: the first searches load caches
                sampler = _MemorySampler(proc.pid)
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
                        stream.one()
                    ended = time.monotonic()
                    during = sampler.window(began, ended)
                    written = stream.figures() | {"seconds": ended - began}
                    settled = _settle(url)
                    began = time.monotonic()
                    time.sleep(3.0)
                    after = sampler.window(began, time.monotonic())
                finally:
                    sampler.stop()
                report["memory"] = {"idle": idle, "during": during, "after": after,
                                    "writes": written, "settle_s": settled,
                                    "every_s": sampler.every}  # fmt: skip
                print(f"server on {name}: memory done ({written['writes']} writes in "
                      f"{written['seconds']:.0f} s)", flush=True)  # fmt: skip
                _reads(url, phrases, 2.0)
                quiet = _reads(url, phrases, seconds)
                loaded = _reads(url, phrases, seconds, stream)
                _settle(url)
                end = _memory_kb(proc.pid)
            finally:
                stream.client.close()
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


def _mb(n: float) -> str:
    return f"{n / 1e6:.2f}"


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # so that `finally` stops the server and removes the copies


def _previous(path: Path) -> dict:
    """The figures an earlier run saved (for --only server), or none."""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return report if isinstance(report, dict) else {}


def main() -> None:
    """Print the table; save var/bench/writes.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=880, help="Speeches in the small index.")
    parser.add_argument("--large", type=int, default=11500, help="Speeches in the large index.")
    parser.add_argument("--reps", type=int, default=9, help="Rounds of add, replace, remove.")
    parser.add_argument("--writes", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--load-on", choices=["small", "large", "both"], default="both")
    parser.add_argument("--no-model", action="store_true", help="Skip timing the real model.")
    parser.add_argument(
        "--server", action=argparse.BooleanOptionalAction, default=True,
        help="Serve a copy with a real server: its memory, and its reads while it writes.",
    )  # fmt: skip
    parser.add_argument("--server-on", choices=["small", "large", "both"], default="small")
    parser.add_argument("--server-writes", type=int, default=100, help="The memory's writes.")
    parser.add_argument("--server-seconds", type=float, default=20.0,
                        help="Seconds of reads idle, and again during writes.")  # fmt: skip
    parser.add_argument("--only", choices=["server"],
                        help="Only this part; the rest of --out stays as it was.")  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("var/bench/writes.json"))
    args = parser.parse_args()
    if args.only == "server" and not args.server:
        parser.error("--only server with --no-server leaves nothing to do")
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    import faiss

    faiss.omp_set_num_threads(1)  # as the server runs, writes and searches alike
    data = Path(os.environ.get("POLICY_SEARCH_DATA_DIR", "../shared/data"))
    speeches = Speeches(data / "policy/un-general-debates/articles.jsonl.gz")
    embedder = StandInEmbedder()
    report: dict = _previous(args.out) if args.only else {}
    report |= {"encoder": f"{embedder.model_id} (a stand-in: the model is left out)",
               "cores": os.cpu_count()}  # fmt: skip
    report.setdefault("sizes", {})
    sizes = {"small": args.small, "large": args.large}
    served = [name for name in sizes if args.server and args.server_on in (name, "both")]
    bases = {}
    for name, n in sizes.items():
        if args.only and name not in served:
            continue
        bases[name], built = _base(speeches, n, embedder)
        figures = {"speeches": n, **built, **_state(bases[name])}
        if args.only and report["sizes"].get(name, {}).get("speeches") == n:
            report["sizes"][name] |= figures  # keep the earlier run's figures of this index
        else:
            report["sizes"][name] = figures
        print(f"{name}: {n:,} speeches, {figures['passages']:,} passages, "
              f"{'cached' if built['cached'] else 'built'} ({built['built_s']:.0f} s to build)",
              flush=True)  # fmt: skip
    if not args.only:
        _index_figures(report, bases, speeches, embedder, args)
    if not args.only or not isinstance(report.get("server"), dict):
        report["server"] = {}  # --only server keeps an earlier run's figures of other indexes
    for name in served:
        report["server"][name] = serve_figures(
            bases[name], name, speeches, writes=args.server_writes, seconds=args.server_seconds,
            queries=args.queries,
        )  # fmt: skip
    _print(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"figures: {args.out}")


def _index_figures(
    report: dict, bases: dict[str, Path], speeches: Speeches, embedder: StandInEmbedder,
    args: argparse.Namespace,
) -> None:  # fmt: skip
    """The index's own figures: single writes on both, the write load, the model's share."""
    copies = {name: _copy(base, name) for name, base in bases.items()}
    try:
        for name, ops in single_writes(copies, speeches, args.reps, embedder).items():
            report["sizes"][name]["ops"] = ops
        for name, base in bases.items():
            if args.load_on not in (name, "both"):
                continue
            index_dir = _copy(base, name)  # the same index as the writes above started from
            queries = make_queries(index_dir, args.queries)
            report["sizes"][name]["load"] = write_load(
                index_dir, speeches, 2 * args.reps, args.writes, embedder, queries
            )
            print(f"{name}: {args.writes} writes and the queries done", flush=True)
    finally:
        for index_dir in copies.values():
            shutil.rmtree(index_dir, ignore_errors=True)
    if not args.no_model:
        report["model_share"] = model_share(speeches.written(0))


def _print(report: dict) -> None:
    sizes = report["sizes"]
    print(f"\nencoder: {report['encoder']}; {report['cores']} cores")
    if all("ops" in sizes.get(name, {}) for name in ("small", "large")):
        _print_ops(sizes["small"], sizes["large"])
    for name, figures in sizes.items():
        load = figures.get("load")
        if not load:
            continue
        a, o = load["after_writes"], load["after_optimize"]
        fq, mq = load["query_after_writes"], load["query_after_optimize"]
        print(f"\n{name} ({figures['passages']:,} passages): {load['writes']} single-speech "
              f"writes in {load['seconds']:.0f} s ({load['seconds'] / load['writes'] * 1000:.0f} "
              f"ms each, merges included)")  # fmt: skip
        print(f"  {'':<22} {'segments':>8} {'tombstones':>10} {'p50 ms':>7} {'p99 ms':>7}")
        print(f"  {'after the writes':<22} {a['segments']:>8} {a['tombstones']:>10} "
              f"{fq['p50']:>7.2f} {fq['p99']:>7.2f}")  # fmt: skip
        took = load["optimize"]
        print(f"  {'after optimize':<22} {o['segments']:>8} {o['tombstones']:>10} "
              f"{mq['p50']:>7.2f} {mq['p99']:>7.2f}   (optimize took {took['seconds']:.1f} s, "
              f"wrote {_mb(took['written'])} MB)")  # fmt: skip
    share = report.get("model_share")
    if share:
        print(f"\nthe model's share, left out above: {share['model']} embeds one speech's "
              f"{share['passages']} passages in {share['seconds'] * 1000:.0f} ms")  # fmt: skip
    for name, figures in report.get("server", {}).items():
        _print_server(name, figures)


def _print_ops(small: dict, large: dict) -> None:
    print("median of the rounds; write(): bytes this process passed to write(); storage: bytes "
          "it sent to the disk")  # fmt: skip
    print(f"{'one speech':<12} {'':>5} {'small ms':>9} {'large ms':>9} {'ratio':>6}   "
          f"{'write() MB s/l':>15} {'storage MB s/l':>15} {'on disk +MB s/l':>16}")  # fmt: skip
    for op in ("add", "replace", "remove", "merge"):
        s, lg = small["ops"][op], large["ops"][op]
        ratio = lg["seconds"] / s["seconds"] if s["seconds"] else float("nan")
        print(f"{op:<12} {'':>5} {s['seconds'] * 1000:>9.1f} {lg['seconds'] * 1000:>9.1f} "
              f"{ratio:>6.2f}   {_mb(s['written']):>7}/{_mb(lg['written']):<7} "
              f"{_mb(s['storage']):>7}/{_mb(lg['storage']):<7} "
              f"{_mb(s['growth']):>8}/{_mb(lg['growth']):<7}")  # fmt: skip


def _print_server(name: str, figures: dict) -> None:
    memory, reads, server = figures["memory"], figures["reads"], figures["server"]
    written = memory["writes"]
    lat = written["latency_ms"]
    print(f"\nserver on a copy of {name} ({figures['passages']:,} passages): uvicorn on "
          f"127.0.0.1, one process, the stand-in encoder; memory sampled every "
          f"{memory['every_s']:.1f} s")  # fmt: skip
    print(f"  {'memory MB':<34} {'VmRSS med':>9} {'max':>7} {'Pss med':>8} {'max':>7} "
          f"{'Pss anon':>8} {'Pss file':>8}")  # fmt: skip
    labels = {"idle": "idle", "during": f"during {written['writes']} writes",
              "after": f"after (settled {memory['settle_s']:.0f} s)"}  # fmt: skip
    for key, label in labels.items():
        m = memory[key]
        rss, pss = m.get("VmRSS", {}), m.get("Pss", {})
        anon, file = m.get("Pss_Anon", {}), m.get("Pss_File", {})
        print(f"  {label:<34} {rss.get('median', 0):>9.0f} {rss.get('max', 0):>7.0f} "
              f"{pss.get('median', 0):>8.0f} {pss.get('max', 0):>7.0f} "
              f"{anon.get('median', 0):>8.0f} {file.get('median', 0):>8.0f}")  # fmt: skip
    end = memory["end"]
    print(f"  {'at the end (after the reads)':<34} {end.get('VmRSS', 0):>9.0f} {'':>7} "
          f"{end.get('Pss', 0):>8.0f} {'':>7} {end.get('Pss_Anon', 0):>8.0f} "
          f"{end.get('Pss_File', 0):>8.0f}")  # fmt: skip
    print(f"  the {written['writes']} writes, back to back: {written['seconds']:.1f} s, "
          f"p50 {lat['p50']:.0f} ms, p99 {lat['p99']:.0f}, max {lat['max']:.0f}")  # fmt: skip
    idle, during = reads["idle"], reads["during_writes"]
    print(f"  {'GET /search, ' + str(idle['clients']) + ' clients':<34} {'seconds':>9} "
          f"{'requests':>9} {'q/s':>7} {'fail':>5} {'p50 ms':>7} {'p99 ms':>7}")  # fmt: skip
    rows = [("idle", idle), (f"during {during['writes']['writes']} writes, 1/s", during)]
    for label, r in rows:
        q = r["latency_ms"]
        print(f"  {label:<34} {r['seconds']:>9.1f} {r['requests']:>9} {r['qps']:>7.1f} "
              f"{r['failures']:>5} {q['p50']:>7.1f} {q['p99']:>7.1f}")  # fmt: skip
    ratio = reads["ratio"]
    print(f"  {'during / idle':<34} {'':>9} {'':>9} {during['qps'] / idle['qps']:>7.2f} "
          f"{'':>5} {ratio.get('p50', float('nan')):>7.2f} "
          f"{ratio.get('p99', float('nan')):>7.2f}")  # fmt: skip
    wl = during["writes"]["latency_ms"]
    print(f"  the writes during the reads: p50 {wl['p50']:.0f} ms, max {wl['max']:.0f}; "
          f"write errors {len(server['write_errors'])}; server "
          f"{'alive' if server['alive'] else 'DEAD'}, log: {server['tracebacks']} tracebacks, "
          f"{server['5xx_logged']} 5xx")  # fmt: skip
    print(f"  machine load average (1 min): {figures['loadavg'][0]:.2f} before this part, "
          f"{figures['loadavg_after'][0]:.2f} after")  # fmt: skip


if __name__ == "__main__":
    main()
