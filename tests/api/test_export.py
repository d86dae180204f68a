"""Exports: `format=csv|jsonl|bibtex|ris` on /search, streamed from one searcher (fake embedder)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import bibtexparser
import pytest
import rispy
from bibtexparser import middlewares
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from pylatexenc.latex2text import LatexNodes2Text, MacroTextSpec, get_default_latex_context_db

from policy_search.api.app import create_app
from policy_search.api.render import RENDERERS
from policy_search.api.render.entries import bibtex_entry, bibtex_url, clean, ris_entry
from policy_search.api.render.export import export_chunks
from policy_search.api.render.rows import COLUMNS, neutralise
from policy_search.api.settings import Settings
from policy_search.index.build import add_articles, build_index
from policy_search.index.readers.article import Article
from policy_search.records import EXPORT_FORMATS, ArticleMeta, SearchRequest
from policy_search.search.searcher import Searcher
from tests.api.test_api import assert_error
from tests.fakes import FakeEmbedder

N_ARTICLES = 130  # more than one page of 100


def _articles(n: int) -> list[Article]:
    return [
        Article(
            id=f"memo-{i:03d}",
            title=f'=HYPERLINK("http://evil") memo {i}' if i == 7 else f"Memo {i}",
            text=f"The pipeline memo number {i} discusses gas pipeline routes and tariffs.",
            source="-Ministry" if i == 7 else "Ministry",
            author="@someone" if i == 7 else None,
            date=f"{2000 + i % 20}-0{1 + i % 9}-1{i % 9}",
            url=f"https://example.org/memo/{i}",
            tags=["energy"],
        )
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def memo_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    index_dir = tmp_path_factory.mktemp("memos") / "index"
    build_index(_articles(N_ARTICLES), index_dir, FakeEmbedder())
    return index_dir


def _client(index_dir: Path, **settings: object) -> TestClient:
    app = create_app(Settings(index_dir=index_dir, **settings), embedder=FakeEmbedder())
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture(scope="module")
def client(memo_index: Path) -> Iterator[TestClient]:
    with _client(memo_index, public_url="https://search.example.org/") as c:
        yield c


def _all_hits(client: TestClient, q: str) -> list[dict]:
    hits, offset = [], 0
    while True:
        page = client.get("/search", params={"q": q, "k": 100, "offset": offset}).json()
        hits += page["results"]
        offset += len(page["results"])
        if offset >= page["total"] or not page["results"]:
            return hits


def test_csv_is_every_hit_of_the_query_in_rank_order(client: TestClient) -> None:
    response = client.get("/search", params={"q": "pipeline memo", "format": "csv", "k": 3})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        'attachment; filename="policy-search-pipeline-memo.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(response.text)))
    expected = _all_hits(client, "pipeline memo")
    assert len(expected) > 100  # more than one page: the export pages, and k is not its size
    assert [r["rank"] for r in rows] == [str(h["rank"]) for h in expected]
    assert [r["article_id"] for r in rows] == [h["article"]["id"] for h in expected]
    first, hit = rows[0], expected[0]
    assert tuple(first) == COLUMNS
    assert first["passage_text"] == hit["passage"]["text"]
    assert (int(first["passage_start"]), int(first["passage_end"])) == (
        hit["passage"]["start"], hit["passage"]["end"],
    )  # fmt: skip
    assert float(first["score"]) == pytest.approx(hit["score"])
    assert first["permalink"] == (
        f"https://search.example.org/?article={hit['article']['id']}"
        f"&start={hit['passage']['start']}&end={hit['passage']['end']}"
    )


def test_csv_cells_cannot_be_formulas(client: TestClient) -> None:
    text = client.get("/search", params={"q": "memo 7", "format": "csv"}).text
    row = next(r for r in csv.DictReader(io.StringIO(text)) if r["article_id"] == "memo-007")
    assert row["title"] == '\'=HYPERLINK("http://evil") memo 7'
    assert row["source"] == "'-Ministry" and row["author"] == "'@someone"
    for cell in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert neutralise(cell) == "'" + cell
    assert neutralise("plain") == "plain" and neutralise(-0.5) == -0.5  # numbers stay numbers


def test_jsonl_has_the_csv_columns_typed(client: TestClient) -> None:
    response = client.post(
        "/search?format=jsonl", json={"q": "pipeline memo", "source": "Ministry"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert lines and all(tuple(line) == COLUMNS for line in lines)
    assert [line["rank"] for line in lines] == list(range(1, len(lines) + 1))
    assert isinstance(lines[0]["score"], float) and lines[0]["tags"] == ["energy"]
    assert all(line["source"] == "Ministry" for line in lines)  # the POST body's filter held


def test_bibtex_and_ris_have_one_entry_per_article_in_rank_order(client: TestClient) -> None:
    order = list(dict.fromkeys(h["article"]["id"] for h in _all_hits(client, "pipeline")))
    bib = client.get("/search", params={"q": "pipeline", "format": "bibtex"})
    assert bib.headers["content-disposition"].endswith('.bib"')
    library = bibtexparser.parse_string(bib.text)
    assert not library.failed_blocks
    assert [e.key for e in library.entries] == order
    ris = client.get("/search", params={"q": "pipeline", "format": "ris"})
    assert [e["id"] for e in rispy.loads(ris.text)] == order


def test_the_export_limit_caps_the_rows(memo_index: Path) -> None:
    with _client(memo_index, export_limit=42) as c:
        text = c.get("/search", params={"q": "pipeline memo", "format": "jsonl"}).text
        assert len(text.splitlines()) == 42
        assert c.get("/formats").json()["export_limit"] == 42


def test_unknown_format_lists_the_formats(client: TestClient) -> None:
    for response in (
        client.get("/search", params={"q": "pipeline", "format": "xml"}),
        client.post("/search?format=xml", json={"q": "pipeline"}),
    ):
        assert_error(response, 422, "format")
        for name in EXPORT_FORMATS:
            assert name in response.json()["error"]


def test_a_refused_query_is_an_error_not_a_broken_file(client: TestClient) -> None:
    response = client.get("/search", params={"q": "pipeline", "format": "csv", "country": "Narnia"})
    assert_error(response, 422, "Narnia")


def test_formats_come_from_the_registry(client: TestClient) -> None:
    body = client.get("/formats").json()
    assert [f["name"] for f in body["formats"]] == list(RENDERERS) == list(EXPORT_FORMATS)
    assert {f["extension"] for f in body["formats"]} == {"csv", "jsonl", "bib", "ris"}
    assert [s["name"] for s in body["styles"]] == ["apa", "chicago", "mla", "bibtex", "ris"]


def test_spec_lists_the_format_with_its_values(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for method in ("get", "post"):
        operation = spec["paths"]["/search"][method]
        (param,) = [p for p in operation["parameters"] if p["name"] == "format"]
        assert param["schema"]["anyOf"][0]["enum"] == list(EXPORT_FORMATS)
        assert "text/csv" in operation["responses"]["200"]["content"]


def test_an_export_reads_one_commit_while_writes_land(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    embedder = FakeEmbedder()
    build_index(_articles(N_ARTICLES), index_dir, embedder)
    searcher = Searcher.load(index_dir, embedder)
    request = SearchRequest(q="pipeline memo")
    before = b"".join(export_chunks(searcher, request, RENDERERS["jsonl"], limit=500, base_url=""))
    chunks = export_chunks(searcher, request, RENDERERS["jsonl"], limit=500, base_url="")
    head = next(chunks)  # the first page is read; now a write commits before the rest is read
    late = [
        Article(id=f"late-{i}", title="Pipeline memo", text="pipeline memo " * 5) for i in range(50)
    ]
    add_articles(late, index_dir, embedder)
    assert Searcher.load(index_dir, embedder).search(request).total > searcher.search(request).total
    assert head + b"".join(chunks) == before


# -- BibTeX and RIS read back, whatever an article holds ------------------------------------

_DB = get_default_latex_context_db()
# Standard LaTeX (textcomp) commands for the characters BibTeX cannot hold as they are, which
# pylatexenc's defaults lack.
_DB.add_context_category(
    "textcomp", prepend=True,
    macros=[
        MacroTextSpec("textbraceleft", "{"), MacroTextSpec("textbraceright", "}"),
        MacroTextSpec("textasciicircum", "^"), MacroTextSpec("textasciitilde", "~"),
        MacroTextSpec("textbackslash", "\\"),
    ],
)  # fmt: skip
_DECODE = middlewares.LatexDecodingMiddleware(
    decoder=LatexNodes2Text(latex_context=_DB, math_mode="verbatim", strict_latex_spaces=True)
)
HOSTILE = [
    'A {brace} and } "quotes" % & $ # _ ~ ^ \\ @misc{x, title = {y}}',
    "Line one\nline two\r\n\ttabbed  and\u2028separated",
    "'' `` -- --- ?` !` << >> ,, \\\\ \\textbf{x} {\\}",
    "Çelik, Ş.; 中间走廊 الممر الأوسط — Ὅμηρος",
    "ER  - TY  - JOUR",
    "x",
]
text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=60
)


def _article(title: str, author: str | None, source: str | None, tags: list[str]) -> ArticleMeta:
    return ArticleMeta(
        id="a@b/c:d", title=title, author=author, source=source, date="2024-05-01",
        url="https://example.org/a b?x={1}&y=%41", tags=tags,
    )  # fmt: skip


def _bib_fields(article: ArticleMeta) -> dict[str, str]:
    library = bibtexparser.parse_string(bibtex_entry(article), append_middleware=[_DECODE])
    assert not library.failed_blocks and len(library.entries) == 1
    (entry,) = library.entries
    assert entry.key == "a_b/c:d"
    return {f.key: f.value for f in entry.fields}


def _check_bibtex(article: ArticleMeta) -> None:
    fields = _bib_fields(article)
    assert fields.get("title", "") == clean(article.title)
    authors = [clean(a) for a in (article.author or "").split(";") if clean(a)]
    assert fields.get("author", "") == " and ".join(authors)
    assert fields.get("howpublished", "") == clean(article.source)
    assert fields.get("keywords", "") == ", ".join(clean(t) for t in article.tags)
    raw = bibtexparser.parse_string(bibtex_entry(article)).entries[0]  # the URL is verbatim
    assert raw.fields_dict["url"].value == bibtex_url(article.url or "")
    assert (fields["year"], fields["month"], fields["date"]) == ("2024", "5", "2024-05-01")


def _check_ris(article: ArticleMeta) -> None:
    (entry,) = rispy.loads(ris_entry(article))
    assert entry["id"] == article.id and entry["type_of_reference"] == "ELEC"
    assert entry.get("title", "") == clean(article.title)
    assert entry.get("authors", []) == [
        clean(a) for a in (article.author or "").split(";") if clean(a)
    ]
    assert entry.get("secondary_title", "") == clean(article.source)
    assert entry.get("keywords", []) == [clean(t) for t in article.tags if clean(t)]
    assert entry["urls"] == [article.url] and entry["date"] == "2024/05/01/"


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_articles_read_back(value: str) -> None:
    for article in (
        _article(value, value, value, [value, "plain"]),
        _article(value, None, None, []),
        _article(value, "", "", [""]),
    ):
        _check_bibtex(article)
        _check_ris(article)


@given(title=text.filter(lambda t: t.strip()), author=text, source=text, tag=text)
def test_any_article_reads_back(title: str, author: str, source: str, tag: str) -> None:
    article = _article(title, author, source, [tag])
    _check_bibtex(article)
    _check_ris(article)


def test_an_export_reads_pages_of_at_most_100_from_one_searcher(memo_index: Path) -> None:
    searcher = Searcher.load(memo_index, FakeEmbedder())
    asked: list[tuple[int, int]] = []
    search = searcher.search

    def spy(request: SearchRequest) -> object:
        asked.append((request.k, request.offset))
        return search(request)

    searcher.search = spy  # type: ignore[method-assign]
    request = SearchRequest(q="pipeline memo", k=7, offset=30)  # k and offset are not the export's
    total = search(request).total
    lines = b"".join(export_chunks(searcher, request, RENDERERS["jsonl"], limit=250, base_url=""))
    assert len(lines.splitlines()) == min(total, 250) > 100
    assert all(k <= 100 for k, _ in asked)  # one page in memory at a time
    assert [offset for _, offset in asked] == [0, 100, 200][: len(asked)]
    assert len(asked) == -(-min(total, 250) // 100)  # and no page more than the hits need
