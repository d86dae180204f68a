"""Fuzzing the readers and the chunker: any input is read into valid articles or refused.

Every reader, given arbitrary bytes (odd Unicode, NUL, RTL marks, emoji, invalid UTF-8, BOMs,
CRLF, empty files, huge lines), either yields articles that satisfy the `Article` invariants or
raises `CorpusError` naming the file (and a line that exists); any other exception is a bug.
Hypothesis's deadline (see the profiles in conftest.py) and pytest-timeout guard against hangs.
Articles written in each format read back as themselves, after that format's documented
normalisation. The chunker, on any valid article text, keeps its offsets, its token budget and
covers every non-whitespace character.

`HYPOTHESIS_PROFILE=fuzz` runs many more examples (`make fuzz`).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import gzip
import io
import json
import os
import re
from pathlib import Path

import pytest
import yaml
from fpdf import FPDF
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from policy_search.index.analysis.chunk import (
    ChunkSettings,
    chunk_article,
    embed_text,
    title_prefix,
)
from policy_search.index.errors import CorpusError
from policy_search.index.readers import read_file
from policy_search.index.readers.article import ARTICLE_FIELDS, Article, make_article
from tests.fakes import FakeEmbedder

SUFFIXES = (".md", ".markdown", ".txt", ".jsonl", ".jsonl.gz", ".csv", ".html", ".htm", ".pdf")
HUGE = 4 * 1024 * 1024  # a "huge line": 4 MB
_HEALTH = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large]
# The real model's property keeps few examples: 15 in CI, 500 under "fuzz".
_EXAMPLES = settings().max_examples
FEW = settings(max_examples=min(_EXAMPLES, max(15, _EXAMPLES // 6)))


# Invariants


_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}")
_ISO = re.compile(r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?")
_C0 = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # control characters other than \t \n \r


def utf8(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_article(article: Article) -> None:
    """Assert the invariants every article from a reader holds."""
    assert isinstance(article, Article)
    assert isinstance(article.id, str) and _ID.fullmatch(article.id), article.id
    assert all(part not in ("", ".", "..") for part in article.id.split("/"))
    assert isinstance(article.title, str) and article.title
    assert article.title == " ".join(article.title.split())  # one line, spaces collapsed
    assert utf8(article.title) and not _C0.search(article.title)
    assert isinstance(article.text, str) and article.text.strip()
    assert utf8(article.text) and "\x00" not in article.text
    for value in (article.source, article.author, article.url):
        assert value is None or (isinstance(value, str) and value and value == value.strip())
        assert value is None or (utf8(value) and not _C0.search(value))
    if article.date is not None:
        match = _ISO.fullmatch(article.date)
        assert match, article.date
        year, month, day = (int(g) if g else 1 for g in match.groups())
        dt.date(year, month, day)  # a real date
    assert isinstance(article.tags, list)
    assert len(set(article.tags)) == len(article.tags)
    for tag in article.tags:
        assert isinstance(tag, str) and tag and tag == tag.strip()
        assert utf8(tag) and not _C0.search(tag)
    # A valid article is a fixed point of validation: reading it again changes nothing.
    assert make_article(dataclasses.asdict(article)) == article


def line_count(data: bytes) -> int:
    """Lines in the file, counting \\r\\n, \\r and \\n as line ends (the readers' widest view)."""
    return len(re.split(rb"\r\n|\r|\n", data))


def read_or_refuse(path: Path, *, root: Path | None = None, lines: int) -> list[Article]:
    """Read `path`: valid articles, or a CorpusError that names the file and a real line."""
    try:
        articles = list(read_file(path, root=root))
    except CorpusError as exc:
        # A name that is not UTF-8 is shown with U+FFFD for its undecodable bytes.
        shown = str(path).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        assert exc.path == shown and shown in str(exc), str(exc)
        assert utf8(str(exc)), repr(str(exc))  # the edges print it
        assert exc.reason and str(exc).endswith(exc.reason)
        assert exc.line is None or 1 <= exc.line <= lines, (exc.line, lines, str(exc))
        return []
    for article in articles:
        check_article(article)
    return articles


def write(folder: Path, suffix: str, data: bytes, *, name: str = "article") -> tuple[Path, int]:
    """Write `data` as a file of that format (gzip for .gz); return the path and its lines."""
    path = folder / f"{name}{suffix}"
    path.write_bytes(gzip.compress(data) if suffix.endswith(".gz") else data)
    return path, line_count(data)


# Strategies

ODD = [
    "\x00",
    "\u200f",  # RIGHT-TO-LEFT MARK
    "\u202e",  # RIGHT-TO-LEFT OVERRIDE
    "\u200b",  # ZERO WIDTH SPACE
    "\ufeff",  # BOM / ZWNBSP
    "\u2028",  # LINE SEPARATOR
    "\x85",  # NEXT LINE
    "\x0b",
    "\x0c",
    "\x1c",
    "\r",
    "\n",
    "\r\n",
    "\t",
    " ",
    "🙂",
    "👩‍👩‍👧",
    "🇦🇿",
    "e\u0301",
    "\u0301",  # a combining mark with nothing to combine with
    "ﷺ",
    "ß",
    "İ",
    "Ⅻ",
    "٢٠٢٤",
    "---",
    "...",
    ",",
    '"',
    "'",
    ":",
    ";",
    "#",
    "&a",
    "*a",
    "[",
    "{",
    "!!binary",
    "<",
    ">",
    "&amp;",
    "title",
    "text",
    "id",
    "2024-13-01",
]
odd_chars = st.one_of(st.characters(codec="utf-8"), st.sampled_from(ODD))
odd_text = st.lists(odd_chars, max_size=80).map("".join)
lone_surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, categories=["Cs"])


