"""Ingest on a Ray cluster, streamed: files read by Ray Data tasks, chunked and embedded by an
actor pool, the chunks and vectors handed straight to one writer actor per shard; one publish at
the end. The driver holds a batch of small tickets, never the corpus nor its vectors. The index
it makes is the one a local build of the same paths makes.

    with RayIngest(RayOptions(address), ModelSpec(model, backend, cache)) as cluster:
        report = cluster.build(paths, index_dir, embedder)          # or shards=S

1. Reading: the files are listed here (as `read_paths` lists them; the listing is the one thing
   the driver holds that grows with the corpus: a path a file), then read by Ray Data tasks
   (`from_items` + `flat_map`), in reading order (`preserve_order`).
2. Chunking and embedding: an actor pool (`map_batches` with a callable class,
   `concurrency=actors`; each actor loads the model once, asking Ray for a GPU only when one is
   configured and the backend is torch) takes the articles `EMBED_WINDOW` at a time, chunks
   them with the model's own tokenizer and embeds their passages in the batches one `encode`
   call would form (`embed.length_batches`, reporting after each: see Faults). A
   vector depends on its batch (int8 ONNX quantizes a batch's activations on their own range),
   so a corpus of up to `EMBED_WINDOW` articles gets exactly a local build's vectors; past
   that, the batches are formed within each window and a vector may differ from a local
   build's by up to about 0.03 (one model call over the whole corpus is what a stream gives up).
   The actor then stages each shard's part of the window (articles, chunks, vectors) with that
   shard's writer (`stage`, keyed by the window's first article, so a retried window replaces
   its first try), and only then returns the window's rows: per article its id, its passage
   count, a problem if any.
3. Ordering: the driver takes those rows as they come (a bounded queue), in reading order,
   numbers the passages (a sharded build numbers them as one index would) and sends each
   writer tickets (window, article id, first passage id, file), `SEND_PASSAGES` passages' worth
   at a time with at most `IN_FLIGHT` batches unanswered per writer
   (index/distributed/ray_write.py). A writer writes the staged articles its tickets name, in the
   tickets' order: an `index.bulk.BulkWriter` that keeps what is unchanged, stages a segment
   whenever `BULK_SEGMENT_PASSAGES` passages have gathered, and holds everything in one open catalog
   transaction. Writers are pinned to this node, where
   the index's folders are. A writer must keep pace with the actors that feed it (writing
   costs ~0.8 ms a passage, embedding ~60 ms a passage a core): one slower than them holds
   the windows staged ahead of it, as Ray Data does not throttle on the small rows the driver
   reads; more shards share the writing out.
4. Publishing: once every article has arrived, each writer commits (an unsharded index: that
   commit is the publish) and merges its small segments; a sharded build then publishes the new
   set in one rename of `shards.json` (index/distributed/shards.py). A crash anywhere before that
   leaves the old index (or set) whole; after it, the new one.

Problems come in reading order as a local build meets them (a bad file, a duplicate id found
by the writer that owns the id, an article that cannot be chunked), each once the earlier
articles' writes have answered; unlike a local build, which reads everything before it embeds,
the stream has embedded the articles before the problem.

Faults and waits: an embedding actor that dies is restarted and its batch retried (Ray Data's
actor pools retry without end); a reading task whose worker dies is retried by Ray Data. The
embedding actors report each step (up, a window chunked, a model batch embedded) to a small
actor the driver looks at; the wait for progress (`timeout`) starts at the first report, once
an actor is up (its worker spawned, the model loaded: `startup` seconds at most, a cold node
may export the ONNX model first), and starts anew at each. No step nor result for `timeout`
seconds, a writer that does not answer within it, a writer that dies, or a failure that
outlasts the retries is one ClusterUnavailable line, raised before anything is published: the
previous index stays as it was, and served.

What a cluster of several machines still needs: the writers run on the driver's node because
the index folder is there, so every node reads the input files by their paths (a shared
filesystem, or the same files at the same paths: `_listing` hands the workers absolute paths),
and finds the model where `ModelSpec` says. Writers on other nodes (one node per shard) would
need the shards' folders on storage all of them reach, and the publish (`shards.json`) and the
server's reads there too; nothing here moves files between machines.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import pickle
import queue
import shutil
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from policy_search.index.analysis.chunk import ChunkSettings, embed_text
from policy_search.index.analysis.embed import Embedder, length_batches, load_embedder
from policy_search.index.defaults import RAY_STARTUP_WAIT, RAY_TIMEOUT
from policy_search.index.distributed.ray_connect import (
    OFFLINE,
    check_resources,
    connect,
    failure,
    require_ray,
)
from policy_search.index.distributed.ray_write import Ticket, Writers, WriteSpec
from policy_search.index.distributed.shards import ShardSet, shard_of
from policy_search.index.errors import (
    ClusterUnavailable,
    CorpusError,
    IndexCorrupt,
    IndexMismatch,
    PolicySearchError,
)
from policy_search.index.readers import iter_files, read_file
from policy_search.index.readers.article import Article
from policy_search.index.storage.lexical import Analyzer, LexicalSettings
from policy_search.index.storage.store import exists
from policy_search.index.storage.transaction import PreparedArticle, prepare_article
from policy_search.index.storage.writer import BuildReport

__all__ = ["EMBED_WINDOW", "ModelSpec", "RayIngest", "RayOptions"]

EMBED_WINDOW = 64  # articles an embedding actor chunks and embeds in one model call
_POLL = 0.5  # seconds between looks at the cluster while waiting for a result


@dataclass(frozen=True, slots=True)
class RayOptions:
    """Where the cluster is and what the embedding actors ask of it."""

    address: str  # host:port of the cluster's GCS
    timeout: float = RAY_TIMEOUT  # seconds: to join, and the longest wait for progress
    actors: int = 1  # embedding actors
    cpus_per_actor: float = 1.0
    gpus_per_actor: float = 0.0  # > 0 only with the torch backend (the actor runs it on CUDA)
    startup: float = RAY_STARTUP_WAIT  # seconds for the first embedding actor to come up


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """How a worker loads the model: what the settings name, picklable (the model is not)."""

    model: str
    backend: str
    cache_dir: Path

    def __call__(self, device: str) -> Embedder:
        return load_embedder(self.model, backend=self.backend, cache_dir=self.cache_dir,
                             device=device)  # fmt: skip


LoadModel = Callable[[str], Embedder]  # device ("cpu", "cuda") → the model


class RayIngest:
    """A Ray cluster joined for one ingest (see the module's docstring); leave it with `close`
    or the `with` block."""

    def __init__(self, options: RayOptions, load: LoadModel) -> None:
        self.options = options
        self.load = load
        self.ray: Any = None
        self._joined = False  # whether this ingest joined the cluster (and so leaves it)
        self._progress: Any = None  # the actor the embedding actors report their steps to

    def __enter__(self) -> RayIngest:
        self._joined = not require_ray().is_initialized()
        self.ray = connect(self.options.address, timeout=self.options.timeout)
        try:
            check_resources(
                cpus=self.options.cpus_per_actor, gpus=self.options.gpus_per_actor,
                actors=self.options.actors,
            )  # fmt: skip
            _quiet(self.ray)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Leave the cluster (its actors and tasks of this ingest end with it), unless this
        process had joined it before (a server's connection is not ours to end)."""
        if self.ray is not None and self._joined:
            self.ray.shutdown()
        self.ray = None

    # -- the whole build -----------------------------------------------------------------

    def build(
        self,
        paths: Sequence[str | Path],
        index_dir: Path,
        embedder: Embedder,
        *,
        shards: int | None = None,
        settings: ChunkSettings | None = None,
        lexical: LexicalSettings | None = None,
        batch_size: int = 64,
        vectors: str | None = None,
        on_chunked: Callable[[int, int], None] | None = None,
    ) -> BuildReport:
        """Make `index_dir` hold exactly the articles of `paths`, as a local build would.
        `embedder`: the model here, for its id and dimension (and an old index's upgrade).
        `on_chunked(articles, passages)`: once every article has been embedded."""
        started = time.perf_counter()
        settings, lexical = settings or ChunkSettings(), lexical or LexicalSettings()
        files = _listing(paths)
        if not files:
            raise CorpusError("no articles found: nothing to index")
        if shards is None and exists(index_dir):
            _upgrade(index_dir, embedder)
        created = not index_dir.exists()
        shard_set = ShardSet.fresh(index_dir, shards) if shards is not None else None
        build = WriteSpec(embedder.model_id, embedder.dim, settings, lexical, vectors,
                       merge=shard_set is None)  # fmt: skip
        writers = Writers(self.ray, shard_set.dirs if shard_set else (index_dir,), build,
                           self.options.timeout)  # fmt: skip
        try:
            articles, passages = self._stream(files, writers, build, batch_size,
                                              numbered=shard_set is not None)  # fmt: skip
            reports = writers.commit()
            if shard_set is not None:
                shard_set.publish()
        except BaseException:
            writers.abort()
            if shard_set is not None:
                shard_set.discard()
            if created:
                shutil.rmtree(index_dir, ignore_errors=True)
            raise
        finally:
            writers.close()
        if on_chunked is not None:
            on_chunked(articles, passages)
        return _report(index_dir, reports, time.perf_counter() - started, sharded=bool(shard_set))

    def _stream(
        self, files: list[tuple[Path, Path | None]], writers: Writers, build: WriteSpec,
        batch_size: int, *, numbered: bool,
    ) -> tuple[int, int]:  # fmt: skip
        """Feed the writers every article of `files`, in reading order; (articles, passages)."""
        dataset = self._pipeline(files, writers, build, batch_size)
        next_id, articles, passages = 1, 0, 0
        for row in self._collect(dataset):
            article_id, count, error, worker_model = pickle.loads(row["meta"])
            if error is not None:
                writers.settle()  # an earlier article's problem (a duplicate id) comes first
                raise error
            if worker_model != build.model_id:
                raise ClusterUnavailable(
                    f"the Ray workers loaded model {worker_model!r}, not {build.model_id!r}: "
                    "give the cluster's nodes the same model and POLICY_SEARCH_MODEL"
                )
            path = str(files[int(row["file"])][0])
            writers.put(Ticket(str(row["window"]), article_id, next_id if numbered else None,
                                path), count)  # fmt: skip
            next_id += count
            articles, passages = articles + 1, passages + count
        writers.settle()
        return articles, passages

    # -- 1 and 2. reading, chunking and embedding: Ray Data ------------------------------

    def _pipeline(
        self, files: list[tuple[Path, Path | None]], writers: Writers, build: WriteSpec,
        batch_size: int,
    ) -> Any:  # fmt: skip
        """The dataset of embedded articles, in reading order: one row an article, what the
        driver needs of it (its chunks and vectors went to their writer)."""
        data = self.ray.data
        rows = [{"file": i, "path": str(p), "root": str(r or "")} for i, (p, r) in enumerate(files)]
        o = self.options
        self._progress = self.ray.remote(_Progress).options(num_cpus=0).remote()
        dataset = (
            data.from_items(rows, override_num_blocks=min(len(rows), self._task_slots()))
            # Reading takes no CPU of Ray's count: the embedding actors may hold every CPU of
            # the cluster, and a reading task that waited for one would wait for ever.
            .flat_map(_read_file, num_cpus=0, runtime_env={"env_vars": OFFLINE})
            # Ray Data restarts an actor that dies and retries its batch (max_restarts and
            # max_task_retries are -1 for actor pools); one that dies for ever is a stall,
            # bounded by the timeout (_collect).
            .map_batches(
                _EmbedActor, batch_size=EMBED_WINDOW,
                compute=data.ActorPoolStrategy(size=o.actors), num_cpus=o.cpus_per_actor,
                num_gpus=o.gpus_per_actor or None,
                fn_constructor_kwargs={
                    "load": self.load, "batch_size": batch_size, "settings": build.settings,
                    "lexical": build.lexical, "progress": self._progress,
                    "writers": writers.actors,
                },
                runtime_env={"env_vars": OFFLINE},
            )
        )  # fmt: skip
        dataset.context.execution_options.preserve_order = True
        return dataset

    def _task_slots(self) -> int:
        """Blocks for the reading tasks: two per CPU of the cluster."""
        cpus = int(self.ray.cluster_resources().get("CPU", 1))
        return max(2, 2 * cpus)

    # -- waiting on the cluster ----------------------------------------------------------

    def _collect(self, dataset: Any) -> Iterator[dict[str, Any]]:
        """The dataset's rows, each wait bounded (`_waited`); a failure as one error. A
        bounded queue between Ray Data's thread and this one: the driver holds a few rows."""
        rows: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=EMBED_WINDOW)

        def pump() -> None:
            try:
                for row in dataset.iter_rows():
                    rows.put(("row", row))
                rows.put(("done", None))
            except BaseException as exc:  # handed to the caller's thread
                rows.put(("error", exc))

        threading.Thread(target=pump, name="ray-ingest-results", daemon=True).start()
        begun, clock, heard = time.monotonic(), None, 0
        while True:
            try:
                kind, item = rows.get(timeout=_POLL)
            except queue.Empty:
                clock, heard = self._waited(begun, clock, heard)
                continue
            clock = time.monotonic()
            if kind == "done":
                return
            if kind == "error":
                raise failure(item)
            yield item

    def _waited(self, begun: float, clock: float | None, heard: int) -> tuple[float | None, int]:
        """The progress clock (None: not started, no embedding actor is up yet) and the steps
        heard of, after one more look; raises once the start-up, or the wait for progress
        since the last step, has run out."""
        now = time.monotonic()
        steps = self._steps()
        if steps > heard:  # an actor came up, or embedded a batch: the wait starts anew
            return now, steps
        if clock is None and now - begun > self.options.startup:
            raise ClusterUnavailable(
                f"no embedding actor started on the Ray cluster within "
                f"{self.options.startup:g} s (its worker, the model's loading); nothing was "
                "written"
            )
        if clock is not None and now - clock > self.options.timeout:
            raise ClusterUnavailable(
                f"the Ray cluster made no progress for {self.options.timeout:g} s "
                "(POLICY_SEARCH_RAY_TIMEOUT); nothing was written"
            )
        return clock, heard

    def _steps(self) -> int:
        """The steps the embedding actors have reported (each up, each model batch)."""
        try:
            return int(self.ray.get(self._progress.count.remote(), timeout=_POLL))
        except Exception:  # a busy cluster's answer late: asked again at the next look
            return 0


