"""Ingest on a Ray cluster: reading and chunking as Ray Data tasks, embedding in an actor pool,
one commit here. The index it makes is the one a local build of the same paths makes.

    with RayIngest(RayOptions(address), ModelSpec(model, backend, cache)) as cluster:
        report = cluster.build(paths, index_dir, embedder)          # or shards=S

1. Reading and chunking: the files are listed here (as `read_paths` lists them), then read and
   chunked by Ray Data tasks (`from_items` + `flat_map` + `map_batches`); each worker process
   loads the model once for its tokenizer. Results come back in reading order, so duplicate ids
   and bad files are refused as a local build refuses them, first problem first.
2. Embedding: the texts a write must embed are cut into the very batches the model's `encode`
   forms (`embed.length_batches`, longest first) and each batch is embedded by one actor of a
   pool (`map_batches` with a callable class, `concurrency=actors`; each loads the model once,
   asking Ray for a GPU only when one is configured and the backend is torch). The batches are
   kept because a vector depends on its batch (int8 ONNX quantizes a batch's activations on
   their own range): other batches would give vectors 0.03 away from a local build's.
3. Writing: the ordinary writer (`build_index`) with those chunks (`WriteOptions.prepared`) and
   that pool as its encoder (`WriteOptions.encoder`): one commit, after every vector is in. A
   sharded build (`shards=S`, shards.build_sharded) embeds everything the same way, then
   builds each shard in a Ray task on this node (where its folder is) and publishes the set
   once.

Faults: an actor that dies is restarted and its batch retried (Ray Data's actor pools retry
without end); a task whose worker dies is retried by Ray Data, a shard's task `retries` times.
A failure that outlasts the retries, or a cluster that makes no progress for `timeout`
seconds, is a ClusterUnavailable raised before anything is committed: the previous index stays
as it was, and served.
"""

from __future__ import annotations

import contextlib
import logging
import pickle
import queue
import re
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from policy_search.index.analysis.chunk import ChunkSettings
from policy_search.index.analysis.embed import Embedder, length_batches, load_embedder
from policy_search.index.build import build_index
from policy_search.index.distributed.ray_connect import check_resources, connect, require_ray
from policy_search.index.distributed.shards import ShardJob, build_shard, build_sharded
from policy_search.index.errors import (
    ClusterUnavailable,
    CorpusError,
    PolicySearchError,
)
from policy_search.index.readers import iter_files, read_file
from policy_search.index.readers.article import Article
from policy_search.index.storage.lexical import Analyzer, LexicalSettings
from policy_search.index.storage.transaction import Prepared, PreparedArticle, prepare_article
from policy_search.index.storage.writer import BuildReport

__all__ = ["ModelSpec", "RayIngest", "RayOptions"]

# The actors' environment: the model's libraries never reach for a hub.
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


@dataclass(frozen=True, slots=True)
class RayOptions:
    """Where the cluster is and what the embedding actors ask of it."""

    address: str  # host:port of the cluster's GCS
    timeout: float = 30.0  # seconds: to join, and the longest wait for the next result
    actors: int = 1  # embedding actors
    cpus_per_actor: float = 1.0
    gpus_per_actor: float = 0.0  # > 0 only with the torch backend (the actor runs it on CUDA)
    retries: int = 3  # a shard's task that fails is run again this often


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

_MODELS: dict[Any, Embedder] = {}  # a Ray worker process's model, loaded once for its tasks


def _model(load: LoadModel) -> Embedder:
    if load not in _MODELS:
        _MODELS[load] = load("cpu")
    return _MODELS[load]


