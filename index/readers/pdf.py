"""PDF documents into articles: the text layer of every page, and the document's metadata."""

from __future__ import annotations

import io
import re

from pypdf import PdfReader
from pypdf.errors import FileNotDecryptedError, PyPdfError

from policy_search.index.errors import CorpusError
from policy_search.index.readers.article import Article, make_article, normalise_date
from policy_search.index.readers.metadata import clean_metadata

__all__ = ["article_from_pdf"]

_SPACE = re.compile(r"\s+")
_PDF_DATE = re.compile(r"^(?:D:)?(\d{4})(\d{2})?(\d{2})?")
# Titles that name the file rather than the document: "Microsoft Word - brief.docx", "x.pdf".
_FILE_TITLE = re.compile(
    r"^(microsoft \w+ - |untitled\b)|\.(docx?|pdf|pptx?|xlsx?|odt|rtf|txt|html?|indd|tex|qxd)$",
    re.IGNORECASE,
)
_HYPHENATED = re.compile(r"([a-z])-\n([a-z])")  # "accord-\ning" → "according"
_MAX_TITLE = 200


def _pdf_date(value: object) -> str | None:
    """A PDF date (D:YYYYMMDDHHmmSS…) as YYYY-MM-DD, or None when missing or not a real date."""
    match = _PDF_DATE.match(value.strip()) if isinstance(value, str) else None
    if not match:
        return None
    try:
        return normalise_date("-".join(part for part in match.groups() if part))
    except ValueError:
        return None


def _page_text(raw: str) -> str:
    """One page's text: trailing spaces trimmed, lower-case words split at a line end rejoined."""
    lines = [line.rstrip() for line in raw.replace("\x00", "").splitlines()]
    return _HYPHENATED.sub(r"\1\2", "\n".join(lines)).strip()


def _title(metadata_title: object, text: str) -> str:
    """The metadata title unless it is empty or a file name, else the text's first line."""
    title = clean_metadata(metadata_title)
    if title and not _FILE_TITLE.search(title):
        return title
    first = next(line for line in text.split("\n") if line.strip())
    first = _SPACE.sub(" ", first).strip()
    if len(first) > _MAX_TITLE:
        first = first[:_MAX_TITLE].rsplit(" ", 1)[0] + "…"
    return first


def _open(data: bytes, where: str | None) -> PdfReader:
    """Parse the PDF and unlock it when it has an empty user password."""
    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        try:
            unlocked = bool(reader.decrypt(""))
        except (PyPdfError, NotImplementedError):
            unlocked = False
        if not unlocked:
            raise CorpusError(
                "the PDF is encrypted (password-protected); save an unprotected copy", path=where
            )
    return reader


def article_from_pdf(data: bytes, *, path: str | None, url: str | None, default_id: str) -> Article:
    """Extract one article from a PDF's text layer, or raise `CorpusError`."""
    where = path or url
    if b"%PDF-" not in data[:1024]:
        raise CorpusError("not a PDF file (no %PDF- header)", path=where)
    try:
        reader = _open(data, where)
        pages = [_page_text(page.extract_text() or "") for page in reader.pages]
        info = reader.metadata
        title, author = (info.title, info.author) if info else (None, None)
        created = info.creation_date_raw if info else None
    except CorpusError:
        raise
    except FileNotDecryptedError:
        raise CorpusError("the PDF is encrypted (password-protected)", path=where) from None
    except Exception as exc:  # a damaged file can fail anywhere inside pypdf, with any error
        raise CorpusError(
            f"cannot read the PDF ({type(exc).__name__}: {exc}); is the file damaged?", path=where
        ) from None
    if not pages:
        raise CorpusError("the PDF has no pages", path=where)
    text = "\n\n".join(page for page in pages if page)
    if not text:
        raise CorpusError("the PDF has no text layer (scanned?); run OCR first", path=where)
    record: dict[str, object] = {
        "id": default_id,
        "title": _title(title, text),
        "text": text,
        "author": clean_metadata(author),
        "date": _pdf_date(created),
        "url": url,
    }
    return make_article(record, path=where)
