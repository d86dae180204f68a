"""Cite, Link and Export on the web page, in real headless Chromium against the real app.

The server and the browser are tests/e2e/test_web.py's fixtures (its corpus: the small articles,
a pipeline report of 8 paragraphs, a UN statement); every test runs at desktop and phone widths.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.e2e.test_web import (  # noqa: F401  (fixtures: the server and the browser)
    DESKTOP,
    PHONE,
    PIPELINE_ID,
    base_url,
    browser,
    expect,
    search,
    shot,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(params=[DESKTOP, PHONE], ids=["desktop", "phone"])
def page(request: pytest.FixtureRequest, browser, base_url: str) -> Iterator[object]:  # noqa: F811
    context = browser.new_context(base_url=base_url, viewport=request.param, accept_downloads=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
    page = context.new_page()
    page.set_default_timeout(5000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.width = request.param["width"]  # type: ignore[attr-defined]
    yield page
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def clipboard(page) -> str:
    return page.evaluate("navigator.clipboard.readText()")


def api(base: str, path: str, **params: object) -> dict:
    return httpx.get(base + path, params=params, timeout=10).json()


def first_hit(page, query: str):
    search(page, query)
    hit = page.locator(".hit").first
    expect(hit).to_be_visible()
    return hit


def test_cite_a_hit_in_each_style_and_copy_it(page, base_url: str) -> None:  # noqa: F811
    page.goto("/")
    hit = first_hit(page, "pipeline tariffs")
    top = api(base_url, "/search", q="pipeline tariffs", group="true", k=1)["results"][0]
    assert hit.get_attribute("data-article") == top["article"]["id"] == PIPELINE_ID
    span = {"start": top["passage"]["start"], "end": top["passage"]["end"]}

    hit.locator(".cite-button").click()
    panel = hit.locator(".cite-panel")
    expect(panel).to_be_visible()
    styles = api(base_url, "/formats")["styles"]
    options = panel.locator("select.cite-style option")
    assert options.all_inner_texts() == [s["label"] for s in styles]  # learned from the API
    apa = api(base_url, f"/articles/{PIPELINE_ID}/cite", style="apa", **span)
    expect(panel.locator(".cite-text")).to_have_text(apa["text"])
    assert panel.locator(".cite-text i").all_inner_texts() == ["Pipeline politics"]
    expect(panel.locator(".cite-quote")).to_contain_text("Pipeline report part")

    panel.locator("select.cite-style").select_option("mla")
    mla = api(base_url, f"/articles/{PIPELINE_ID}/cite", style="mla", **span)
    expect(panel.locator(".cite-text")).to_have_text(mla["text"])
    assert mla["text"].startswith("Analyst, B. “Pipeline politics.” Energy Desk, 10 Feb. 2024")
    panel.locator(".cite-copy").click()
    expect(hit.locator(".copy-status")).to_have_text("Citation copied.")
    assert clipboard(page) == mla["text"]

    panel.locator("select.cite-style").select_option("bibtex")
    expect(panel.locator(".cite-text")).to_contain_text("@misc{reports/pipeline-2024,")
    shot(page, f"cite-hit-{page.width}")


def test_link_copies_the_permalink_that_opens_the_words(page, base_url: str) -> None:  # noqa: F811
    page.goto("/")
    hit = first_hit(page, "pipeline tariffs")
    hit.locator(".link-copy").click()
    expect(hit.locator(".copy-status")).to_have_text("Link copied.")
    link = clipboard(page)
    top = api(base_url, "/search", q="pipeline tariffs", group="true", k=1)["results"][0]
    cited = api(base_url, f"/articles/{PIPELINE_ID}/cite", start=top["passage"]["start"],
                end=top["passage"]["end"])  # fmt: skip
    assert link == cited["permalink"]  # the page's link is the API's

    page.goto(link)
    expect(page.locator("#article-view")).to_be_visible()
    mark = page.locator("mark.passage-mark")
    expect(mark.first).to_be_in_viewport()
    assert " ".join(mark.all_inner_texts()).split() == top["passage"]["text"].split()


def test_a_permalink_to_any_span_highlights_it_and_cites_it(page, base_url: str) -> None:  # noqa: F811
    text = api(base_url, f"/articles/{PIPELINE_ID}")["text"]
    start = text.index("Pipeline report part 6") + len("Pipeline report part 6. ")
    end = text.index("tariffs", start) + len("tariffs")
    page.goto(f"/?article={PIPELINE_ID.replace('/', '%2F')}&start={start}&end={end}")
    mark = page.locator("mark.passage-mark")
    expect(mark).to_have_text(text[start:end])
    expect(mark).to_be_in_viewport()  # scrolled to: part 6 is far down the article
    assert page.evaluate("window.scrollY") > 0

    box = page.locator("#article-cite")
    expect(box).to_contain_text("The highlighted passage")
    box.locator(".cite-button").click()
    expect(box.locator(".cite-quote")).to_have_text(f"“{text[start:end]}”")
    expect(box.locator(".cite-text")).to_contain_text("Analyst, B. (2024, February 10).")
    box.locator(".link-copy").click()
    assert parse_qs(urlsplit(clipboard(page)).query) == {
        "article": [PIPELINE_ID], "start": [str(start)], "end": [str(end)],
    }  # fmt: skip
    shot(page, f"cite-article-{page.width}")


def test_the_article_view_cites_the_whole_article_without_a_span(page, base_url: str) -> None:  # noqa: F811
    page.goto("/?article=corridor")
    box = page.locator("#article-cite")
    expect(box).to_contain_text("This article")
    box.locator(".cite-button").click()
    expect(box.locator(".cite-text")).to_contain_text("Writer, A. (2024, May 1).")
    expect(box.locator(".cite-quote")).to_be_hidden()


def test_export_downloads_the_search_in_each_format(page, base_url: str) -> None:  # noqa: F811
    page.goto("/")
    first_hit(page, "pipeline")
    links = page.locator("#export a")
    formats = api(base_url, "/formats")["formats"]
    expect(links).to_have_count(len(formats))
    assert links.all_inner_texts() == [f["label"] for f in formats]
    csv_link = page.locator('#export a[data-format="csv"]')
    query = parse_qs(urlsplit(csv_link.get_attribute("href")).query)
    assert query["q"] == ["pipeline"] and query["format"] == ["csv"]
    with page.expect_download() as info:
        csv_link.click()
    download = info.value
    assert download.suggested_filename == "policy-search-pipeline.csv"
    body = Path(download.path()).read_text(encoding="utf-8")
    assert body.startswith("rank,score,confidence,article_id,")
    assert PIPELINE_ID in body