class _Progress:
    """What the embedding actors report: each once up, then after each model batch (a window
    of articles takes minutes on a slow node; the driver's wait is for any step)."""

    def __init__(self) -> None:
        self.steps = 0

    def tick(self) -> None:
        self.steps += 1

    def count(self) -> int:
        return self.steps


def _upgrade(index_dir: Path, embedder: Embedder) -> None:
    """Upgrade an old index here, with the model's tokenizer (the writers have none); one
    too damaged or old for that is built anew by the writer, as build_index does."""
    from policy_search.index.storage.upgrade import upgrade

    with contextlib.suppress(IndexMismatch, IndexCorrupt):
        upgrade(index_dir, embedder=embedder)


def _report(
    index_dir: Path, reports: list[BuildReport], seconds: float, *, sharded: bool
) -> BuildReport:
    """The writers' reports as one: an unsharded index's own; a new set's as one index of all
    its shards (generations added up, as search/shards.py counts them)."""
    if not sharded:
        return dataclasses.replace(reports[0], seconds=seconds)
    return BuildReport(
        index_dir, sum(r.generation for r in reports), sum(r.articles for r in reports),
        sum(r.passages for r in reports), seconds, added=[a for r in reports for a in r.added],
        embedded=sum(r.embedded for r in reports),
    )  # fmt: skip


