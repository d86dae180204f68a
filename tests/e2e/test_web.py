"""The web page in real headless Chromium (Playwright, sync API) against the real app.

The app runs on the fake embedder (plumbing, not relevance), over a small corpus plus a real 2024
UN statement from corpus/ (it carries Markdown). Screenshots of the main states, at desktop and
phone widths, are saved to var/screenshots/ for a human to look at.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from harness.server import ROOT, running_server
from policy_search.index.build import build_index
from policy_search.index.readers import read_file
from policy_search.index.readers.article import Article
from tests.conftest import ARTICLES, CORPUS
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
HOSTILE_SOURCE = f"Wire {XSS}"
HOSTILE_TAG = f"tag {XSS}"
PIPELINE_ID = "reports/pipeline-2024"
PIPELINE_PARTS = 8
NOTES_ID = "notes/sanctions"
NOTES = 40  # short sentences: many passages that overlap by a few sentences
UN_2024 = CORPUS / "un-general-debates" / "UNGDC-ITA-79-2024.md"  # **bold** and --- rules
UN_SOURCE_NAME = "United Nations General Debate Corpus"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


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
        source=HOSTILE_SOURCE,
        url="javascript:window.__xss=1",
        tags=[HOSTILE_TAG],
    ),
    Article(
        id=NOTES_ID,
        title="Sanctions notes",
        text=" ".join(f"Note {i}: the sanctions list grew again." for i in range(NOTES)),
        source="Notes Desk",
        date="2019-03-01",
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
    un = list(read_file(UN_2024, root=CORPUS))
    build_index([*ARTICLES, *EXTRA, *un], index_dir, FakeEmbedder())
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
    context = browser.new_context(base_url=base_url, viewport=DESKTOP)
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


def patch_search(page, change, *, article: bool = False) -> None:
    """Answer the page's /search requests with the real server's answer as `change(body)` edits
    it: for what the test corpus cannot show (a long tail of countries, a century of years) or
    fields the Python side is still filling in (confidence, reading, loose). `article`: only the
    requests for one article's passages, else only the others."""

    def handle(route) -> None:
        try:
            response = route.fetch()
            body = response.json()
            change(body)
            route.fulfill(response=response, json=body)
        except playwright_api.Error:
            pass  # the page dropped the request (a newer one replaced it): nothing to answer

    page.route(lambda url: "/search?" in url and ("article=" in url) == article, handle)


def fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


# ---- tests --------------------------------------------------------------------------------


def test_empty_page_hints_and_is_labelled(page) -> None:
    page.goto("/")
    expect(page.locator("#hint")).to_be_visible()
    expect(page.locator("#corpus-info")).to_contain_text("19 articles from 7 sources")
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
    # the query syntax in one line beside the box
    syntax = '"exact phrase" -exclude source: author: tag: country: year:2020..2024'
    expect(page.locator("#q-syntax")).to_contain_text(syntax)
    assert "q-syntax" in page.locator("#q").get_attribute("aria-describedby").split()


def test_typing_shows_grouped_results_with_highlights(page) -> None:
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "/search?" in r.url else None)
    page.goto("/")
    page.locator("#q").press_sequentially("Middle Corridor", delay=25)
    expect(page.locator("#status")).to_have_text(
        re.compile(r"Results 1–\d+ of \d+ for “Middle Corridor”")
    )
    assert len(requests) <= 2, requests  # debounced, not one request per key
    asked = query_of(requests[-1])
    offered = page.request.get("/search/options").json()  # every facet the API offers
    assert asked["group"] == ["true"] and asked["facets"] == [
        ",".join(f["name"] for f in offered["facets"])
    ]
    hit = page.locator(".hit").first
    expect(hit.locator("h3 a")).to_have_text("Trade routes across the Caspian")
    expect(hit.locator(".meta")).to_have_text("Example Wire · A. Writer · 2024-05-01 · original ↗")
    # the original is a separate link, in a new tab, that cannot reach back into this page
    original = hit.get_by_role("link", name="original ↗")
    assert original.get_attribute("href") == "https://example.org/corridor"
    assert original.get_attribute("target") == "_blank"
    assert "noopener" in original.get_attribute("rel").split()
    marks = [m.lower() for m in hit.locator(".snippet mark").all_inner_texts()]
    assert marks == ["middle", "corridor"]
    assert query_of(page.url)["q"] == ["Middle Corridor"]
    shot(page, "results")

    # the title opens the article in the page, as for every source
    hit.locator("h3 a").click()
    expect(page.locator("#article-title")).to_have_text("Trade routes across the Caspian")
    assert urlsplit(page.url).netloc == urlsplit(original.page.url).netloc
    assert query_of(page.url)["article"] == ["corridor"]
    page.go_back()

    search(page, "zebra unicorn")
    expect(page.locator("#empty")).to_contain_text("No articles match “zebra unicorn”.")
    expect(page.locator(".hit")).to_have_count(0)
    shot(page, "no-results")


