"""`policy-search serve --ray` as a user runs it: a process of its own with the real model (the
ingress loads it on the cluster), answering over HTTP what one index answers, and on SIGTERM
shutting Serve down on the cluster and exiting 0.

A module of its own: Serve's HTTP options are the cluster's, so this must not run while
tests/api/test_ray_serve.py's application holds Serve there (module fixtures end with their module).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from harness.server import ROOT, free_port, server_log, wait_until_up
from policy_search.index.analysis.embed import Embedder
from policy_search.index.build import build_index
from policy_search.index.distributed.shards import build_sharded
from policy_search.search.searcher import Searcher
from tests.conftest import ARTICLES

if TYPE_CHECKING:
    from harness.ray_cluster import Cluster

pytestmark = [pytest.mark.ray, pytest.mark.model]


def test_serve_ray_from_the_cli_answers_and_stops_cleanly(
    ray_cluster: Cluster, real_embedder: Embedder, tmp_path: Path
) -> None:
    from harness.ray_cluster import worker_pids

    build_index(ARTICLES, tmp_path / "single", real_embedder)
    build_sharded(ARTICLES, tmp_path / "sharded", real_embedder, shards=2)
    port = free_port()
    command = [sys.executable, "-m", "policy_search", "serve", "--ray", ray_cluster.address,
               "--replicas", "1", "--index-dir", str(tmp_path / "sharded"),
               "--port", str(port)]  # fmt: skip
    env = {**os.environ, "POLICY_SEARCH_REPLICA_CPUS": "0.2", "POLICY_SEARCH_RAY_DEPLOY_TIMEOUT":
           "90"}  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with tempfile.NamedTemporaryFile() as log:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        proc.log = log  # type: ignore[attr-defined]  # read by wait_until_up on failure
        try:
            wait_until_up(proc, url, timeout=120)
            answer = httpx.get(f"{url}/search", params={"q": "Caspian trade route"}, timeout=30)
            assert answer.status_code == 200, answer.text
            one = Searcher.load(tmp_path / "single", real_embedder).search("Caspian trade route")
            got = answer.json()["results"]
            assert [h["article"]["id"] for h in got] == [h.article.id for h in one.results]
            assert [h["score"] for h in got] == pytest.approx([h.score for h in one.results])
            said = time.monotonic() + 15  # the CLI says so once it has seen /health itself
            while "Serving 2 shards" not in server_log(proc) and time.monotonic() < said:
                time.sleep(0.2)
            assert "Serving 2 shards, 1 replica each" in server_log(proc)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 0, server_log(proc)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    deadline = time.monotonic() + 30  # Serve shut down: no replica left on the cluster
    while worker_pids(ray_cluster, "ServeReplica") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not worker_pids(ray_cluster, "ServeReplica")
