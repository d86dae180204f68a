"""HTML, PDF and CSV articles, and articles fetched by URL from a local HTTP server."""

from __future__ import annotations

import contextlib
import io
import shutil
import socket
import sys
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from fpdf import FPDF
from pypdf import PdfReader, PdfWriter

from policy_search.index.errors import CorpusError, FetchError
from policy_search.index.readers import SUPPORTED_SUFFIXES, is_url, iter_files, read_paths
from policy_search.index.readers.fetch import fetch_article
from policy_search.index.readers.html import article_from_html
from policy_search.index.readers.pdf import article_from_pdf

DATA = Path(__file__).resolve().parents[2] / "data"
THINK_TANK = DATA / "caspian-think-tank.html"
NEWS = DATA / "accords-news.html"
NO_ARTICLE = DATA / "no-article.html"

BOILERPLATE = [
    "cookie",
    "Upcoming Events",
    "Newsletter Signup",
    "Related analysis",
    "Anaklia",
    "All rights reserved",
    "Privacy Policy",
    "Share this",
    "Subscribe",
    "Breaking",
    "Most read",
    "Advertise",
]


def read_all(*paths):
    return list(read_paths(paths))


def make_pdf(pages, *, title=None, author=None, created=None, shapes=False):
    """A PDF with one page per list of lines (fpdf2), as bytes."""
    pdf = FPDF()
    if title is not None:
        pdf.set_title(title)
    if author is not None:
        pdf.set_author(author)
    if created is not None:
        pdf.set_creation_date(created)
    pdf.set_font("helvetica", size=12)
    for lines in pages:
        pdf.add_page()
        if shapes:
            pdf.rect(20, 20, 80, 40, style="F")
            pdf.circle(x=120, y=120, radius=30)
        for line in lines:
            pdf.cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


REPORT_PDF = make_pdf(
    [["Pipeline politics in the South Caucasus", "Gas flows west through Georgia."]],
    title="Pipeline Politics",
    author="R. Analyst",
    created=datetime(2023, 4, 5, 12, 0, tzinfo=UTC),
)


# HTML files


def test_think_tank_page_keeps_article_and_metadata():
    [article] = read_all(THINK_TANK)
    assert article.id == "caspian-think-tank"
    assert article.title == "The Middle Corridor after the Caspian summit"
    assert article.author == "Leyla Mammadova"
    assert article.date == "2024-09-18"
    assert article.source == "Eurasia Policy Institute"
    assert article.url == (
        "https://eurasia-policy.example/analysis/middle-corridor-after-caspian-summit"
    )
    assert article.text.startswith("Freight volumes on the Trans-Caspian")
    assert "Ferry capacity is still the binding constraint." in article.text
    assert article.text.endswith("than another round of declarations.")
    paragraphs = article.text.split("\n\n")
    assert len(paragraphs) == 6  # five paragraphs and the "Bottlenecks remain" subheading
    assert all(p.strip() == p and "\n" not in p for p in paragraphs)


@pytest.mark.parametrize("path", [THINK_TANK, NEWS])
def test_html_text_leaves_out_boilerplate(path):
    [article] = read_all(path)
    for phrase in BOILERPLATE:
        assert phrase.lower() not in article.text.lower(), phrase


def test_news_page_with_date_only_and_htm_suffix(tmp_path):
    shutil.copy(NEWS, tmp_path / "Baku Accords.htm")
    [article] = read_all(tmp_path)
    assert article.id == "baku-accords"
    assert article.title == "Baku weighs joining the Abraham Accords"
    assert (article.author, article.date) == ("Daniel Cohen", "2025-03-04")
    assert article.source == "Caucasus Daily Wire"
    assert article.url == "https://caucasus-wire.example/news/2025/03/baku-abraham-accords"
    assert "no decision is expected before the summer" in article.text
    assert "Daniel Cohen, 4 March 2025" not in article.text