def test_highlights_count_characters_not_utf16_units(page) -> None:
    page.goto("/?q=quotas")
    expect(page.locator(".hit h3")).to_have_text(["Quota notes 🌍"])
    assert page.locator(".hit .snippet mark").all_inner_texts() == ["quotas"]


def test_more_passages_expand(page) -> None:
    page.goto("/?q=pipeline")
    expect(page.locator(".hit")).to_have_count(1)  # eight passages, one article
    button = page.get_by_role("button", name=f"Show {PIPELINE_PARTS - 1} more passages")
    expect(button).to_have_attribute("aria-expanded", "false")
    button.click()
    more = page.locator(".more li")
    expect(more).to_have_count(PIPELINE_PARTS - 1)
    texts = more.locator(".snippet").all_inner_texts()  # each passage's snippet, not the passage
    first = page.locator(".hit > .passage").text_content()
    assert first not in texts and len(set(texts)) == PIPELINE_PARTS - 1
    assert all(m.lower() == "pipeline" for m in more.locator("mark").all_inner_texts())
    shot(page, "more-passages")
    hide = page.get_by_role("button", name=f"Hide {PIPELINE_PARTS - 1} more passages")
    expect(hide).to_have_attribute("aria-expanded", "true")
    hide.click()
    expect(page.locator(".more")).to_be_hidden()


def test_source_and_date_filters_narrow_results(page) -> None:
    page.goto("/?min_confidence=0")  # filters, not relevance: the fake embedder's hits, all of them
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
    expect(hit.locator(".snippet")).to_contain_text(XSS)
    # its javascript: url is used for no link
    assert not hit.locator("h3 a").get_attribute("href").startswith("javascript")
    assert hit.get_by_role("link", name="original ↗").count() == 0
    # a hostile source and tag, in the hit and the facets: text, never HTML
    expect(hit.locator(".meta .source")).to_have_attribute("title", HOSTILE_SOURCE)
    source = page.locator('.facet-value[data-facet="source"]', has_text="Wire <script>")
    expect(source).to_have_attribute("title", HOSTILE_SOURCE)
    tag = page.locator('.facet-value[data-facet="tag"]', has_text=HOSTILE_TAG)
    expect(tag).to_have_count(1)
    assert tag.get_attribute("data-value") == HOSTILE_TAG
    page.locator("#facet-tag summary").click()
    tag.click()  # filters by it: the chip shows it as text
    expect(page.get_by_role("button", name=f"Remove the filter Tag: {HOSTILE_TAG}")).to_be_visible()
    assert query_of(page.url)["tag"] == [HOSTILE_TAG]
    expect(page.locator(".hit h3")).to_have_text([f"Caspian notes {XSS}"])
    page.locator('.facet-value[data-facet="source"]').first.click()
    assert query_of(page.url)["source"][0].startswith("Wire <script>")
    expect(page.locator(".hit h3")).to_have_text([f"Caspian notes {XSS}"])
    assert page.evaluate("typeof window.__xss") == "undefined"

    page.locator(".hit").get_by_role("link", name="Read in context").click()
    expect(page.locator("#article-title")).to_have_text(f"Caspian notes {XSS}")
    expect(page.locator("#article-text")).to_contain_text(XSS)
    expect(page.locator("#article-tags")).to_contain_text(HOSTILE_TAG)
    assert page.evaluate("typeof window.__xss") == "undefined"
    shot(page, "xss-article")
    scripts = page.evaluate("[...document.scripts].map((s) => s.getAttribute('src'))")
    assert scripts == ["/static/app.js"]
    assert page.locator("img").count() == 0
    assert page.get_by_role("link", name="original ↗").count() == 0


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
    page.goto("/?q=Middle+Corridor&mode=lexical")
    expect(page.locator(".hit h3").first).to_have_text("Trade routes across the Caspian")
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
    expect(page.locator(".hit h3").first).to_have_text("Pipeline politics")
    expect(page.locator("#spinner")).to_be_hidden()


def test_stale_answers_are_ignored(page) -> None:
    page.goto("/")
    held = []
    page.route(lambda url: "/search?" in url and "Middle" in url, lambda route: held.append(route))
    search(page, "Middle Corridor")
    page.wait_for_timeout(100)
    assert held
    search(page, "Abraham")
    expect(page.locator(".hit h3").first).to_have_text("Abraham Accords")
    for route in held:  # the older request: aborted by the page, or its answer ignored
        with contextlib.suppress(playwright_api.Error):
            route.continue_()
    page.wait_for_timeout(300)
    expect(page.locator(".hit h3").first).to_have_text("Abraham Accords")
    assert "Trade routes across the Caspian" not in hit_titles(page)


