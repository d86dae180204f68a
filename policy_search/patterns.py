"""The shapes of the API's text fields, as regular expressions.

Each pattern goes into the OpenAPI spec and is enforced by pydantic, so a request the spec calls
valid is one the server accepts (schemathesis checks exactly that). They restate rules that
`index/readers/article.py` applies to every article, wherever it comes from;
`tests/test_patterns.py` checks the two agree. Only ASCII classes (`[0-9]`, not `\\d`) and no
look-arounds: the spec's readers, pydantic (Rust regex) and Hypothesis (Python `re`) must all read
them alike.
"""

from __future__ import annotations

__all__ = [
    "ARTICLE_ID",
    "DATE",
    "LINE",
    "PROSE",
    "QUERY",
    "TITLE",
    "URL",
    "describe",
]

_YEAR = r"(000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})"
_MONTH = r"(0[1-9]|1[0-2])"
# Every real month-day pair but 29 February, which only leap years have.
_MONTH_DAY = r"(" + "|".join([
    r"(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])",
    r"(0[13-9]|1[0-2])-(29|30)",
    r"(0[13578]|1[02])-31",
]) + r")"  # fmt: skip
_LEAP_YEAR = r"([0-9]{2}(0[48]|[2468][048]|[13579][26])|([2468][048]|[13579][26]|0[48])00)"
_DAY = rf"({_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
_TIME = (
    r"[T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?"
    r"(Z|[+-]([01][0-9]|2[0-3]):?[0-5][0-9])?"
)

#: A date: a year, a month or a day that exists (2024, 2024-02, 2024-02-29), or a day with a
#: time (only its date counts).
DATE = rf"^({_YEAR}(-{_MONTH})?|{_DAY}({_TIME})?)$"

# index/readers/article.py: `_ID_RE` and `_bad_segments`. Parts between slashes are never empty,
# `.` or `..`; the first character is a letter or digit. Length is the field's max_length (200).
_ID_CHAR = r"[A-Za-z0-9._:@+-]"
_ID_PART = rf"([A-Za-z0-9_:@+-]{_ID_CHAR}*|\.[A-Za-z0-9_:@+-]{_ID_CHAR}*|\.\.{_ID_CHAR}+)"
ARTICLE_ID = rf"^[A-Za-z0-9]{_ID_CHAR}*(/{_ID_PART})*$"

# Control characters other than tab, newline and carriage return (index/readers/article.py
# `_CONTROL`).
_CONTROL = r"\x00-\x08\x0b\x0c\x0e-\x1f"
#: A metadata value (source, author, tag): no control characters.
LINE = rf"^[^{_CONTROL}]*$"
#: A title: the same, with at least one character that is not a space.
TITLE = rf"^[^{_CONTROL}]*[^\s{_CONTROL}][^{_CONTROL}]*$"
#: An article's text: anything but NUL, with at least one character that is not a space.
PROSE = r"^[^\x00]*[^\s\x00][^\x00]*$"
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PORT = r"([0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
#: A query: anything with a character that is not a space.
QUERY = r"^[\s\S]*\S[\s\S]*$"
#: A link: http(s), a host name, maybe a port, then a path, query or fragment without spaces or
#: control characters.
URL = rf"^[hH][tT][tT][pP][sS]?://{_LABEL}(\.{_LABEL})*(:{_PORT})?([/?#][^\s\x00-\x1f\x7f-\x9f]*)?$"

_MEANING = {
    DATE: "an ISO 8601 date that exists (YYYY, YYYY-MM or YYYY-MM-DD) or date-time",
    ARTICLE_ID: "letters, digits and . _ : / @ + -, starting with a letter or digit, with no "
    "empty, `.` or `..` part between slashes",
    LINE: "text without control characters",
    TITLE: "text with a visible character and no control characters",
    PROSE: "text with a visible character and no NUL",
    QUERY: "some words to search for: the query is empty or only spaces",
    URL: "an http:// or https:// URL with a host name and no spaces",
}


def describe(pattern: str) -> str:
    """What a value matching `pattern` looks like, in words, for error messages."""
    return _MEANING.get(pattern, f"text matching {pattern}")
