"""Cursors: every page of a search read from the commit its first page was read from.

Paging by `offset` ranks each page at the newest commit, so a reader walking a query while a
writer adds matching articles meets some passages twice. A cursor is Elasticsearch's point in
time with `search_after`: each answer's `next_cursor` names the ranking (a digest of the fields
that define it), the commit (generation and commit time), the next offset and an expiry, signed
with HMAC-SHA256, and the server keeps the `Searcher` that answered (`PointsInTime`), bound to
that commit, for the cursor's window. A request with the cursor gets the next slice of that
same ranking, read from that same searcher.

A cursor is checked in this order; each failure is a `CursorError` (422) that says to start
again: its shape, its signature (any worker of one server holds the key), its expiry, the query
it was made for (only `k` and `explain` may change between pages: anything else would be
another ranking, silently), and the commit. A worker that holds no searcher of that commit
serves it only when its newest commit is that one; a worker that never held it, or dropped it
(past `limit` points in time, the oldest go first), refuses.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from policy_search.index.errors import GenerationGone
from policy_search.records import MAX_OFFSET, SearchRequest, SearchResult, to_json
from policy_search.search.errors import QueryError
from policy_search.search.searcher import Searcher

__all__ = [
    "PAGE_FIELDS",
    "CursorError",
    "Pager",
    "PointsInTime",
    "Position",
    "local_key",
    "ranking_digest",
]

# The fields a page may change: what is not here defines the ranking, and a cursor holds it.
PAGE_FIELDS = frozenset({"k", "offset", "cursor", "explain"})
_AGAIN = "start the search again without the cursor"

Commit = tuple[int, str]  # a commit: its generation and when it was made


class CursorError(QueryError):
    """A cursor that cannot be followed: malformed, forged, expired, of another query, or of a
    commit this server no longer holds (HTTP 422)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Position:
    """What a cursor says: which ranking, at which commit, from where, until when."""

    query: str  # ranking_digest of the request that made it
    commit: Commit
    offset: int
    expires: float  # Unix time


def ranking_digest(request: SearchRequest) -> str:
    """A digest of the fields that define a request's ranking (all but PAGE_FIELDS)."""
    fields = {k: v for k, v in to_json(request).items() if k not in PAGE_FIELDS}
    canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return _b64(hashlib.sha256(canonical.encode()).digest()[:16])


def commit_of(searcher: Searcher) -> Commit:
    """The commit a searcher reads: its generation and when it was made (an index rebuilt
    from nothing counts its generations again)."""
    return searcher.generation, searcher.manifest.built_at


def local_key(index_dir: Path) -> bytes:
    """The CLI's key when none is set: it reads the index itself, so its cursors guard no
    server's memory, and one run must read the cursors of the one before."""
    return hashlib.sha256(f"policy-search cursor {index_dir.resolve()}".encode()).digest()


class _Codec:
    """Cursors as `base64url(JSON).base64url(HMAC-SHA256)`."""

    def __init__(self, key: bytes) -> None:
        self.key = key

    def encode(self, position: Position) -> str:
        data = {"q": position.query, "g": position.commit[0], "b": position.commit[1],
                "o": position.offset, "e": math.floor(position.expires * 1000) / 1000}  # fmt: skip
        body = _b64(json.dumps(data, separators=(",", ":")).encode())
        return f"{body}.{self._sign(body)}"

    def decode(self, token: str) -> Position:
        body, dot, signature = token.partition(".")
        if not dot or not body or not signature:
            raise CursorError(f"the cursor is malformed: {_AGAIN}")
        if not hmac.compare_digest(signature, self._sign(body)):
            raise CursorError(
                "the cursor was altered, or made by another server (its signature does not "
                f"match): {_AGAIN}"
            )
        try:
            data = json.loads(_unb64(body))
            position = Position(data["q"], (data["g"], data["b"]), data["o"], data["e"])
        except (ValueError, KeyError, TypeError):  # signed by us, but not a shape we make
            raise CursorError(f"the cursor is malformed: {_AGAIN}") from None
        if not _well_formed(position):
            raise CursorError(f"the cursor is malformed: {_AGAIN}")
        return position

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self.key, body.encode(), hashlib.sha256).digest())


def _well_formed(p: Position) -> bool:
    generation, built = p.commit
    numbers = (type(generation) is int, type(p.offset) is int, isinstance(p.expires, int | float))
    return (
        all(numbers)
        and isinstance(built, str)
        and isinstance(p.query, str)
        and (0 <= p.offset <= MAX_OFFSET)
    )


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None