def test_article_view_highlights_the_passage(page) -> None:
    paths: list[str] = []
    page.on("request", lambda r: paths.append(urlsplit(r.url).path))
    page.set_viewport_size({"width": 1000, "height": 500})
    page.goto("/?q=pipeline")
    page.get_by_role("button", name=re.compile("more passages")).click()
    last = page.locator(".more li").last
    expect(last).to_contain_text("running through winter months.")
    passage = last.locator(".snippet").inner_text()  # from where the snippet before it ended
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
    mark = page.locator("#article-text mark.passage-mark")
    expect(mark).to_have_count(1)
    assert mark.inner_text().startswith(f"Pipeline report part {PIPELINE_PARTS - 1}.")
    assert mark.inner_text().endswith(passage.strip())
    expect(mark).to_be_in_viewport()
    # how it matched, with the passage's place read one way only; the query's words marked in
    # the passage (the API's highlights) and in the rest of the article
    expect(page.locator("#why")).to_contain_text(
        re.compile(
            r"The \d+(st|nd|rd|th) of \d+ passages matched “pipeline” by its words: Pipeline\."
        )
    )
    words = page.locator("#article-text mark.query-word")
    assert {w.lower() for w in words.all_inner_texts()} == {"pipeline"}
    assert mark.locator("mark.query-word").count() > 0
    assert words.count() > mark.locator("mark.query-word").count()
    shot(page, "article")

    page.get_by_role("link", name="← Back to results").click()
    expect(page.locator(".hit h3").first).to_have_text("Pipeline politics")
    expect(page.locator(".hit h3 a").first).to_be_focused()  # the keyboard is where it was
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
    expect(page.locator("#article-text mark.passage-mark")).to_have_count(1)
    assert fits()
    shot(page, "phone-article")


# ---- facets, timeline, sort and filters (issue 21) ------------------------------------------


def bar(page, year: str):
    return page.locator(f'#timeline .bar[data-from="{year}"][role="button"]')


def test_timeline_and_facets_filter_and_the_url_keeps_them(page) -> None:
    page.set_viewport_size(DESKTOP)
    page.goto("/?q=Azerbaijan&mode=lexical")
    expect(page.locator(".hit")).to_have_count(2)
    expect(bar(page, "2024")).to_have_attribute("aria-label", "2024: 1 matching article")
    expect(bar(page, "2025")).to_have_attribute("aria-pressed", "false")
    countries = page.locator('.facet-value[data-facet="country"]')
    expect(countries.filter(has_text="Azerbaijan")).to_contain_text("2")
    expect(page.locator('.facet-value[data-facet="source"]')).to_have_count(2)
    shot(page, "desktop-facets")

    bar(page, "2025").click()
    expect(page.locator(".hit h3")).to_have_text(["Abraham Accords"])
    state = query_of(page.url)
    assert state["date_from"] == ["2025"] and state["date_to"] == ["2025"]
    chip = page.get_by_role("button", name="Remove the filter Year 2025")
    expect(chip).to_be_visible()
    # the timeline still shows every year, the chosen one pressed
    expect(bar(page, "2025")).to_have_attribute("aria-pressed", "true")
    expect(bar(page, "2024")).to_have_attribute("aria-pressed", "false")

    page.goto("/?q=Azerbaijan&mode=lexical")
    countries.filter(has_text="Georgia").click()
    expect(page.locator(".hit h3")).to_have_text(["Trade routes across the Caspian"])
    assert query_of(page.url)["country"] == ["GE"]
    expect(page.get_by_role("button", name="Remove the filter Country: Georgia")).to_be_visible()
    page.locator('.facet-value[data-facet="source"]').first.click()
    assert query_of(page.url)["source"] == ["Example Wire"]
    expect(page.locator("#source")).to_have_value("Example Wire")

    page.go_back()  # back and forward walk the filters
    expect(page.locator(".hit")).to_have_count(1)
    assert "source" not in query_of(page.url)
    page.go_back()
    expect(page.locator(".hit")).to_have_count(2)
    expect(page.locator(".chip")).to_have_count(0)
    page.go_forward()
    expect(page.locator(".hit h3")).to_have_text(["Trade routes across the Caspian"])
    expect(page.locator(".chip")).to_have_count(1)
    page.get_by_role("button", name="Remove the filter Country: Georgia").click()
    expect(page.locator(".hit")).to_have_count(2)
    assert "country" not in query_of(page.url)


def test_keyboard_reaches_timeline_facets_and_order(page) -> None:
    page.set_viewport_size(DESKTOP)
    page.goto("/?q=Azerbaijan&mode=lexical")
    expect(page.locator(".hit")).to_have_count(2)

    def tab_to(selector: str, limit: int = 40) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate(f"document.activeElement.matches({selector!r})"):
                return
        raise AssertionError(f"Tab never reached {selector}")

    page.locator("#q").focus()
    tab_to("#sort")
    tab_to("#timeline .bar")  # one tab stop for the chart: the latest year
    assert page.evaluate("document.activeElement.dataset.from") == "2025"
    page.keyboard.press("ArrowLeft")
    assert page.evaluate("document.activeElement.dataset.from") == "2024"
    page.keyboard.press("Enter")
    expect(page.locator(".hit h3")).to_have_text(["Trade routes across the Caspian"])
    assert query_of(page.url)["date_from"] == ["2024"]
    expect(bar(page, "2024")).to_be_focused()  # the focus stays where it was
    shot(page, "keyboard-timeline")

    tab_to('.facet-value[data-facet="country"]')
    name = page.evaluate("document.activeElement.dataset.value")
    page.keyboard.press("Enter")
    expect(page.locator(f'.facet-value[data-facet="country"][data-value="{name}"]')).to_be_focused()
    expect(page.locator(f'.facet-value[data-value="{name}"]')).to_have_attribute(
        "aria-pressed", "true"
    )
    assert query_of(page.url)["country"] == [name]


