"""Kill real processes: acknowledged writes survive, interrupted writes leave the last good index.

Plumbing, so the fake embedder stands in for the model (harness/fake_app.py, slow_writer.py).
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

from harness.server import ROOT, running_server, start, stop, wait_until_up
from policy_search.index.build import add_articles, build_index, remove_articles
from policy_search.index.errors import IndexLocked
from policy_search.index.readers.article import Article
from policy_search.index.storage.segment import STAGING_SUFFIX
from policy_search.index.storage.store import open_catalog, segments_dir, writer_lock
from policy_search.search.searcher import Searcher
from tests.conftest import ARTICLES
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


def _commit(index_dir: Path) -> tuple[int, list[str]]:
    """The catalog's generation and the segments it names."""
    catalog = open_catalog(index_dir, readonly=True)
    try:
        with catalog.reading():
            return int(catalog.meta("generation")), [s.name for s in catalog.segments()]
    finally:
        catalog.close()


def _folders(index_dir: Path) -> tuple[set[str], list[Path]]:
    """The segment folders renamed into place, and the staging folders."""
    root = segments_dir(index_dir)
    staging = list(root.glob(f"*{STAGING_SUFFIX}"))
    return {p.name for p in root.iterdir() if p.is_dir()} - {p.name for p in staging}, staging


def _writing(index_dir: Path) -> bool:
    """Whether a writer holds the index's lock (it embeds under it, then stages and commits)."""
    try:
        with writer_lock(index_dir, wait=0):
            return False
    except IndexLocked:
        return True


def _writer(mode: str, index_dir: Path, n: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "tests.e2e.slow_writer", mode, str(index_dir), str(n)]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


@pytest.mark.parametrize("mode", ["index", "add"])
def test_kill_9_in_the_middle_of_a_write_keeps_the_last_commit(index_dir: Path, mode: str) -> None:
    before = _commit(index_dir)
    rng = random.Random(7)
    for _ in range(3):
        proc = _writer(mode, index_dir, 60)
        deadline = time.monotonic() + 60
        while not _writing(index_dir):  # the write is under way
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            assert time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.8))  # embedding 60 articles lasts longer: before its commit
        assert proc.poll() is None
        proc.kill()
        proc.wait()
        assert _commit(index_dir) == before
        named, staging = _folders(index_dir)
        assert named >= set(before[1]) and len(named - set(before[1])) + len(staging) <= 3
        searcher = Searcher.load(index_dir, FakeEmbedder())
        assert searcher.manifest.articles == 3
        assert searcher.search("Middle Corridor").hits[0].article.id == "corridor"
    finished = _writer(mode, index_dir, 5)  # the next writer cleans up and succeeds
    assert finished.wait(timeout=120) == 0
    generation, live = _commit(index_dir)
    assert generation > before[0]
    assert _folders(index_dir) == (set(live), [])  # what the kills left is gone
    assert Searcher.load(index_dir, FakeEmbedder()).manifest.articles == 8


def _results(index_dir: Path) -> list[list[tuple[str, int]]]:
    """What some searches find, ranked: (article id, passage id) each."""
    searcher = Searcher.load(index_dir, FakeEmbedder())
    return [
        [(h.article.id, h.passage.id) for h in searcher.search(query, k=10, mode=mode).hits]
        for query in ("Caspian trade", "Middle Corridor", "Report 7")
        for mode in ("lexical", "dense", "hybrid")
    ]


def test_kill_9_during_a_merge_changes_no_result(index_dir: Path) -> None:
    for batch in range(4):  # four more segments, and tombstones for the merge to drop
        add_articles([Article(id=f"m{batch}-{i}", title=f"Report {i}",
                              text=f"Report {i} on Caspian trade, batch {batch}. " * 20)
                      for i in range(15)], index_dir, FakeEmbedder(), merge=False)  # fmt: skip
    remove_articles(["m0-1", "m2-3"], index_dir, merge=False)
    before, results = _commit(index_dir), _results(index_dir)
    assert len(before[1]) == 5
    script = Path(sys.executable).with_name("policy-search")
    head = [str(script)] if script.exists() else [sys.executable, "-m", "policy_search"]
    command = [*head, "optimize", "--index-dir", str(index_dir)]
    started = time.monotonic()
    assert subprocess.run(command, cwd=ROOT, capture_output=True).returncode == 0  # timed only
    span = time.monotonic() - started
    generation, live = _commit(index_dir)
    assert generation == before[0] + 1 and len(live) == 1 and _results(index_dir) == results
    rng = random.Random(11)
    for _ in range(4):  # split it again, then kill the merge at a random moment
        add_articles([Article(id="m9", title="Report 9", text="Report 9 on Caspian trade.")],
                     index_dir, FakeEmbedder(), merge=False)  # fmt: skip
        remove_articles(["m9"], index_dir, merge=False)
        before, results = _commit(index_dir), _results(index_dir)
        proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)  # fmt: skip
        time.sleep(rng.uniform(0.5, 1.1) * span)
        proc.kill()
        proc.wait()
        generation, live = _commit(index_dir)
        assert (generation, live) == before or (generation == before[0] + 1 and len(live) == 1)
        assert _results(index_dir) == results  # merged or not, the same passages
        named, staging = _folders(index_dir)
        # Killed before its commit: at most the merged segment, staged or renamed. After it:
        # the segments it replaced, if the kill came before their removal. The next write
        # removes either (below).
        leftover = len(before[1]) if generation == before[0] + 1 else 1
        assert named >= set(live) and len(named - set(live)) + len(staging) <= leftover
    remove_articles(["m1-1"], index_dir, merge=False)  # the next write cleans up
    assert _folders(index_dir) == (set(_commit(index_dir)[1]), [])


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
        # Each write commits once (10 after the build's 1), and each merge after it once more;
        # a merge may commit after the last write has answered, and the server sees it a
        # moment later: wait (bounded) for the server and the catalog to agree.
        deadline = time.monotonic() + 30
        while True:
            generation = httpx.get(f"{server.url}/health", timeout=30).json()["generation"]
            on_disk = _commit(index_dir)[0]
            if generation == on_disk or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert generation == on_disk >= 11
