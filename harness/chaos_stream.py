"""The chaos run's HTTP client: writes one after another, each followed by a search for it.

It runs in a thread while the main thread waits for the moment to kill the server. A write is
acknowledged once its 2xx answer is in; the one sent when the server died is `in_flight`.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

import httpx

from harness.chaos_check import State, Version
from harness.chaos_kill import Snapshot, snapshot

__all__ = ["KEY", "MIN_ARTICLES", "Source", "Stream", "Write"]

KEY = "chaos-key"
MIN_ARTICLES = 5  # removals leave at least this many


@dataclass(frozen=True, slots=True)
class Write:
    """One article written (a version) or removed (None)."""

    method: str  # POST, PUT or DELETE, as sent over HTTP
    article_id: str
    version: Version | None

    def apply(self, state: State) -> dict[str, Version]:
        """The state after this write."""
        after = dict(state)
        if self.version is None:
            after.pop(self.article_id, None)
        else:
            after[self.article_id] = self.version
        return after

    @staticmethod
    def apply_all(writes: list[Write], state: State) -> dict[str, Version]:
        """The state after these writes, in order."""
        after = dict(state)
        for write in writes:
            after = write.apply(after)
        return after


class Source(Protocol):
    """Where the stream's writes come from (the chaos run, `harness.chaos.Chaos`): its random
    numbers, its index folder, new article ids and new versions of articles."""

    rng: random.Random
    index_dir: Path

    def version(self, article_id: str) -> Version:
        """A new version of the article, recorded as written."""
        ...

    def new_id(self) -> str:
        """An article id never used before."""
        ...


class Stream(threading.Thread):
    """Sends up to `limit` writes to a server, stopping at the first that gets no answer."""

    def __init__(self, chaos: Source, base: str, state: State, *, limit: int) -> None:
        super().__init__(name="chaos-writes", daemon=True)
        self.chaos = chaos
        self.base = base
        self.limit = limit
        self.state: dict[str, Version] = dict(state)  # with every acknowledged write
        self.acknowledged: list[Write] = []
        self.in_flight: Write | None = None  # sent, never answered
        self.before_in_flight: Snapshot | None = None
        self.written: set[str] = set()  # markers of every version sent
        self.problems: list[str] = []
        self.seconds = 0.0

    def run(self) -> None:
        started = time.perf_counter()
        headers = {"Authorization": f"Bearer {KEY}"}
        try:
            with httpx.Client(base_url=self.base, timeout=120, headers=headers) as client:
                for _ in range(self.limit):
                    if not self._send(client, self._next()):
                        return
        finally:
            self.seconds = time.perf_counter() - started

    def _next(self) -> Write:
        """A removal, a replacement, or a new article (by PUT or POST)."""
        rng, chaos = self.chaos.rng, self.chaos
        ids = sorted(self.state)
        roll = rng.random()
        if roll < 0.25 and len(ids) > MIN_ARTICLES:
            return Write("DELETE", rng.choice(ids), None)
        if roll < 0.55 and ids:
            aid = rng.choice(ids)
            return Write("PUT", aid, chaos.version(aid))
        aid = chaos.new_id()
        return Write("PUT" if roll < 0.65 else "POST", aid, chaos.version(aid))

    def _send(self, client: httpx.Client, write: Write) -> bool:
        """Send a write and search for it; False when the stream must stop."""
        aid, version = write.article_id, write.version
        if version is not None:
            self.written.add(version.marker)
        expected = 201 if version is not None and aid not in self.state else 200
        self.before_in_flight, self.in_flight = snapshot(self.chaos.index_dir), write
        try:
            if version is None:
                response = client.delete(f"/articles/{quote(aid)}")
            elif write.method == "POST":
                response = client.post("/articles", json=version.record())
            else:
                response = client.put(f"/articles/{quote(aid)}", json=version.record())
        except httpx.HTTPError:
            return False  # the server died: this write is unacknowledged
        if response.status_code != expected:
            self.problems.append(
                f"{write.method} {aid} answered {response.status_code}, not {expected}: "
                f"{response.text[:200]}"
            )
            return False
        self.acknowledged.append(write)
        self.state, self.in_flight = write.apply(self.state), None
        if version is None:
            return True
        try:
            found = client.get(
                "/search",
                params={"q": version.marker, "mode": "lexical", "k": 3, "min_confidence": 0},
            )
        except httpx.HTTPError:
            return False
        hits = found.json()["results"] if found.status_code == 200 else []
        if not hits or hits[0]["article"]["id"] != aid:
            self.problems.append(f"right after its answer, {version.marker} does not find {aid}")
        return True