def test_page_without_article_text_is_refused():
    with pytest.raises(CorpusError, match="no article text") as info:
        read_all(NO_ARTICLE)
    assert info.value.path == str(NO_ARTICLE)


def test_page_without_title_is_refused():
    body = "<p>" + "A paragraph of article text with enough words to count. " * 5 + "</p>"
    with pytest.raises(CorpusError, match="no title") as info:
        article_from_html(
            f"<html><body>{body}</body></html>", url=None, path="p.html", default_id="p"
        )
    assert info.value.path == "p.html"


def test_given_url_wins_over_canonical_and_bad_date_is_dropped():
    html = THINK_TANK.read_text(encoding="utf-8").replace(
        'content="2024-09-18T08:30:00+00:00"', 'content="sometime last autumn"'
    )
    html = html.replace('<time datetime="2024-09-18">18 September 2024</time>', "")
    article = article_from_html(html, url="https://mirror.example/a", path=None, default_id="a")
    assert article.url == "https://mirror.example/a"
    assert article.date is None
    assert article.title == "The Middle Corridor after the Caspian summit"


def test_html_file_in_its_declared_charset(tmp_path):
    page = (
        '<html><head><meta charset="iso-8859-1"><title>Caf\u00e9 diplomacy in Tbilisi</title>'
        "</head><body><article><p>Envoys met over caf\u00e9 and pastries to discuss the "
        "pipeline, the port and the railway; nobody left before midnight.</p><p>A second "
        "paragraph says that the talks will resume in the spring.</p></article></body></html>"
    )
    path = tmp_path / "cafe.html"
    path.write_bytes(page.encode("latin-1"))
    [article] = read_all(path)
    assert article.title == "Caf\u00e9 diplomacy in Tbilisi"
    assert "over caf\u00e9 and pastries" in article.text


# PDF


def test_pdf_with_metadata(tmp_path):
    (tmp_path / "Gas Report.pdf").write_bytes(REPORT_PDF)
    [article] = read_all(tmp_path)
    assert article.id == "gas-report"
    assert article.title == "Pipeline Politics"
    assert article.author == "R. Analyst"
    assert article.date == "2023-04-05"
    assert "Gas flows west through Georgia." in article.text
    assert article.text.startswith("Pipeline politics in the South Caucasus")


@pytest.mark.parametrize("title", [None, "", "Microsoft Word - brief_v3.docx", "scan0001.pdf"])
def test_pdf_title_falls_back_to_first_line(title):
    data = make_pdf([["", "The First Real Line", "Then the body."]], title=title)
    article = article_from_pdf(data, path="x.pdf", url=None, default_id="x")
    assert article.title == "The First Real Line"
    assert article.author is None


def test_pdf_pages_in_order_joined_by_blank_lines():
    pages = [[f"Page {n} heading", f"Body of page {n}."] for n in (1, 2, 3)]
    article = article_from_pdf(make_pdf(pages), path="x.pdf", url=None, default_id="x")
    parts = article.text.split("\n\n")
    assert parts == [f"Page {n} heading\nBody of page {n}." for n in (1, 2, 3)]


def test_pdf_rejoins_word_hyphenated_at_line_end():
    data = make_pdf(
        [["Title", "The treaty was signed accord-", "ing to plan. Long-", "Term goals."]]
    )
    article = article_from_pdf(data, path="x.pdf", url=None, default_id="x")
    assert "signed according to plan." in article.text
    assert "Long-\nTerm" in article.text  # only lower-case halves are joined


def test_pdf_with_only_shapes_has_no_text_layer(tmp_path):
    path = tmp_path / "scan.pdf"
    path.write_bytes(make_pdf([[], []], title="Scanned report", shapes=True))
    with pytest.raises(CorpusError, match=r"no text layer \(scanned\?\); run OCR first") as info:
        read_all(path)
    assert info.value.path == str(path)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"this is not a PDF at all, just bytes\x00\x01\x02", "not a PDF"),
        (REPORT_PDF[: len(REPORT_PDF) // 2], "cannot read the PDF"),
        (b"%PDF-1.7\n" + bytes(range(256)) * 4, "cannot read the PDF"),
    ],
)
def test_broken_pdf_is_a_corpus_error(tmp_path, data, message):
    path = tmp_path / "broken.pdf"
    path.write_bytes(data)
    with pytest.raises(CorpusError, match=message) as info:
        read_all(path)
    assert info.value.path == str(path)


