"""The web page in real headless Chromium (Playwright, sync API) against the real app.

The app runs on the fake embedder (plumbing, not relevance). Screenshots of the main states are
saved to var/screenshots/ for a human to look at.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from harness.server import ROOT, running_server
from policy_search.index.article import Article
from policy_search.index.build import build_index
from tests.conftest import ARTICLES
from tests.fakes import FakeEmbedder

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = ROOT / "var" / "screenshots"

XSS = '<script>window.__xss=1</script> <img src=x onerror="window.__xss=1">'
PIPELINE_ID = "reports/pipeline-2024"
PIPELINE_PARTS = 8


def _pipeline_paragraph(i: int) -> str:
    return (
        f"Pipeline report part {i}. The gas pipeline crosses the sea and the pipeline operators "
        "met regulators to discuss tariffs, capacity, maintenance schedules, storage, compressors "
        "and the long term contracts that keep the pipeline running through winter months."
    )


EXTRA = [
    Article(
        id=PIPELINE_ID,
        title="Pipeline politics",
        text="\n\n".join(_pipeline_paragraph(i) for i in range(PIPELINE_PARTS)),
        source="Energy Desk",
        author="B. Analyst",
        date="2024-02-10",
        url="https://example.org/pipeline",
    ),
    Article(
        id="xss",
        title=f"Caspian notes {XSS}",
        text=f"Caspian shipping: {XSS}",
        source="Example Wire",
        url="javascript:window.__xss=1",
    ),
    Article(
        id="emoji",
        title="Quota notes 🌍",
        text="🌍🚢 Shipping notes: 🌾 grain quotas rose in 2023.",
        source="Other Source",
    ),
    *[
        Article(
            id=f"bulletin-{i}",
            title=f"Bulletin number {i}",
            text=f"Bulletin {i} on grain tariffs. "
            + ("Reference: https://example.org/" + "very-long-path-segment-" * 6 if i == 0 else ""),
            source="Bulletin Service",
            date=f"{2010 + i}",
        )
        for i in range(11)
    ],
]


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    index_dir = tmp_path_factory.mktemp("web") / "index"
    build_index([*ARTICLES, *EXTRA], index_dir, FakeEmbedder())
    with running_server(index_dir, fake=True) as server:
        yield server.url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser`")
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, base_url: str) -> Iterator[object]:
    context = browser.new_context(base_url=base_url, viewport={"width": 1000, "height": 760})
    page = context.new_page()
    page.set_default_timeout(5000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def search(page, query: str) -> None:
    page.locator("#q").fill(query)
    page.locator("#q").press("Enter")


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def hit_titles(page) -> list[str]:
    return page.locator(".hit h3").all_inner_texts()


# ---- tests --------------------------------------------------------------------------------


def test_empty_page_hints_and_is_labelled(page) -> None:
    page.goto("/")
    expect(page.locator("#hint")).to_be_visible()
    expect(page.locator("#corpus-info")).to_contain_text("17 articles from 4 sources")
    shot(page, "empty")
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select')]
              .filter((e) => e.labels.length === 0).map((e) => e.id || e.name)"""
    )
    assert unlabelled == []
    # `/` outside an input focuses the search box; the focus outline is visible.
    page.locator("body").press("/")
    expect(page.locator("#q")).to_be_focused()
    assert page.locator("#q").input_value() == ""  # the slash was not typed
    page.keyboard.press("Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert page.evaluate("document.activeElement.textContent") == "Search"
    assert outline != "none"


def test_typing_shows_grouped_results_with_highlights(page) -> None:
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "/search?" in r.url else None)
    page.goto("/")
    page.locator("#q").press_sequentially("Middle Corridor", delay=25)
    expect(page.locator("#status")).to_have_text("Results 1–1 of 1 for “Middle Corridor”.")
    assert len(requests) <= 2, requests  # debounced, not one request per key
    assert query_of(requests[-1])["group"] == ["true"]
    hit = page.locator(".hit").first
    title = hit.locator("h3 a")
    expect(title).to_have_text("Trade routes across the Caspian")
    assert title.get_attribute("href") == "https://example.org/corridor"
    expect(hit.locator(".meta")).to_have_text("Example Wire · A. Writer · 2024-05-01")
    marks = [m.lower() for m in hit.locator(".passage mark").all_inner_texts()]
    assert marks == ["middle", "corridor"]
    assert query_of(page.url)["q"] == ["Middle Corridor"]
    shot(page, "results")

    search(page, "zebra unicorn")
    expect(page.locator("#empty")).to_contain_text("No articles match “zebra unicorn”.")
    expect(page.locator(".hit")).to_have_count(0)
    shot(page, "no-results")


def test_highlights_count_characters_not_utf16_units(page) -> None:
    page.goto("/?q=quotas")
    expect(page.locator(".hit h3")).to_have_text(["Quota notes 🌍"])
    assert page.locator(".hit .passage mark").all_inner_texts() == ["quotas"]


