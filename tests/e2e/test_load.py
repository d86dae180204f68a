"""The load proof's short version: `harness.soak`'s very code path, run for seconds, not minutes.

Plumbing: the server runs with the fake embedder (harness/fake_app.py) over 40 UN General
Debate speeches, and the readers are Python threads (`harness.load.run_threads`), since wrk may
be absent. `make load` is the real proof (wrk, the whole UN corpus, the real model).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import httpx
import pytest

from harness.indexes import copy_index
from harness.mix import mixed_requests, read_requests, write_requests
from harness.server import running_server
from harness.soak import soak
from harness.writer import Writer, source_texts
from policy_search.index.build import build_index
from policy_search.index.readers import read_file
from tests.fakes import FakeEmbedder

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def un_index(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """40 UN speeches, fake embedder; read only (a test that writes works on a copy)."""
    speeches = data_dir / "policy" / "un-general-debates" / "articles.jsonl.gz"
    index_dir = tmp_path_factory.mktemp("load") / "un"
    build_index(itertools.islice(read_file(speeches), 40), index_dir, FakeEmbedder())
    return index_dir


def test_soak_under_load_with_a_writer_has_no_error(un_index: Path, tmp_path: Path) -> None:
    before = sorted(p.relative_to(un_index) for p in un_index.rglob("*"))
    report = soak(
        un_index, tmp_path / "work", seconds=4, warmup=1, connections=16,
        generator="threads", fake=True, settle=0.5,
    )  # fmt: skip
    traffic, writer = report["traffic"], report["writer"]
    assert report["failures"] == [] and report["ok"]
    assert traffic["requests"] > 100 and traffic["non2xx"] == 0
    assert not any(traffic["socket_errors"].values())
    assert writer["errors"] == 0 and writer["not_holding"] == []
    assert all(n >= 1 for n in writer["acknowledged"].values()), writer["acknowledged"]
    assert writer["present"] >= 1 and writer["removed"] >= 1
    assert report["server"]["alive"] and report["server"]["tracebacks"] == 0
    assert report["memory"]["samples"] >= 3 and report["memory"]["start_mb"] > 0
    assert sorted(p.relative_to(un_index) for p in un_index.rglob("*")) == before  # untouched


def test_the_writer_check_finds_a_write_undone_behind_its_back(
    un_index: Path, tmp_path: Path
) -> None:
    key = "soak-test-key"
    index_dir = copy_index(un_index, tmp_path / "copy")
    texts = source_texts(index_dir, 5)
    with running_server(index_dir, fake=True, env={"POLICY_SEARCH_API_KEY": key}) as server:
        writer = Writer(server.url, key, texts, run="abc")
        for _ in range(4):  # add, add, replace, add: three present, one of them replaced
            writer.write_once()
        assert writer.errors == [] and writer.check() == []
        victim = next(iter(writer.present))
        auth = {"Authorization": f"Bearer {key}"}
        httpx.delete(f"{server.url}/articles/{victim}", headers=auth, timeout=30)
        wrong = writer.check()
        writer.close()
    assert len(wrong) == 2 and all(w.startswith(f"{victim}:") for w in wrong), wrong


def test_mixed_requests_cover_every_route_and_survive_the_file(
    un_index: Path, tmp_path: Path
) -> None:
    requests = mixed_requests(un_index, 400)
    assert {r.kind for r in requests} >= {"search", "post-search", "article", "similar", "stats"}
    paths = " ".join(r.path for r in requests)
    for needle in ("mode=dense", "mode=lexical", "k=100", "offset=", "date_from=", "source=",
                   "group=true", "explain=true", "/similar?k="):  # fmt: skip
        assert needle in paths, needle
    write_requests(requests, tmp_path / "requests.tsv")
    back = read_requests(tmp_path / "requests.tsv")
    assert [(r.method, r.path, r.body) for r in back] == [
        (r.method, r.path, r.body) for r in requests
    ]


def test_the_copy_refuses_to_overlap_the_index(un_index: Path) -> None:
    with pytest.raises(ValueError, match="overlap"):
        copy_index(un_index, un_index / "copy")
