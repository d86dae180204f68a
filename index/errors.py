"""Errors raised while reading articles and building or opening an index.

    PolicySearchError
    ├── CorpusError        an input file or record is unreadable or invalid (names file and line)
    │   └── FetchError     a URL cannot be fetched as an article (`status`: HTTP status to answer)
    ├── ArticleNotFound    no article has that id
    ├── ArticleExists      an article with that id exists (an add that may not replace)
    ├── IndexStoreError    the index directory cannot be used as it is
    │   ├── IndexMissing   no index has been built there yet
    │   ├── IndexMismatch  built with another model, dimension or format version
    │   ├── IndexCorrupt   files are missing or unreadable
    │   ├── IndexLocked    another writer holds the lock
    │   └── ShardUnavailable  a shard of a sharded index does not answer (503)
    │       └── GenerationGone  a shard no longer holds the commit a query was pinned to
    └── IndexInternalError the index code was used wrongly: a bug of ours, never the client's
        └── UnknownPassages  a read named passages its commit does not hold

Messages say what to do next; the edges (CLI, HTTP) only translate them (an internal error is a
500 at the HTTP edge: no status of its own).
"""

from __future__ import annotations

__all__ = [
    "AlertLimit",
    "AlertNotFound",
    "ArticleExists",
    "ArticleNotFound",
    "ClusterUnavailable",
    "CorpusError",
    "FetchError",
    "GenerationGone",
    "IndexCorrupt",
    "IndexInternalError",
    "IndexLocked",
    "IndexMismatch",
    "IndexMissing",
    "IndexStoreError",
    "PolicySearchError",
    "RayMissing",
    "ShardUnavailable",
    "UnknownPassages",
]


class PolicySearchError(Exception):
    """Base of every error the project raises on purpose."""


def _printable(text: str) -> str:
    """`text` fit to print: a file name that is not UTF-8 (held as lone surrogates) shows U+FFFD."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # a surrogate that no file name decodes to
        return text.encode("utf-8", "replace").decode("utf-8")


class CorpusError(PolicySearchError):
    """An article file or record cannot be ingested."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        path = _printable(path) if path is not None else None
        self.path = path
        self.line = line
        self.reason = message
        where = path or ""
        if path and line is not None:
            where = f"{path}:{line}"
        super().__init__(f"{where}: {message}" if where else message)


class FetchError(CorpusError):
    """A URL cannot be fetched as an article; `status` is the HTTP status an API should answer.

    422: a bad URL, not HTML or PDF, too large, or the server answered 4xx; 502: the server
    answered 5xx or could not be reached; 504: it did not answer in time.
    """

    def __init__(self, message: str, *, url: str | None = None, status: int = 422) -> None:
        super().__init__(message, path=url)
        self.url = url
        self.status = status


class ArticleNotFound(PolicySearchError):
    """No article with the given id is in the index."""


class ArticleExists(PolicySearchError):
    """An add that may not replace found an article with the same id."""


class AlertNotFound(PolicySearchError):
    """No saved alert has the given id."""


class AlertLimit(PolicySearchError):
    """Saving an alert would pass the limit of saved alerts."""


class IndexStoreError(PolicySearchError):
    """The index directory cannot be used."""


class IndexMissing(IndexStoreError):
    """No index has been built in the directory."""


class IndexMismatch(IndexStoreError):
    """The index was built with a different model, dimension or format."""


class IndexCorrupt(IndexStoreError):
    """The index directory is damaged."""


class IndexLocked(IndexStoreError):
    """Another process is writing the index."""


class ClusterUnavailable(IndexStoreError):
    """The Ray cluster does not answer, or lacks the resources asked of it."""


class RayMissing(IndexStoreError):
    """--ray was asked for without the Ray extra installed."""


class ShardUnavailable(IndexStoreError):
    """A shard of a sharded index did not answer in time (or its server is gone)."""


class GenerationGone(ShardUnavailable):
    """A shard no longer holds the commit a query was pinned to (its hold window ended, or
    another replica of the shard answered): the query runs again at the shards' latest commits
    (policy_search.search.searcher), so that no query mixes commits."""


class IndexInternalError(PolicySearchError):
    """The index code was called in a way it does not allow (a bug, not bad input)."""


class UnknownPassages(IndexInternalError):
    """A read that answers for each passage named one that its commit does not hold (a
    corpus's ids come from its own answers, at its own commit: a bug, not bad input)."""