@st.composite
def encoded(draw: st.DrawFn, text: st.SearchStrategy[str] = odd_text) -> bytes:
    """Text as bytes: UTF-8, with a BOM, with CRLF, with lone surrogates, or cut mid-character."""
    value = draw(text)
    if draw(st.booleans()):
        value = value.replace("\n", "\r\n")
    how = draw(st.sampled_from(["utf-8", "bom", "surrogate", "cut", "latin-1"]))
    if how == "bom":
        return b"\xef\xbb\xbf" + value.encode("utf-8")
    if how == "surrogate":
        at = draw(st.integers(0, len(value)))
        value = value[:at] + draw(lone_surrogates) + value[at:]
        return value.encode("utf-8", "surrogatepass")  # invalid UTF-8 (ED A0 80 ...)
    if how == "cut":
        data = value.encode("utf-8")
        return data[: draw(st.integers(0, len(data)))]
    if how == "latin-1":
        return value.encode("latin-1", "replace")
    return value.encode("utf-8")


def md_file(front: str, body: str) -> str:
    return f"---\n{front}\n---\n{body}"


# Scalars for front matter and records: odd text, and the values YAML and JSON turn into
# surprising types (dates, huge numbers, aliases, deep nesting).
yaml_scalars = st.one_of(
    odd_text,
    st.sampled_from(
        [
            "2024-05-01",
            "2024-13-01",
            "2024-02-30",
            "2024-01-01 25:00:00",
            "2024-01-01t10:00:00",
            "٢٠٢٤-٠١-٠١",
            "1" * 5000,
            "0x" + "f" * 5000,
            "1:2:3",
            "1e400",
            ".nan",
            "yes",
            "~",
            "!!binary AAAA",
            "!!binary ###",
            "!!python/object:os.system x",
            "&a [*a]",
            "[" * 3000,
            "[" * 3000 + "]" * 3000,
            "{a: " * 2000,
            '"\\ud800"',
            '"\\x00"',
            '"a\\u2028b"',
            "|\n  block",
            "[x, \\ud800]",
        ]
    ),
)


