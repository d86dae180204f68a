"""Readers: Markdown, text and JSONL files into articles; every problem names file and line."""

from __future__ import annotations

import gzip
import itertools
import json

import pytest

from policy_search.index.errors import CorpusError
from policy_search.index.readers import iter_files, read_file, read_paths
from tests.conftest import CORPUS


def md(title="A title", body="The body.", **meta):
    """A Markdown article with front matter."""
    lines = ["---", f"title: {title}", *(f"{k}: {v}" for k, v in meta.items()), "---", body]
    return "\n".join(lines) + "\n"


def write(path, content):
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def jsonl(*records):
    return "".join(json.dumps(r) + "\n" for r in records)


def read_all(*paths):
    return list(read_paths(paths))


# Markdown


def test_markdown_with_front_matter(tmp_path):
    write(
        tmp_path / "a.md",
        md(
            title='"Trade: the Middle Corridor"',
            body="First paragraph.\n\nSecond paragraph.",
            id="corridor-1",
            source="Example Wire",
            author="A. Writer",
            date="2024-05-01",
            url="https://example.org/c",
            tags="[trade, Caspian]",
        ),
    )
    [article] = read_all(tmp_path)
    assert article.id == "corridor-1"
    assert article.title == "Trade: the Middle Corridor"
    assert article.text == "First paragraph.\n\nSecond paragraph."
    assert article.source == "Example Wire"
    assert article.author == "A. Writer"
    assert article.date == "2024-05-01"  # YAML makes a date object; it comes back as ISO text
    assert article.url == "https://example.org/c"
    assert article.tags == ["trade", "Caspian"]


def test_markdown_id_derived_from_path_below_folder(tmp_path):
    write(tmp_path / "sub" / "My File.md", md())
    write(tmp_path / "Top.markdown", md())
    ids = sorted(a.id for a in read_all(tmp_path))
    assert ids == ["sub/my-file", "top"]


def test_markdown_id_of_single_file_is_its_name(tmp_path):
    path = write(tmp_path / "sub" / "Some Report.MD", md())
    [article] = read_all(path)
    assert article.id == "some-report"


def test_markdown_crlf_bom_and_dots_closing(tmp_path):
    content = "\ufeff---\r\ntitle: T\r\n...\r\nLine one.\r\nLine two.\r\n"
    write(tmp_path / "a.md", content.encode("utf-8"))
    [article] = read_all(tmp_path)
    assert article.title == "T"
    assert article.text == "Line one.\nLine two."


def test_readme_and_hidden_files_are_skipped(tmp_path):
    write(tmp_path / "README.md", "# Not an article\n")
    write(tmp_path / "sub" / "readme.txt", "Not an article\n")
    write(tmp_path / ".hidden.md", md())
    write(tmp_path / ".git" / "x.md", md())
    write(tmp_path / "notes.docx", "a,b\n")
    write(tmp_path / "real.md", md())
    assert [p.name for p in iter_files(tmp_path)] == ["real.md"]
    assert [a.id for a in read_all(tmp_path)] == ["real"]


def test_broken_yaml_names_file_and_line(tmp_path):
    content = "---\ntitle: Fine\nsource: Wire\nauthor: a: b\ndate: 2024\n---\nBody.\n"
    path = write(tmp_path / "bad.md", content)
    with pytest.raises(CorpusError) as info:
        read_all(tmp_path)
    err = info.value
    assert err.path == str(path)
    assert err.line == 4  # the `author: a: b` line, counting the opening '---' as line 1
    assert f"{path}:4:" in str(err)
    assert "broken front matter" in str(err)


def test_unclosed_flow_list_in_yaml_points_inside_front_matter(tmp_path):
    content = "---\ntitle: T\ntags: [a, b\nsource: x\n---\nBody.\n"
    path = write(tmp_path / "bad.md", content)
    with pytest.raises(CorpusError) as info:
        read_all(tmp_path)
    assert info.value.line in (3, 4)
    assert f"{path}:{info.value.line}:" in str(info.value)


def test_front_matter_that_is_not_a_mapping(tmp_path):
    write(tmp_path / "a.md", "---\n- just\n- a list\n---\nBody.\n")
    with pytest.raises(CorpusError, match="key: value"):
        read_all(tmp_path)


def test_missing_front_matter(tmp_path):
    path = write(tmp_path / "a.md", "# Heading\n\nJust Markdown.\n")
    with pytest.raises(CorpusError, match="no front matter") as info:
        read_all(tmp_path)
    assert (info.value.path, info.value.line) == (str(path), 1)


def test_unclosed_front_matter(tmp_path):
    write(tmp_path / "a.md", "---\ntitle: T\n\nBody without a closing line.\n")
    with pytest.raises(CorpusError, match="not closed"):
        read_all(tmp_path)


def test_missing_title(tmp_path):
    path = write(tmp_path / "a.md", "---\nsource: Wire\n---\nBody.\n")
    with pytest.raises(CorpusError, match="missing 'title'") as info:
        read_all(tmp_path)
    assert info.value.path == str(path)