def _listing(paths: Sequence[str | Path]) -> list[tuple[Path, Path | None]]:
    """Each file to read and the folder its ids are relative to, as `read_paths` reads them;
    absolute, as the workers that read them run in folders of their own."""
    files = []
    for given in paths:
        root = Path(given).absolute()
        for path in iter_files(root):
            files.append((path, root if root.is_dir() else None))
    return files


def _read_file(row: dict[str, Any]) -> list[dict[str, Any]]:
    """A Ray Data task: one file's articles (or the error reading it)."""
    path, root = Path(row["path"]), Path(row["root"]) if row["root"] else None
    out: list[dict[str, Any]] = []
    try:
        for n, article in enumerate(read_file(path, root=root)):
            out.append({"file": row["file"], "n": n, "blob": pickle.dumps((article, None))})
    except PolicySearchError as exc:  # refused in reading order by the driver
        out.append({"file": row["file"], "n": len(out), "blob": pickle.dumps((None, exc))})
    return out


class _EmbedActor:
    """One actor of the pool: loads the model once, then chunks a window of articles with its
    tokenizer and embeds their passages in the batches one `encode` call over them forms."""

    def __init__(
        self,
        load: LoadModel,
        batch_size: int,
        settings: ChunkSettings,
        lexical: LexicalSettings,
        progress: Any,
        writers: list[Any],
    ) -> None:
        import ray

        self.model = load("cuda" if ray.get_gpu_ids() else "cpu")
        self.batch_size = batch_size
        self.settings = settings
        self.analyzer = Analyzer.of(lexical)
        self.progress = progress
        self.writers = writers
        self.ray = ray
        progress.tick.remote()  # up: the driver's wait for progress starts

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        made = []
        texts: list[str] = []
        for blob in batch["blob"]:
            article, error = pickle.loads(blob)
            ready = None
            if article is not None:
                try:
                    ready = prepare_article(article, self.model, self.settings, self.analyzer)
                except PolicySearchError as exc:  # refused by the driver, in reading order
                    error = exc
            if ready is not None:
                texts += [embed_text(ready.prefix, p.text) for p in ready.passages]
            made.append((article, ready, error))
        self.progress.tick.remote()
        vectors = np.zeros((len(texts), self.model.dim), dtype=np.float32)
        # The very batches one `encode` call over the window forms (length_batches), one call
        # each, so that the driver hears of progress after each.
        for rows in length_batches(texts, self.batch_size):
            some = [texts[i] for i in rows]
            vectors[rows] = self.model.encode(some, batch_size=self.batch_size)
            self.progress.tick.remote()
        window = f"{batch['file'][0]}:{batch['n'][0]}"  # its first article: a retry's too
        parts: list[dict[str, tuple[Article, PreparedArticle]]] = [{} for _ in self.writers]
        meta, start = [], 0
        for article, ready, error in made:
            count = 0
            if ready is not None:
                count, end = len(ready.passages), start + len(ready.passages)
                ready = dataclasses.replace(ready, vectors=np.ascontiguousarray(vectors[start:end]))
                parts[shard_of(article.id, len(self.writers))][article.id] = (article, ready)
                start = end
            article_id = article.id if article is not None else None
            meta.append(pickle.dumps((article_id, count, error, self.model.model_id)))
        # The chunks and vectors go to their writers from here, never through the driver; the
        # window's rows go out once they are there (the driver's orders follow its staging).
        staged = [w.stage.remote(window, p) for w, p in zip(self.writers, parts, strict=True) if p]
        self.ray.get(staged)
        return {
            "file": batch["file"], "window": np.array([window] * len(meta), dtype=object),
            "meta": np.array(meta, dtype=object),
        }  # fmt: skip


def _quiet(ray: Any) -> None:
    """No progress bars or per-run banners from Ray Data: the command prints its own lines."""
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    with contextlib.suppress(AttributeError):
        context.print_on_execution_start = False
    # Its errors too: a failed run is raised as one line (`failure`), not logged again above it.
    logging.getLogger("ray.data").setLevel(logging.CRITICAL)
    # Ray Data's advice on sizing ("only received 1 input") is about its tuning, not ours.
    warnings.filterwarnings("ignore", category=UserWarning, module=r"ray\.")
