"""The API's patterns say what `index/readers/article.py` accepts: a value matches iff an article
takes it.

schemathesis trusts the spec: a value the pattern admits but the article rules refuse would be
a 422 to a valid request, and the reverse a request the spec calls invalid that is accepted.
"""

from __future__ import annotations

import re

from hypothesis import example, given
from hypothesis import strategies as st

from policy_search.index.errors import CorpusError
from policy_search.index.readers.article import make_article, normalise_date
from policy_search.patterns import ARTICLE_ID, DATE, LINE, PROSE, TITLE, URL, describe

BASE = {"id": "a", "title": "T", "text": "Body."}


def accepted(**fields: object) -> bool:
    try:
        make_article({**BASE, **fields})
    except CorpusError:
        return False
    return True


def matches(pattern: str, value: str) -> bool:
    return re.fullmatch(pattern, value) is not None


dates = st.one_of(
    st.from_regex(DATE, fullmatch=True),
    st.dates().map(str),
    st.datetimes().map(lambda d: d.isoformat()),
    st.from_regex(r"[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?", fullmatch=True),
    st.text(max_size=12),
)


@given(dates)
@example("2024-02-29")
@example("2023-02-29")
@example("1900-02-29")
@example("2000-02-29")
@example("0000")
@example("2024-13")
@example("2024-04-31")
@example("2024-05-01T10:00:00Z")
def test_the_date_pattern_is_the_calendar(value: str) -> None:
    try:
        normalise_date(value)
        valid = value == value.strip() and value != ""
    except ValueError:
        valid = False
    assert matches(DATE, value) == valid


ids = st.one_of(
    st.from_regex(ARTICLE_ID, fullmatch=True),
    st.text(alphabet="ab./:_-@+ ", max_size=12),
    st.text(max_size=8),
)


@given(ids)
@example("a/../b")
@example("a//b")
@example("a/")
@example("a/.x")
@example("a/..x")
@example(".a")
@example("a/similar")
@example("similar")
@example("a/cite")
def test_the_id_pattern_is_the_id_rule(value: str) -> None:
    # The one rule the pattern leaves out: no id ends in /similar or /cite (those URLs name
    # neighbours and citations).
    reserved = "/" in value and value.rsplit("/", 1)[1] in ("similar", "cite")
    valid = matches(ARTICLE_ID, value) and len(value) <= 200 and not reserved
    assert valid == accepted(id=value) or value != value.strip()


texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)


@given(texts)
@example("\x00")
@example(" \t")
@example("a\x1fb")
@example("\u00a0")
@example("tab\there")
def test_text_patterns_are_the_field_rules(value: str) -> None:
    # Articles strip a title or source first (Python counts \x1c-\x1f as space); the API takes
    # the value as sent, so it may only be stricter on values that stripping changes.
    for pattern, field in ((LINE, "source"), (TITLE, "title")):
        if value.strip() == value:
            assert matches(pattern, value) == accepted(**{field: value}), field
        elif matches(pattern, value):
            assert accepted(**{field: value}), field
    assert matches(PROSE, value) == accepted(text=value)


def test_urls_need_a_scheme_and_a_host() -> None:
    assert matches(URL, "https://example.org/a?b=c")
    assert matches(URL, "HTTP://example.org")
    for bad in ("ftp://example.org", "https://", "https:// x", "example.org", "https:///path"):
        assert not matches(URL, bad)


def test_every_pattern_is_described_in_words() -> None:
    for pattern in (ARTICLE_ID, DATE, LINE, PROSE, TITLE, URL):
        assert "matching" not in describe(pattern)
