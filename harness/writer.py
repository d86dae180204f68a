"""The writer of `harness.soak` (and of `bench.writes`' server): adds, replaces and removes articles
over HTTP, one after another, while the readers load the server; then checks that every
acknowledged write holds.

Its articles are real texts: a run of paragraphs from a random article of the index, with a new
id, a new title and a marker word (`soak<run>x<n>v<version>`) that no other text contains, so a
lexical search for the marker finds exactly that version of that article. It touches only its own
articles, so the readers' requests stay valid. A write counts as acknowledged only on its success
status; a write that failed or timed out is an error, and its article is left out of the check
(its state is unknown).
"""

from __future__ import annotations

import random
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from harness.latency import percentiles
from policy_search.index.storage.survey import Survey

__all__ = ["Writer", "source_texts"]

CYCLE = ("add", "add", "replace", "add", "remove")  # 3 adds, 1 replace, 1 remove
SOURCE = "policy-search soak writer"


def source_texts(index_dir: Path, n: int, *, seed: int = 31) -> list[tuple[str, str, str | None]]:
    """(title, text, date) of `n` runs of paragraphs (1,500–4,000 characters) of the index."""
    rng = random.Random(seed)
    with Survey(index_dir) as survey:
        articles = survey.sample_articles(n, seed=seed)
    out: list[tuple[str, str, str | None]] = []
    for i in range(n if articles else 0):  # n distinct articles when the index has that many
        title, body, date = articles[i % len(articles)]
        paragraphs = [p for p in body.split("\n") if p.strip()]
        first = rng.randrange(len(paragraphs))
        text = ""
        for paragraph in paragraphs[first:] + paragraphs[:first]:
            if len(text) >= 1500:
                break
            text += paragraph[: 4000 - len(text)] + "\n"
        out.append((title, text, date))
    return out


@dataclass
class _Article:
    """One of the writer's articles: its marker now, and the markers it had before."""

    marker: str
    old: list[str] = field(default_factory=list)


class Writer(threading.Thread):
    """Writes until `stop()`; then `check()` lists the acknowledged writes that do not hold."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        texts: list[tuple[str, str, str | None]],
        *,
        run: str,
        timeout: float = 120.0,
    ) -> None:
        super().__init__(name="soak-writer", daemon=True)
        self.client = httpx.Client(  # a loopback server: never through a proxy
            base_url=base_url,
            timeout=timeout,
            headers={"Authorization": f"Bearer {api_key}"},
            trust_env=False,
        )
        self.texts = texts
        self.run_id = run
        self.present: dict[str, _Article] = {}  # acknowledged and not removed since
        self.removed: dict[str, _Article] = {}  # acknowledged removals
        self.latencies: list[tuple[str, float]] = []  # (op, ms) of each acknowledged write
        self.acknowledged_at: list[float] = []  # time.monotonic() of each acknowledgement
        self.errors: list[str] = []
        self._count = 0  # texts used
        self._serial = 0  # articles made
        self._step = 0
        self._halt = threading.Event()

    def stop(self) -> None:
        """Finish the write under way, then stop."""
        self._halt.set()

    def run(self) -> None:
        while not self._halt.is_set():
            self.write_once()

    def write_once(self) -> None:
        """The next write of the cycle (add, add, replace, add, remove); an add if none is left."""
        op = CYCLE[self._step % len(CYCLE)]
        self._step += 1
        if op == "add" or not self.present:
            self._add()
        elif op == "replace":
            self._replace(list(self.present)[-1])  # the newest: the one readers may find
        else:
            self._remove(next(iter(self.present)))  # the oldest

    def _body(self, article_id: str, marker: str) -> dict[str, object]:
        title, text, date = self.texts[self._count % len(self.texts)]
        self._count += 1
        return {"id": article_id, "title": f"{title} (soak copy {marker})", "source": SOURCE,
                "date": date, "text": f"Record {marker}.\n{text}"}  # fmt: skip

    def _send(self, op: str, method: str, path: str, ok: int, body: object = None) -> bool:
        began = time.perf_counter()
        try:
            response = self.client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            self.errors.append(f"{op} {path}: {exc.__class__.__name__}: {exc}")
            return False
        if response.status_code != ok:
            self.errors.append(f"{op} {path}: HTTP {response.status_code} {response.text[:300]}")
            return False
        self.latencies.append((op, (time.perf_counter() - began) * 1000))
        self.acknowledged_at.append(time.monotonic())
        return True

    def _add(self) -> None:
        n = self._serial = self._serial + 1
        article_id, marker = f"soak-{self.run_id}-{n}", f"soak{self.run_id}x{n}v1"
        if self._send("add", "POST", "/articles", 201, self._body(article_id, marker)):
            self.present[article_id] = _Article(marker)

    def _replace(self, article_id: str) -> None:
        article = self.present.pop(article_id)  # unknown state until acknowledged
        version = len(article.old) + 2
        marker = f"{article.marker.rsplit('v', 1)[0]}v{version}"
        path = f"/articles/{urllib.parse.quote(article_id, safe='')}"
        if self._send("replace", "PUT", path, 200, self._body(article_id, marker)):
            self.present[article_id] = _Article(marker, [*article.old, article.marker])

    def _remove(self, article_id: str) -> None:
        article = self.present.pop(article_id)
        path = f"/articles/{urllib.parse.quote(article_id, safe='')}"
        if self._send("remove", "DELETE", path, 200):
            self.removed[article_id] = _Article(article.marker, article.old)

    def _found(self, marker: str) -> set[str]:
        """Ids of the articles a lexical search for `marker` finds."""
        response = self.client.get(
            "/search", params={"q": marker, "mode": "lexical", "k": 10, "min_confidence": 0}
        )
        response.raise_for_status()
        return {hit["article"]["id"] for hit in response.json()["results"]}

    def check(self) -> list[str]:
        """Every acknowledged write that does not hold now, as a sentence each (none: all hold)."""
        wrong = []
        for article_id, article in self.present.items():
            got = self.client.get(f"/articles/{urllib.parse.quote(article_id, safe='')}")
            if got.status_code != 200 or article.marker not in got.json()["text"]:
                wrong.append(f"{article_id}: acknowledged {article.marker}, got {got.status_code}")
            if article_id not in self._found(article.marker):
                wrong.append(f"{article_id}: a search for {article.marker} does not find it")
            wrong += [f"{article_id}: replaced text {old} still found"
                      for old in article.old if article_id in self._found(old)]  # fmt: skip
        for article_id, article in self.removed.items():
            got = self.client.get(f"/articles/{urllib.parse.quote(article_id, safe='')}")
            if got.status_code != 404:
                wrong.append(f"{article_id}: removed, but GET answers {got.status_code}")
            wrong += [f"{article_id}: removed, but a search for {marker} finds it"
                      for marker in [article.marker, *article.old]
                      if article_id in self._found(marker)]  # fmt: skip
        return wrong

    def figures(self, since: int = 0) -> dict:
        """Writes acknowledged by kind, errors, latency in ms, and what is checked; the writes
        and their latency from the `since`-th acknowledged write on (errors: all of them)."""
        acknowledged = self.latencies[since:]
        every = [ms for _, ms in acknowledged]
        by_op = {op: sum(o == op for o, _ in acknowledged) for op in sorted(set(CYCLE))}
        return {
            "acknowledged": by_op,
            "writes": len(every),
            "errors": len(self.errors),
            "error_samples": self.errors[:5],
            "latency_ms": percentiles(every),
            "present": len(self.present),
            "removed": len(self.removed),
        }

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()
