"""A sharded index served on Ray Serve (api/ray_serve.py), on a real two-node cluster on
loopback: real HTTP requests to the ingress answer exactly what the plain app over one index
answers; a replica killed while clients search fails no request; a shard that stops answering
is a 503 in the one error shape; and the CLI's bad days are one-line errors, fast.

Fake embedder (plumbing); the shards are cut from one built index (tests/search/test_shards.py), so
passage ids, scores and totals must match the single index's to the bit.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

import policy_search.index.analysis.embed
from policy_search.api.app import create_app
from policy_search.api.cli import cli
from policy_search.api.settings import Settings
from policy_search.index.build import build_index
from tests.fakes import FakeEmbedder
from tests.search.test_facets import facet_articles
from tests.search.test_paging import QUERIES, _articles
from tests.search.test_shards import cut_into_shards

if TYPE_CHECKING:
    from harness.ray_cluster import Cluster

pytestmark = pytest.mark.ray

KEY = "ray-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
SHARD_TIMEOUT = 5.0  # seconds the ingress waits on a shard (the 503 test waits that long)
# Volatile fields: when and how fast, not what.
# A cursor names the commit that answered: a sharded index counts its generation as the sum of
# its shards'. What follows it is compared page by page (tests/search/test_shards_pinned.py).
UNTIMED = {"took_ms", "built_at", "bytes_on_disk", "generation", "next_cursor"}


def _settle(body: Any) -> Any:
    """A JSON answer without its timing fields."""
    if isinstance(body, dict):
        return {k: _settle(v) for k, v in body.items() if k not in UNTIMED}
    if isinstance(body, list):
        return [_settle(v) for v in body]
    return body


@pytest.fixture(scope="module")
def indexes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One index of 90 articles (sources, dates, tags, countries named) and the same cut into
    2 shards."""
    base = tmp_path_factory.mktemp("ray-serve")
    build_index(facet_articles(90), base / "single", FakeEmbedder())
    cut_into_shards(base / "single", base / "sharded", 2)
    return base / "single", base / "sharded"


@pytest.fixture(scope="module")
def served(ray_cluster: Cluster, indexes: tuple[Path, Path]) -> Iterator[str]:
    """The sharded index on Ray Serve (2 shards × 2 replicas), its URL; shut down after."""
    from harness.server import free_port
    from policy_search.api.ray_serve import deploy

    settings = Settings(
        index_dir=indexes[1], port=free_port(), api_key=KEY, replica_cpus=0.2,
        shard_timeout=SHARD_TIMEOUT, reload_seconds=0.2, ray_deploy_timeout=90,
    )  # fmt: skip
    app = deploy(settings, address=ray_cluster.address, replicas=2, embedder=FakeEmbedder())
    try:
        yield app.url
    finally:
        app.stop()


@pytest.fixture(scope="module")
def plain(indexes: tuple[Path, Path]) -> Iterator[TestClient]:
    """The plain app over the single index (what `policy-search serve` serves)."""
    settings = Settings(index_dir=indexes[0], api_key=KEY, reload_seconds=0.2)
    with TestClient(create_app(settings, embedder=FakeEmbedder())) as client:
        yield client


def _gets(mode: str, query: str) -> list[dict[str, Any]]:
    return [
        {"q": query, "mode": mode, "k": 30},
        {"q": query, "mode": mode, "k": 20, "offset": 37},
        {"q": query, "mode": mode, "group": "true", "k": 10},
        {"q": query, "mode": mode, "explain": "true", "k": 10},
        {"q": query, "mode": mode, "source": "Desk", "date_from": "2014", "k": 30},
        {"q": query, "mode": mode, "facets": "source,year,country,tag", "k": 5},
        {"q": query, "mode": mode, "group": "true", "facets": "year,country", "sort": "newest"},
        {"q": query, "mode": mode, "country": ["AZ", "Japan"], "sort": "oldest", "k": 30},
    ]


def _compare(plain: TestClient, ray: httpx.Client) -> int:
    """Every query and read answered alike by both; the number of requests compared."""
    paths: list[tuple[str, dict[str, Any]]] = [
        ("/search", params) for query in QUERIES for mode in ("hybrid", "dense", "lexical")
        for params in _gets(mode, query)
    ]  # fmt: skip
    paths += [("/stats", {}), ("/articles/a7", {}), ("/articles/a42/similar", {"k": 8}),
              ("/articles/nowhere", {}), ("/search", {"q": ""})]  # fmt: skip
    for path, params in paths:
        one, many = plain.get(path, params=params), ray.get(path, params=params)
        assert one.status_code == many.status_code, (path, params, many.text)
        assert _settle(one.json()) == _settle(many.json()), (path, params)
    assert plain.get("/").content == ray.get("/").content  # the same page
    health = ray.get("/health").json()
    assert health["passages"] == plain.get("/health").json()["passages"]
    return len(paths)


