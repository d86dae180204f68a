"""Ingest on a real two-node Ray cluster on loopback: the index it makes is a local build's,
a killed embedding actor costs a retry and nothing else, and bad days are one-line errors.

Plumbing tests embed with the fake embedder, loaded on the workers by `fake_model` (the
cluster's nodes have the checkout on their path); the equality of vectors uses the real model.
"""

from __future__ import annotations

import os
import pickle
import shutil
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from harness.ray_cluster import Cluster, worker_pids
from policy_search.api.cli import cli
from policy_search.index.analysis.embed import Embedder
from policy_search.index.build import build_index
from policy_search.index.distributed.shards import ShardSet, build_sharded
from policy_search.index.errors import ClusterUnavailable
from policy_search.index.readers import read_paths
from policy_search.index.readers.article import Article
from tests.conftest import CORPUS
from tests.fakes import FakeEmbedder
from tests.index_dump import Dump, dump

pytestmark = pytest.mark.ray
ray = pytest.importorskip("ray", reason="the ray extra: pip install 'policy-search[ray]'")

from policy_search.index.distributed.ray_ingest import RayIngest, RayOptions  # noqa: E402

UN = CORPUS / "un-general-debates"


def fake_model(device: str) -> Embedder:
    """The fake embedder, as a Ray worker loads it (plumbing only)."""
    return FakeEmbedder()


