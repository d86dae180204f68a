"""`policy-search alerts`: on the index directory, and on a server with --url (fake embedder)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.server import running_server
from policy_search.api.cli import cli
from tests.api.test_cli import fake_model, run  # noqa: F401  (the fake embedder, everywhere)

ATOM = "{http://www.w3.org/2005/Atom}"
KEY = "cli-alerts-key"


def entries(feed: str) -> list[str]:
    """The titles of a feed's entries (the feed parsed as XML: it must be)."""
    root = ET.fromstring(feed)
    assert root.tag == f"{ATOM}feed"
    return [e.findtext(f"{ATOM}title") or "" for e in root.iter(f"{ATOM}entry")]


def fail(runner: CliRunner, *args: str) -> tuple[int, str]:
    result = runner.invoke(cli, list(args))
    return result.exit_code, result.output


def test_alerts_on_the_index(fake_index: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    where = ("--index-dir", str(fake_index))
    added = run(runner, "alerts", "add", "Caspian ferry", "--mode", "lexical",
                "--source", "Port News", "--min-confidence", "0", *where)  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "Following “Caspian ferry” (lexical · source: Port News)" in added.output
    created = json.loads(run(runner, "alerts", "add", "rain", "--json", *where).output)
    assert created["feed"] == f"http://127.0.0.1:8000/alerts/{created['id']}/feed"

    article = tmp_path / "ferry.md"
    article.write_text("---\nid: ferry\ntitle: A new Caspian ferry\nsource: Port News\n---\n"
                       "The Caspian ferry from Baku sails weekly.\n")  # fmt: skip
    assert run(runner, "add", str(article), *where).exit_code == 0

    listed = json.loads(run(runner, "alerts", "list", "--json", *where).output)["alerts"]
    assert [a["q"] for a in listed] == ["rain", "Caspian ferry"]  # newest first
    ferry = listed[1]
    assert (ferry["mode"], ferry["source"], ferry["matched"]) == ("lexical", "Port News", 1)
    human = run(runner, "alerts", "list", *where).output
    assert f"{ferry['id']}  “Caspian ferry”  (lexical · source: Port News)" in human
    assert "1 entry" in human and "0 entries" in human

    feed = run(runner, "alerts", "feed", ferry["id"], *where)
    assert feed.exit_code == 0 and entries(feed.output) == ["A new Caspian ferry"]

    assert run(runner, "alerts", "remove", ferry["id"], *where).output == (
        f"Removed alert {ferry['id']}.\n"
    )
    assert [a["q"] for a in json.loads(run(runner, "alerts", "list", "--json", *where).output)[
        "alerts"
    ]] == ["rain"]  # fmt: skip
    for command in ("remove", "feed"):
        status, output = fail(runner, "alerts", command, ferry["id"], *where)
        assert (status, output) == (1, f"error: no alert with id {ferry['id']!r}\n")


def test_alerts_refuse_bad_input_in_one_line(fake_index: Path) -> None:
    runner = CliRunner()
    where = ("--index-dir", str(fake_index))
    status, output = fail(runner, "alerts", "add", "rain", "--date-from", "2024-13", *where)
    assert status == 1 and output.startswith("error: ") and output.count("\n") == 1
    status, output = fail(runner, "alerts", "add", "rain", "--mode", "fuzzy", *where)
    assert status == 2 and "fuzzy" in output
    status, output = fail(runner, "alerts", "list", "--key", "k", *where)
    assert status == 2 and "--key goes with --url" in output
    status, output = fail(runner, "alerts", "list", "--url", "ftp://x")
    assert status == 2 and "http://" in output


@pytest.mark.e2e
def test_alerts_on_a_server(fake_index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With --url the same commands ask the server (the key from --key or the environment)."""
    runner = CliRunner()
    with running_server(fake_index, fake=True, env={"POLICY_SEARCH_API_KEY": KEY}) as server:
        remote = ("--url", server.url, "--key", KEY)
        created = json.loads(run(runner, "alerts", "add", "rain", "--json", *remote).output)
        assert created["feed"] == f"{server.url}/alerts/{created['id']}/feed"
        monkeypatch.setenv("POLICY_SEARCH_API_KEY", KEY)
        listed = run(runner, "alerts", "list", "--url", server.url).output
        assert f"{created['id']}  “rain”  (hybrid)" in listed
        assert entries(run(runner, "alerts", "feed", created["id"], *remote).output) == []
        run(runner, "alerts", "remove", created["id"], *remote)
        status, output = fail(runner, "alerts", "remove", created["id"], *remote)
        assert (status, output) == (1, f"error: no alert with id {created['id']!r} (HTTP 404)\n")
        status, output = fail(runner, "alerts", "list", "--url", server.url, "--key", "wrong")
        assert (status, output) == (1, "error: the API key is wrong (HTTP 403)\n")
