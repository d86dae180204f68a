"""Readers: turn files in the supported formats into `Article` records.

Formats, by file name:
- `*.md`, `*.markdown`: YAML front matter between `---` lines (at most 64 KiB, nested at most
  16 levels), then the body (the native format).
- `*.txt`: the first non-empty line is the title, the rest is the body.
- `*.jsonl`, `*.jsonl.gz`: one JSON object per line with the article fields.
- `*.csv`: a header row naming article fields, then one article per row.
- `*.html`, `*.htm`: a saved web page; the main text and metadata are extracted (`index.html`).
- `*.pdf`: the text layer of every page, and the document's metadata
  (`policy_search.index.readers.pdf`).

Ids come from the record (`id`), else from the file's path below the folder given (never from
position). Every problem raises `CorpusError` naming the file and, where it can, the line.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

import yaml

from policy_search.index.errors import CorpusError
from policy_search.index.readers.article import ARTICLE_FIELDS, Article, make_article, slugify

__all__ = ["SUPPORTED_SUFFIXES", "is_url", "iter_files", "read_file", "read_paths"]

SUPPORTED_SUFFIXES = (
    ".md",
    ".markdown",
    ".txt",
    ".jsonl",
    ".jsonl.gz",
    ".csv",
    ".html",
    ".htm",
    ".pdf",
)
_SKIPPED_NAMES = {"readme.md", "readme.txt", "readme.markdown"}
_CSV_FIELD_LIMIT = 64 * 1024 * 1024  # csv's default (128 KiB a cell) is short for a long article
# Front matter is metadata, parsed by PyYAML in pure Python at some 50,000 tokens a second, each
# costing more the deeper it is nested in [ ] or { }: both are capped, so no file takes seconds.
_FRONT_MATTER_LIMIT = 64 * 1024  # characters
_FRONT_MATTER_NESTING = 16  # levels of [ ] and { }


def is_url(text: str) -> bool:
    """Whether `text` is an http:// or https:// URL (to fetch) rather than a path (to read)."""
    return text.strip().lower().startswith(("http://", "https://"))


def _suffix(path: Path) -> str | None:
    name = path.name.lower()
    return next((s for s in SUPPORTED_SUFFIXES if name.endswith(s)), None)


def iter_files(root: Path) -> Iterator[Path]:
    """Yield the article files under `root` (or `root` itself), sorted, skipping READMEs."""
    if root.is_file():
        if _suffix(root) is None:
            raise CorpusError(
                f"unsupported file type; expected one of {', '.join(SUPPORTED_SUFFIXES)}",
                path=str(root),
            )
        yield root
        return
    if not root.is_dir():
        raise CorpusError("no such file or directory", path=str(root))
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        if path.name.lower() in _SKIPPED_NAMES or _suffix(path) is None:
            continue
        yield path


def _decode(data: bytes, path: Path) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # exc.start counts from exc.object, which lacks the BOM when there is one
        line = exc.object[: exc.start].count(b"\n") + 1
        raise CorpusError(
            f"not valid UTF-8 (byte 0x{exc.object[exc.start]:02x}); save the file as UTF-8",
            path=str(path),
            line=line,
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _path_id(path: Path, root: Path) -> str:
    rel = path.relative_to(root) if path != root else Path(path.name)
    name = rel.name[: -len(_suffix(path) or "")] or rel.name
    parts = [slugify(p) for p in (*rel.parts[:-1], name)]
    article_id = "/".join(p for p in parts if p)
    if not article_id:
        raise CorpusError("cannot derive an id from the file name; add `id:`", path=str(path))
    return article_id


def _read_markdown(text: str, path: Path, default_id: str) -> Article:
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        raise CorpusError(
            "no front matter: start the file with a line '---', the YAML fields "
            "(at least `title:`), and another '---'",
            path=str(path),
            line=1,
        )
    # The closing line starts at column 0 like YAML's own markers: an indented `---` is part of
    # a value that runs over several lines (as yaml.safe_dump writes one).
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() in ("---", "...")), None)
    if end is None:
        raise CorpusError("front matter is not closed by a '---' line", path=str(path), line=1)
    source = "\n".join(lines[1:end])
    if len(source) > _FRONT_MATTER_LIMIT:
        raise CorpusError(
            f"front matter is over {_FRONT_MATTER_LIMIT // 1024} KiB; it holds the metadata, the "
            "text goes below the closing '---'",
            path=str(path),
            line=2,
        )
    meta = _front_matter(source, path) or {}
    if not isinstance(meta, dict):
        raise CorpusError("front matter must be YAML fields (key: value)", path=str(path), line=2)
    body = "\n".join(lines[end + 1 :]).strip()
    record = {str(k): v for k, v in meta.items()}
    if record.get("id") in (None, ""):
        record["id"] = default_id
    record["text"] = body
    return make_article(record, path=str(path))


