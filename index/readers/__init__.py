"""Readers: files, pages and URLs in the supported formats turned into article records.

`files` reads paths by their suffix (Markdown, text, JSONL, CSV, HTML, PDF); `html`, `pdf` and
`fetch` read one page or document; `article` checks the fields every reader hands it.
"""

from policy_search.index.readers.files import (
    SUPPORTED_SUFFIXES,
    is_url,
    iter_files,
    read_file,
    read_paths,
)

__all__ = ["SUPPORTED_SUFFIXES", "is_url", "iter_files", "read_file", "read_paths"]