def test_sort_author_and_tag_filters(page) -> None:
    page.goto("/?q=bulletin&mode=lexical")
    expect(page.locator(".hit")).to_have_count(10)
    page.locator("#sort").select_option("newest")
    expect(page.locator(".hit h3").first).to_have_text("Bulletin number 10")
    assert query_of(page.url)["sort"] == ["newest"]
    page.locator("#sort").select_option("oldest")
    expect(page.locator(".hit h3").first).to_have_text("Bulletin number 0")
    page.go_back()
    expect(page.locator(".hit h3").first).to_have_text("Bulletin number 10")
    expect(page.locator("#sort")).to_have_value("newest")

    page.goto("/?q=Caspian&mode=lexical")
    expect(page.locator(".hit")).to_have_count(2)
    page.locator("#tag").fill("trade")
    page.locator("#tag").press("Enter")
    expect(page.locator(".hit h3")).to_have_text(["Trade routes across the Caspian"])
    assert query_of(page.url)["tag"] == ["trade"]
    page.goto("/?q=pipeline&mode=lexical")
    page.locator("#author").fill("Nobody Known")
    page.locator("#author").press("Enter")
    expect(page.locator("#empty")).to_contain_text("No articles match")
    page.locator("#author").fill("B. Analyst")
    page.locator("#author").press("Enter")
    expect(page.locator(".hit h3")).to_have_text(["Pipeline politics"])
    expect(page.get_by_role("button", name="Remove the filter Author: B. Analyst")).to_be_visible()


def test_the_page_builds_its_choices_from_the_apis_options(page) -> None:
    """Modes, orders, the query syntax's fields and the facets' panels come from GET
    /search/options: what it offers, the page offers, with no list of its own."""
    offered = page.request.get("/search/options").json()
    page.goto("/?q=Azerbaijan&mode=lexical")
    expect(page.locator(".hit")).to_have_count(2)
    sorts = page.locator("#sort option")
    expect(sorts).to_have_text([s["label"] for s in offered["sorts"]])
    assert [o.get_attribute("value") for o in sorts.all()] == [s["name"] for s in offered["sorts"]]
    modes = page.locator('#modes input[name="mode"]')
    assert [m.get_attribute("value") for m in modes.all()] == [m["name"] for m in offered["modes"]]
    expect(page.locator("#modes label")).to_have_text([m["label"] for m in offered["modes"]])
    expect(page.locator('#modes input[value="lexical"]')).to_be_checked()
    for f in offered["filters"]:
        if f["syntax"] and f["request"]:
            expect(page.locator("#q-syntax code", has_text=f"{f['name']}:")).to_have_count(1)
    for f in offered["facets"]:
        if f["name"] not in ("year", "country"):  # drawn their own way: timeline, countries
            expect(page.locator(f"#facet-{f['name']} .facet-title")).to_have_text(f["label"])

    def more(route) -> None:
        body = route.fetch().json()
        body["sorts"].append({"name": "title", "label": "By title"})
        body["modes"].append({"name": "exact", "label": "exactly"})
        body["facets"].append(
            {"name": "author", "label": "Authors", "order": "count", "filter": "author"}
        )
        route.fulfill(json=body)

    page.route(lambda url: url.endswith("/search/options"), more)
    page.goto("/")  # an order, a mode and a facet more: the page offers them
    expect(page.locator("#sort option")).to_have_count(len(offered["sorts"]) + 1)
    expect(page.locator("#sort option").last).to_have_text("By title")
    expect(page.locator("#modes label").last).to_have_text("exactly")
    expect(page.locator("#facet-author .facet-title")).to_have_text("Authors")


def test_snippet_with_whole_passage_one_click_away(page) -> None:
    page.goto("/?q=sanctions&mode=lexical")
    hit = page.locator(".hit", has_text="Sanctions notes")
    snippet = hit.locator(".snippet")
    expect(snippet.locator("mark").first).to_have_text("sanctions")
    whole = hit.get_by_role("button", name="Whole passage")
    expect(whole).to_have_attribute("aria-expanded", "false")
    short = snippet.inner_text()
    whole.focus()
    page.keyboard.press("Enter")
    passage = hit.locator(":scope > .passage")
    expect(passage).to_be_visible()
    assert len(passage.inner_text()) > len(short.strip("… "))
    assert all(m == "sanctions" for m in passage.locator("mark").all_inner_texts())
    expect(snippet).to_be_hidden()