class SlowFake(FakeEmbedder):
    """The fake embedder at a model's pace, so that an actor can be killed mid-ingest."""

    def encode(self, texts: Any, *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        time.sleep(0.25)
        return super().encode(texts, batch_size=batch_size, progress=progress)


def slow_fake_model(device: str) -> Embedder:
    return SlowFake()


def broken_model(device: str) -> Embedder:
    """A model that cannot load on the workers (a node without the weights)."""
    raise RuntimeError("no weights on this node")


def stuck_model(device: str) -> Embedder:
    """A model whose loading never ends (a node stuck on its disk)."""
    time.sleep(120)
    raise AssertionError("unreachable")


def articles_folder(root: Path, n: int) -> Path:
    """A folder of the first n UN debate articles of corpus/, one file each."""
    folder = root / "articles"
    folder.mkdir()
    for path in sorted(UN.glob("*.md"))[:n]:
        shutil.copy(path, folder)
    return folder


def assert_same(one: Dump, other: Dump, *, atol: float = 0.0) -> None:
    """Same articles, passages (ids, articles, offsets, texts), and vectors within `atol`."""
    assert other.articles == one.articles
    assert other.passages == one.passages
    ids, vectors = one.matrix()
    other_ids, other_vectors = other.matrix()
    assert np.array_equal(ids, other_ids)
    assert np.allclose(vectors, other_vectors, atol=atol, rtol=0)


@pytest.mark.model
def test_the_cli_builds_on_ray_what_a_local_build_makes(
    tmp_path: Path, ray_cluster: Cluster, real_embedder: Embedder
) -> None:
    """`policy-search index --ray` over two actors on two nodes against a local build with the
    real model: the same catalog, vectors within 1e-5, the same hits and scores."""
    from policy_search.search.searcher import Searcher

    source = articles_folder(tmp_path, 12)
    local, remote = tmp_path / "local", tmp_path / "ray"
    build_index(read_paths([source]), local, real_embedder)
    result = CliRunner().invoke(
        cli,
        ["index", str(source), "--index-dir", str(remote), "--ray", ray_cluster.address,
         "--ray-actors", "2", "--json"],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert_same(dump(local), dump(remote), atol=1e-5)
    here, there = Searcher.load(local, real_embedder), Searcher.load(remote, real_embedder)
    for query in ("nuclear disarmament", "independence and sovereignty", "climate change"):
        mine, theirs = here.search(query), there.search(query)
        assert [h.passage.id for h in theirs.hits] == [h.passage.id for h in mine.hits]
        assert np.allclose([h.score for h in theirs.hits], [h.score for h in mine.hits], atol=1e-5)


def test_a_sharded_build_on_ray_is_the_local_one(
    tmp_path: Path, ray_cluster: Cluster, fake_embedder: FakeEmbedder
) -> None:
    """Three shards built by Ray tasks hold what three built here hold, and one index's ids."""
    source = articles_folder(tmp_path, 30)
    articles = list(read_paths([source]))
    single, local = tmp_path / "single", tmp_path / "local"
    build_index(articles, single, fake_embedder)
    build_sharded(articles, local, fake_embedder, shards=3)
    options = RayOptions(ray_cluster.address, actors=2)
    with RayIngest(options, fake_model) as cluster:
        report = cluster.build([source], tmp_path / "ray", fake_embedder, shards=3)
    assert report.articles == len(articles)
    assert ShardSet.open(tmp_path / "ray").count == 3
    assert_same(dump(local), dump(tmp_path / "ray"))
    assert_same(dump(single), dump(tmp_path / "ray"))


def test_reading_order_and_duplicate_ids_are_a_local_builds(
    tmp_path: Path, ray_cluster: Cluster, fake_embedder: FakeEmbedder
) -> None:
    source = articles_folder(tmp_path, 3)
    twin = tmp_path / "twin"
    twin.mkdir()
    first = sorted(source.glob("*.md"))[0]
    shutil.copy(first, twin / first.name)
    with pytest.raises(Exception) as local:
        list(read_paths([source, twin]))
    cluster = RayIngest(RayOptions(ray_cluster.address), fake_model)
    with cluster, pytest.raises(type(local.value)) as remote:
        cluster.build([source, twin], tmp_path / "index", fake_embedder)
    assert str(remote.value) == str(local.value)  # "duplicate id … (also in …)"
    assert not (tmp_path / "index").exists()


def test_a_killed_embedding_actor_is_restarted_and_the_index_is_whole(
    tmp_path: Path, ray_cluster: Cluster, fake_embedder: FakeEmbedder
) -> None:
    """kill -9 a real embedding actor mid-ingest: Ray Data restarts it and retries its batch,
    and the index equals a local build (what actually happens with ray 2.60; the other outcome
    the design allows, a one-line failure with the previous index untouched, is not what Ray
    does here)."""
    source, local, remote, before = _a_previous_index(tmp_path, fake_embedder)
    _no_embedding_actors(ray_cluster)  # the actors found below are this ingest's
    started = time.monotonic()
    thread, outcome = _ingest(RayOptions(ray_cluster.address, actors=2), source, remote,
                              fake_embedder)  # fmt: skip
    victims: list[int] = []
    while not victims and thread.is_alive() and time.monotonic() - started < 40:
        victims = worker_pids(ray_cluster, "_EmbedActor")
        time.sleep(0.2)
    assert victims, "no embedding actor showed up"
    time.sleep(1.5)  # mid-ingest: the pool has embedded some batches, not all
    assert thread.is_alive(), "the ingest ended before the kill"
    os.kill(victims[0], signal.SIGKILL)
    thread.join(timeout=60)
    assert not thread.is_alive(), "the ingest hung after the kill"
    assert time.monotonic() - started < 60
    _whole(outcome, before, local, remote)


def _no_embedding_actors(cluster: Cluster) -> None:
    """Wait (30 s at most) until the embedding actors of an earlier test's ingest are gone: the
    session's cluster ends them once their driver leaves, a moment after the test."""
    deadline = time.monotonic() + 30
    while worker_pids(cluster, "_EmbedActor") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not worker_pids(cluster, "_EmbedActor"), "an earlier ingest's actors outlived it"


def _a_previous_index(tmp_path: Path, embedder: FakeEmbedder) -> tuple[Path, Path, Path, Any]:
    """40 articles, their local build, and an index of one of them that an ingest on the
    cluster is to replace (and what it holds)."""
    source = articles_folder(tmp_path, 40)
    local, remote = tmp_path / "local", tmp_path / "ray"
    build_index(read_paths([source]), local, embedder, batch_size=64)
    build_index(read_paths([sorted(source.glob("*.md"))[0]]), remote, embedder)
    return source, local, remote, dump(remote)


def _ingest(
    options: RayOptions, source: Path, remote: Path, embedder: FakeEmbedder
) -> tuple[threading.Thread, dict[str, Any]]:
    """An ingest of `source` into `remote` on the cluster, running in a thread; its report or
    error lands in the dict."""
    outcome: dict[str, Any] = {}

    def ingest() -> None:
        try:
            with RayIngest(options, slow_fake_model) as c:
                outcome["report"] = c.build([source], remote, embedder, batch_size=64)
        except Exception as exc:  # judged by _whole
            outcome["error"] = exc

    thread = threading.Thread(target=ingest)
    thread.start()
    return thread, outcome


def _whole(outcome: dict[str, Any], before: Any, local: Path, remote: Path) -> None:
    """The ingest retried what was lost and made the local build's index; a failure would have
    to be one line, the previous index as it was, and still fails the test (Ray retries)."""
    if "error" in outcome:
        assert isinstance(outcome["error"], ClusterUnavailable)
        assert "\n" not in str(outcome["error"])
        assert_same(before, dump(remote))
        pytest.fail(f"the ingest failed instead of retrying: {outcome['error']}")
    assert_same(dump(local), dump(remote))


class StuckFake(FakeEmbedder):
    """The fake embedder on a node whose embedding never ends (its model loads)."""

    def encode(self, texts: Any, *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        time.sleep(120)
        raise AssertionError("unreachable")


def stuck_encode_model(device: str) -> Embedder:
    return StuckFake()


# Leaving the cluster mid-run ends Ray Data's executor thread with SystemExit (its own doing).
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.parametrize(
    ("load", "timeout", "startup", "said"),
    [
        (broken_model, 60, 60, "RuntimeError: no weights on this node"),
        (stuck_model, 60, 3, "no embedding actor started on the Ray cluster within 3 s"),
        (stuck_encode_model, 3, 60, "no progress for 3 s"),
    ],
    ids=["a worker fails", "the actors never start", "the cluster stalls"],
)
def test_a_failed_ingest_is_one_line_and_leaves_the_index(
    tmp_path: Path,
    ray_cluster: Cluster,
    fake_embedder: FakeEmbedder,
    load: Any,
    timeout: float,
    startup: float,
    said: str,
) -> None:
    """A failure on the cluster, actors that do not come up within the start-up wait, or no
    progress within the timeout once they are up, is one ClusterUnavailable line raised before
    the commit: the index is the one it was."""
    source = articles_folder(tmp_path, 4)
    index_dir = tmp_path / "index"
    build_index(read_paths([sorted(source.glob("*.md"))[0]]), index_dir, fake_embedder)
    before = dump(index_dir)
    started = time.monotonic()
    options = RayOptions(ray_cluster.address, timeout=timeout, startup=startup)
    with (
        RayIngest(options, load) as cluster,
        pytest.raises(ClusterUnavailable) as failed,
    ):
        cluster.build([source], index_dir, fake_embedder)
    assert time.monotonic() - started < min(min(timeout, startup) + 30, 60)
    assert said in str(failed.value) and "\n" not in str(failed.value)
    assert_same(before, dump(index_dir))


def test_the_driver_streams_a_batch_at_a_time(
    tmp_path: Path,
    ray_cluster: Cluster,
    fake_embedder: FakeEmbedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The driver sees of each article its id and passage count, never its text or vectors
    (the actors hand those to the writers); it sends the writers what it gathers as the rows
    arrive, never more than SEND_PASSAGES (plus one article) at once, nor more than IN_FLIGHT
    batches unanswered per writer; the first batch goes out before the last article has come.
    The index is still the local build's."""
    from policy_search.index.distributed import ray_ingest, ray_write

    monkeypatch.setattr(ray_write, "SEND_PASSAGES", 40)
    source = articles_folder(tmp_path, 30)
    events: list[tuple[str, int]] = []
    collect, send = ray_ingest.RayIngest._collect, ray_write.Writers.send

    def collecting(self: Any, dataset: Any) -> Any:
        for row in collect(self, dataset):
            events.append(("row", 0))
            fields = pickle.loads(row["meta"])  # (article id, passage count, problem, model)
            assert set(row) == {"file", "window", "meta"} and len(fields) == 4
            assert not any(isinstance(f, np.ndarray | Article) for f in fields), "data came here"
            yield row

    def sending(self: Any) -> None:
        events.append(("send", self.passages))
        send(self)
        events.append(("flight", max(len(f) for f in self.flight)))

    monkeypatch.setattr(ray_ingest.RayIngest, "_collect", collecting)
    monkeypatch.setattr(ray_write.Writers, "send", sending)
    with RayIngest(RayOptions(ray_cluster.address), fake_model) as cluster:
        cluster.build([source], tmp_path / "ray", fake_embedder, shards=2)
    sends = [n for kind, n in events if kind == "send" and n]
    biggest_article = max(_passages_per_article(tmp_path / "ray").values())
    assert len(sends) > 2 and max(sends) < 40 + biggest_article
    assert max(n for kind, n in events if kind == "flight") <= ray_write.IN_FLIGHT
    rows = [i for i, (kind, _) in enumerate(events) if kind == "row"]
    first_send = next(i for i, (kind, n) in enumerate(events) if kind == "send" and n)
    assert first_send < rows[-1], "nothing was sent before the last article came"
    local = tmp_path / "local"
    build_sharded(list(read_paths([source])), local, fake_embedder, shards=2)
    assert_same(dump(local), dump(tmp_path / "ray"))


def _passages_per_article(index_dir: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for article_id, *_ in dump(index_dir).passages.values():
        counts[article_id] = counts.get(article_id, 0) + 1
    return counts


# -- bad days: one-line errors, exit status 1 (2 for usage) ------------------------------


def _index(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    source = articles_folder(tmp_path, 1)
    return CliRunner().invoke(
        cli, ["index", str(source), "--index-dir", str(tmp_path / "index"), *args], env=env
    )


def _one_line_error(result: Any, status: int = 1) -> str:
    assert result.exit_code == status, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


def test_ray_without_the_extra_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as if not installed
    line = _one_line_error(_index(tmp_path, "--ray", "127.0.0.2:6379"))
    assert "pip install 'policy-search[ray]'" in line
    assert not (tmp_path / "index").exists()


def test_an_address_where_nothing_answers_fails_within_the_timeout(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.2", 0))
        address = f"127.0.0.2:{probe.getsockname()[1]}"
    started = time.monotonic()
    result = _index(tmp_path, "--ray", address, env={"POLICY_SEARCH_RAY_TIMEOUT": "3"})
    line = _one_line_error(result)
    assert time.monotonic() - started < 10
    assert address in line and "no Ray cluster answers" in line


def test_gpus_need_the_torch_backend(tmp_path: Path) -> None:
    """A usage error (status 2, click's usage lines above the one that says why)."""
    result = _index(tmp_path, "--ray", "127.0.0.2:6379", "--ray-gpus-per-actor", "1")
    assert result.exit_code == 2
    assert "needs the torch backend" in result.output.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("flags", "env"),
    [
        (["--ray-gpus-per-actor", "1"], {"POLICY_SEARCH_BACKEND": "torch"}),
        (["--ray-cpus-per-actor", "4"], {}),
        (["--ray-actors", "3"], {}),
    ],
    ids=["a GPU on a CPU cluster", "more CPUs than a node has", "more actors than fit"],
)
def test_a_cluster_without_the_resources_asked_for_is_one_line(
    tmp_path: Path, ray_cluster: Cluster, flags: list[str], env: dict[str, str]
) -> None:
    started = time.monotonic()
    line = _one_line_error(_index(tmp_path, "--ray", ray_cluster.address, *flags, env=env))
    assert "not enough" in line and time.monotonic() - started < 30
    assert not (tmp_path / "index").exists()


def test_a_node_killed_mid_ingest_leaves_a_whole_index(
    tmp_path: Path, fake_embedder: FakeEmbedder
) -> None:
    """kill -9 the second node (its raylet and workers) mid-ingest, on a cluster of this
    test's own: Ray Data retries the dead actor's batch on the actor left (once the node is
    marked dead), and the index is a local build's (what ray 2.60 does; a one-line failure
    with the previous index untouched is the other outcome the design allows)."""
    from harness.ray_cluster import kill_node, running_cluster

    source, local, remote, before = _a_previous_index(tmp_path, fake_embedder)
    quick = {"health_check_period_ms": 500, "health_check_failure_threshold": 3}
    with running_cluster(nodes=2, cpus_per_node=1, system_config=quick) as cluster:
        started = time.monotonic()
        options = RayOptions(cluster.address, actors=2, timeout=30)  # loaded CI: slow to see
        thread, outcome = _ingest(options, source, remote, fake_embedder)
        while len(worker_pids(cluster, "_EmbedActor")) < 2 and time.monotonic() - started < 120:
            time.sleep(0.2)
        assert len(worker_pids(cluster, "_EmbedActor")) == 2, f"no actor pool: {outcome!r}"
        time.sleep(1.5)
        assert thread.is_alive(), "the ingest ended before the kill"
        kill_node(cluster, 1)
        thread.join(timeout=60)
        assert not thread.is_alive(), "the ingest hung after the node died"
    _whole(outcome, before, local, remote)


def test_relative_paths_reach_the_workers_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`policy-search index corpus --ray …` from the checkout: Ray's workers run in folders of
    their own, so the files are listed for them absolute (a relative path failed: 'cannot
    read'), with the ids still relative to the folder given."""
    from policy_search.index.distributed.ray_ingest import _listing

    source = articles_folder(tmp_path, 3)
    monkeypatch.chdir(tmp_path)
    files = _listing([source.name])
    assert files and all(path.is_absolute() and root == source for path, root in files)
    assert [p.relative_to(source) for p, _ in files] == sorted(
        p.relative_to(source) for p in source.glob("*.md")
    )
