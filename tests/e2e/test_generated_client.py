"""A client generated from the served spec works: the spec is the API, in a form tools can read.

openapi-python-client (the `dev` extra) turns the server's /openapi.json into a package, with no
warning; that package then searches, reads an article, adds one with the API key, and reads an
error as the error model. The server runs the real app on the fake embedder: this is about the
wire, not relevance.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.server import running_server
from policy_search.index.build import build_index
from tests.conftest import ARTICLES
from tests.fakes import FakeEmbedder

pytestmark = pytest.mark.e2e

KEY = "generated-client-key"
PACKAGE = "policy_search_generated"
OPERATIONS = {
    ("get", "/search"): "search",
    ("post", "/search"): "search_post",
    ("get", "/search/options"): "search_options",
    ("get", "/articles/{article_id}"): "get_article",
    ("get", "/articles/{article_id}/similar"): "get_similar",
    ("get", "/articles/{article_id}/cite"): "cite_article",
    ("get", "/formats"): "get_formats",
    ("post", "/articles"): "add_article",
    ("put", "/articles/{article_id}"): "replace_article",
    ("delete", "/articles/{article_id}"): "remove_article",
    ("get", "/stats"): "get_stats",
    ("get", "/health"): "get_health",
    ("post", "/alerts"): "create_alert",
    ("get", "/alerts"): "list_alerts",
    ("delete", "/alerts/{alert_id}"): "delete_alert",
    ("get", "/alerts/{alert_id}/feed"): "get_alert_feed",
}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real server over ARTICLES (fake embedder), with writes enabled by KEY."""
    index_dir = tmp_path_factory.mktemp("generated-client-index") / "index"
    build_index(ARTICLES, index_dir, FakeEmbedder())
    with running_server(index_dir, fake=True, env={"POLICY_SEARCH_API_KEY": KEY}) as server:
        yield server.url


@pytest.fixture(scope="module")
def spec(live: str) -> dict[str, Any]:
    """The served OpenAPI document."""
    response = httpx.get(f"{live}/openapi.json", timeout=10)
    response.raise_for_status()
    return response.json()


@pytest.fixture(scope="module")
def generated(spec: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The package openapi-python-client writes from the spec, imported."""
    base = tmp_path_factory.mktemp("generated-client")
    (base / "spec.json").write_text(json.dumps(spec))
    # An alert's Atom feed is XML: the generator reads it as the bytes it is.
    overrides = {"content_type_overrides": {"application/atom+xml": "application/octet-stream"}}
    (base / "config.json").write_text(json.dumps(overrides))
    command = [
        sys.executable, "-m", "openapi_python_client", "generate", "--path", "spec.json",
        "--output-path", PACKAGE, "--meta", "none", "--fail-on-warning",
        "--config", "config.json",
    ]  # fmt: skip
    # Its post-generation hooks run ruff: the one beside this python.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    done = subprocess.run(
        command, cwd=base, env={**os.environ, "PATH": path}, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    output = (done.stdout + done.stderr).strip()
    if "No module named openapi_python_client" in output:
        pytest.fail("openapi-python-client is missing: pip install -e '.[dev]'")
    assert done.returncode == 0, output
    # Anything but "Generating <path>" is a warning, a skipped schema or a failed hook.
    assert [line for line in output.splitlines() if not line.startswith("Generating ")] == []
    sys.path.insert(0, str(base))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(base))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def part(name: str) -> Any:
    """A module of the generated package (`api.search.search`, `models`)."""
    return importlib.import_module(f"{PACKAGE}.{name}")


def test_every_route_has_a_readable_operation_id(spec: dict[str, Any]) -> None:
    found = {
        (method, path): operation.get("operationId")
        for path, methods in spec["paths"].items()
        for method, operation in methods.items()
    }
    assert found == OPERATIONS


def test_the_generated_client_searches_reads_writes_and_errs(generated: Any, live: str) -> None:
    models = part("models")
    client = generated.Client(base_url=live, raise_on_unexpected_status=True)
    writer = generated.AuthenticatedClient(base_url=live, token=KEY)

    search = part("api.search.search")
    result = search.sync(client=client, q="Middle Corridor", k=2)
    assert isinstance(result, models.SearchResult)
    top = result.results[0]
    assert (top.rank, top.article.id, top.article.tags) == (1, "corridor", ["trade", "Caspian"])
    assert [top.passage.text[a:b] for a, b in top.passage.highlights][:2] == ["Middle", "Corridor"]

    posted = part("api.search.search_post").sync(
        client=client, body=models.SearchRequest(q="Azerbaijan", group=True, explain=True)
    )
    assert {h.article.id for h in posted.results} == {"corridor", "accords"}
    assert all(h.explain.fusion == "score" for h in posted.results)

    get_article = part("api.articles.get_article")
    article = get_article.sync("corridor", client=client)
    assert isinstance(article, models.Article)
    assert article.text[top.passage.start : top.passage.end] == top.passage.text

    new = models.ArticleInput(
        id="notes/generated", title="A generated note", text="Rain fell on Baku.", tags=["note"]
    )
    add = part("api.articles.add_article")
    written = add.sync(client=writer, body=new)
    assert isinstance(written, models.WriteResult), written
    assert (written.ok, written.added) == (True, ["notes/generated"])
    assert get_article.sync("notes/generated", client=client).title == "A generated note"
    anonymous = generated.AuthenticatedClient(base_url=live, token="wrong")
    refused = add.sync(client=anonymous, body=new)
    assert isinstance(refused, models.ErrorBody) and refused.status == 403

    missing = get_article.sync_detailed("no/such-article", client=client)
    assert missing.status_code == 404
    assert isinstance(missing.parsed, models.ErrorBody)
    assert (missing.parsed.ok, missing.parsed.status) == (False, 404)
    assert "no/such-article" in missing.parsed.error

    removed = part("api.articles.remove_article").sync("notes/generated", client=writer)
    assert removed.removed == ["notes/generated"]
    health = part("api.service.get_health").sync(client=client)
    assert (health.ok, health.articles, health.model) == (True, 3, "fake/bow")