def test_encrypted_pdf_is_a_corpus_error(tmp_path):
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(REPORT_PDF)))
    writer.encrypt(user_password="secret", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    path = tmp_path / "locked.pdf"
    path.write_bytes(out.getvalue())
    with pytest.raises(CorpusError, match="encrypted") as info:
        read_all(path)
    assert info.value.path == str(path)


def test_pdf_with_empty_user_password_is_read():
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(REPORT_PDF)))
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    article = article_from_pdf(out.getvalue(), path="x.pdf", url=None, default_id="x")
    assert article.title == "Pipeline Politics"
    assert "Gas flows west" in article.text


# CSV

GOOD_CSV = (
    "id,Title,text,source,date,url,tags,notes\n"
    'one,First,"Line one.\n\nLine two, with a comma.",Wire,2024-05-01,,"trade; Caspian",x\n'
    ',From URL,Body.,,,https://example.org/News/2,"a,b",\n'
    "\n"
    'three,"Quoted ""title""",Third.,,,,,ignored\n'
)


def test_csv_reads_rows_with_multiline_fields_and_tags(tmp_path):
    (tmp_path / "batch.csv").write_text(GOOD_CSV, encoding="utf-8")
    articles = read_all(tmp_path)
    assert [a.id for a in articles] == ["one", "example-org-news-2", "three"]
    first, second, third = articles
    assert first.text == "Line one.\n\nLine two, with a comma."
    assert (first.title, first.source, first.date) == ("First", "Wire", "2024-05-01")
    assert first.tags == ["trade", "Caspian"]
    assert first.url is None
    assert second.url == "https://example.org/News/2"
    assert second.tags == ["a", "b"]
    assert third.title == 'Quoted "title"'


def test_csv_with_bom_and_crlf(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b"\xef\xbb\xbfid,title,text\r\nx,T,Body\r\n")
    [article] = read_all(path)
    assert (article.id, article.title, article.text) == ("x", "T", "Body")


@pytest.mark.parametrize("header", ["id,title,body", "id,headline,text", "", "url"])
def test_csv_header_without_title_or_text(tmp_path, header):
    path = tmp_path / "a.csv"
    path.write_text(header + "\nx,y,z\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="must name the columns") as info:
        read_all(path)
    assert (info.value.path, info.value.line) == (str(path), 1)
    assert f"{path}:1:" in str(info.value)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("bad,,Body.,", "missing 'title'"),
        ("bad,T,,", "empty body"),
        ('bad,,"a body on\ntwo lines",', "missing 'title'"),  # reported where the row starts
        ("bad,T,Body.,2024-13-01", "not a real date"),
        ("bad,T,Body.,,extra", "5 cells but the header has 4"),
        (",T,Body.,", "no id and no url"),
        ('bad,"T"x,Body.,', "malformed CSV row"),
    ],
)
def test_csv_bad_row_names_its_line(tmp_path, row, message):
    # The good row spans lines 2-4, so the bad row starts on line 5.
    text = 'id,title,text,date\ngood,T,"multi\nline\nbody",2024\n' + row + "\n"
    path = tmp_path / "a.csv"
    path.write_text(text, encoding="utf-8")
    seen = []
    with pytest.raises(CorpusError, match=message) as info:
        seen.extend(a.id for a in read_paths([path]))
    assert seen == ["good"]  # rows before the bad one were read
    assert (info.value.path, info.value.line) == (str(path), 5)
    assert f"{path}:5:" in str(info.value)