def test_more_passages_are_all_the_articles_and_do_not_repeat(page) -> None:
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/search?" in r.url else None)
    page.goto("/?q=sanctions&mode=lexical")
    button = page.locator(".hit", has_text="Sanctions notes").locator(".more-button")
    label = button.inner_text()
    more = int(re.search(r"Show (\d+) more passages", label).group(1))
    assert more >= 10  # enough passages to page past what the old page fetched
    button.click()
    items = page.locator(".more li")
    expect(items).to_have_count(more)
    assert query_of(asked[-1])["article"] == [NOTES_ID]
    texts = items.locator(".snippet").all_inner_texts()
    # each passage's snippet (a few sentences), never the whole passage; neighbours overlap: no
    # sentence is shown twice
    assert all(len(text.split()) <= 70 for text in texts), texts
    for i in range(NOTES):
        shown = sum(text.count(f"Note {i}:") for text in texts)
        assert shown <= 1, (i, texts)
    assert page.locator(".more .passage").count() == 0
    shot(page, "more-passages-no-overlap")


def test_un_statement_markdown_is_not_shown_raw(page) -> None:
    page.goto("/?q=Global+South+Italy+African&mode=lexical")
    hit = page.locator(".hit", has_text="Italy")
    expect(hit).to_have_count(1)
    expect(hit.locator(".meta .source")).to_have_text(UN_SOURCE_NAME)
    full = hit.locator(".meta .source").get_attribute("title")
    assert full.startswith(f"{UN_SOURCE_NAME} (UNGDC)")  # the whole source as its tooltip
    text = hit.inner_text()
    assert "**" not in text and "---" not in text
    assert hit.locator(".snippet strong, .snippet mark").count() > 0
    hit.get_by_role("button", name=re.compile("more passages")).click()
    expect(page.locator(".more li").first).to_be_visible()
    assert "**" not in page.locator(".more").inner_text()

    hit.locator("h3 a").click()
    expect(page.locator("#article-title")).to_contain_text("Italy")
    body = page.locator("#article-text").inner_text()
    assert "**" not in body and "\n---" not in body
    assert page.locator("#article-text strong").count() > 10
    # the highlighted passage is still exactly the passage, markup left out
    mark = " ".join(page.locator("#article-text mark").all_inner_texts())
    assert mark and "*" not in mark
    expect(page.locator("#similar li").first).to_be_visible()
    shot(page, "un-statement")


def test_markdown_and_highlight_offsets_line_up(page) -> None:
    page.goto("/")
    out = page.evaluate(
        """async () => {
          const t = await import('/static/text.js');
          const html = (text, spans) => {
            const div = document.createElement('div');
            div.append(t.richText(text, {marks: t.unitSpans(text, spans)}));
            return div.innerHTML;
          };
          return [
            html('A **bold** word', [[4, 8]]),
            html('### Page 3\\n---\\ntext', []),
            html('*Global South** and the **North**', [[1, 7]]),
            html('🌍 **x** y', [[4, 5]]),
            html('a * b and\\n* item', []),
            html('** for cultivation', []),
          ];
        }"""
    )
    assert out == [
        "A <strong><mark>bold</mark></strong> word",
        "<strong>Page 3</strong>\n\ntext",
        "<mark>Global</mark> South and the <strong>North</strong>",
        "🌍 <strong><mark>x</mark></strong> y",
        "a * b and\n* item",
        " for cultivation",  # a passage that starts with the end of a bold span
    ]


def test_reversed_date_range_is_said_and_can_be_swapped(page) -> None:
    page.goto("/?q=bulletin&date_from=2020&date_to=2012")
    empty = page.locator("#empty")
    expect(empty).to_contain_text("The date range is reversed: “From” 2020 is after “To” 2012.")
    expect(page.locator(".hit")).to_have_count(0)
    page.get_by_role("button", name="Search 2012 to 2020 instead").click()
    expect(page.locator(".hit")).to_have_count(9)
    state = query_of(page.url)
    assert state["date_from"] == ["2012"] and state["date_to"] == ["2020"]


def test_article_view_says_why_and_shows_similar_articles(page) -> None:
    page.goto("/?q=Azerbaijan&mode=lexical")
    hit = page.locator(".hit", has_text="Abraham Accords")
    hit.get_by_role("link", name="Read in context").click()
    why = page.locator("#why")
    said = (
        "The article's one passage matched “Azerbaijan” by its words: Azerbaijan. "
        "It names Azerbaijan and Israel."
    )
    expect(why).to_contain_text(said)
    why.get_by_role("link", name="Israel").click()  # a search in passages that name Israel
    assert query_of(page.url)["country"] == ["IL"]
    expect(page.locator(".hit h3")).to_have_text(["Abraham Accords"])

    page.goto("/?q=pipeline&article=reports/pipeline-2024")
    similar = page.locator("#similar li a")
    expect(similar.first).to_be_visible()
    title = similar.first.inner_text()
    similar.first.click()
    expect(page.locator("#article-title")).to_have_text(title)
    assert query_of(page.url)["q"] == ["pipeline"]