class PointsInTime:
    """The searchers that answered pages with a next one, each held until its last cursor
    expires; at most `limit`, the one held longest ago dropped first. Thread-safe."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._held: OrderedDict[Commit, tuple[Searcher, float]] = OrderedDict()
        self._lock = threading.Lock()

    def hold(self, searcher: Searcher, until: float, now: float) -> None:
        """Keep `searcher` until `until` (or longer, if held already until later)."""
        commit = commit_of(searcher)
        with self._lock:
            self._expire(now)
            _, before = self._held.pop(commit, (searcher, until))
            self._held[commit] = (searcher, max(before, until))
            while len(self._held) > self.limit:
                self._held.popitem(last=False)

    def find(self, commit: Commit, now: float) -> Searcher | None:
        """The searcher held for `commit`, or None."""
        with self._lock:
            self._expire(now)
            held = self._held.get(commit)
        return held[0] if held is not None else None

    def __len__(self) -> int:
        return len(self._held)

    def _expire(self, now: float) -> None:
        for commit in [c for c, (_, until) in self._held.items() if until < now]:
            del self._held[commit]


class Pager:
    """Searches that answer with a `next_cursor` and follow one (see the module docstring)."""

    def __init__(
        self,
        key: bytes,
        *,
        ttl: float,
        limit: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.codec = _Codec(key)
        self.ttl = ttl
        self.points = PointsInTime(limit)
        self.clock = clock

    def search(
        self,
        request: SearchRequest,
        current: Searcher,
        latest: Callable[[], Searcher] | None = None,
    ) -> SearchResult:
        """A page: of `request` at `current`'s commit, or with a cursor, the next slice of the
        cursor's ranking at its commit (`latest`: the newest searcher, looked for when the
        cursor's commit is newer than `current`'s)."""
        if request.cursor is None:
            searcher, result = current.answer(request)
            return self._cursor(searcher, request, request.offset, result)
        position = self._follow(request)
        searcher = self._at(position.commit, current, latest)
        page = dataclasses.replace(request, offset=position.offset, cursor=None)
        try:
            result = searcher.search_here(page)
        except GenerationGone:
            raise CursorError(
                f"a shard of the index no longer holds the commit the cursor pages through "
                f"(more commits were read since than it keeps): {_AGAIN}"
            ) from None
        return self._cursor(searcher, page, position.offset, result)

    def _follow(self, request: SearchRequest) -> Position:
        """The cursor's position, once it is known to be ours, alive and of this query."""
        assert request.cursor is not None
        position = self.codec.decode(request.cursor)
        if position.expires < self.clock():
            raise CursorError(
                f"the cursor expired (a cursor lasts {self.ttl:g} s after the page that gave "
                f"it): {_AGAIN}"
            )
        if request.offset:
            raise CursorError(
                "give a cursor or an offset, not both: the cursor says where its page starts"
            )
        if ranking_digest(request) != position.query:
            raise CursorError(
                "the cursor belongs to another query: repeat the fields of the search that gave "
                f"it (only k and explain may change), or {_AGAIN}"
            )
        return position

    def _at(
        self, commit: Commit, current: Searcher, latest: Callable[[], Searcher] | None
    ) -> Searcher:
        """The searcher of `commit`: held, or the newest one when it reads that commit."""
        if (held := self.points.find(commit, self.clock())) is not None:
            return held
        if commit_of(current) != commit and latest is not None and commit[0] > current.generation:
            current = latest()  # a commit another worker served already: look for it here
        if commit_of(current) == commit:
            return current
        raise CursorError(
            f"this server no longer holds generation {commit[0]} of the index, which the cursor "
            f"pages through (another worker answered the page before, or too many searches "
            f"were paged since): {_AGAIN}"
        )

    def _cursor(
        self, searcher: Searcher, request: SearchRequest, offset: int, result: SearchResult
    ) -> SearchResult:
        """The page `searcher` answered, with the cursor of the next one when there is one
        (paging reaches it)."""
        following = offset + len(result.results)
        if not result.results or following >= result.total or following > MAX_OFFSET:
            return result
        now = self.clock()
        until = now + self.ttl
        self.points.hold(searcher, until, now)
        position = Position(ranking_digest(request), commit_of(searcher), following, until)
        return dataclasses.replace(result, next_cursor=self.codec.encode(position))
