"""What the chaos run expects of the index, and how a restarted server is checked against it.

Every written text carries a marker word of its own (`zq…x`), so the text an article is served
with names the write it came from. After a kill the index must be in one of a few allowed states
(`State`): the one where every acknowledged write is there, or that one plus the single write
that was in flight when the process died, applied whole. Anything else is a failure: a lost
acknowledged write, a torn article (a text that is no write's whole text), a stale passage that a
search still finds, or a search that misses an article the index holds.
"""

from __future__ import annotations

import itertools
import re
import string
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

import httpx

__all__ = ["MARKER", "State", "Verdict", "Version", "markers", "verify"]

MARKER = re.compile(r"\bzq[a-z]+x\b")
GENERAL_QUERY = "international peace and security"


def markers() -> Iterator[str]:
    """Distinct marker words: zqaaax, zqaabx, …; the final x keeps the stemmer off them."""
    for letters in itertools.product(string.ascii_lowercase, repeat=4):
        yield f"zq{''.join(letters)}x"


@dataclass(frozen=True, slots=True)
class Version:
    """One written text of an article, named by its marker."""

    article_id: str
    marker: str
    title: str
    text: str
    date: str | None = None
    source: str | None = None

    def record(self) -> dict[str, object]:
        """The article's fields, as a JSONL line or an HTTP body."""
        fields: dict[str, object] = {"id": self.article_id, "title": self.title, "text": self.text}
        return fields | {k: v for k, v in (("date", self.date), ("source", self.source)) if v}


State = Mapping[str, Version]  # what the index holds: article id → the version it serves


@dataclass(slots=True)
class Verdict:
    """What a check of a restarted server found."""

    position: int | None = None  # which allowed state the index is in (None: none of them)
    problems: list[str] = field(default_factory=list)
    articles: int = 0  # articles fetched (present or absent)
    searches: int = 0  # marker searches
    served: dict[str, Version] | None = None  # what the index serves, when it could be read

    @property
    def ok(self) -> bool:
        return self.position is not None and not self.problems


def verify(
    client: httpx.Client,
    allowed: list[State],
    *,
    known: Iterable[str],
    versions: Mapping[str, Version],
    retired: Iterable[str] = (),
) -> Verdict:
    """Check a server against the allowed states (acknowledged writes only first).

    `known`: every article id ever written, so that one the index should not hold is looked for;
    `versions`: every version ever written, by marker; `retired`: markers that no state in
    `allowed` serves and that a search must no longer find.
    """
    verdict = Verdict()
    _check_health(client, verdict)
    if verdict.problems:
        return verdict
    ids = set(known).union(*(state.keys() for state in allowed))
    served = _served(client, sorted(ids), versions, verdict)
    verdict.articles, verdict.served = len(ids), served
    seen = {aid: v.marker for aid, v in served.items()}
    for position, state in enumerate(allowed):
        if seen == {aid: v.marker for aid, v in state.items()}:
            verdict.position = position
            break
    else:
        verdict.problems.extend(_differences(seen, allowed[0]))
        return verdict
    count = client.get("/health").json()["articles"]
    if count != len(served):
        verdict.problems.append(f"/health counts {count} articles, the index serves {len(served)}")
    for aid, version in sorted(served.items()):
        _check_found(client, aid, version.marker, verdict)
    current = {v.marker for v in served.values()}
    for marker in sorted(set(retired) - current):
        _check_gone(client, marker, verdict)
    return verdict


def _check_health(client: httpx.Client, verdict: Verdict) -> None:
    """/health answers, and a real search (hybrid: the model and BM25) finds passages."""
    health = client.get("/health")
    if health.status_code != 200:
        verdict.problems.append(f"/health answered {health.status_code}: {health.text[:200]}")
        return
    for mode in ("hybrid", "dense"):
        found = client.get(
            "/search", params={"q": GENERAL_QUERY, "mode": mode, "k": 5, "min_confidence": 0}
        )
        if found.status_code != 200 or not found.json()["results"]:
            verdict.problems.append(f"a {mode} search answered {found.status_code} without hits")


def _served(
    client: httpx.Client, ids: list[str], versions: Mapping[str, Version], verdict: Verdict
) -> dict[str, Version]:
    """The version each article is served as; a torn article is a problem and left out."""
    served: dict[str, Version] = {}
    for aid in ids:
        response = client.get(f"/articles/{quote(aid)}")
        if response.status_code == 404:
            continue
        if response.status_code != 200:
            verdict.problems.append(f"GET /articles/{aid} answered {response.status_code}")
            continue
        body = response.json()
        found = MARKER.findall(body["text"])
        version = versions.get(found[0]) if len(found) == 1 else None
        whole = (
            version is not None
            and version.article_id == aid
            and (body["title"], body["text"]) == (version.title, version.text)
        )
        if not whole or version is None:
            verdict.problems.append(f"{aid} is served torn: markers {found}, not a written text")
            continue
        served[aid] = version
    return served


def _differences(seen: Mapping[str, str], acknowledged: State) -> list[str]:
    """How the index differs from the state of acknowledged writes (the first allowed)."""
    problems = []
    for aid, version in sorted(acknowledged.items()):
        if aid not in seen:
            problems.append(f"lost: {aid} ({version.marker}) is missing")
        elif seen[aid] != version.marker:
            problems.append(f"lost: {aid} serves {seen[aid]}, not {version.marker}")
    for aid in sorted(set(seen) - set(acknowledged)):
        problems.append(f"unexpected: {aid} ({seen[aid]}) is there")
    return problems or ["the index is in none of the allowed states"]


def _check_found(client: httpx.Client, aid: str, marker: str, verdict: Verdict) -> None:
    """A lexical search for the article's marker finds its passage first."""
    verdict.searches += 1
    response = client.get(
        "/search", params={"q": marker, "mode": "lexical", "k": 3, "min_confidence": 0}
    )
    hits = response.json()["results"] if response.status_code == 200 else []
    if not hits or hits[0]["article"]["id"] != aid or marker not in hits[0]["passage"]["text"]:
        verdict.problems.append(f"a lexical search for {marker} does not find {aid} first")


def _check_gone(client: httpx.Client, marker: str, verdict: Verdict) -> None:
    """A marker no article is served with finds no passage (no stale passage or posting)."""
    verdict.searches += 1
    response = client.get(
        "/search", params={"q": marker, "mode": "lexical", "k": 3, "min_confidence": 0}
    )
    if response.status_code != 200:
        verdict.problems.append(f"a lexical search for {marker} answered {response.status_code}")
        return
    stale = [h["article"]["id"] for h in response.json()["results"]
             if marker in h["passage"]["text"]]  # fmt: skip
    if stale:
        verdict.problems.append(f"stale passages with {marker} are still found: {stale}")