def test_phone_layout_shows_facets_and_fits(page) -> None:
    page.set_viewport_size(PHONE)

    def fits() -> bool:
        return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    # the Italy statement is loosely related (the fake embedder): shown past the confidence floor
    page.goto("/?q=Italy+sanctions&mode=lexical&min_confidence=0")
    expect(page.locator(".hit").first).to_be_visible()
    expect(page.locator("#timeline svg")).to_be_visible()
    assert page.locator("#filters-box").get_attribute("open") is None  # folded on a phone
    source = page.locator(".hit .meta .source", has_text=UN_SOURCE_NAME)
    expect(source).to_have_count(1)
    assert source.bounding_box()["height"] < 30  # one line, not the whole 110 characters
    assert fits()
    shot(page, "phone-facets")
    page.locator("#facet-country summary").click()
    expect(page.locator('.facet-value[data-facet="country"]').first).to_be_visible()
    page.locator("#filters-box summary").click()
    expect(page.locator("#sort")).to_be_visible()
    expect(page.locator("#q-syntax")).to_be_visible()
    assert fits()
    shot(page, "phone-filters-open")


def test_docs_load_with_no_request_off_this_machine(browser, base_url: str) -> None:
    context = browser.new_context(base_url=base_url)
    outside: list[str] = []

    def guard(route) -> None:
        host = urlsplit(route.request.url).hostname
        if host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    try:
        page.goto("/docs")
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("policy-search")
        expect(page.locator(".opblock-summary-path", has_text="/search").first).to_be_visible()
        shot(page, "docs")
    finally:
        context.close()
    assert outside == []


def test_timeline_bins_by_decade_past_forty_years(page) -> None:
    page.goto("/")
    bins = page.evaluate(
        """async () => {
          const f = await import('/static/facets.js');
          const years = [{value: '1789', count: 2}, {value: '1795', count: 1},
                         {value: '2024', count: 5}, {value: 'undated', count: 9}];
          return [f.yearBins(years), f.yearBins(years.slice(2)).length];
        }"""
    )
    decades, one = bins
    assert one == 1
    assert decades[0] == {"label": "1780s", "from": "1780", "to": "1789", "count": 2}
    assert decades[1]["count"] == 1 and decades[-1] == {
        "label": "2020s", "from": "2020", "to": "2029", "count": 5,
    }  # fmt: skip
    assert len(decades) == 25  # every decade between, empty ones too


# ---- results an analyst can trust (issue 26) ---------------------------------------------


def test_facet_counts_stay_whole_and_the_timeline_says_its_bins_and_undated(page) -> None:
    """A two-digit count beside a long source name stays on one line at both widths; the
    timeline's title says per year or per decade, and "N undated" accounts for the articles it
    cannot draw (the years and counts beyond the test corpus are edited into the real answer)."""
    page.goto("/?q=Caspian&mode=lexical")  # the corridor article (2024) and an undated one
    expect(page.locator(".hit")).to_have_count(2)
    expect(page.locator("#timeline-title")).to_have_text("Matching articles per year")
    expect(page.locator("#timeline-undated")).to_have_text("1 undated (not on the timeline)")
    expect(page.locator("#reading")).to_be_hidden()  # free words only: nothing to say

    def long_tail(body: dict) -> None:
        for item in body["facets"]["source"]:
            item["name"], item["count"] = UN_SOURCE_NAME, 57
        body["facets"]["year"].insert(0, {"value": "1789", "count": 1, "name": None})
        body["total"] += 2  # one dated 1789, one more undated: two undated

    patch_search(page, long_tail)
    for viewport in (DESKTOP, PHONE):
        page.set_viewport_size(viewport)
        page.goto("/?q=Caspian&mode=lexical")
        expect(page.locator("#timeline-title")).to_have_text("Matching articles per decade")
        expect(page.locator("#timeline-undated")).to_have_text("2 undated (not on the timeline)")
        if viewport is PHONE:
            page.locator("#facet-source summary").click()
        counts = page.locator('.facet-value[data-facet="source"] .facet-count')
        expect(counts.first).to_have_text("57")
        lines = counts.evaluate_all(
            """(cs) => cs.map((c) => {
                 const r = document.createRange();
                 r.selectNodeContents(c);
                 return [r.getClientRects().length, c.scrollWidth <= c.clientWidth];
               })"""
        )
        assert lines and all(line == [1, True] for line in lines), lines  # one line, not squeezed
        assert fits(page)
        shot(page, f"facet-counts-{viewport['width']}")