def test_csv_unclosed_quote_names_the_row_start(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text('id,title,text\na,A,x\nb,B,"never closed\nmore\n', encoding="utf-8")
    with pytest.raises(CorpusError, match="malformed CSV row") as info:
        read_all(path)
    assert info.value.line == 3


def test_csv_invalid_utf8_names_line(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b"id,title,text\na,A,x\nb,Caf\xe9,y\n")
    with pytest.raises(CorpusError, match="not valid UTF-8") as info:
        read_all(path)
    assert info.value.line == 3


def test_csv_long_text_cell(tmp_path):
    body = "word " * 100_000  # 500 kB: past the csv module's default 128 KiB cell limit
    path = tmp_path / "a.csv"
    path.write_text(f'id,title,text\nlong,Long,"{body}"\n', encoding="utf-8")
    [article] = read_all(path)
    assert article.text == body.strip()


# Mixed folders and URL detection


def test_read_paths_over_a_mixed_folder(tmp_path):
    (tmp_path / "note.md").write_text("---\ntitle: A note\n---\nBody.\n", encoding="utf-8")
    (tmp_path / "pages").mkdir()
    shutil.copy(THINK_TANK, tmp_path / "pages" / "corridor.html")
    (tmp_path / "report.pdf").write_bytes(REPORT_PDF)
    (tmp_path / "rows.csv").write_text("id,title,text\nr1,Row one,First row.\n", encoding="utf-8")
    (tmp_path / "README.md").write_text("not an article", encoding="utf-8")
    articles = read_all(tmp_path)
    assert [a.id for a in articles] == ["note", "pages/corridor", "report", "r1"]
    assert [a.title for a in articles] == [
        "A note",
        "The Middle Corridor after the Caspian summit",
        "Pipeline Politics",
        "Row one",
    ]
    assert {".html", ".htm", ".pdf", ".csv"} <= set(SUPPORTED_SUFFIXES)
    assert len(list(iter_files(tmp_path))) == 4


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://example.org/a", True),
        ("HTTP://EXAMPLE.ORG", True),
        ("  http://x.example/y ", True),
        ("ftp://example.org/a", False),
        ("corpus/article.md", False),
        ("example.org/a", False),
        ("", False),
    ],
)
def test_is_url(text, expected):
    assert is_url(text) is expected


# Fetching by URL, from a server on 127.0.0.1

