"""Kill real processes: acknowledged writes survive, interrupted writes leave the last good index.

Plumbing, so the fake embedder stands in for the model (tests/e2e/fake_app.py, slow_writer.py).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from index.build import build_index
from index.store import CURRENT, GENERATIONS
from search.searcher import Searcher
from tests.conftest import ARTICLES
from tests.e2e.server import ROOT, running_server, start, stop, wait_until_up
from tests.fakes import FakeEmbedder

pytestmark = pytest.mark.e2e

KEY = "crash-test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    build_index(ARTICLES, tmp_path / "index", FakeEmbedder())
    return tmp_path / "index"


def article(i: int) -> dict:
    return {"id": f"acked-{i}", "title": f"Note {i}", "text": f"Note {i} about Caspian ports."}


def test_an_acknowledged_write_survives_kill_9(index_dir: Path) -> None:
    env = {"POLICY_SEARCH_API_KEY": KEY}
    with running_server(index_dir, fake=True, env=env) as server:
        port = int(server.url.rsplit(":", 1)[1])
        proc = server.proc
        try:
            for i in range(3):
                response = httpx.post(
                    f"{server.url}/articles", json=article(i), headers=AUTH, timeout=30
                )
                assert response.status_code == 201, response.text
                os.kill(proc.pid, signal.SIGKILL)  # right after the answer
                proc.wait()
                proc = start(index_dir, fake=True, port=port, env=env)
                wait_until_up(proc, server.url)
                for j in range(i + 1):
                    got = httpx.get(f"{server.url}/articles/acked-{j}", timeout=30)
                    assert got.status_code == 200, f"acknowledged write {j} was lost"
        finally:
            stop(proc)


def _writer(mode: str, index_dir: Path, n: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "tests.e2e.slow_writer", mode, str(index_dir), str(n)]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


@pytest.mark.parametrize("mode", ["index", "add"])
def test_kill_9_in_the_middle_of_a_write_keeps_the_last_generation(
    index_dir: Path, mode: str
) -> None:
    before = (index_dir / CURRENT).read_text()
    rng = random.Random(7)
    for _ in range(3):
        proc = _writer(mode, index_dir, 60)
        deadline = time.monotonic() + 60
        while not list((index_dir / GENERATIONS).glob("*.tmp")):  # the write is under way
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            assert time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.8))
        proc.kill()
        proc.wait()
        assert (index_dir / CURRENT).read_text() == before
        searcher = Searcher.load(index_dir, FakeEmbedder())
        assert searcher.manifest.articles == 3
        assert searcher.search("Middle Corridor").hits[0].article.id == "corridor"
    finished = _writer(mode, index_dir, 5)  # the next writer cleans up and succeeds
    assert finished.wait(timeout=120) == 0
    assert not list((index_dir / GENERATIONS).glob("*.tmp"))
    assert Searcher.load(index_dir, FakeEmbedder()).manifest.articles == 8


def test_searches_answer_while_writes_run(index_dir: Path) -> None:
    env = {"POLICY_SEARCH_API_KEY": KEY}
    with running_server(index_dir, fake=True, env=env) as server:
        statuses: list[int] = []
        generations: list[int] = []
        stop_reading = threading.Event()

        def read() -> None:
            with httpx.Client(base_url=server.url, timeout=30) as client:
                while not stop_reading.is_set():
                    statuses.append(
                        client.get("/search", params={"q": "Caspian ports"}).status_code
                    )
                    generations.append(client.get("/health").json()["generation"])

        reader = threading.Thread(target=read)
        reader.start()
        try:
            for i in range(5):
                assert httpx.post(f"{server.url}/articles", json=article(i), headers=AUTH,
                                  timeout=30).status_code == 201  # fmt: skip
                assert httpx.delete(f"{server.url}/articles/acked-{i}", headers=AUTH,
                                    timeout=30).status_code == 200  # fmt: skip
        finally:
            stop_reading.set()
            reader.join()
        assert statuses and set(statuses) == {200}
        assert generations == sorted(generations)
        # The reader may stop mid-round, before seeing the last write; a read after it does.
        assert httpx.get(f"{server.url}/health", timeout=30).json()["generation"] == 11