def test_year_bars_are_tappable_on_a_phone(page) -> None:
    """At 390 px every year bar is at least 24 px wide: the chart scrolls inside its box (the page
    does not), showing the latest years first; at 1280 the same 35 years fit the sidebar."""

    def many_years(body: dict) -> None:
        counts = {item["value"]: item["count"] for item in body["facets"].get("year", [])}
        body["facets"]["year"] = [
            {"value": str(y), "count": counts.get(str(y), 1), "name": None}
            for y in range(1990, 2025)
        ]

    patch_search(page, many_years)
    page.set_viewport_size(PHONE)
    page.goto("/?q=bulletin&mode=lexical")
    expect(page.locator(".hit")).to_have_count(10)
    bars = page.locator("#timeline .bar[role=button]")
    expect(bars).to_have_count(35)
    widths = bars.evaluate_all("(bs) => bs.map((b) => b.getBoundingClientRect().width)")
    assert min(widths) >= 24, widths
    timeline = page.locator("#timeline")
    assert timeline.evaluate("(t) => t.scrollWidth > t.clientWidth && t.scrollLeft > 0")
    assert fits(page)
    expect(bar(page, "2024")).to_be_in_viewport()
    shot(page, "phone-timeline")
    bar(page, "2020").click()
    expect(page.locator(".hit h3")).to_have_text(["Bulletin number 10"])
    assert query_of(page.url)["date_from"] == ["2020"]

    page.set_viewport_size(DESKTOP)
    page.goto("/?q=bulletin&mode=lexical")
    expect(bars).to_have_count(35)
    assert timeline.evaluate("(t) => t.scrollWidth <= t.clientWidth")


def test_any_country_can_be_chosen_by_name_or_code(page) -> None:
    """ "and N more countries" opens a country field (the facet lists only the top 20; the
    long tail is edited into the real answer): a name or code filters by it, an unknown one shows
    the API's message and changes nothing; all of it by keyboard, at both widths."""

    def long_tail(body: dict) -> None:
        if body.get("facets", {}).get("country"):
            body["facets_more"]["country"] = 31

    patch_search(page, long_tail)
    page.goto("/?q=Azerbaijan&mode=lexical")
    expect(page.locator(".hit")).to_have_count(2)
    more = page.get_by_role("button", name="and 31 more countries")
    expect(more).to_have_attribute("aria-expanded", "false")
    page.locator('.facet-value[data-facet="country"]').last.focus()
    page.keyboard.press("Tab")
    expect(more).to_be_focused()
    page.keyboard.press("Enter")
    field = page.get_by_label("Another country: a name or code")
    expect(field).to_be_focused()
    expect(more).to_have_attribute("aria-expanded", "true")
    suggestions = page.locator("#country-names option")
    assert suggestions.first.get_attribute("value") == "Azerbaijan"  # this search's first
    assert "Turkmenistan" in suggestions.evaluate_all("(os) => os.map((o) => o.value)")

    page.keyboard.type("Narnia")
    page.keyboard.press("Enter")
    expect(page.locator("#country-error")).to_contain_text("not a country this index knows")
    expect(field).to_have_attribute("aria-invalid", "true")
    assert "country" not in query_of(page.url)
    expect(page.locator(".hit")).to_have_count(2)
    shot(page, "country-field-error")

    field.fill("kazakhstan")
    page.keyboard.press("Enter")
    expect(page.locator(".hit h3")).to_have_text(["Trade routes across the Caspian"])
    assert query_of(page.url)["country"] == ["KZ"]
    expect(page.get_by_role("button", name="Remove the filter Country: Kazakhstan")).to_be_visible()
    expect(page.locator("#country-error")).to_be_hidden()

    page.set_viewport_size(PHONE)
    page.goto("/?q=Azerbaijan&mode=lexical")
    page.locator("#facet-country summary").click()
    more.click()
    field.fill("AZE")
    field.press("Enter")
    expect(page.get_by_role("button", name="Remove the filter Country: AZE")).to_be_visible()
    assert query_of(page.url)["country"] == ["AZE"]
    expect(page.locator(".hit")).to_have_count(2)
    assert fits(page)


def test_hits_say_their_confidence_and_countries(page) -> None:
    """Confidence in words with the number as its tooltip (the server's own, then all three bands
    from values set in the real answer: the fake embedder's hits fall in one band), and the
    countries each passage names, those filtered by in bold."""

    def confidences(body: dict) -> None:
        for hit, value in zip(body["results"], (0.82, 0.55, 0.12), strict=False):
            hit["confidence"] = value

    page.goto("/?q=Azerbaijan&mode=lexical&country=AZ")
    facts = page.locator(".hit", has_text="Abraham Accords").locator(".facts")
    expect(facts.locator(".countries")).to_have_text("names Azerbaijan and Israel")
    expect(facts.locator("strong.country")).to_have_text("Azerbaijan")
    badge = facts.locator(".confidence")
    number = float(badge.get_attribute("data-confidence"))
    assert 0 < number <= 1  # the server's calibrated confidence, in words
    assert badge.get_attribute("title").startswith(f"Confidence {number:.2f}")

    patch_search(page, confidences)
    page.goto("/?q=bulletin&mode=lexical")
    badges = page.locator(".hit .confidence")
    expect(badges.first).to_contain_text("likely relevant")
    assert [b.split("(")[0].strip() for b in badges.all_inner_texts()[:3]] == [
        "likely relevant", "possibly relevant", "loosely related",
    ]  # fmt: skip
    assert badges.first.get_attribute("title").startswith("Confidence 0.82")
    shot(page, "confidence")


