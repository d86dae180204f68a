"""Serve a sharded index on Ray Serve: a deployment per shard, and the app as the ingress.

    policy-search serve --ray 127.0.0.2:6379 --replicas 2 --index-dir var/sharded

- Each shard of the index (index/distributed/shards.py) is a deployment `shard-<i>` of R replicas; a
  replica holds a `ShardReader` over its shard's folder and answers `call(method,
  generation, *args)`, its half of every query (search/shards.py), at the commit the query
  reads (the shard's latest when the query's searcher was made, held for a while). A replica
  that does not hold it (another replica gave it out, and the shard has moved on since) says
  so, and the query runs again at the shards' latest commits.
- The ingress is the same FastAPI app as `policy-search serve` (same routes, page and error
  shapes), run by Serve with its lifespan; its searcher ranks over a `ShardedSnapshot` whose
  shards are `RayShard` clients of those deployments. The query is embedded once, there.
- Serve's HTTP proxy runs on the head node only and binds the configured host and port.
- Writes (POST/PUT/DELETE /articles) are made by the ingress on the owning shard's folder
  (index/distributed/shard_write.py; the cluster shares one filesystem); replicas see them on their
  next call.

Every wait on the cluster is bounded: joining it (`ray_timeout`), the deployment coming up
(`ray_deploy_timeout`), a shard's answer (`shard_timeout`: 503 past it). A replica that dies
under a call is asked again (Serve routes to a live one and restarts the dead); a shard with
no live replica within the timeout is `ShardUnavailable`, a 503.

Ray is an optional extra: nothing here imports it before `deploy`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policy_search.api.settings import Settings
from policy_search.index.analysis.embed import Embedder
from policy_search.index.defaults import COMMIT_HOLD
from policy_search.index.distributed.ray_connect import check_resources, connect, require_ray
from policy_search.index.distributed.shards import ShardSet, is_sharded
from policy_search.index.errors import ClusterUnavailable, IndexMismatch, ShardUnavailable
from policy_search.search.shards import ShardedSnapshot, ShardReader

__all__ = ["APP_NAME", "RayShard", "ServeApp", "ShardReplica", "check_index", "deploy"]

log = logging.getLogger("policy_search.api")

APP_NAME = "policy-search"
RETRY_PAUSE = 0.2  # seconds between asking again after a replica died under a call


class ShardReplica:
    """A replica of one shard's deployment: its half of every query."""

    def __init__(self, shard_dir: str, hold: float = COMMIT_HOLD) -> None:
        self.reader = ShardReader(Path(shard_dir), hold=hold)

    def call(self, method: str, generation: int | None = None, *args: Any) -> Any:
        """`ShardReader.call`: `method` (one of its CALLS) at the shard's commit `generation`."""
        return self.reader.call(method, generation, *args)


class RayShard:
    """A `ShardClient` of one shard's Serve deployment (its `DeploymentHandle`)."""

    def __init__(self, handle: Any, shard: int) -> None:
        self.handle = handle
        self.shard = shard

    def submit(self, method: str, *args: Any) -> _RayReply:
        return _RayReply(self, method, args)


class _RayReply:
    """A shard's answer on its way: asked again if the replica died under it."""

    def __init__(self, shard: RayShard, method: str, args: tuple) -> None:
        self.shard, self.method, self.args = shard, method, args
        self.response = shard.handle.call.remote(method, *args)

    def result(self, timeout: float) -> Any:
        """The answer within `timeout` seconds: TimeoutError past it, ShardUnavailable when no
        replica of the shard can answer."""
        from ray import exceptions as ray_errors
        from ray.serve import exceptions as serve_errors

        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.response.result(timeout_s=max(deadline - time.monotonic(), 0.01))
            except TimeoutError:
                raise TimeoutError from None  # Ray's GetTimeoutError is one
            except ray_errors.RayTaskError as exc:  # the shard's own error: the caller's
                cause = getattr(exc, "cause", None)
                raise (cause if isinstance(cause, Exception) else self._lost(exc)) from None
            except (ray_errors.RayError, serve_errors.RayServeException) as exc:
                # The replica died or is unreachable: Serve routes the next call to a live
                # one (and restarts the dead), so ask again while time is left.
                if time.monotonic() + RETRY_PAUSE >= deadline:
                    raise self._lost(exc) from None
                log.warning("shard %d: %s; asking again", self.shard.shard, type(exc).__name__)
                time.sleep(RETRY_PAUSE)
                self.response = self.shard.handle.call.remote(self.method, *self.args)

    def _lost(self, exc: BaseException) -> ShardUnavailable:
        return ShardUnavailable(
            f"shard {self.shard.shard} has no replica that answers ({type(exc).__name__}); "
            "try again, or check the Ray cluster"
        )


class Ingress:
    """The ingress deployment: the app, its searcher over the shards' deployments."""

    def __init__(self, settings: Settings, shards: list[Any], embedder: Embedder | None) -> None:
        self.settings = settings
        self.clients = [RayShard(handle, s) for s, handle in enumerate(shards)]
        self.embedder = embedder

    def __serve_build_asgi_app__(self) -> Any:
        """The app (Serve runs its lifespan): the model, and the shards as its corpus."""
        from policy_search.api.app import create_app

        def corpus(index_dir: Path) -> ShardedSnapshot:
            return ShardedSnapshot(index_dir, self.clients, timeout=self.settings.shard_timeout)

        return create_app(self.settings, embedder=self.embedder, corpus=corpus)