@st.composite
def front_matter(draw: st.DrawFn) -> str:
    """YAML lines `key: value` over the article fields and some others, values anything."""
    keys = st.one_of(st.sampled_from(ARTICLE_FIELDS), odd_text)
    pairs = draw(st.lists(st.tuples(keys, yaml_scalars), max_size=8))
    if draw(st.booleans()):
        pairs.append(("title", draw(yaml_scalars)))
    return "\n".join(f"{k}: {v}" for k, v in pairs)


json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        odd_text,
        st.lists(lone_surrogates, min_size=1, max_size=3).map("".join),
        st.sampled_from(["2024-05-01", "2024-13-01", "٢٠٢٤", "2024-01-01T10:00:00Z"]),
    ),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(odd_text, children),
    max_leaves=12,
)
records = st.dictionaries(st.sampled_from(ARTICLE_FIELDS), json_values) | st.dictionaries(
    st.sampled_from(ARTICLE_FIELDS), odd_text
)


@st.composite
def jsonl_lines(draw: st.DrawFn) -> bytes:
    """JSON lines: records (ensure_ascii on or off, so lone surrogates arrive as escapes),
    other JSON, deep nesting, huge numbers, raw odd bytes."""
    out = []
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(["record", "any", "deep", "number", "raw"]))
        if kind == "record":
            line = json.dumps(draw(records), ensure_ascii=draw(st.booleans())).encode(
                "utf-8", "surrogatepass"
            )
        elif kind == "any":
            line = json.dumps(draw(json_values)).encode()
        elif kind == "deep":
            depth = draw(st.sampled_from([10, 1000, 100_000]))
            line = b"[" * depth + b"]" * depth
        elif kind == "number":
            line = b'{"id": "a", "title": ' + b"9" * draw(st.integers(1, 6000)) + b', "text": "x"}'
        else:
            line = draw(encoded())
        out.append(line)
    sep = draw(st.sampled_from([b"\n", b"\r\n", b"\r", b"\n\n"]))
    return sep.join(out)


@st.composite
def csv_text(draw: st.DrawFn) -> bytes:
    """A CSV file: a header of article fields (and others), rows of odd cells, maybe broken."""
    header = draw(
        st.lists(st.one_of(st.sampled_from(ARTICLE_FIELDS), odd_text), min_size=0, max_size=9)
    )
    if draw(st.booleans()):
        header += ["title", "text"]
    width = st.integers(0, len(header) + 1)
    rows = draw(st.lists(st.lists(odd_text, min_size=0, max_size=12), max_size=5))
    rows = [row[: draw(width)] for row in rows]
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator=draw(st.sampled_from(["\n", "\r\n", "\r"])))
    writer.writerow(header)
    writer.writerows(rows)
    text = buffer.getvalue()
    if draw(st.booleans()):  # damage it: a stray quote, a cut
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(['"', '""', "\x00", "\n", ","])) + text[at:]
    return draw(encoded(st.just(text)))


@st.composite
def html_page(draw: st.DrawFn) -> bytes:
    """A page with odd text in its title, metadata and paragraphs, escaped or raw."""

    def piece() -> str:
        value = draw(odd_text)
        return value if draw(st.booleans()) else value.replace("&", "&amp;").replace("<", "&lt;")

    charset = draw(st.sampled_from(["utf-8", "iso-8859-1", "windows-1256", "bogus", ""]))
    paragraphs = "".join(f"<p>{piece()} {piece()}</p>\n" for _ in range(draw(st.integers(0, 6))))
    page = (
        f'<!DOCTYPE html><html dir="rtl"><head><meta charset="{charset}">'
        f"<title>{piece()}</title>"
        f'<meta name="author" content="{piece()}">'
        f'<meta property="article:published_time" content="{piece()}">'
        f'<link rel="canonical" href="{piece()}"></head>'
        f"<body><article><h1>{piece()}</h1>{paragraphs}</article></body></html>"
    )
    return draw(encoded(st.just(page)))