def test_empty_body(tmp_path):
    write(tmp_path / "a.md", "---\ntitle: T\n---\n\n   \n")
    with pytest.raises(CorpusError, match="empty body"):
        read_all(tmp_path)


def test_invalid_date_in_front_matter(tmp_path):
    write(tmp_path / "a.md", md(date="yesterday"))
    with pytest.raises(CorpusError, match="yesterday"):
        read_all(tmp_path)


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_invalid_utf8_names_file_and_line(tmp_path, bom):
    data = bom + b"---\ntitle: T\n---\nGood line.\n\xffBad line.\n"
    path = write(tmp_path / "a.md", data)
    with pytest.raises(CorpusError, match="not valid UTF-8") as info:
        read_all(tmp_path)
    err = info.value
    assert (err.path, err.line) == (str(path), 5)
    assert f"{path}:5:" in str(err)
    assert "0xff" in str(err)


def test_latin1_text_file_is_refused_with_line(tmp_path):
    path = write(tmp_path / "a.txt", "Title\nCaf\u00e9 au lait\n".encode("latin-1"))
    with pytest.raises(CorpusError) as info:
        read_all(tmp_path)
    assert (info.value.path, info.value.line) == (str(path), 2)


# Plain text


def test_txt_first_line_is_title(tmp_path):
    write(tmp_path / "notes" / "Policy Brief.txt", "\n\n  The Title  \nBody line one.\n\nTwo.\n")
    [article] = read_all(tmp_path)
    assert article.id == "notes/policy-brief"
    assert article.title == "The Title"
    assert article.text == "Body line one.\n\nTwo."


def test_txt_with_only_a_title_has_empty_body(tmp_path):
    write(tmp_path / "a.txt", "Only a title\n")
    with pytest.raises(CorpusError, match="empty body"):
        read_all(tmp_path)


# JSONL


def test_jsonl_reads_many_articles(tmp_path):
    path = write(
        tmp_path / "a.jsonl",
        jsonl(
            {"id": "one", "title": "One", "text": "First.", "tags": "x, y"},
            {"id": "two", "title": "Two", "text": "Second.", "date": "2020-01"},
        )
        + "\n   \n"  # blank lines are ignored
        + jsonl({"id": "three", "title": "Three", "text": "Third."}),
    )
    articles = read_all(path)
    assert [a.id for a in articles] == ["one", "two", "three"]
    assert articles[0].tags == ["x", "y"]
    assert articles[1].date == "2020-01"


def test_jsonl_gz_reads_many_articles(tmp_path):
    records = [{"id": f"n{i}", "title": f"T{i}", "text": f"Body {i}."} for i in range(5)]
    path = tmp_path / "a.jsonl.gz"
    path.write_bytes(gzip.compress(jsonl(*records).encode()))
    articles = read_all(tmp_path)
    assert [a.id for a in articles] == [f"n{i}" for i in range(5)]
    assert articles[4].text == "Body 4."


def test_jsonl_bad_json_names_line(tmp_path):
    good = jsonl({"id": "a", "title": "A", "text": "x"}, {"id": "b", "title": "B", "text": "y"})
    path = write(tmp_path / "a.jsonl", good + '{"id": "c", "title": \n')
    seen = []
    with pytest.raises(CorpusError, match="invalid JSON") as info:
        for article in read_paths([path]):
            seen.append(article.id)
    assert seen == ["a", "b"]
    assert (info.value.path, info.value.line) == (str(path), 3)
    assert f"{path}:3:" in str(info.value)


def test_jsonl_gz_bad_json_names_line(tmp_path):
    text = jsonl({"id": "a", "title": "A", "text": "x"}) + "\n" + "not json\n"
    path = tmp_path / "a.jsonl.gz"
    path.write_bytes(gzip.compress(text.encode()))
    with pytest.raises(CorpusError, match="invalid JSON") as info:
        read_all(path)
    assert info.value.line == 3


def test_jsonl_id_from_url_when_missing(tmp_path):
    write(
        tmp_path / "a.jsonl",
        jsonl({"title": "T", "text": "x", "url": "https://Example.org/News/Story-1?x=2"}),
    )
    [article] = read_all(tmp_path)
    assert article.id == "example-org-news-story-1-x-2"
    assert article.url == "https://Example.org/News/Story-1?x=2"


def test_jsonl_without_id_or_url_is_refused(tmp_path):
    path = write(tmp_path / "a.jsonl", jsonl({"title": "T", "text": "x"}))
    with pytest.raises(CorpusError, match="missing 'id'") as info:
        read_all(tmp_path)
    assert (info.value.path, info.value.line) == (str(path), 1)


@pytest.mark.parametrize("line", ['["a", "b"]', '"just a string"', "42", "null"])
def test_jsonl_line_that_is_not_an_object(tmp_path, line):
    good = jsonl({"id": "a", "title": "A", "text": "x"})
    write(tmp_path / "a.jsonl", good + line + "\n")
    with pytest.raises(CorpusError, match="JSON object") as info:
        read_all(tmp_path)
    assert info.value.line == 2


