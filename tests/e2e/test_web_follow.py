"""The "Follow this search" button on the web page, in real headless Chromium against the real app.

A server with an API key over the small articles and tests/e2e/test_web.py's extra ones (fake
embedder: plumbing); test_web.py's own server, which has no key, for writes disabled. Every test
runs at desktop and phone widths.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from harness.server import running_server
from policy_search.index.build import build_index
from tests.conftest import ARTICLES
from tests.e2e.test_web import (  # noqa: F401  (fixtures: the keyless server and the browser)
    DESKTOP,
    EXTRA,
    PHONE,
    base_url,
    browser,
    expect,
    fits,
    search,
    shot,
)
from tests.fakes import FakeEmbedder

pytestmark = pytest.mark.e2e

KEY = "follow-test-key"
MAX_ALERTS = 2  # the server's limit, reached by the first test
ENV = {"POLICY_SEARCH_API_KEY": KEY, "POLICY_SEARCH_MAX_ALERTS": str(MAX_ALERTS)}


@pytest.fixture(scope="module")
def keyed_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real server that saves alerts: writes enabled by KEY."""
    index_dir = tmp_path_factory.mktemp("web-follow") / "index"
    build_index([*ARTICLES, *EXTRA], index_dir, FakeEmbedder())
    with running_server(index_dir, fake=True, env=ENV) as server:
        warm(server.url)
        yield server.url


def warm(url: str) -> None:
    """One search first: a fresh server's first (loading what it reads) can outlast the page's
    5 s waits on a busy machine, which are about the page."""
    assert httpx.get(f"{url}/search", params={"q": "pipeline"}, timeout=60).status_code == 200


@pytest.fixture(params=[DESKTOP, PHONE], ids=["desktop", "phone"])
def viewport(request: pytest.FixtureRequest) -> dict[str, int]:
    return request.param


