"""Shared fixtures: a fake embedder for plumbing, the real model once per session, real indexes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings

from policy_search.index.analysis.embed import Embedder
from policy_search.index.build import build_index
from policy_search.index.readers.article import Article
from tests.fakes import FakeEmbedder

if TYPE_CHECKING:
    from harness.ray_cluster import Cluster

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Ray, read when it is first imported: never start a local Ray instance behind a test's back (a
# Ray Data thread outliving its cluster would, in this process), and no token authentication
# (harness/ray_cluster.py says why).
os.environ.setdefault("RAY_ENABLE_AUTO_CONNECT", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

# Hypothesis: "default" is what CI runs (few examples, a deadline as the guard against hangs);
# "fuzz" (HYPOTHESIS_PROFILE=fuzz, `make fuzz`) runs many more. Tests that cap max_examples
# themselves (huge inputs, the real model) keep their cap under both.
settings.register_profile(
    "default",
    max_examples=60,
    deadline=5000,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "fuzz",
    max_examples=3000,
    deadline=5000,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

ARTICLES = [
    Article(
        id="corridor",
        title="Trade routes across the Caspian",
        text="The Middle Corridor links China to Europe. It crosses Kazakhstan, the Caspian Sea, "
        "Azerbaijan and Georgia.\n\nShippers value a route that avoids Russia.",
        source="Example Wire",
        author="A. Writer",
        date="2024-05-01",
        url="https://example.org/corridor",
        tags=["trade", "Caspian"],
    ),
    Article(
        id="accords",
        title="Abraham Accords",
        text="Azerbaijan may join the Abraham Accords. Officials in Baku met Israeli diplomats.",
        source="Other Source",
        date="2025",
    ),
    Article(
        id="weather",
        title="Rain in spring",
        text="Spring rain fell on the valley for three days. Farmers welcomed the water.",
    ),
]


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    """Plumbing only: hashed bag-of-words vectors."""
    return FakeEmbedder()


@pytest.fixture
def fake_index(tmp_path: Path, fake_embedder: FakeEmbedder) -> Path:
    """A real index (FAISS + SQLite) of three small articles, built with the fake embedder."""
    index_dir = tmp_path / "index"
    build_index(ARTICLES, index_dir, fake_embedder)
    return index_dir


@pytest.fixture(scope="session")
def real_embedder() -> Embedder:
    """all-MiniLM-L6-v2 from the bundled package, loaded once per session."""
    from policy_search.index.analysis.embed import load_embedder

    return load_embedder()


@pytest.fixture(scope="session")
def corpus_index(tmp_path_factory: pytest.TempPathFactory, real_embedder: Embedder) -> Path:
    """corpus/ (the demo corpus: some 250 articles, 1,600 passages) indexed with the real model,
    once per session: a few minutes of the model on 2 cores."""
    from policy_search.index.readers import read_paths

    index_dir = tmp_path_factory.mktemp("corpus-index")
    build_index(read_paths([CORPUS]), index_dir, real_embedder)
    return index_dir


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared public data (POLICY_SEARCH_DATA_DIR, default ../shared/data)."""
    path = Path(os.environ.get("POLICY_SEARCH_DATA_DIR", ROOT.parent / "shared" / "data"))
    if not path.is_dir():
        pytest.fail(f"shared data not found at {path}; set POLICY_SEARCH_DATA_DIR")
    return path


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[Cluster]:
    """A real two-node Ray cluster on loopback (127.0.0.2 head, 127.0.0.3 worker; one CPU each),
    started once per session and stopped at its end, every process of it (harness.ray_cluster).
    Tests that use it are marked `@pytest.mark.ray`; the driver connects with
    `ray.init(address=cluster.address, _node_ip_address="127.0.0.2")`."""
    pytest.importorskip("ray", reason="the ray extra: pip install 'policy-search[ray]'")
    from harness.ray_cluster import running_cluster

    with running_cluster(nodes=2, cpus_per_node=1) as cluster:
        yield cluster