def test_ray_serve_answers_exactly_as_one_index(served: str, plain: TestClient) -> None:
    with httpx.Client(base_url=served, timeout=30) as ray:
        assert _compare(plain, ray) > 40
        # Writes through the ingress go to the owning shard; afterwards both still agree.
        writes = [
            ("POST", "/articles", {"id": "ray-1", "title": "Gas", "text": "Gas pipeline, Baku."}),
            ("PUT", "/articles/a3", {"title": "Routes", "text": "Energy routes avoid Russia."}),
            ("DELETE", "/articles/a5", None),
        ]
        for method, path, body in writes:
            one = plain.request(method, path, json=body, headers=AUTH)
            many = ray.request(method, path, json=body, headers=AUTH)
            assert one.status_code == many.status_code and one.status_code in (200, 201)
            assert _settle(one.json()) == _settle(many.json())
        _compare(plain, ray)


def _search_while(url: str, stop: threading.Event, failures: list[str], done: list[int]) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        for i in range(400):  # bounded in count as in time
            if stop.is_set():
                return
            query = QUERIES[i % len(QUERIES)]
            try:
                response = client.get("/search", params={"q": query, "k": 20})
            except httpx.HTTPError as exc:  # a failed request, not a dead thread
                failures.append(f"{type(exc).__name__}: {exc}")
                continue
            finally:
                done.append(1)
            if response.status_code != 200:
                failures.append(f"{response.status_code} {response.text[:200]}")


def test_a_replica_killed_while_clients_search_fails_no_request(
    served: str, ray_cluster: Cluster
) -> None:
    from harness.ray_cluster import worker_pids

    replicas = worker_pids(ray_cluster, "shard-0")
    assert len(replicas) == 2, replicas
    stop, failures, done = threading.Event(), [], []
    clients = [
        threading.Thread(target=_search_while, args=(served, stop, failures, done))
        for _ in range(4)
    ]
    for client in clients:
        client.start()
    try:
        deadline = time.monotonic() + 20
        while len(done) < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(replicas[0], signal.SIGKILL)
        before = len(done)
        while len(done) < before + 80 and time.monotonic() < deadline + 20:
            time.sleep(0.05)
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=40)
    assert len(done) >= before + 80, "the clients stalled after the kill"
    assert not failures, failures[:3]
    # Serve starts a replica in place of the dead one.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = worker_pids(ray_cluster, "shard-0")
        if len(now) == 2 and replicas[0] not in now:
            break
        time.sleep(0.5)
    assert replicas[0] not in now and len(now) == 2, now


def test_a_shard_that_does_not_answer_is_a_503(served: str, ray_cluster: Cluster) -> None:
    from harness.ray_cluster import worker_pids

    frozen = worker_pids(ray_cluster, "shard-1")
    assert frozen
    for pid in frozen:
        os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        response = httpx.get(f"{served}/search", params={"q": "gas pipeline"}, timeout=60)
        took = time.monotonic() - started
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
    assert response.status_code == 503, response.text
    body = response.json()
    assert body == {"ok": False, "error": body["error"], "status": 503}
    assert "did not answer within" in body["error"] and "SHARD_TIMEOUT" in body["error"]
    assert took < SHARD_TIMEOUT * 3
    # and once it answers again, so does the search
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if httpx.get(f"{served}/search", params={"q": "gas"}, timeout=30).status_code == 200:
            break
        time.sleep(0.5)
    else:
        pytest.fail("the search did not recover after the shard came back")


def test_a_held_sharded_searcher_on_ray_serve_pages_one_commit_under_writes(
    served: str, tmp_path: Path
) -> None:
    """Each shard of a small index as a deployment of one replica; a searcher in this process
    over their handles pages every mode while a writer writes the shards' folders, and every
    page is read at the first page's commit (tests/search/test_shards_pinned.py); a generation the
    replica does not hold is GenerationGone, across Ray as in this process."""
    from ray import serve

    from policy_search.api.ray_serve import RayShard, ShardReplica
    from policy_search.index.errors import GenerationGone
    from policy_search.search.searcher import Searcher
    from policy_search.search.shards import ShardedSnapshot
    from tests.search.test_shards_pinned import WALKS, Writer, walk_under_writes

    build_index(_articles(60), tmp_path / "single", FakeEmbedder(max_tokens=24))
    shard_set = cut_into_shards(tmp_path / "single", tmp_path / "sharded", 2)
    names = [f"pinned-{s}" for s in range(shard_set.count)]
    try:
        handles = [
            serve.run(serve.deployment(name=f"pinned-shard-{s}", num_replicas=1,
                                       ray_actor_options={"num_cpus": 0.1})(ShardReplica)
                      .bind(str(d)), name=names[s], route_prefix=None)
            for s, d in enumerate(shard_set.dirs)
        ]  # fmt: skip
        shards = [RayShard(handle, s) for s, handle in enumerate(handles)]
        corpus = ShardedSnapshot(shard_set.root, shards, timeout=30)
        searcher = Searcher(corpus, FakeEmbedder(max_tokens=24))
        with Writer(shard_set.root, [f"a{i}" for i in range(60)]) as writer:
            for mode, group in WALKS:
                walk_under_writes(searcher, writer, mode, group)
        assert searcher.refreshed().generation > searcher.generation
        with pytest.raises(GenerationGone, match="no longer holds"):
            shards[0].submit("stats", corpus.generations[0] - 1).result(30)
    finally:
        for name in names:
            serve.delete(name)