def check_index(settings: Settings, embedder: Embedder) -> ShardSet:
    """The shards of the configured index, checked here before anything goes to the cluster:
    a sharded index, every shard there, all built alike and with this model."""
    from policy_search.search.shards import open_corpus

    index_dir = settings.index_dir
    if not is_sharded(index_dir):
        raise IndexMismatch(
            f"--ray serves a sharded index, and {index_dir} is not one: build one with "
            "`policy-search index PATH --shards S`, or serve this one without --ray"
        )
    shard_set = ShardSet.open(index_dir)
    corpus = open_corpus(index_dir, timeout=settings.shard_timeout)
    corpus.manifest.check(model_id=embedder.model_id, dim=embedder.dim, index_dir=index_dir)
    corpus.close()
    return shard_set


@dataclass(frozen=True)
class ServeApp:
    """The application running on the cluster: its URL, its shards and replicas."""

    url: str
    shards: int
    replicas: int

    def stop(self) -> None:
        """Shut Serve down on the cluster (every replica and the proxy)."""
        from ray import serve

        serve.shutdown()


def deploy(
    settings: Settings,
    *,
    address: str,
    replicas: int,
    embedder: Embedder | None = None,
    checked_with: Embedder | None = None,
) -> ServeApp:
    """Run the sharded index of `settings` on the Ray cluster at `address` and return once it
    answers; ClusterUnavailable (and nothing left running) when it cannot within the
    settings' timeouts. `embedder`: the ingress's model (pickled to it; tests pass a fake),
    else the configured one, loaded there. `checked_with`: check the index against this
    model here first (default: `embedder`)."""
    require_ray()
    settings = settings.model_copy(update={"index_dir": settings.index_dir.resolve()})
    shard_set = check_index(settings, checked_with or embedder or settings.embedder())
    connect(address, timeout=settings.ray_timeout)
    check_resources(cpus=settings.replica_cpus, gpus=0, actors=shard_set.count * replicas + 1)
    from ray import serve
    from ray.exceptions import RayError
    from ray.serve.exceptions import RayServeException

    try:
        _start(settings, shard_set, replicas, embedder)
    except (RayError, RayServeException) as exc:
        serve.shutdown()
        raise ClusterUnavailable(f"Ray Serve refused the deployment: {exc}") from None
    deadline = time.monotonic() + settings.ray_deploy_timeout
    _wait_running(deadline)
    app = ServeApp(f"http://{settings.host}:{settings.port}", shard_set.count, replicas)
    _wait_answering(app, deadline)
    return app


def _start(
    settings: Settings, shard_set: ShardSet, replicas: int, embedder: Embedder | None
) -> None:
    """Start Serve's proxy on the head node, and the application: a deployment per shard and
    the ingress (it answers to `_wait_running`)."""
    from ray import serve

    serve.start(proxy_location="HeadOnly", http_options={"host": settings.host,
                                                         "port": settings.port})  # fmt: skip
    actor = {"num_cpus": settings.replica_cpus}
    bound = [
        serve.deployment(name=f"shard-{s}", num_replicas=replicas, ray_actor_options=actor,
                         max_ongoing_requests=32)(ShardReplica).bind(str(d), settings.cursor_ttl)
        for s, d in enumerate(shard_set.dirs)
    ]  # fmt: skip
    ingress = serve.deployment(
        name="ingress", num_replicas=1, ray_actor_options=actor,
        max_ongoing_requests=4 * settings.threads,
    )(serve.ingress()(Ingress))  # fmt: skip
    # serve.run waits until the application runs, with no deadline; run_many (public, Ray's
    # developer API) can return once it is submitted, and _wait_running holds the deadline.
    app = serve.RunTarget(ingress.bind(settings, bound, embedder), name=APP_NAME)
    serve.run_many([app], wait_for_applications_running=False)


def _wait_running(deadline: float) -> None:
    """Until the application runs; ClusterUnavailable (Serve shut down) if it fails or is not
    running by `deadline` (time.monotonic)."""
    from ray import serve

    status, message = "NOT_STARTED", ""
    while time.monotonic() < deadline:
        app = serve.status().applications.get(APP_NAME)
        if app is not None:
            status, message = str(getattr(app.status, "value", app.status)), _messages(app)
            if status == "RUNNING":
                return
            if status == "DEPLOY_FAILED":
                break
        time.sleep(0.25)
    serve.shutdown()
    reason = f"{status}: {message}" if message else f"still {status}"
    raise ClusterUnavailable(
        f"the index could not be deployed on the Ray cluster ({reason}); raise "
        "POLICY_SEARCH_RAY_DEPLOY_TIMEOUT or check the cluster's resources"
    )


def _wait_answering(app: ServeApp, deadline: float) -> None:
    """Until the app answers /health at its URL (Serve's proxy answers 404 until it has the
    route); ClusterUnavailable (Serve shut down) if not by `deadline`."""
    import httpx

    said = "nothing answers there: Serve may already have been running on the cluster with "
    said += "another host or port (`serve shutdown` first)"
    while time.monotonic() < deadline:
        try:
            response = httpx.get(f"{app.url}/health", timeout=2.0)
        except httpx.TransportError:
            time.sleep(0.25)
            continue
        if response.status_code == 200:
            return
        said = f"/health answers {response.status_code}: {response.text[:200]}"
        time.sleep(0.25)
    app.stop()
    raise ClusterUnavailable(f"the index runs on the Ray cluster but at {app.url} {said}")


def _messages(app: Any) -> str:
    """The first thing Serve says went wrong with the application or a deployment, one line."""
    said = [app.message] + [d.message for d in app.deployments.values()]
    first = next((m for m in said if m), "")
    return " ".join(first.split())[:300]