class _FrontMatterLoader(yaml.SafeLoader):
    """YAML's safe loader, where a value that looks like a date or a number but is not one
    (`2024-13-01`, an integer of 5,000 digits) is a YAML error at its line, not a ValueError,
    and so is nesting deeper than `_FRONT_MATTER_NESTING`."""

    def fetch_flow_collection_start(self, TokenClass: type[yaml.Token]) -> None:
        if self.flow_level >= _FRONT_MATTER_NESTING:
            raise yaml.scanner.ScannerError(None, None, "nested too deeply", self.get_mark())
        super().fetch_flow_collection_start(TokenClass)

    def construct_object(self, node: yaml.Node, deep: bool = False) -> object:
        try:
            return super().construct_object(node, deep=deep)
        except ValueError as exc:
            value = f"{node.value!r:.40} " if isinstance(node, yaml.ScalarNode) else ""
            reason = str(exc).partition(";")[0]  # not Python's advice on its digit limit
            raise yaml.constructor.ConstructorError(
                None, None, f"{value}is not a valid value ({reason})", node.start_mark
            ) from None


def _front_matter(source: str, path: Path) -> object:
    """Parse the YAML between the `---` lines; an error names the file's line.

    Front matter starts on line 2, and only a newline ends a line in the file, though YAML also
    breaks lines at U+2028 and U+0085: so the line is counted from the error's index.
    """
    loader = None
    try:
        loader = _FrontMatterLoader(source)
        return loader.get_single_data()
    except yaml.reader.ReaderError as exc:  # before parsing: a character YAML does not allow
        index, problem = exc.position, f"the character U+{exc.character:04X} is not allowed"
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        index = mark.index if mark is not None else 0
        problem = getattr(exc, "problem", None) or "invalid YAML"
    except RecursionError:
        index, problem = loader.get_mark().index if loader else 0, "nested too deeply"
    finally:
        if loader is not None:
            loader.dispose()
    line = source[:index].count("\n") + 2
    raise CorpusError(f"broken front matter: {problem}", path=str(path), line=line)


def _read_txt(text: str, path: Path, default_id: str) -> Article:
    stripped = text.strip()
    title, _, body = stripped.partition("\n")
    return make_article(
        {"id": default_id, "title": title.strip(), "text": body.strip()}, path=str(path)
    )


def _read_jsonl(path: Path) -> Iterator[Article]:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if not raw.strip():
                    continue
                yield _jsonl_record(raw, path, number)
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise CorpusError(f"cannot read: {exc}", path=str(path)) from None


def _jsonl_record(raw: bytes, path: Path, number: int) -> Article:
    try:
        record = json.loads(raw.decode("utf-8-sig" if number == 1 else "utf-8"))
    except UnicodeDecodeError:
        raise CorpusError("not valid UTF-8", path=str(path), line=number) from None
    except json.JSONDecodeError as exc:
        raise CorpusError(f"invalid JSON: {exc.msg}", path=str(path), line=number) from None
    except ValueError:  # the only other one: an integer longer than Python converts
        raise CorpusError(
            "invalid JSON: a number has too many digits", path=str(path), line=number
        ) from None
    except RecursionError:
        raise CorpusError("invalid JSON: nested too deeply", path=str(path), line=number) from None
    if not isinstance(record, dict):
        raise CorpusError("each line must be a JSON object", path=str(path), line=number)
    if not record.get("id") and isinstance(record.get("url"), str):
        record["id"] = slugify(record["url"])
    return make_article(record, path=str(path), line=number)