def test_more_passages_expand(page) -> None:
    page.goto("/?q=pipeline")
    expect(page.locator(".hit")).to_have_count(1)  # eight passages, one article
    button = page.get_by_role("button", name=f"Show {PIPELINE_PARTS - 1} more passages")
    expect(button).to_have_attribute("aria-expanded", "false")
    button.click()
    more = page.locator(".more li")
    expect(more).to_have_count(PIPELINE_PARTS - 1)
    texts = more.locator(".passage").all_inner_texts()
    first = page.locator(".hit > .passage").inner_text()
    assert first not in texts and len(set(texts)) == PIPELINE_PARTS - 1
    assert all(m.lower() == "pipeline" for m in more.locator("mark").all_inner_texts())
    shot(page, "more-passages")
    hide = page.get_by_role("button", name=f"Hide {PIPELINE_PARTS - 1} more passages")
    expect(hide).to_have_attribute("aria-expanded", "true")
    hide.click()
    expect(page.locator(".more")).to_be_hidden()


def test_source_and_date_filters_narrow_results(page) -> None:
    page.goto("/")
    expect(page.locator("#source")).to_contain_text("Energy Desk (1)")  # from /stats
    options = page.locator("#source option").all_inner_texts()
    assert options[0] == "All sources" and "Energy Desk (1)" in options
    search(page, "Azerbaijan")
    expect(page.locator(".hit")).to_have_count(2)
    page.locator("#source").select_option("Other Source")
    expect(page.locator(".hit")).to_have_count(1)
    assert hit_titles(page) == ["Abraham Accords"]
    assert query_of(page.url)["source"] == ["Other Source"]

    page.locator("#source").select_option("")
    expect(page.locator(".hit")).to_have_count(2)
    page.locator("#date_from").fill("2025")
    page.locator("#date_from").press("Enter")
    expect(page.locator(".hit")).to_have_count(1)
    assert hit_titles(page) == ["Abraham Accords"]
    assert query_of(page.url)["date_from"] == ["2025"]


def test_url_round_trips_and_history_restores(page) -> None:
    page.goto("/?q=Azerbaijan&source=Other+Source&mode=lexical")
    expect(page.locator(".hit")).to_have_count(1)
    assert hit_titles(page) == ["Abraham Accords"]
    assert page.locator("#q").input_value() == "Azerbaijan"
    assert page.locator("#source").input_value() == "Other Source"
    assert page.locator('input[name="mode"][value="lexical"]').is_checked()

    page.locator("#source").select_option("")
    expect(page.locator(".hit")).to_have_count(2)
    search(page, "bulletin")
    expect(page.locator("#status")).to_have_text("Results 1–10 of 11 for “bulletin”.")
    page.get_by_role("button", name="Next →").click()
    expect(page.locator("#status")).to_have_text("Results 11–11 of 11 for “bulletin”.")
    assert query_of(page.url)["page"] == ["2"]

    page.go_back()
    expect(page.locator("#status")).to_have_text("Results 1–10 of 11 for “bulletin”.")
    page.go_back()
    expect(page.locator("#status")).to_have_text("Results 1–2 of 2 for “Azerbaijan”.")
    assert page.locator("#source").input_value() == ""
    page.go_back()
    expect(page.locator("#status")).to_have_text("Results 1–1 of 1 for “Azerbaijan”.")
    assert hit_titles(page) == ["Abraham Accords"]
    assert page.locator("#q").input_value() == "Azerbaijan"
    assert page.locator("#source").input_value() == "Other Source"
    page.go_forward()
    page.go_forward()
    expect(page.locator("#status")).to_have_text("Results 1–10 of 11 for “bulletin”.")
    assert page.locator("#q").input_value() == "bulletin"


def test_article_data_is_only_ever_text(page) -> None:
    page.goto("/?q=Caspian")
    hit = page.locator(".hit", has_text="Caspian notes")
    expect(hit).to_have_count(1)
    expect(hit.locator("h3")).to_have_text(f"Caspian notes {XSS}")
    expect(hit.locator(".passage")).to_contain_text(XSS)
    # its javascript: url is not used as a link
    assert not hit.locator("h3 a").get_attribute("href").startswith("javascript")

    hit.get_by_role("link", name="Read in context").click()
    expect(page.locator("#article-title")).to_have_text(f"Caspian notes {XSS}")
    expect(page.locator("#article-text")).to_contain_text(XSS)
    assert page.evaluate("typeof window.__xss") == "undefined"
    shot(page, "xss-article")
    scripts = page.evaluate("[...document.scripts].map((s) => s.getAttribute('src'))")
    assert scripts == ["/static/app.js"]
    assert page.locator("img").count() == 0
    assert page.get_by_role("link", name="Original article").count() == 0