class RayIngest:
    """A Ray cluster joined for one ingest (see the module's docstring); leave it with `close`
    or the `with` block."""

    def __init__(self, options: RayOptions, load: LoadModel) -> None:
        self.options = options
        self.load = load
        self.ray: Any = None
        self._joined = False  # whether this ingest joined the cluster (and so leaves it)

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
        `embedder`: the model here, for what the write itself asks of it (its id, its
        dimension, the stored vectors an edited article keeps)."""
        settings, lexical = settings or ChunkSettings(), lexical or LexicalSettings()
        articles, chunks = self.read(paths, settings, lexical, embedder.model_id)
        if on_chunked is not None:
            on_chunked(len(articles), sum(len(c.passages) for c in chunks.values()))
        if shards is not None:
            return build_sharded(
                articles, index_dir, embedder, shards=shards, settings=settings,
                lexical=lexical, batch_size=batch_size, vectors=vectors, prepared=chunks,
                encoder=self.encode, run=self.run_shards,
            )  # fmt: skip
        prepared = Prepared(embedder.model_id, settings, lexical, chunks)
        return build_index(
            articles, index_dir, embedder, settings=settings, lexical=lexical,
            batch_size=batch_size, vectors=vectors, prepared=prepared, encoder=self.encode,
        )  # fmt: skip

    # -- 1. reading and chunking: Ray Data tasks -----------------------------------------

    def read(
        self,
        paths: Sequence[str | Path],
        settings: ChunkSettings,
        lexical: LexicalSettings,
        model_id: str,
    ) -> tuple[list[Article], dict[str, PreparedArticle]]:
        """The articles of `paths` in reading order, and each one's chunks (no vectors)."""
        files = _listing(paths)
        if not files:
            raise CorpusError("no articles found: nothing to index")
        data = self.ray.data
        rows = [{"file": i, "path": str(p), "root": str(r or "")} for i, (p, r) in enumerate(files)]
        chunk = {"load": self.load, "settings": settings, "lexical": lexical}
        slots = self._task_slots()
        dataset = (
            data.from_items(rows, override_num_blocks=min(len(rows), slots))
            .flat_map(_read_file, runtime_env={"env_vars": OFFLINE})
            # One JSONL file of thousands of articles is one reading task; its articles are
            # spread again so that chunking runs on every CPU.
            .repartition(target_num_rows_per_block=64)
            .map_batches(
                _chunk_batch, batch_size=16, fn_kwargs=chunk, runtime_env={"env_vars": OFFLINE}
            )
        )
        results = sorted(
            (int(row["file"]), int(row["n"]), row["blob"]) for row in self._collect(dataset)
        )
        return _in_order(results, files, model_id)

    def _task_slots(self) -> int:
        """Blocks for the reading tasks: two per CPU of the cluster. Each task costs a worker's
        start and a model load for its tokenizer, so a block per file (254 for corpus/) spent
        more on that than on chunking."""
        cpus = int(self.ray.cluster_resources().get("CPU", 1))
        return max(2, 2 * cpus)

    # -- 2. embedding: an actor pool -----------------------------------------------------

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        """The model's vectors of `texts`, each of `encode`'s batches embedded by one actor."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        batches = length_batches(texts, batch_size)
        rows = [
            {"k": k, "texts": pickle.dumps([texts[i] for i in rows])}
            for k, rows in enumerate(batches)
        ]
        o = self.options
        # Ray Data restarts an actor that dies and retries its batch (max_restarts and
        # max_task_retries are -1 for actor pools); one that dies for ever is a stall, bounded
        # by the timeout (_collect).
        dataset = self.ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
            _EmbedActor, batch_size=1, compute=self.ray.data.ActorPoolStrategy(size=o.actors),
            num_cpus=o.cpus_per_actor, num_gpus=o.gpus_per_actor or None,
            fn_constructor_kwargs={"load": self.load, "batch_size": batch_size},
            runtime_env={"env_vars": OFFLINE},
        )  # fmt: skip
        out: np.ndarray | None = None
        for row in self._collect(dataset):
            vectors = pickle.loads(row["vectors"])
            if out is None:
                out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
            out[batches[int(row["k"])]] = vectors
        assert out is not None
        return out

    # -- 3. shards: Ray tasks on this node -----------------------------------------------

    def run_shards(self, jobs: list[ShardJob]) -> list[BuildReport]:
        """Build each shard in a Ray task of its own, side by side, on this node (the shards'
        folders are here: a node elsewhere would write its own disk)."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        here = NodeAffinitySchedulingStrategy(self.ray.get_runtime_context().get_node_id(), False)
        task = self.ray.remote(build_shard).options(
            num_cpus=1, scheduling_strategy=here, max_retries=self.options.retries,
            runtime_env={"env_vars": OFFLINE},
        )  # fmt: skip
        refs = [task.remote(job) for job in jobs]
        pending = list(refs)
        while pending:
            done, pending = self.ray.wait(pending, num_returns=1, timeout=self.options.timeout)
            if not done:
                raise ClusterUnavailable(
                    f"no shard of the build finished within {self.options.timeout:g} s "
                    "(POLICY_SEARCH_RAY_TIMEOUT); nothing was published"
                )
        try:
            return list(self.ray.get(refs, timeout=self.options.timeout))
        except Exception as exc:
            raise _failure(exc) from None

    # -- waiting on the cluster ----------------------------------------------------------

    def _collect(self, dataset: Any) -> Iterator[dict[str, Any]]:
        """The dataset's rows, each wait bounded by the timeout; a failure as one error."""
        rows: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=1024)

        def pump() -> None:
            try:
                for row in dataset.iter_rows():
                    rows.put(("row", row))
                rows.put(("done", None))
            except BaseException as exc:  # handed to the caller's thread
                rows.put(("error", exc))

        threading.Thread(target=pump, name="ray-ingest-results", daemon=True).start()
        while True:
            try:
                kind, item = rows.get(timeout=self.options.timeout)
            except queue.Empty:
                raise ClusterUnavailable(
                    f"the Ray cluster made no progress for {self.options.timeout:g} s "
                    "(POLICY_SEARCH_RAY_TIMEOUT); nothing was written"
                ) from None
            if kind == "done":
                return
            if kind == "error":
                raise _failure(item)
            yield item


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


