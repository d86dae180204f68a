"""The policy-search CLI: human and JSON output, one-line errors, exit statuses (fake embedder)."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path
from typing import Literal

import click
import pytest
from click.testing import CliRunner

import policy_search.index.analysis.embed
import policy_search.index.analysis.onnx
from policy_search.api.cli import cli
from policy_search.api.cli_common import record_options
from policy_search.index.readers.article import Article
from policy_search.index.storage.segment import ARTICLES
from policy_search.index.storage.store import exists, open_catalog, read_manifest, segments_dir
from policy_search.records import SearchRequest, SearchResult
from tests.conftest import CORPUS
from tests.fakes import FakeEmbedder
from tests.index.storage.test_store import generation

SEED = CORPUS / "azerbaijan-israel-us-partnership.md"


def _real_model(*args: object, **kwargs: object) -> None:
    raise AssertionError("the real model loaded: the CLI missed the fake embedder")


@pytest.fixture(autouse=True)
def fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every command embeds with the fake (Settings.embedder looks the loader up on its module);
    whatever reached the real model's loaders would fail."""
    monkeypatch.setattr(
        policy_search.index.analysis.embed, "load_embedder", lambda *a, **k: FakeEmbedder()
    )
    monkeypatch.setattr(policy_search.index.analysis.embed, "_load_torch", _real_model)
    monkeypatch.setattr(policy_search.index.analysis.onnx, "load_onnx_embedder", _real_model)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A corpus folder of one article, the seed article of corpus/."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    shutil.copy(SEED, folder)
    return folder


def run(runner: CliRunner, *args: str):
    return runner.invoke(cli, list(args), catch_exceptions=False)


def test_help_lists_commands(runner: CliRunner) -> None:
    result = run(runner, "--help")
    assert result.exit_code == 0
    assert all(name in result.output for name in ("index", "search", "serve", "eval"))


def test_index_then_search(runner: CliRunner, corpus: Path, tmp_path: Path) -> None:
    index_dir = str(tmp_path / "index")
    result = run(runner, "index", str(corpus), "--index-dir", index_dir)
    assert result.exit_code == 0, result.output
    assert re.search(r"Index holds 1 article as \d+ passages \(1 added", result.output)
    result = run(runner, "search", "Middle Corridor", "-k", "1", "--index-dir", index_dir)
    assert result.exit_code == 0
    assert "World Israel News · Vered Weiss" in result.output
    as_json = json.loads(
        run(runner, "search", "Middle Corridor", "--json", "--index-dir", index_dir).output
    )
    assert set(as_json) == {f.name for f in dataclasses.fields(SearchResult)}  # as the API
    assert as_json["results"][0]["article"]["author"] == "Vered Weiss"
    faceted = run(runner, "search", "Middle Corridor", "--json", "--facets", "year,country",
                  "--index-dir", index_dir)  # fmt: skip
    assert faceted.exit_code == 0, faceted.output  # a FacetCount failed to serialise
    facets = json.loads(faceted.output)["facets"]
    assert set(facets) == {"year", "country"} and facets["country"][0]["count"] == 1
    syntax = run(runner, "search", '"Middle Corridor" -Narnia', "--index-dir", index_dir)
    assert 'Read as the phrase "Middle Corridor"; without Narnia.' in syntax.output
    assert re.search(r"Showing 1–\d+ of \d+ passages", syntax.output)
    assert re.search(r"\[confidence [01]\.\d\d · score", syntax.output)
    bad = runner.invoke(cli, ["search", "corridor year:20x4", "--index-dir", index_dir])
    assert bad.exit_code == 1 and "at character 9" in bad.output