def _pdf(title: str, lines: list[str]) -> bytes:
    pdf = FPDF()
    pdf.set_title(title)
    pdf.set_font("helvetica", size=12)
    pdf.add_page()
    for line in lines:
        pdf.cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


PDF = _pdf("Pipeline politics", ["Gas flows west through Georgia.", "And east, some say."])


@st.composite
def damaged_pdf(draw: st.DrawFn) -> bytes:
    """A real PDF with bytes overwritten, inserted or cut off."""
    data = bytearray(PDF)
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["set", "insert", "cut"]))
        if kind == "set" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(max_size=16))
        else:
            del data[at:]
    return bytes(data)


any_bytes = st.one_of(st.binary(max_size=400), encoded())
format_bytes = {
    ".md": st.one_of(
        any_bytes,
        st.builds(md_file, front_matter(), odd_text).flatmap(lambda t: encoded(st.just(t))),
    ),
    ".markdown": any_bytes,
    ".txt": any_bytes,
    ".jsonl": st.one_of(any_bytes, jsonl_lines()),
    ".jsonl.gz": st.one_of(any_bytes, jsonl_lines()),
    ".csv": st.one_of(any_bytes, csv_text()),
    ".html": st.one_of(any_bytes, html_page()),
    ".htm": any_bytes,
    ".pdf": st.one_of(st.binary(max_size=400).map(lambda b: b"%PDF-1.4\n" + b), damaged_pdf()),
}


# Any bytes: read or refused


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_empty_file_is_refused_or_empty(tmp_path, suffix):
    path, lines = write(tmp_path, suffix, b"")
    assert read_or_refuse(path, lines=lines) == []


@pytest.mark.parametrize("suffix", SUFFIXES)
@settings(suppress_health_check=_HEALTH)
@given(data=st.data())
def test_any_bytes_are_read_or_refused(tmp_path, suffix, data):
    content = data.draw(format_bytes[suffix], label="content")
    path, lines = write(tmp_path, suffix, content)
    if suffix.endswith(".gz") and data.draw(st.booleans(), label="damaged"):
        packed = path.read_bytes()  # a gzip stream cut short, or with a byte changed
        at = data.draw(st.integers(0, len(packed) - 1), label="at")
        damaged = packed[:at] + bytes([data.draw(st.integers(0, 255), label="byte")])
        path.write_bytes(damaged + (packed[at + 1 :] if data.draw(st.booleans()) else b""))
    read_or_refuse(path, root=tmp_path, lines=lines)


file_names = (
    st.one_of(st.binary(min_size=1, max_size=60), encoded())
    .map(lambda name: name.replace(b"/", b"").replace(b"\x00", b"")[:200])
    .filter(lambda name: name not in (b"", b".", b".."))
)


@settings(suppress_health_check=_HEALTH)
@given(name=file_names, suffix=st.sampled_from([".md", ".txt"]))
def test_any_file_name_gives_an_id_or_is_refused(tmp_path, name, suffix):
    """Ids come from file names: any name, even one that is not UTF-8, gives a valid id."""
    content = {".md": b"---\ntitle: T\n---\nBody.", ".txt": b"T\nBody."}[suffix]
    path = Path(os.fsdecode(os.fsencode(tmp_path) + b"/" + name + suffix.encode()))
    path.write_bytes(content)
    try:
        articles_read = read_or_refuse(path, root=tmp_path, lines=line_count(content))
    finally:
        path.unlink()
    for article in articles_read:
        assert (article.title, article.text) == ("T", "Body.")


# Round trips: an article written in a format reads back as itself (after normalisation)


def _line_ends(value: str) -> str:
    return value.replace("\r\n", "\n").replace("\r", "\n")