def open_page(browser, url: str, viewport: dict[str, int]):  # noqa: F811
    context = browser.new_context(base_url=url, viewport=viewport)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
    page = context.new_page()
    page.set_default_timeout(5000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return context, page, errors


@pytest.fixture
def page(browser, keyed_url: str, viewport: dict[str, int]) -> Iterator[object]:  # noqa: F811
    context, page, errors = open_page(browser, keyed_url, viewport)
    page.width = viewport["width"]  # type: ignore[attr-defined]
    yield page
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def saved(url: str) -> list[dict]:
    answer = httpx.get(f"{url}/alerts", headers={"Authorization": f"Bearer {KEY}"}, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["alerts"]


@pytest.fixture(autouse=True)
def no_alerts_left(keyed_url: str) -> Iterator[None]:
    """Each test starts and ends with no alert saved."""
    yield
    for alert in saved(keyed_url):
        httpx.delete(f"{keyed_url}/alerts/{alert['id']}",
                     headers={"Authorization": f"Bearer {KEY}"}, timeout=10)  # fmt: skip


def test_follow_asks_the_key_once_and_shows_the_feed(page, keyed_url: str) -> None:
    page.goto("/")
    expect(page.locator("#follow")).to_be_hidden()  # no query, nothing to follow
    page.goto("/?q=pipeline+tariffs&source=Energy+Desk&mode=lexical&min_confidence=0")
    button = page.get_by_role("button", name="Follow this search")
    expect(button).to_be_visible()
    button.click()

    dialog = page.get_by_role("dialog", name="API key")
    expect(dialog).to_be_visible()
    key = dialog.get_by_label("API key")
    expect(key).to_be_focused()
    key.fill("not-the-key")
    key.press("Enter")
    expect(dialog.locator("#key-error")).to_have_text(
        "The server refused this API key: check it and try again."
    )
    shot(page, f"follow-key-{page.width}")
    expect(key).to_have_value("")
    key.fill(KEY)
    dialog.get_by_role("button", name="Follow").click()

    feed = page.locator("#follow-feed")
    expect(feed).to_be_visible()
    expect(feed).to_contain_text("Atom feed of the new passages that match this search")
    expect(page.locator("#follow-status")).to_have_text("Saved: its feed's address is below.")
    (alert,) = saved(keyed_url)
    assert (alert["q"], alert["mode"], alert["source"], alert["min_confidence"]) == (
        "pipeline tariffs", "lexical", "Energy Desk", 0.0,
    )  # fmt: skip
    address = page.get_by_label("Feed address")
    expect(address).to_have_value(alert["feed"])
    assert urlsplit(alert["feed"]).path == f"/alerts/{alert['id']}/feed"
    assert httpx.get(alert["feed"], timeout=10).status_code == 200  # no key: the URL is enough
    page.get_by_role("button", name="Copy", exact=True).click()
    expect(page.locator("#follow-copied")).to_have_text("Feed address copied.")
    assert page.evaluate("navigator.clipboard.readText()") == alert["feed"]
    assert fits(page)
    shot(page, f"follow-{page.width}")

    # The key was kept for this tab only, and never put in the URL.
    assert page.evaluate("sessionStorage.getItem('policy-search.api-key')") == KEY
    assert page.evaluate("localStorage.length") == 0
    assert KEY not in page.url

    # Another search: its own button, no feed shown, and the key is not asked again.
    search(page, "Caspian shipping")
    expect(feed).to_be_hidden()
    button.click()
    expect(feed).to_be_visible()
    expect(dialog).to_be_hidden()
    assert sorted(a["q"] for a in saved(keyed_url)) == ["Caspian shipping", "pipeline tariffs"]

    # Past the server's limit: its message, in words, and no feed.
    search(page, "grain quotas")
    button.click()
    expect(page.locator("#follow-error")).to_have_text(
        "The search could not be followed: 2 alerts are saved, the limit "
        "(POLICY_SEARCH_MAX_ALERTS) is 2: delete some first"
    )
    expect(feed).to_be_hidden()


def test_follow_by_keyboard_and_cancel(page, keyed_url: str) -> None:
    page.goto("/?q=grain+tariffs&country=AZ")
    button = page.get_by_role("button", name="Follow this search")
    button.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="API key")
    expect(dialog.get_by_label("API key")).to_be_focused()
    page.keyboard.press("Escape")  # cancelled: nothing saved
    expect(dialog).to_be_hidden()
    expect(page.locator("#follow-status")).to_have_text("Not followed: no API key given.")
    assert saved(keyed_url) == []

    button.focus()
    page.keyboard.press("Enter")
    page.keyboard.type(KEY)
    page.keyboard.press("Enter")
    expect(page.get_by_label("Feed address")).to_be_focused()
    (alert,) = saved(keyed_url)
    assert (alert["q"], alert["country"]) == ("grain tariffs", ["AZ"])


def test_a_refused_search_is_said_in_words(page) -> None:
    """A 422 (the query or its filters refused; answered here for the real route, as a search
    the page could show is one the server follows) shows the server's message."""
    refused = "date_from: must be a date"
    page.route("**/alerts", lambda route: route.fulfill(
        status=422, content_type="application/json",
        body=json.dumps({"ok": False, "error": refused, "status": 422}),
    ))  # fmt: skip
    page.goto("/?q=pipeline")
    page.evaluate(f"sessionStorage.setItem('policy-search.api-key', '{KEY}')")
    page.get_by_role("button", name="Follow this search").click()
    said = f"The search could not be followed: {refused}"
    expect(page.locator("#follow-error")).to_have_text(said)
    expect(page.locator("#follow-feed")).to_be_hidden()


def test_a_server_without_a_key_says_so(browser, base_url: str, viewport) -> None:  # noqa: F811
    warm(base_url)
    context, page, errors = open_page(browser, base_url, viewport)
    try:
        page.goto("/?q=pipeline")
        page.get_by_role("button", name="Follow this search").click()
        dialog = page.get_by_role("dialog", name="API key")
        dialog.get_by_label("API key").fill("any key")
        dialog.get_by_label("API key").press("Enter")
        expect(page.locator("#follow-error")).to_have_text(
            "This server does not save searches: it was started without an API key "
            "(POLICY_SEARCH_API_KEY)."
        )
        expect(dialog).to_be_hidden()
    finally:
        context.close()
    assert errors == []