PAGES = {
    "/article": ("text/html; charset=utf-8", THINK_TANK.read_bytes()),
    "/no-article": ("text/html", NO_ARTICLE.read_bytes()),
    "/report.pdf": ("application/pdf", REPORT_PDF),
    "/plain": ("text/plain", b"Just some text."),
    "/image": ("image/png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64),
    "/big": ("text/html", b"<html>" + b"x" * 200_000 + b"</html>"),
}
REDIRECTS = {
    "/moved": "/article",
    "/moved-twice": "/moved",
    "/to-ftp": "ftp://files.example/report.pdf",
}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass  # keep test output clean

    def _send(self, status, content_type, body, headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            self.close_connection = True  # the client hung up (a timeout or a size limit)

    def _stream(self, *, chunked):
        """A large HTML body with no Content-Length: chunked, or delimited by closing."""
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header(
            "Transfer-Encoding" if chunked else "Connection", "chunked" if chunked else "close"
        )
        self.end_headers()
        self.close_connection = True
        piece = b"<p>" + b"y" * 10_000 + b"</p>"
        try:
            for _ in range(100):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass  # the client stopped reading, as it should

    def do_GET(self):
        path = self.path
        if path in PAGES:
            self._send(200, *PAGES[path])
        elif path in REDIRECTS:
            self._send(302, "text/html", b"", [("Location", REDIRECTS[path])])
        elif path.startswith("/loop/"):
            self._send(302, "text/html", b"", [("Location", f"/loop/{int(path[6:]) + 1}")])
        elif path == "/slow":
            time.sleep(1.5)
            self._send(200, *PAGES["/article"])
        elif path == "/chunked":
            self._stream(chunked=True)
        elif path == "/unsized":
            self._stream(chunked=False)
        elif path == "/broken":
            self._send(500, "text/html", b"<h1>Internal Server Error</h1>")
        else:
            self._send(404, "text/html", b"<h1>Not Found</h1>")


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client hanging up is expected
            super().handle_error(request, client_address)


@contextlib.contextmanager
def serve_pages():
    """Serve PAGES and the odd cases above on a free loopback port; yield the base URL."""
    httpd = QuietServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def server():
    with serve_pages() as url:
        yield url


def test_fetch_html_page(server):
    article = fetch_article(f"{server}/article")
    assert article.url == f"{server}/article"  # the URL fetched, not the page's canonical link
    assert article.id == f"127-0-0-1-{server.rsplit(':', 1)[1]}-article"
    assert article.title == "The Middle Corridor after the Caspian summit"
    assert (article.author, article.date) == ("Leyla Mammadova", "2024-09-18")
    assert article.source == "Eurasia Policy Institute"
    assert "Ferry capacity is still the binding constraint." in article.text
    assert "cookie" not in article.text.lower()


def test_fetch_follows_redirects_to_the_final_url(server):
    article = fetch_article(f"{server}/moved-twice")
    assert article.url == f"{server}/article"
    assert article.id.endswith("-article")
    assert article.title == "The Middle Corridor after the Caspian summit"


def test_fetch_with_a_given_client(server):
    with httpx.Client() as client:
        article = fetch_article(f"{server}/moved", client=client)
        assert not client.is_closed  # a caller's client is left open for reuse
    assert article.url == f"{server}/article"


def test_fetch_too_many_redirects(server):
    with pytest.raises(FetchError, match="more than 5 redirects") as info:
        fetch_article(f"{server}/loop/0")
    assert info.value.status == 422


def test_fetch_pdf(server):
    article = fetch_article(f"{server}/report.pdf")
    assert article.title == "Pipeline Politics"
    assert article.url == f"{server}/report.pdf"
    assert article.id.endswith("-report-pdf")
    assert "Gas flows west through Georgia." in article.text


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/nowhere", 422, "404 Not Found"),
        ("/broken", 502, "500 Internal Server Error"),
        ("/plain", 422, r"not an HTML page or PDF \(content-type text/plain\)"),
        ("/image", 422, r"not an HTML page or PDF \(content-type image/png\)"),
        ("/no-article", 422, "no article text"),
        ("/to-ftp", 422, "not an http"),
    ],
)
def test_fetch_errors_carry_a_status(server, path, status, message):
    with pytest.raises(FetchError, match=message) as info:
        fetch_article(server + path)
    assert info.value.status == status
    assert server in str(info.value)
    assert isinstance(info.value, CorpusError)


@pytest.mark.parametrize("path", ["/big", "/chunked", "/unsized"])
def test_fetch_refuses_bodies_over_max_bytes(server, path):
    with pytest.raises(FetchError, match="larger than 100,000 bytes") as info:
        fetch_article(server + path, max_bytes=100_000)
    assert info.value.status == 422
    assert ("Content-Length" in str(info.value)) == (path == "/big")


def test_fetch_timeout_is_504(server):
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"no answer within 0\.5 s") as info:
        fetch_article(f"{server}/slow", timeout=0.5)
    assert info.value.status == 504
    assert time.monotonic() - started < 1.4


def test_fetch_connection_refused_is_502():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(FetchError, match="cannot reach the server") as info:
        fetch_article(f"http://127.0.0.1:{port}/a", timeout=2)
    assert info.value.status == 502
    assert f"127.0.0.1:{port}" in str(info.value)


@pytest.mark.parametrize(
    "url", ["ftp://example.org/a.pdf", "not a url", "http://", "file:///etc/x"]
)
def test_fetch_refuses_non_http_urls(url):
    with pytest.raises(FetchError) as info:
        fetch_article(url)
    assert info.value.status == 422
    assert info.value.url == url
