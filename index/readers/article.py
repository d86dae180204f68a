"""An article's validation: `make_article` checks a mapping of fields into the one article
record (`policy_search.records.Article`, which the index stores and the API serves)."""

from __future__ import annotations

import calendar
import dataclasses
import hashlib
import re
import unicodedata
from datetime import date as _date
from datetime import datetime

from policy_search.index.errors import CorpusError
from policy_search.records import Article

__all__ = [
    "ARTICLE_FIELDS",
    "RESERVED_ID_SUFFIXES",
    "Article",
    "date_range",
    "make_article",
    "normalise_date",
    "slugify",
    "url_id",
]

ARTICLE_FIELDS = tuple(f.name for f in dataclasses.fields(Article))  # the fields a reader maps
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}$")
_DATE_RE = re.compile(r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?")  # ASCII digits only
_CONTROL = {c for c in map(chr, range(32)) if c not in "\t\n\r"}


#: `/articles/{id}/similar` names an article's neighbours and `/articles/{id}/cite` its
#: citation, so no id may end like these.
RESERVED_ID_SUFFIXES = ("/similar", "/cite")


def slugify(value: str, *, max_len: int = 120) -> str:
    """Turn a path or URL into a stable, readable id."""
    value = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    value = re.sub(r"^[a-z]+://", "", value.strip().lower())
    value = re.sub(r"[^a-z0-9]+", "-", value).strip("-")
    return value[:max_len].strip("-")


def url_id(url: str) -> str:
    """The id of an article from `url`: its slug, or a hash when the slug would be empty."""
    digest = hashlib.sha1(url.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return slugify(url) or f"url-{digest}"


def normalise_date(value: object) -> str | None:
    """Accept an ISO date (YYYY, YYYY-MM, YYYY-MM-DD, or a datetime) and return its date part."""
    if value is None or value == "":
        return None
    if isinstance(value, _date):
        return value.isoformat()[:10]
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 9999:
        return f"{value:04d}"
    if not isinstance(value, str):
        raise ValueError(f"date must be an ISO 8601 date string, not {type(value).__name__}")
    text = value.strip()
    head = text
    if len(text) > 10 and text[10] in "T ":
        head = text[:10]
        try:
            datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"date {text!r} is not an ISO 8601 date or date-time") from None
    match = _DATE_RE.fullmatch(head)
    if not match:
        raise ValueError(f"date {text!r} is not an ISO 8601 date (YYYY, YYYY-MM or YYYY-MM-DD)")
    year, month, day = match.groups()
    try:
        _date(int(year), int(month or 1), int(day or 1))
    except ValueError as exc:
        raise ValueError(f"date {text!r} is not a real date: {exc}") from None
    return head


def date_range(value: str | None) -> tuple[str | None, str | None]:
    """A partial ISO date as the interval of days it covers: 2024 → (2024-01-01, 2024-12-31)."""
    if not value:
        return None, None
    parts = value.split("-")
    year = int(parts[0])
    if len(parts) == 1:
        return f"{year:04d}-01-01", f"{year:04d}-12-31"
    month = int(parts[1])
    if len(parts) == 2:
        last = calendar.monthrange(year, month)[1]
        return f"{year:04d}-{month:02d}-01", f"{year:04d}-{month:02d}-{last:02d}"
    return value, value


def _bad_segments(article_id: str) -> bool:
    """Ids travel in URL paths: `a/../b`, `a//b` or a trailing `/` would not survive that, and
    `/articles/a/similar` names the articles near `a` and `/articles/a/cite` its citation, so no
    id may end in `/similar` or `/cite`."""
    parts = article_id.split("/")
    return any(part in ("", ".", "..") for part in parts) or article_id.endswith(
        RESERVED_ID_SUFFIXES
    )


def _optional_str(record: dict[str, object], key: str) -> str | None:
    value = record.get(key)
    if value is None:
        return None
    if not isinstance(value, str | int | float):
        raise ValueError(f"field {key!r} must be a string, not {type(value).__name__}")
    text = str(value).strip()
    return text or None


def _tags(value: object) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = [t for t in value.split(",")]
    if not isinstance(value, list | tuple):
        raise ValueError("field 'tags' must be a list of strings or a comma-separated string")
    tags = []
    for tag in value:
        if not isinstance(tag, str | int | float):
            raise ValueError("field 'tags' must contain only strings")
        text = str(tag).strip()
        _check_text("tags", text)
        if text and text not in tags:
            tags.append(text)
    return tags


def _check_text(name: str, value: str) -> None:
    # Body text may carry form feeds and the like from real documents; NUL never.
    bad = "\x00" in value if name == "text" else any(c in _CONTROL for c in value)
    if bad:
        raise ValueError(f"field {name!r} contains control characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"field {name!r} is not valid Unicode (lone surrogate)") from None


def make_article(
    record: dict[str, object], *, path: str | None = None, line: int | None = None
) -> Article:
    """Validate a mapping of article fields into an `Article`, or raise `CorpusError`."""
    try:
        article_id = _optional_str(record, "id")
        if not article_id:
            raise ValueError("missing 'id'")
        if not _ID_RE.match(article_id) or _bad_segments(article_id):
            raise ValueError(
                f"id {article_id!r} is not valid: use 1-200 characters of letters, digits "
                "and . _ : / @ + -, starting with a letter or digit, with no empty, `.` or `..` "
                "part between slashes, not ending in /similar or /cite"
            )
        title = _optional_str(record, "title")
        if not title:
            raise ValueError("missing 'title'")
        text = record.get("text")
        if text is not None and not isinstance(text, str):
            raise ValueError(f"field 'text' must be a string, not {type(text).__name__}")
        if not text or not text.strip():
            raise ValueError("empty body: the article has no text")
        fields = {
            "source": _optional_str(record, "source"),
            "author": _optional_str(record, "author"),
            "url": _optional_str(record, "url"),
        }
        for name, value in (("title", title), ("text", text), *fields.items()):
            if value is not None:
                _check_text(name, value)
        return Article(
            id=article_id,
            title=" ".join(title.split()),
            text=text,
            date=normalise_date(record.get("date")),
            tags=_tags(record.get("tags")),
            source=fields["source"],
            author=fields["author"],
            url=fields["url"],
        )
    except ValueError as exc:
        raise CorpusError(str(exc), path=path, line=line) from None