def _read_csv(text: str, path: Path) -> Iterator[Article]:
    csv.field_size_limit(max(csv.field_size_limit(), _CSV_FIELD_LIMIT))
    rows = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(rows, None)
    except csv.Error as exc:
        raise CorpusError(f"malformed CSV header: {exc}", path=str(path), line=1) from None
    names = [name.strip().lower() for name in header or []]
    missing = [name for name in ("title", "text") if name not in names]
    if missing:
        raise CorpusError(
            f"the CSV header must name the columns 'title' and 'text' (missing: "
            f"{', '.join(missing)}); known columns: {', '.join(ARTICLE_FIELDS)}",
            path=str(path),
            line=1,
        )
    doubled = sorted({n for n in names if n in ARTICLE_FIELDS and names.count(n) > 1})
    if doubled:
        raise CorpusError(f"column {doubled[0]!r} appears twice", path=str(path), line=1)
    end = rows.line_num  # the last line read; the next row starts on the line after it
    while True:
        start = end + 1
        try:
            row = next(rows, None)
        except csv.Error as exc:
            raise CorpusError(f"malformed CSV row: {exc}", path=str(path), line=start) from None
        end = rows.line_num
        if row is None:
            return
        if not any(cell.strip() for cell in row):
            continue
        yield _csv_record(row, names, path, start)


def _csv_record(row: list[str], names: list[str], path: Path, line: int) -> Article:
    if len(row) != len(names):
        raise CorpusError(
            f"the row has {len(row)} cells but the header has {len(names)}",
            path=str(path),
            line=line,
        )
    record: dict[str, object] = {
        name: cell.strip() for name, cell in zip(names, row, strict=True) if name in ARTICLE_FIELDS
    }
    if not record.get("id"):
        if not record.get("url"):
            raise CorpusError("no id and no url to derive one from", path=str(path), line=line)
        record["id"] = slugify(str(record["url"]))
    record["tags"] = re.split(r"[;,]", str(record.get("tags") or ""))
    return make_article(record, path=str(path), line=line)


def read_file(path: Path, *, root: Path | None = None) -> Iterator[Article]:
    """Read every article in one file."""
    suffix = _suffix(path)
    if suffix in (".jsonl", ".jsonl.gz"):
        yield from _read_jsonl(path)
        return
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"cannot read: {exc.strerror}", path=str(path)) from None
    default_id = _path_id(path, root or path)
    if suffix in (".html", ".htm"):  # bytes: the page's own <meta charset> says how to decode
        from policy_search.index.readers.html import (
            article_from_html,
        )  # trafilatura: only when a page is read

        yield article_from_html(data, url=None, path=str(path), default_id=default_id)
        return
    if suffix == ".pdf":
        from policy_search.index.readers.pdf import (
            article_from_pdf,  # pypdf: only when a PDF is read
        )

        yield article_from_pdf(data, path=str(path), url=None, default_id=default_id)
        return
    text = _decode(data, path)
    if suffix == ".csv":
        yield from _read_csv(text, path)
    elif suffix == ".txt":
        yield _read_txt(text, path, default_id)
    elif suffix in (".md", ".markdown"):
        yield _read_markdown(text, path, default_id)
    else:
        raise CorpusError("unsupported file type", path=str(path))


def read_paths(paths: Iterable[str | Path]) -> Iterator[Article]:
    """Read all articles from files and folders; ids must be unique across them."""
    seen: dict[str, str] = {}
    for given in paths:
        root = Path(given)
        for path in iter_files(root):
            for article in read_file(path, root=root if root.is_dir() else None):
                if article.id in seen:
                    raise CorpusError(
                        f"duplicate id {article.id!r} (also in {seen[article.id]})",
                        path=str(path),
                    )
                seen[article.id] = str(path)
                yield article