def test_jsonl_invalid_utf8_names_line(tmp_path):
    good = jsonl({"id": "a", "title": "A", "text": "x"}).encode()
    write(tmp_path / "a.jsonl", good + b'{"id": "b", "title": "\xff", "text": "y"}\n')
    with pytest.raises(CorpusError, match="UTF-8") as info:
        read_all(tmp_path)
    assert info.value.line == 2


def test_jsonl_invalid_record_names_line(tmp_path):
    write(
        tmp_path / "a.jsonl",
        jsonl({"id": "a", "title": "A", "text": "x"}, {"id": "b", "title": "B", "text": ""}),
    )
    with pytest.raises(CorpusError, match="empty body") as info:
        read_all(tmp_path)
    assert info.value.line == 2


def test_corrupt_gzip_is_a_corpus_error(tmp_path):
    data = gzip.compress(jsonl({"id": "a", "title": "A", "text": "x " * 500}).encode())
    path = tmp_path / "a.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorpusError, match="cannot read") as info:
        read_all(path)
    assert info.value.path == str(path)


def test_damaged_gzip_stream_is_a_corpus_error(tmp_path):
    """Garbage inside the deflate stream raises zlib.error, which must become a CorpusError."""
    line = b'{"id":"x","title":"t","text":"b"}\n'
    data = gzip.compress(line * 100, mtime=0)
    path = tmp_path / "a.jsonl.gz"
    path.write_bytes(data[:20] + b"\x00" * 20 + data[40:])
    with pytest.raises(CorpusError, match="cannot read") as info:
        read_all(path)
    assert info.value.path == str(path)


def test_not_gzip_at_all_is_a_corpus_error(tmp_path):
    path = write(tmp_path / "a.jsonl.gz", jsonl({"id": "a", "title": "A", "text": "x"}))
    with pytest.raises(CorpusError, match="cannot read"):
        read_all(path)


# Across files


def test_duplicate_ids_across_files(tmp_path):
    first = write(tmp_path / "a.md", md(id="same"))
    second = write(tmp_path / "b.jsonl", jsonl({"id": "same", "title": "T", "text": "x"}))
    with pytest.raises(CorpusError, match="duplicate id 'same'") as info:
        read_all(tmp_path)
    assert info.value.path == str(second)
    assert str(first) in str(info.value)


def test_duplicate_ids_across_paths_given_separately(tmp_path):
    one = write(tmp_path / "one" / "x.md", md())
    two = write(tmp_path / "two" / "x.md", md())
    with pytest.raises(CorpusError, match="duplicate id 'x'"):
        read_all(one.parent, two.parent)


def test_files_are_read_in_sorted_order(tmp_path):
    for name in ["c.md", "a.md", "b/z.md"]:
        write(tmp_path / name, md())
    assert [a.id for a in read_all(tmp_path)] == ["a", "b/z", "c"]


def test_unsupported_file_given_directly(tmp_path):
    path = write(tmp_path / "data.xlsx", "id,title\n")
    with pytest.raises(CorpusError, match="unsupported file type") as info:
        read_all(path)
    assert info.value.path == str(path)


def test_read_file_refuses_unsupported_suffix(tmp_path):
    path = write(tmp_path / "data.rtf", "{\\rtf1 x}\n")
    with pytest.raises(CorpusError, match="unsupported file type"):
        list(read_file(path))


def test_nonexistent_path(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(CorpusError, match="no such file") as info:
        read_all(missing)
    assert info.value.path == str(missing)


def test_empty_folder_gives_no_articles(tmp_path):
    assert read_all(tmp_path) == []


# Real data


def test_shipped_corpus_seed_article():
    articles = read_all(CORPUS)
    by_id = {a.id: a for a in articles}
    seed = by_id["azerbaijan-israel-us-partnership"]
    assert seed.source == "World Israel News"
    assert seed.author == "Vered Weiss"
    assert seed.date is None
    assert "Middle Corridor" in seed.text
    assert "Middle Corridor" in seed.tags
    assert seed.title.startswith("Officials hail")
    assert not seed.text.startswith("---")


def test_presidential_speeches_first_articles(data_dir):
    path = data_dir / "policy/us-presidential-speeches/articles.jsonl.gz"
    articles = list(itertools.islice(read_paths([path]), 20))
    assert len(articles) == 20
    assert len({a.id for a in articles}) == 20
    for article in articles:
        assert article.title and article.text.strip()
        assert article.date is not None and len(article.date) == 10
    assert articles[0].title == "George Washington: First Inaugural Address"
    assert articles[0].date == "1789-04-30"


def test_markdown_with_blank_id_falls_back_to_path(tmp_path):
    write(tmp_path / "Some Note.md", "---\nid:\ntitle: T\n---\nBody.\n")
    [article] = read_all(tmp_path)
    assert article.id == "some-note"


def test_jsonl_with_bom_is_read(tmp_path):
    (tmp_path / "a.jsonl").write_bytes(
        b"\xef\xbb\xbf" + jsonl({"id": "a", "title": "A", "text": "x"}).encode()
    )
    assert [a.id for a in read_all(tmp_path)] == ["a"]