def test_the_commands_embed_with_the_fake(runner: CliRunner, corpus: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    assert run(runner, "index", str(corpus), "--index-dir", str(index_dir)).exit_code == 0
    catalog = open_catalog(index_dir, readonly=True)
    try:
        assert read_manifest(catalog).model_id == FakeEmbedder().model_id  # not the int8 model
    finally:
        catalog.close()
    assert run(runner, "search", "Baku", "--index-dir", str(index_dir)).exit_code == 0


def test_index_defaults_to_corpus_folder(
    runner: CliRunner, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(corpus.parent)
    monkeypatch.delenv("POLICY_SEARCH_INDEX_DIR", raising=False)
    result = run(runner, "index", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["articles"] == 1 and report["index_dir"] == "var/index"
    assert exists(corpus.parent / "var/index")


BAD_FILES = {
    "broken-yaml.md": (b"---\ntitle: ok\nid: [unclosed\n---\nBody.\n", "broken-yaml.md:"),
    "no-title.md": (b"---\nsource: X\n---\nBody text.\n", "missing 'title'"),
    "bad-utf8.md": (b"---\ntitle: T\n---\nline one\nbad \xff byte\n", "bad-utf8.md:5"),
    "empty.md": (b"---\ntitle: Empty\n---\n\n", "empty body"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_corpus_file_fails_and_keeps_previous_index(
    runner: CliRunner, corpus: Path, tmp_path: Path, name: str
) -> None:
    index_dir = tmp_path / "index"
    assert run(runner, "index", str(corpus), "--index-dir", str(index_dir)).exit_code == 0
    before = generation(index_dir)
    content, expected = BAD_FILES[name]
    (corpus / name).write_bytes(content)
    result = runner.invoke(cli, ["index", str(corpus), "--index-dir", str(index_dir)])
    assert result.exit_code == 1
    assert result.output.startswith("error: ") and name in result.output
    assert expected in result.output
    assert generation(index_dir) == before
    assert run(runner, "search", "Hajiyev", "--index-dir", str(index_dir)).exit_code == 0


def test_missing_index_is_one_line_and_exit_1(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["search", "anything", "--index-dir", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "policy-search index" in result.output


def test_corrupt_index_is_one_line_and_exit_1(
    runner: CliRunner, fake_index: Path, tmp_path: Path
) -> None:
    for segment in segments_dir(fake_index).iterdir():
        (segment / ARTICLES).write_bytes(b"damaged")
    result = runner.invoke(cli, ["search", "anything", "--index-dir", str(fake_index)])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and ARTICLES in result.output


def test_bad_query_is_exit_1(runner: CliRunner, fake_index: Path) -> None:
    result = runner.invoke(cli, ["search", "  ", "--index-dir", str(fake_index)])
    assert result.exit_code == 1 and "empty" in result.output


def test_usage_error_is_exit_2(runner: CliRunner) -> None:
    assert runner.invoke(cli, ["search"]).exit_code == 2
    assert runner.invoke(cli, ["index", "--batch-size", "0"]).exit_code == 2


def test_bad_setting_is_a_usage_error(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLICY_SEARCH_BATCH_SIZE", "lots")
    result = runner.invoke(cli, ["index"])
    assert result.exit_code == 2 and "POLICY_SEARCH_BATCH_SIZE" in result.output


def test_add_remove_similar_stats(runner: CliRunner, corpus: Path, tmp_path: Path) -> None:
    index_dir = str(tmp_path / "index")
    assert run(runner, "index", str(corpus), "--index-dir", index_dir).exit_code == 0
    extra = tmp_path / "extra.md"
    extra.write_text(
        "---\nid: extra\ntitle: Caspian ports\nsource: Port News\n---\nBaku port grew.\n"
    )
    added = json.loads(run(runner, "add", str(extra), "--index-dir", index_dir, "--json").output)
    assert added["added"] == 1 and added["articles"] == 2 and added["generation"] == 2
    again = json.loads(run(runner, "add", str(extra), "--index-dir", index_dir, "--json").output)
    assert again["unchanged"] == 1 and again["embedded"] == 0
    similar = run(runner, "similar", "extra", "--index-dir", index_dir)
    assert similar.exit_code == 0 and "azerbaijan-israel-us-partnership" in similar.output
    stats = json.loads(run(runner, "stats", "--index-dir", index_dir, "--json").output)
    assert (
        stats["articles"] == 2
        and {"source": "Port News", "articles": 1, "source_name": "Port News"} in stats["sources"]
    )
    found = run(runner, "search", "Baku", "--source", "Port News", "--index-dir", index_dir)
    assert "Caspian ports" in found.output and "World Israel News" not in found.output
    grouped = run(runner, "search", "Baku", "--group", "--json", "--index-dir", index_dir).output
    assert len({r["article"]["id"] for r in json.loads(grouped)["results"]}) == 2
    removed = runner.invoke(cli, ["remove", "extra", "nope", "--index-dir", index_dir])
    assert removed.exit_code == 1 and "nope" in removed.output
    removed = run(runner, "remove", "extra", "--index-dir", index_dir)
    assert removed.exit_code == 0 and "1 removed" in removed.output


def test_add_a_bad_file_or_url_fails_cleanly(
    runner: CliRunner, fake_index: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.md"
    bad.write_text("no front matter")
    for target in (str(bad), "http://127.0.0.1:9/unreachable", str(tmp_path / "missing.md")):
        result = runner.invoke(cli, ["add", target, "--index-dir", str(fake_index)])
        assert result.exit_code == 1 and result.output.startswith("error: "), result.output


def test_upgrade_says_when_there_is_nothing_to_do(
    runner: CliRunner, corpus: Path, tmp_path
) -> None:
    index_dir = str(tmp_path / "index")
    result = run(runner, "upgrade", "--index-dir", index_dir)
    assert result.exit_code == 1 and "no index at" in result.output
    run(runner, "index", str(corpus), "--index-dir", index_dir)
    result = run(runner, "upgrade", "--index-dir", index_dir)
    assert result.exit_code == 0 and "already in the current format" in result.output


def test_eval_reports_every_mode_and_the_plain_fusion(runner: CliRunner, tmp_path: Path) -> None:
    """Plumbing only (the fake embedder): a tiny BEIR folder scored by `eval --mode all`."""
    import json

    beir = tmp_path / "tiny"
    (beir / "qrels").mkdir(parents=True)
    docs = [
        ("d1", "Caspian pipelines", "Gas crosses the Caspian Sea by pipeline to Europe."),
        ("d2", "Rain", "Spring rain fell on the valley for three days."),
        ("d3", "Ports", "The port of Baku ships oil across the Caspian."),
    ]
    (beir / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": i, "title": t, "text": x}) + "\n" for i, t, x in docs)
    )
    (beir / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "Caspian pipeline"}))
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\td3\t1\n")
    result = run(runner, "eval", str(beir), "--mode", "all", "--cache", str(tmp_path / "cache"))
    assert result.exit_code == 0, result.output
    header = next(line for line in result.output.splitlines() if line.startswith("mode"))
    assert header.split()[:5] == ["mode", "nDCG@10", "P@5", "R@100", "MRR@10"]
    rows = {line[:20].strip(): line[20:].split() for line in result.output.splitlines()[-5:]}
    assert set(rows) == {"dense", "lexical", "hybrid (rrf, plain)", "hybrid (score)",
                         "hybrid + ranker"}  # fmt: skip
    # Two of the three documents are relevant: P@5 is 2/5 for any ranking that finds both.
    assert rows["lexical"][1] == "40.0"
    # A cached index analysed otherwise (here: re-analysed by Snowball, then made format 7) is
    # re-analysed before it is measured, never measured as it is; its vectors are kept.
    from policy_search.index.storage.lexical import LexicalSettings
    from policy_search.index.storage.reanalyze import reanalyze
    from policy_search.index.storage.store import manifest_of
    from tests.index.storage.test_reanalyze import SNOWBALL, as_format_7

    cache = tmp_path / "cache"
    vectors = sorted(p.read_bytes() for p in segments_dir(cache).rglob("vectors.faiss"))
    for make_stale in (lambda: reanalyze(cache, SNOWBALL), lambda: as_format_7(cache)):
        make_stale()
        result = run(runner, "eval", str(beir), "--mode", "lexical", "--cache", str(cache))
        assert result.exit_code == 0 and "by an earlier run" in result.output, result.output
        assert manifest_of(cache).lexical == LexicalSettings()
    assert sorted(p.read_bytes() for p in segments_dir(cache).rglob("vectors.faiss")) == vectors


def test_search_options_are_the_query_records_fields(
    runner: CliRunner, fake_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each flag sets the SearchRequest field of its name; one left out is the field's default."""
    from policy_search.search.errors import QueryError
    from policy_search.search.searcher import Searcher

    asked: list[SearchRequest] = []

    def search(self: Searcher, request: SearchRequest, options: dict) -> None:
        asked.append(request)
        raise QueryError("seen")

    monkeypatch.setattr(Searcher, "_search", search)  # under search and answer (a cursor's)
    flags = ["-k", "3", "--offset", "2", "--mode", "lexical", "--explain", "--min-score", "0.5",
             "--source", "Wire", "--author", "A. Writer", "--tag", "energy", "--date-from",
             "2023", "--date-to", "2024-06", "--group"]  # fmt: skip
    for given in ([], flags):
        result = runner.invoke(cli, ["search", "Baku", *given, "--index-dir", str(fake_index)])
        assert result.exit_code == 1 and "seen" in result.output, result.output
    assert asked == [
        SearchRequest(q="Baku"),
        SearchRequest(q="Baku", k=3, offset=2, mode="lexical", explain=True, min_score=0.5,
                      source="Wire", author="A. Writer", tag="energy", date_from="2023",
                      date_to="2024-06", group=True),
    ]  # fmt: skip
    fields = {f.name for f in dataclasses.fields(SearchRequest)} - {"q"}
    search_options = {p.name for p in cli.commands["search"].params}
    assert fields <= search_options


def test_search_options_keep_the_records_rules(runner: CliRunner, fake_index: Path) -> None:
    for flags in (["-k", "0"], ["--offset", "-1"], ["--mode", "fuzzy"], ["--min-score", "2e3"]):
        result = runner.invoke(cli, ["search", "Baku", *flags, "--index-dir", str(fake_index)])
        assert result.exit_code == 2, (flags, result.output)


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Query:
    """A record as SearchRequest may grow: each kind of field the options are derived from."""

    q: str
    depth: int = dataclasses.field(default=5, metadata={"description": "How deep.", "ge": 1})
    side: Literal["left", "right"] = dataclasses.field(default="left")
    near_country: str | None = dataclasses.field(
        default=None, metadata={"description": "Only articles about this country."}
    )
    boost: float | None = None
    strict: bool = dataclasses.field(default=False, metadata={"description": "Be strict."})


def test_a_new_record_field_is_a_new_flag_with_no_cli_edit() -> None:
    @click.command()
    @click.argument("query")
    @record_options(_Query, skip=("q",), flags={"depth": "-d"})
    def command(query: str, **options: object) -> None:
        click.echo(repr(_Query(q=query, **options)))  # type: ignore[arg-type]

    runner = CliRunner()
    default = runner.invoke(command, ["x"], catch_exceptions=False)
    assert default.output.strip() == repr(_Query(q="x"))
    given = ["x", "-d", "7", "--side", "right", "--near-country", "AZ", "--boost", "1.5",
             "--strict"]  # fmt: skip
    expected = _Query(q="x", depth=7, side="right", near_country="AZ", boost=1.5, strict=True)
    assert runner.invoke(command, given).output.strip() == repr(expected)
    help_text = runner.invoke(command, ["--help"]).output
    assert "Only articles about this country." in help_text and "[default: 5" in help_text
    assert runner.invoke(command, ["x", "-d", "0"]).exit_code == 2  # ge=1
    assert runner.invoke(command, ["x", "--side", "up"]).exit_code == 2


def test_upgrade_re_analyses_a_format_7_index(runner: CliRunner, tmp_path: Path) -> None:
    """`make serve`'s first step on an index of format 7 with a title longer than the model's
    title budget in characters: the CLI hands the upgrade its model's tokenizer."""
    from policy_search.index.build import build_index
    from policy_search.index.storage.lexical import LexicalSettings
    from policy_search.index.storage.store import manifest_of
    from tests.index.storage.test_reanalyze import FORMAT_7, as_format_7

    index_dir = tmp_path / "index"
    long_title = "A title much longer than forty-eight characters, about the Abraham Accords"
    articles = [Article(id="a", title=long_title, text="Nations signed the accords.")]
    build_index(articles, index_dir, FakeEmbedder(), lexical=FORMAT_7)
    as_format_7(index_dir)
    result = run(runner, "upgrade", "--index-dir", str(index_dir))
    assert result.exit_code == 0 and "Upgraded" in result.output, result.output
    assert manifest_of(index_dir).lexical == LexicalSettings()
    result = run(runner, "search", "accord", "--index-dir", str(index_dir), "--mode", "lexical",
                 "--min-confidence", "0")  # a one-passage corpus: every BM25 is low  # fmt: skip
    assert result.exit_code == 0 and "Nations signed" in result.output, result.output