def test_long_query_is_refused_plainly_whichever_way_it_comes(page) -> None:
    """About 2,000 characters, in the URL or typed: the API's limit said in words (its 422), the
    text never cut, the box marked invalid; any other refusal of the query said as plainly."""
    text = ("Middle Corridor " * 125).strip()
    said = "Queries are at most 1,000 characters; this one has 1,999."
    page.goto(f"/?q={text.replace(' ', '+')}")
    expect(page.locator("#error")).to_contain_text(said)
    expect(page.locator(".hit")).to_have_count(0)
    assert page.locator("#q").input_value() == text

    page.goto("/?q=Azerbaijan&mode=lexical")
    expect(page.locator(".hit").first).to_be_visible()
    page.locator("#q").fill(text)
    page.locator("#q").press("Enter")
    expect(page.locator("#error")).to_contain_text(said)
    assert page.locator("#q").input_value() == text  # not cut to 1,000
    assert "Something went wrong" not in page.locator("#error").inner_text()
    assert len(page.locator("#status").inner_text()) < 200
    expect(page.locator("#q")).to_have_attribute("aria-invalid", "true")
    shot(page, "long-query")
    # any query the API refuses (its syntax, here) is said the same way: what to change
    search(page, "-Russia")
    expect(page.locator("#error")).to_contain_text("Say what to look for")
    assert "Something went wrong" not in page.locator("#error").inner_text()
    search(page, "Azerbaijan")
    expect(page.locator(".hit").first).to_be_visible()
    expect(page.locator("#error")).to_be_hidden()
    assert page.locator("#q").get_attribute("aria-invalid") is None


def test_reading_notices_and_loosely_related(page) -> None:
    """How the server read the query in one line, its notices (an open quote, a language the
    index does not read), at both widths; then the loosely related hits past the last page with
    a link that shows them, or in place of hits where none passed (`loose` set in the real
    answer, so the counts do not hang on the fake embedder's calibration)."""
    page.goto("/?q=%22Middle+Corridor%22+country%3AAZ&mode=lexical")
    expect(page.locator("#reading")).to_have_text("Read as the phrase Middle Corridor, country: AZ")
    expect(page.locator(".hit h3")).to_have_text(["Trade routes across the Caspian"])
    expect(page.locator("#notices")).to_be_hidden()
    page.goto("/?q=%22Middle&mode=lexical")
    expect(page.locator("#notices")).to_contain_text("The quote at character 1 is not closed")
    expect(page.locator("#reading")).to_be_hidden()  # free words only
    page.set_viewport_size(PHONE)
    search(page, "الممر الأوسط التجارة")
    expect(page.locator("#notices")).to_contain_text("This index reads English")
    assert fits(page)
    shot(page, "phone-notice")

    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/search?" in r.url else None)

    def loose(body: dict) -> None:
        body["loose"] = 0 if "min_confidence=0" in asked[-1] else 12

    patch_search(page, loose)
    page.set_viewport_size(DESKTOP)
    page.goto("/?q=Azerbaijan&mode=lexical")
    expect(page.locator("#loose")).to_have_text("and 12 loosely related articles (show them)")
    shot(page, "loose")
    page.get_by_role("link", name="show them").click()
    expect(page.locator("#loose")).to_be_hidden()
    assert query_of(page.url)["min_confidence"] == ["0"]
    assert query_of(asked[-1])["min_confidence"] == ["0"]
    chip = page.get_by_role("button", name="Remove the filter With loosely related")
    chip.click()
    expect(page.locator("#loose")).to_be_visible()
    assert "min_confidence" not in query_of(page.url)

    def only_loose(body: dict) -> None:
        body["results"], body["total"], body["loose"] = [], 0, 3

    page.unroute_all()
    patch_search(page, only_loose)
    page.goto("/?q=Azerbaijan&mode=lexical")
    expect(page.locator("#empty")).to_have_text("Nothing matches “Azerbaijan” closely.")
    expect(page.locator("#loose")).to_have_text("3 loosely related articles (show them)")


def test_why_says_when_a_passage_matched_by_meaning_alone(page) -> None:
    """A passage with no highlight (its highlights emptied in the real answer: the fake
    embedder matches by shared words) is said to match by meaning alone, no word marked."""

    def no_words(body: dict) -> None:
        for hit in body["results"]:
            hit["passage"]["highlights"] = []

    patch_search(page, no_words, article=True)
    page.goto("/?q=Azerbaijan&mode=lexical&article=accords&start=0&end=81")
    expect(page.locator("#why")).to_contain_text(
        "The article's one passage matched “Azerbaijan” by meaning alone "
        "(none of the query's words)."
    )
    expect(page.locator("#article-text mark.query-word")).to_have_count(0)