# -- RayShard's answers, without a cluster ----------------------------------------------------


class _Handle:
    """A deployment handle whose calls answer from a script: an exception is raised, a value
    returned, one an ask."""

    def __init__(self, *script: object) -> None:
        self.script, self.asked = list(script), 0
        self.call = self

    def remote(self, method: str, *args: object) -> _Handle:
        self.asked += 1
        return self

    def result(self, timeout_s: float) -> object:
        step = self.script.pop(0)
        if isinstance(step, BaseException):
            raise step
        return step


def test_ray_shard_asks_again_after_a_dead_replica_and_maps_the_rest() -> None:
    ray_errors = pytest.importorskip("ray.exceptions")
    from policy_search.api.ray_serve import RayShard
    from policy_search.index.errors import ShardUnavailable

    handle = _Handle(ray_errors.ActorDiedError(), ray_errors.ActorUnavailableError("x", None), 7)
    assert RayShard(handle, 0).submit("info").result(5.0) == 7 and handle.asked == 3
    with pytest.raises(TimeoutError):  # ShardedSnapshot makes it ShardUnavailable (a 503)
        RayShard(_Handle(ray_errors.GetTimeoutError("late")), 0).submit("info").result(5.0)
    with pytest.raises(ValueError, match="boom"):  # the shard's own error, as raised there
        failed = ray_errors.RayTaskError("call", "tb", ValueError("boom"))
        RayShard(_Handle(failed), 0).submit("info").result(5.0)
    dead = _Handle(*[ray_errors.ActorDiedError()] * 50)
    started = time.monotonic()
    with pytest.raises(ShardUnavailable, match="shard 1 has no replica that answers"):
        RayShard(dead, 1).submit("info").result(1.0)
    assert time.monotonic() - started < 2.0  # asked again only while time was left


# -- the CLI's bad days ------------------------------------------------------------------------


@pytest.fixture
def fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        policy_search.index.analysis.embed, "load_embedder", lambda *a, **k: FakeEmbedder()
    )


def _serve(*args: str) -> tuple[int, str, float]:
    started = time.monotonic()
    result = CliRunner().invoke(cli, ["serve", *args])
    return result.exit_code, result.output.strip(), time.monotonic() - started


def _one_line_error(code: int, output: str, fragment: str) -> None:
    assert code == 1, output
    assert output.startswith("error: ") and "\n" not in output and "Traceback" not in output
    assert fragment in output, output


def test_an_address_where_nothing_answers_is_one_line_fast(
    indexes: tuple[Path, Path], fake_model: None
) -> None:
    pytest.importorskip("ray")
    from harness.server import free_port

    address = f"127.0.0.1:{free_port()}"
    code, output, took = _serve("--ray", address, "--index-dir", str(indexes[1]))
    _one_line_error(code, output, f"no Ray cluster answers at {address}")
    assert took < 10


def test_an_index_that_is_not_sharded_or_lacks_a_shard_is_refused(
    indexes: tuple[Path, Path], tmp_path: Path, fake_model: None
) -> None:
    pytest.importorskip("ray")
    code, output, _ = _serve("--ray", "127.0.0.1:1", "--index-dir", str(indexes[0]))
    _one_line_error(code, output, "is not one")
    build_index(_articles(12), tmp_path / "single", FakeEmbedder())
    shard_set = cut_into_shards(tmp_path / "single", tmp_path / "sharded", 2)
    import shutil

    shutil.rmtree(shard_set.dirs[1])
    code, output, _ = _serve("--ray", "127.0.0.1:1", "--index-dir", str(tmp_path / "sharded"))
    _one_line_error(code, output, "lacks shard")


def test_an_index_built_with_another_model_is_refused(
    indexes: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("ray")
    other = FakeEmbedder(dim=48)
    monkeypatch.setattr(policy_search.index.analysis.embed, "load_embedder", lambda *a, **k: other)
    code, output, _ = _serve("--ray", "127.0.0.1:1", "--index-dir", str(indexes[1]))
    _one_line_error(code, output, "was built with model")


def test_ray_without_the_extra_says_how_to_install_it(
    indexes: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, fake_model: None
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails
    code, output, _ = _serve("--ray", "127.0.0.1:1", "--index-dir", str(indexes[1]))
    _one_line_error(code, output, "pip install 'policy-search[ray]'")


def test_a_cluster_without_the_resources_asked_for_is_one_line(
    ray_cluster: Cluster, indexes: tuple[Path, Path], fake_model: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("POLICY_SEARCH_REPLICA_CPUS", "8")
    code, output, took = _serve("--ray", ray_cluster.address, "--index-dir", str(indexes[1]))
    _one_line_error(code, output, "not enough for 3 actors of 8 CPUs")
    assert took < 30
