"""`pip install .` is the client alone: a fresh virtualenv gets httpx, not the server's stack.

The checkout's package files are copied to a temporary folder and installed from there, the way
a user's `pip install .` (or `pip install policy-search`) builds them, into a virtualenv that
sees nothing of this one. The client installed there then searches a live server.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.server import ROOT, running_server
from policy_search.index import build_index
from tests.conftest import ARTICLES
from tests.fakes import FakeEmbedder

pytestmark = pytest.mark.e2e

# What the server needs and the client must not bring.
HEAVY = ("torch", "faiss", "numpy", "onnxruntime", "sentence_transformers", "fastapi", "pydantic")
# httpx and what httpx itself depends on; pip and setuptools come with any virtualenv.
CLIENT_DISTRIBUTIONS = {
    "policy-search", "httpx", "httpcore", "h11", "anyio", "idna", "certifi", "sniffio",
    "typing-extensions", "exceptiongroup", "pip", "setuptools",
}  # fmt: skip
PACKAGE_FILES = ("pyproject.toml", "README.md", "policy_search", "api", "index", "search")


def _run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, **kwargs)  # type: ignore[call-overload]
    assert done.returncode == 0, f"{command}: {done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def client_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of a fresh virtualenv into which `pip install .` put the client."""
    base = tmp_path_factory.mktemp("client-install")
    source = base / "checkout"
    source.mkdir()
    for name in PACKAGE_FILES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, source / name)
    venv = base / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    python = venv / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
          str(source)])  # fmt: skip
    return python


def test_the_client_installs_without_the_server(client_python: Path) -> None:
    probe = (
        "import importlib.util, json; "
        f"print(json.dumps({{m: importlib.util.find_spec(m) is not None for m in {HEAVY!r}}}))"
    )
    found = json.loads(_run([str(client_python), "-c", probe]).stdout)
    assert not any(found.values()), found
    listed = _run([str(client_python), "-m", "pip", "list", "--format", "json"]).stdout
    installed = {entry["name"].lower().replace("_", "-") for entry in json.loads(listed)}
    assert "policy-search" in installed and "httpx" in installed
    assert installed <= CLIENT_DISTRIBUTIONS, installed - CLIENT_DISTRIBUTIONS


def test_the_command_says_the_server_is_an_extra(client_python: Path) -> None:
    command = client_python.parent / "policy-search"
    done = subprocess.run(
        [str(command), "stats"], capture_output=True, text=True, timeout=60, cwd="/"
    )
    assert done.returncode == 1
    assert "pip install 'policy-search[server]'" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real server (the real app on the fake embedder: this is about the install)."""
    index_dir = tmp_path_factory.mktemp("client-install-index") / "index"
    build_index(ARTICLES, index_dir, FakeEmbedder())
    with running_server(index_dir, fake=True) as server:
        yield server.url


def test_the_installed_client_searches_a_live_server(client_python: Path, live: str) -> None:
    script = (
        "import json, sys\n"
        "from policy_search import Client, SearchAPIError\n"
        "with Client(sys.argv[1]) as client:\n"
        "    result = client.search('Middle Corridor', k=3)\n"
        "    try:\n"
        "        client.article('no-such-article')\n"
        "        missing = None\n"
        "    except SearchAPIError as exc:\n"
        "        missing = exc.status\n"
        "print(json.dumps({'total': result.total, 'ids': [h.article.id for h in result.hits],\n"
        "    'missing': missing,\n"
        "    'loaded': sorted(m for m in sys.modules if m.split('.')[0] in\n"
        f"        {HEAVY!r} or m.startswith('policy_search.index'))}}))\n"
    )
    # cwd "/": nothing of the checkout can be imported by accident.
    done = _run([str(client_python), "-c", script, live], cwd="/")
    answer = json.loads(done.stdout)
    assert answer["total"] >= 1
    assert answer["ids"][0] == "corridor"
    assert answer["missing"] == 404
    assert answer["loaded"] == []