def _chunk_batch(
    batch: dict[str, np.ndarray], load: LoadModel, settings: ChunkSettings, lexical: LexicalSettings
) -> dict[str, np.ndarray]:
    """A Ray Data task: chunk a batch of articles with the model's own tokenizer."""
    model = _model(load)
    analyzer = Analyzer.of(lexical)
    blobs = []
    for blob in batch["blob"]:
        article, error = pickle.loads(blob)
        ready = None
        if article is not None:
            try:
                ready = prepare_article(article, model, settings, analyzer)
            except PolicySearchError as exc:  # refused after every read problem, as locally
                error = exc
        blobs.append(pickle.dumps((article, ready, error, model.model_id)))
    out = dict(batch)
    out["blob"] = np.array(blobs, dtype=object)
    return out


def _in_order(
    results: list[tuple[int, int, bytes]], files: list[tuple[Path, Path | None]], model_id: str
) -> tuple[list[Article], dict[str, PreparedArticle]]:
    """The articles in reading order and their chunks; the first problem a local build would
    meet is raised: a bad file or a duplicate id first, then an article that cannot be chunked."""
    decoded = [(f, pickle.loads(blob)) for f, _, blob in results]
    seen: dict[str, str] = {}
    for f, (article, _, error, _) in decoded:
        if article is None:
            raise error
        if article.id in seen:
            raise CorpusError(
                f"duplicate id {article.id!r} (also in {seen[article.id]})", path=str(files[f][0])
            )
        seen[article.id] = str(files[f][0])
    articles: list[Article] = []
    chunks: dict[str, PreparedArticle] = {}
    for _, (article, ready, error, worker_model) in decoded:
        if error is not None:
            raise error
        if worker_model != model_id:
            raise ClusterUnavailable(
                f"the Ray workers loaded model {worker_model!r}, not {model_id!r}: give the "
                "cluster's nodes the same model and POLICY_SEARCH_MODEL"
            )
        articles.append(article)
        chunks[article.id] = ready
    return articles, chunks


class _EmbedActor:
    """One embedding actor of the pool: loads the model once, embeds one batch per call."""

    def __init__(self, load: LoadModel, batch_size: int) -> None:
        import ray

        self.model = load("cuda" if ray.get_gpu_ids() else "cpu")
        self.batch_size = batch_size

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = []
        for blob in batch["texts"]:
            vectors = self.model.encode(pickle.loads(blob), batch_size=self.batch_size)
            out.append(pickle.dumps(np.ascontiguousarray(vectors, dtype=np.float32)))
        return {"k": batch["k"], "vectors": np.array(out, dtype=object)}


def _failure(exc: BaseException) -> PolicySearchError:
    """What a failed Ray run raises: our own error if one caused it (bad input found on a
    worker), else one line saying the ingest failed, why, and that nothing was written."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    texts: list[str] = []
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, PolicySearchError):
            return cause
        texts.append(_ANSI.sub("", str(cause)))
        # A RayTaskError carries the worker's exception as `cause`; Ray Data chains its own.
        cause = getattr(cause, "cause", None) or cause.__cause__ or cause.__context__
    return ClusterUnavailable(
        f"the ingest failed on the Ray cluster ({_reason(exc, texts)}); nothing was written, "
        "the previous index is as it was"
    )


def _reason(exc: BaseException, texts: list[str]) -> str:
    """The worker's own error (the last `SomeError: message` line of the tracebacks Ray
    relays), else the first line of Ray's."""
    found = [
        m for text in texts for m in _ERROR_LINE.finditer(text) if m.group(1) not in _RAY_ERRORS
    ]
    if found:
        return f"{found[-1].group(1)}: {found[-1].group(2).strip()[:300]}"
    lines = [line.strip() for text in texts for line in text.splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0][:300] if lines else ''}"


_ERROR_LINE = re.compile(r"^(\w+(?:Error|Exception)): (.+)$", re.MULTILINE)
_RAY_ERRORS = {"RayTaskError", "UserCodeException", "RaySystemError", "RayError", "ActorDiedError"}
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _quiet(ray: Any) -> None:
    """No progress bars or per-run banners from Ray Data: the command prints its own lines."""
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    with contextlib.suppress(AttributeError):
        context.print_on_execution_start = False
    # Its errors too: a failed run is raised as one line (`_failure`), not logged again above it.
    logging.getLogger("ray.data").setLevel(logging.CRITICAL)
    # Ray Data's advice on sizing ("only received 1 input") is about its tuning, not ours.
    warnings.filterwarnings("ignore", category=UserWarning, module=r"ray\.")