# Metadata may hold line ends and tabs, never other control characters.
meta_chars = st.one_of(
    st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]),
    st.sampled_from(["\n", "\r", "\r\n", "\t", "\x85", "\u2028", "\ufeff", "\u200f", " "]),
    st.sampled_from(["\n---\n", "\n...\n", "---", ": ", " #", "\n- ", "'", '"', "&a", "!!"]),
)
meta_text = st.lists(meta_chars, max_size=40).map("".join)
titles = meta_text.filter(str.strip)
long_titles = st.one_of(titles, st.lists(meta_chars, max_size=400).map("".join).filter(str.strip))
ids = st.from_regex(
    r"[A-Za-z0-9][A-Za-z0-9._:@+-]{0,30}(/[A-Za-z0-9][A-Za-z0-9._-]{0,10}){0,2}", fullmatch=True
)
dates = st.one_of(
    st.none(),
    st.dates(min_value=dt.date(1, 1, 1)).map(dt.date.isoformat),
    st.integers(1, 9999).map(lambda y: f"{y:04d}"),
    st.dates().map(lambda d: d.isoformat()[:7]),
)


@st.composite
def articles(draw: st.DrawFn) -> Article:
    """Valid articles, made by make_article from odd but acceptable fields."""
    text = draw(st.one_of(odd_text, st.text())).replace("\x00", "")
    record = {
        "id": draw(ids),
        "title": draw(titles),
        "text": text if text.strip() else text + "x",
        "source": draw(st.none() | meta_text),
        "author": draw(st.none() | meta_text),
        "date": draw(dates),
        "url": draw(st.none() | meta_text),
        "tags": draw(st.lists(meta_text, max_size=4)),
    }
    try:
        return make_article(record)
    except CorpusError:  # e.g. a title of only non-printing characters: not what this tests
        return draw(st.nothing())


def as_record(article: Article) -> dict[str, object]:
    record = dataclasses.asdict(article)
    record["tags"] = list(article.tags)
    return {k: v for k, v in record.items() if v not in (None, [])}


@settings(suppress_health_check=_HEALTH)
@given(article=articles(), raw_unicode=st.booleans())
def test_markdown_round_trip(tmp_path, article, raw_unicode):
    meta = {k: v for k, v in as_record(article).items() if k != "text"}
    # PyYAML's own round trip loses a raw U+0085 (NEL) in a quoted scalar (it reads as a line
    # break and folds into a space); escaped, it survives.
    assume(not raw_unicode or "\x85" not in json.dumps(meta, ensure_ascii=False))
    front = yaml.safe_dump(meta, allow_unicode=raw_unicode)
    content = "---\n" + front + "---\n" + article.text
    path, lines = write(tmp_path, ".md", content.encode("utf-8"))
    [back] = read_or_refuse(path, lines=lines)
    assert back == dataclasses.replace(article, text=_line_ends(article.text).strip())


@settings(suppress_health_check=_HEALTH)
@given(article=articles(), ascii_only=st.booleans())
def test_jsonl_round_trip(tmp_path, article, ascii_only):
    other = dataclasses.replace(article, id=article.id + "-2")
    content = "".join(
        json.dumps(as_record(a), ensure_ascii=ascii_only) + "\n" for a in (article, other)
    )
    path, lines = write(tmp_path, ".jsonl", content.encode("utf-8"))
    assert read_or_refuse(path, lines=lines) == [article, other]


def _csv_tags(tags: list[str]) -> list[str]:
    """Tags in a CSV cell are split at `,` and `;`, stripped, emptied ones dropped, deduplicated."""
    parts = [t.strip() for t in re.split(r"[;,]", ";".join(tags))]
    return list(dict.fromkeys(t for t in parts if t))


@settings(suppress_health_check=_HEALTH)
@given(article=articles(), columns=st.permutations(ARTICLE_FIELDS))
def test_csv_round_trip(tmp_path, article, columns):
    record = as_record(article)
    record["tags"] = ";".join(article.tags)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(columns)
    writer.writerow([record.get(c, "") for c in columns])
    path, lines = write(tmp_path, ".csv", buffer.getvalue().encode("utf-8"))
    [back] = read_or_refuse(path, lines=lines)
    expected = dataclasses.replace(
        article,
        text=_line_ends(article.text).strip(),
        tags=_csv_tags([_line_ends(t) for t in article.tags]),
        **{k: _line_ends(v) for k in ("source", "author", "url") if (v := getattr(article, k))},
    )
    assert back == expected