def test_api_error_message_is_shown(page) -> None:
    message = "no index is loaded: run `policy-search index` first"
    page.route(
        lambda url: "/search?" in url,
        lambda route: route.fulfill(
            status=503,
            content_type="application/json",
            body=f'{{"ok": false, "error": "{message}", "status": 503}}',
        ),
    )
    page.goto("/?q=Middle+Corridor")
    expect(page.locator("#error")).to_be_visible()
    expect(page.locator("#error")).to_contain_text(message)
    expect(page.locator(".hit")).to_have_count(0)
    shot(page, "error")


def test_unreachable_service_is_said_plainly(page) -> None:
    page.goto("/")
    page.route(lambda url: "/search?" in url, lambda route: route.abort("connectionrefused"))
    search(page, "Middle Corridor")
    expect(page.locator("#error")).to_contain_text("The search service is not reachable")
    expect(page.locator("#error")).to_be_visible()


def test_spinner_only_for_slow_requests(page) -> None:
    page.add_init_script(
        """addEventListener('DOMContentLoaded', () => {
             window.__spinnerShown = false;
             const s = document.getElementById('spinner');
             new MutationObserver(() => { if (!s.hidden) window.__spinnerShown = true; })
               .observe(s, {attributes: true});
           });"""
    )
    page.goto("/?q=Middle+Corridor")
    expect(page.locator(".hit")).to_have_count(1)
    assert page.evaluate("window.__spinnerShown") is False  # a fast answer: no spinner

    held = []
    page.route(lambda url: "/search?" in url, lambda route: held.append(route))
    search(page, "pipeline")
    page.wait_for_timeout(100)
    assert held and page.locator("#spinner").is_hidden()  # not before 300 ms
    expect(page.locator("#spinner")).to_be_visible(timeout=2000)
    expect(page.locator("#status")).to_have_text("Searching…")
    page.wait_for_timeout(700)  # about a second in all
    shot(page, "slow-spinner")
    for route in held:
        route.continue_()
    expect(page.locator(".hit h3")).to_have_text(["Pipeline politics"])
    expect(page.locator("#spinner")).to_be_hidden()


def test_stale_answers_are_ignored(page) -> None:
    page.goto("/")
    held = []
    page.route(lambda url: "/search?" in url and "Middle" in url, lambda route: held.append(route))
    search(page, "Middle Corridor")
    page.wait_for_timeout(100)
    assert held
    search(page, "Abraham")
    expect(page.locator(".hit h3")).to_have_text(["Abraham Accords"])
    for route in held:  # the older request: aborted by the page, or its answer ignored
        with contextlib.suppress(playwright_api.Error):
            route.continue_()
    page.wait_for_timeout(300)
    expect(page.locator(".hit h3")).to_have_text(["Abraham Accords"])


def test_article_view_highlights_the_passage(page) -> None:
    paths: list[str] = []
    page.on("request", lambda r: paths.append(urlsplit(r.url).path))
    page.set_viewport_size({"width": 1000, "height": 500})
    page.goto("/?q=pipeline")
    page.get_by_role("button", name=re.compile("more passages")).click()
    last = page.locator(".more li").last
    expect(last).to_contain_text(f"Pipeline report part {PIPELINE_PARTS - 1}.")
    passage = last.locator(".passage").inner_text()
    last.get_by_role("link", name="Read in context").click()

    expect(page.locator("#article-title")).to_have_text("Pipeline politics")
    state = query_of(page.url)
    assert state["article"] == [PIPELINE_ID] and state["q"] == ["pipeline"]
    assert "/articles/reports/pipeline-2024" in paths
    expect(page.locator("#article-meta")).to_contain_text("Energy Desk · B. Analyst · 2024-02-10")
    expect(page.locator("#article-meta a")).to_have_attribute(
        "href", "https://example.org/pipeline"
    )
    expect(page.locator("#article-text p")).to_have_count(PIPELINE_PARTS)
    mark = page.locator("#article-text mark")
    expect(mark).to_have_count(1)
    assert mark.inner_text() == passage
    expect(mark).to_be_in_viewport()
    shot(page, "article")

    page.get_by_role("link", name="← Back to results").click()
    expect(page.locator(".hit h3")).to_have_text(["Pipeline politics"])
    assert "article" not in query_of(page.url)

    page.goto("/?article=no-such-article")
    expect(page.locator("#error")).to_contain_text("no-such-article")


def test_phone_width_has_no_horizontal_scroll(page) -> None:
    page.set_viewport_size({"width": 375, "height": 740})

    def fits() -> bool:
        return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    page.goto("/")
    expect(page.locator("#hint")).to_be_visible()
    assert fits()
    page.goto("/?q=bulletin")
    expect(page.locator(".hit")).to_have_count(10)
    assert fits()
    shot(page, "phone-results")
    page.goto(f"/?q=pipeline&article={PIPELINE_ID}&start=0&end=40")
    expect(page.locator("#article-text mark")).to_have_count(1)
    assert fits()
    shot(page, "phone-article")
