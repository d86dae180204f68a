"""make_article: validation of required fields, ids, dates, tags and control characters."""

from __future__ import annotations

import datetime as dt

import pytest

from policy_search.index.errors import CorpusError
from policy_search.index.readers.article import Article, make_article, normalise_date, slugify


def record(**fields):
    """A valid record with `fields` overriding (None removes a key)."""
    base = {"id": "a-1", "title": "A title", "text": "Some body text."}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def test_valid_record_gives_article_with_all_fields():
    article = make_article(
        record(
            source=" Wire ",
            author="A. Writer",
            date="2024-05-01",
            url="https://example.org/x",
            tags=["trade", "Caspian"],
        )
    )
    assert article == Article(
        id="a-1",
        title="A title",
        text="Some body text.",
        source="Wire",
        author="A. Writer",
        date="2024-05-01",
        url="https://example.org/x",
        tags=["trade", "Caspian"],
    )


def test_optional_fields_default_to_none_and_empty_tags():
    article = make_article(record())
    assert (article.source, article.author, article.date, article.url) == (None, None, None, None)
    assert article.tags == []


@pytest.mark.parametrize("field", ["id", "title"])
@pytest.mark.parametrize("value", [None, "", "   ", "\n\t"])
def test_missing_or_blank_id_and_title_are_refused(field, value):
    with pytest.raises(CorpusError) as info:
        make_article(record(**{field: value}))
    assert f"missing '{field}'" in str(info.value)


@pytest.mark.parametrize("value", [None, "", "   \n  "])
def test_missing_or_blank_text_is_refused(value):
    with pytest.raises(CorpusError, match="empty body"):
        make_article(record(text=value))


@pytest.mark.parametrize("value", [42, ["a list"]])
def test_non_string_text_is_refused(value):
    with pytest.raises(CorpusError, match="'text' must be a string"):
        make_article(record(text=value))


@pytest.mark.parametrize("value", [True, "2024-05-01Tgarbage", 3.5])
def test_odd_dates_are_refused(value):
    with pytest.raises(CorpusError, match="date"):
        make_article(record(date=value))


def test_error_carries_path_and_line():
    with pytest.raises(CorpusError) as info:
        make_article(record(title=""), path="data/x.jsonl", line=7)
    err = info.value
    assert (err.path, err.line) == ("data/x.jsonl", 7)
    assert str(err) == "data/x.jsonl:7: missing 'title'"


@pytest.mark.parametrize(
    "bad_id", ["has space", "-leading-dash", ".hidden", "semi;colon", "quote'", "x" * 201, "ünï"]
)
def test_invalid_id_characters_are_refused(bad_id):
    with pytest.raises(CorpusError, match="is not valid"):
        make_article(record(id=bad_id))


@pytest.mark.parametrize(
    "good_id", ["a", "A1", "sub/my-file", "x.y_z:1@host+v2", "x" * 200, "2024-report"]
)
def test_valid_ids_are_kept(good_id):
    assert make_article(record(id=good_id)).id == good_id


def test_id_is_stripped_and_numbers_become_strings():
    assert make_article(record(id="  abc  ")).id == "abc"
    assert make_article(record(id=17)).id == "17"


def test_title_whitespace_is_collapsed():
    assert make_article(record(title="  A \n  long\ttitle  ")).title == "A long title"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2024", "2024"),
        ("2024-05", "2024-05"),
        ("2024-05-01", "2024-05-01"),
        ("2024-05-01T10:00:00Z", "2024-05-01"),
        ("2024-05-01T10:00:00+02:00", "2024-05-01"),
        ("2024-05-01 10:00", "2024-05-01"),
        (" 2024-02-29 ", "2024-02-29"),
        (2024, "2024"),
        (dt.date(2024, 5, 1), "2024-05-01"),
        (dt.datetime(2024, 5, 1, 23, 59), "2024-05-01"),
        (None, None),
        ("", None),
    ],
)
def test_dates_are_normalised(given, expected):
    assert normalise_date(given) == expected
    assert make_article(record(date=given)).date == expected


@pytest.mark.parametrize(
    "bad",
    [
        "2024-13-01",
        "2023-02-29",
        "2024-04-31",
        "2024-00",
        "yesterday",
        "01/05/2024",
        "2024-5-1",
        "24",
        "2024-05-01X",
        0,
        -5,
        12345,
    ],
)
def test_invalid_dates_are_refused(bad):
    with pytest.raises(CorpusError, match="date"):
        make_article(record(date=bad))


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (["a", "b"], ["a", "b"]),
        (("a", "b"), ["a", "b"]),
        ("a, b ,c", ["a", "b", "c"]),
        ("single", ["single"]),
        (" a ,, a , b, ", ["a", "b"]),
        ([" x ", "", "x", 3], ["x", "3"]),
        ("", []),
        (None, []),
        ([], []),
    ],
)
def test_tags_as_list_or_comma_string(given, expected):
    assert make_article(record(tags=given)).tags == expected


@pytest.mark.parametrize("bad", [{"a": 1}, 5, [["nested"]], [{"a": 1}]])
def test_tags_of_wrong_type_are_refused(bad):
    with pytest.raises(CorpusError, match="tags"):
        make_article(record(tags=bad))


@pytest.mark.parametrize("field", ["source", "author", "url"])
def test_non_string_optional_field_is_refused(field):
    with pytest.raises(CorpusError, match=f"field '{field}' must be a string"):
        make_article(record(**{field: ["x"]}))


def test_nul_in_text_is_refused():
    with pytest.raises(CorpusError, match="'text' contains control characters"):
        make_article(record(text="before\x00after"))


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x0c", "\x01"])
def test_control_characters_in_title_are_refused(char):
    with pytest.raises(CorpusError, match="'title' contains control characters"):
        make_article(record(title=f"Bad{char}title"))


def test_control_characters_in_metadata_are_refused():
    with pytest.raises(CorpusError, match="'author' contains control characters"):
        make_article(record(author="A\x1bB"))


def test_form_feed_and_tabs_are_allowed_in_text():
    text = "Page one.\n\x0c\nPage two.\tTabbed.\r\n"
    assert make_article(record(text=text)).text == text


def test_text_is_kept_verbatim():
    text = "  Leading space.\n\nSecond paragraph.  "
    assert make_article(record(text=text)).text == text


def test_lone_surrogate_is_refused():
    with pytest.raises(CorpusError, match="lone surrogate"):
        make_article(record(text="broken \udc80 text"))


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sub/My File", "sub-my-file"),
        ("https://Example.org/a/b?c=d", "example-org-a-b-c-d"),
        ("Ünïcödé Façade", "unicode-facade"),
        ("  --Hello,  World!--  ", "hello-world"),
        ("日本語", ""),
        ("", ""),
    ],
)
def test_slugify(given, expected):
    assert slugify(given) == expected


def test_slugify_truncates_without_trailing_dash():
    slug = slugify("ab " * 100, max_len=10)
    assert slug == "ab-ab-ab-a"
    assert slugify("abcd efgh", max_len=5) == "abcd"


@pytest.mark.parametrize("bad", ["a/../b", "a/./b", "a//b", "a/", "a/..", "x/."])
def test_ids_that_a_url_path_would_change_are_refused(bad):
    with pytest.raises(CorpusError, match="not valid"):
        make_article(record(id=bad))