@settings(suppress_health_check=_HEALTH)
@given(article=articles())
def test_txt_round_trip(tmp_path, article):
    # A leading U+FEFF is indistinguishable from a byte order mark, which the reader drops.
    title = " ".join(article.title.removeprefix("\ufeff").split())
    assume(title)
    path, lines = write(tmp_path, ".txt", f"{article.title}\n{article.text}".encode())
    articles_read = read_or_refuse(path, root=tmp_path, lines=lines)
    body = _line_ends(article.text).strip()
    if not body:
        assert articles_read == []  # refused: a title and no body
        return
    assert articles_read == [Article(id="article", title=title, text=body)]


# Huge lines: linear time, or a hang that the timeout catches


def _huge_word_line() -> str:
    words = ("Corridor", "Каспий", "🙂", "\u200f", "أذربيجان", "a.", "e\u0301", "—")
    line = " ".join(words[i % len(words)] for i in range(HUGE // 8))
    return line[:HUGE]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("suffix", [".md", ".txt", ".jsonl", ".jsonl.gz", ".csv", ".html"])
def test_huge_line_is_read_in_time(tmp_path, suffix):
    line = _huge_word_line()
    content = {
        ".md": md_file("title: Huge", line),
        ".txt": "Huge\n" + line,
        ".jsonl": json.dumps({"id": "a", "title": "Huge", "text": line}, ensure_ascii=False),
        ".jsonl.gz": json.dumps({"id": "a", "title": "Huge", "text": line}),
        ".csv": "id,title,text\na,Huge," + line.replace(",", ";"),
        ".html": f"<html><head><title>Huge</title></head><body><p>{line}</p></body></html>",
    }[suffix]
    path, lines = write(tmp_path, suffix, content.encode("utf-8"))
    [article] = read_or_refuse(path, lines=lines)
    assert article.title == "Huge"
    assert len(article.text) >= 0.9 * len(line)


@pytest.mark.timeout(60)
def test_huge_front_matter_is_refused_in_time(tmp_path):
    """Front matter is metadata, capped at 64 KiB (PyYAML reads it in pure Python, slowly)."""
    line = _huge_word_line().replace(":", " ").replace("#", " ")
    path, lines = write(tmp_path, ".md", md_file(f"title: '{line}'", "Body.").encode())
    with pytest.raises(CorpusError, match="front matter is over 64 KiB") as caught:
        list(read_file(path))
    assert caught.value.line == 2
    title = line[: 60 * 1024].strip()
    path, lines = write(tmp_path, ".md", md_file(f"title: '{title}'", "Body.").encode())
    [article] = read_or_refuse(path, lines=lines)
    assert article.title == " ".join(title.split())


@pytest.mark.timeout(60)
@pytest.mark.parametrize("depth", [1, 15, 16, 100])
def test_front_matter_at_the_limits_is_read_or_refused_in_time(tmp_path, depth):
    """The slowest front matter for PyYAML: 64 KiB of small tokens nested as deep as allowed
    (each token costs more the deeper it is); found taking 3-6 s at 3,000 levels."""
    unit = "[" * depth + "a, " * 20 + "]" * depth + ", "
    tags = "[" + unit * ((60 * 1024) // len(unit)) + "]"
    path, lines = write(tmp_path, ".md", md_file(f"title: T\nx: {tags}", "Body.").encode())
    articles_read = read_or_refuse(path, lines=lines)
    assert len(articles_read) == (1 if depth < 16 else 0)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("suffix", [".md", ".txt", ".jsonl", ".csv"])
def test_huge_line_of_odd_characters(tmp_path, suffix):
    """Characters the readers refuse or strip, in bulk: refused or read, in time."""
    line = ("\u202e\x0b🙂\u0301\x1c\ufeff\u2028" * (HUGE // 7))[:HUGE]
    content = {
        ".md": md_file("title: x", line),
        ".txt": line,
        ".jsonl": json.dumps({"id": "a", "title": line, "text": line}),
        ".csv": "id,title,text\na,x," + line,
    }[suffix]
    path, lines = write(tmp_path, suffix, content.encode("utf-8"))
    read_or_refuse(path, lines=lines)


# The chunker


def check_passages(article: Article, embedder, chunk_settings: ChunkSettings) -> None:
    """Offsets slice the text, each passage fits the budget, all non-whitespace is covered."""
    text = article.text
    passages = chunk_article(article, embedder, chunk_settings)
    prefix = title_prefix(article, embedder, chunk_settings)
    limit = min(chunk_settings.max_tokens, embedder.max_tokens) - embedder.special_tokens
    assert passages
    assert [p.ordinal for p in passages] == list(range(len(passages)))
    covered = bytearray(len(text))
    for p in passages:
        assert p.article_id == article.id
        assert 0 <= p.start < p.end <= len(text)
        assert text[p.start : p.end] == p.text
        spans = embedder.token_spans([embed_text(prefix, p.text)])[0]
        assert len(spans) <= limit, (len(spans), limit)
        covered[p.start : p.end] = b"\x01" * (p.end - p.start)
    missing = [i for i, c in enumerate(text) if not c.isspace() and not covered[i]]
    assert not missing, f"characters {missing[:5]} ({text[missing[0]]!r}…) are in no passage"


def valid_text(value: str) -> str:
    """Text as make_article accepts it: no NUL, something besides whitespace."""
    value = value.replace("\x00", "")
    return value if value.strip() else value + "x"


chunk_texts = st.one_of(
    st.lists(odd_chars, min_size=1, max_size=600).map("".join),
    st.lists(
        st.one_of(odd_text, st.sampled_from(["。", ". ", "!\n", "\n\n", "?» "])), max_size=40
    ).map("".join),
).map(valid_text)


@st.composite
def sane_chunk_settings(draw: st.DrawFn, *, most: int = 300) -> ChunkSettings:
    """Settings that leave room for a passage: the title and special tokens take at most all
    but 8 of max_tokens (the chunker's smallest passage budget). Tighter ones cannot be met."""
    max_tokens = draw(st.integers(12, most))
    return ChunkSettings(
        max_tokens=max_tokens,
        overlap_tokens=draw(st.integers(0, max_tokens)),
        title_tokens=draw(st.integers(1, max_tokens - 2 - 8)),
        with_title=draw(st.booleans()),
    )


@given(text=chunk_texts, title=long_titles, chunk_settings=sane_chunk_settings())
def test_chunker_on_odd_text(text, title, chunk_settings):
    article = make_article({"id": "a", "title": title, "text": text})
    check_passages(article, FakeEmbedder(max_tokens=512), chunk_settings)  # settings bind


@pytest.mark.model
@FEW
@given(text=chunk_texts, title=long_titles, chunk_settings=sane_chunk_settings(most=256))
def test_chunker_on_odd_text_with_the_real_tokenizer(real_embedder, text, title, chunk_settings):
    """WordPiece drops some characters, splits others into many pieces, and cuts words
    differently alone than in context: the invariants hold all the same."""
    assert real_embedder.max_tokens >= 256  # so the settings, not the model, bind
    article = make_article({"id": "a", "title": title, "text": text})
    check_passages(article, real_embedder, chunk_settings)


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "line",
    [
        pytest.param(_huge_word_line(), id="words"),
        pytest.param("x" * HUGE, id="one-word"),
        pytest.param("." * (HUGE // 4), id="punctuation"),
        pytest.param(("\u202e🙂\u0301\u200b, " * HUGE)[: HUGE // 4], id="odd"),
    ],
)
def test_chunker_on_a_huge_line(line):
    check_passages(Article(id="a", title="Huge", text=line), FakeEmbedder(), ChunkSettings())


# Regressions: what the fuzzing found, each refused with the line it is on


@pytest.mark.parametrize(
    ("suffix", "content", "line", "reason"),
    [
        # YAML's date and integer constructors raised ValueError
        (".md", "---\ntitle: x\ndate: 2024-13-01\n---\nBody.", 3, "month must be in 1..12"),
        (".md", "---\ntitle: x\ndate: 2024-01-01 25:00:00\n---\nB.", 3, "hour must be in 0..23"),
        (".md", "---\nid: a\ntitle: " + "1" * 5000 + "\n---\nBody.", 3, "(4300 digits)"),
        # deep nesting raised RecursionError
        (".md", "---\ntitle: x\ntags: " + "[" * 3000 + "\n---\nBody.", 3, "nested too deeply"),
        (".jsonl", '{"id": "a", "title": "t", "text": "x"}\n' + "[" * 100_000, 2, "nested"),
        # an integer of more than 4,300 digits raised ValueError
        (".jsonl", '\n{"id": "a", "title": ' + "9" * 5000 + ', "text": "x"}', 2, "digits"),
        # the line was counted at YAML's U+2028 and U+0085 line breaks, not at the file's
        (".md", '---\nauthor: "a\u2028b\x85c"\ntitle: [\n---\nBody.', 3, "expected"),
        (".md", "---\ntitle: x\u2028\nauthor: a\x00\n---\nBody.", 3, "U+0000 is not allowed"),
        # a lone surrogate (a JSON or YAML escape) in a tag was kept, and failed on writing
        (".jsonl", '{"id": "a", "title": "t", "text": "x", "tags": ["\\ud800"]}', 1, "Unicode"),
        # dates in other scripts' digits were kept as they were, not as ISO dates
        (".jsonl", '{"id": "a", "title": "t", "text": "x", "date": "٢٠٢٤-٠١-٠١"}', 1, "ISO"),
    ],
)
def test_found_by_fuzzing_is_refused_at_its_line(tmp_path, suffix, content, line, reason):
    path, _ = write(tmp_path, suffix, content.encode("utf-8"))
    with pytest.raises(CorpusError) as caught:
        list(read_file(path))
    assert (caught.value.path, caught.value.line) == (str(path), line)
    assert reason in caught.value.reason


def test_an_indented_dashes_line_does_not_close_front_matter(tmp_path):
    """yaml.safe_dump writes a value with a `---` line as an indented `  ---`: the reader took it
    for the end of the front matter and read the rest of the value as the body."""
    front = yaml.safe_dump({"title": "T", "author": "A\n---\nB"})
    path, _ = write(tmp_path, ".md", f"---\n{front}---\nBody.".encode())
    [article] = read_file(path)
    assert (article.author, article.text) == ("A\n---\nB", "Body.")


def test_a_tag_with_a_lone_surrogate_in_front_matter_is_refused(tmp_path):
    path, _ = write(tmp_path, ".md", b'---\ntitle: x\ntags: ["\\ud800"]\n---\nBody.')
    with pytest.raises(CorpusError, match="not valid Unicode"):
        list(read_file(path))


def test_a_file_name_that_is_not_utf8_is_shown_with_a_replacement_character(tmp_path):
    path = Path(os.fsdecode(os.fsencode(tmp_path) + b"/\xff.md"))  # no id can be derived
    path.write_bytes(b"---\ntitle: T\n---\nBody.")
    with pytest.raises(CorpusError) as caught:
        list(read_file(path, root=tmp_path))
    assert caught.value.path == str(tmp_path / "\ufffd.md")
    assert str(caught.value).encode("utf-8")


def test_text_blingfire_leaves_out_is_still_in_a_passage():
    """blingfire takes a leading U+200B or U+FEFF for space and leaves it out of every
    sentence; the chunker dropped it."""
    for text in ("\u200bHello. World", "\ufeff", "One. \u200b\u200b Two."):
        check_passages(Article(id="a", title="T", text=text), FakeEmbedder(), ChunkSettings())
