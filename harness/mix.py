"""A mixed list of read requests against one index, the traffic of `harness.soak`.

Every route a reader uses, in proportions a busy site might see: GET /search with real queries
(`harness.query_list.make_queries`) in each mode, k up to 100, offsets, source and date filters,
group, explain; POST /search with a JSON body; GET /articles/{id} and /articles/{id}/similar;
/health and /stats. Every request is valid and names only articles the index held when the list
was made, so any answer but 2xx is an error (the writer of `harness.soak` touches only its own
articles). Saved one request a line, `METHOD<TAB>PATH<TAB>JSON body or nothing`, the file
`harness/mixed.lua` reads for wrk.
"""

from __future__ import annotations

import json
import random
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from harness.load import Request
from harness.query_list import make_queries
from policy_search.index.storage.survey import Survey

__all__ = ["mixed_requests", "read_requests", "write_requests"]

KINDS = {  # kind of request → weight in the mix
    "search": 30, "search-mode": 15, "search-offset": 5, "search-filter": 10, "search-group": 5,
    "search-explain": 5, "post-search": 10, "article": 8, "similar": 5, "health": 4, "stats": 3,
}  # fmt: skip
MODES = ("hybrid", "dense", "lexical")
KS = (1, 5, 10, 20, 50, 100)


@dataclass(frozen=True, slots=True)
class _Corpus:
    """What the requests draw on: queries, article ids, sources and years of the index."""

    queries: list[str]
    article_ids: list[str]
    sources: list[str]
    years: tuple[int, int]


def _corpus(index_dir: Path, n_queries: int, seed: int) -> _Corpus:
    rng = random.Random(seed)
    with Survey(index_dir) as survey:
        ids, sources, (low, high) = survey.article_ids(), survey.sources(), survey.date_bounds()
    years = (int(low[:4]), int(high[:4])) if low and high else (2000, 2000)
    article_ids = rng.sample(ids, min(len(ids), 500))
    return _Corpus(make_queries(index_dir, n_queries, seed), article_ids, sources, years)


def _search(kind: str, query: str, corpus: _Corpus, rng: random.Random) -> dict[str, object]:
    params: dict[str, object] = {"q": query}
    if kind in ("search-mode", "post-search"):
        params |= {"mode": rng.choice(MODES), "k": rng.choice(KS)}
    elif kind == "search-offset":
        params |= {"offset": rng.choice((10, 20, 50, 100, 190)), "k": rng.choice((10, 20))}
    elif kind == "search-filter":
        if corpus.sources and rng.random() < 0.4:
            params["source"] = rng.choice(corpus.sources)
        else:
            first, last = corpus.years
            start = rng.randint(first, last)
            end = min(last, start + rng.randint(0, 9))
            params |= {"date_from": str(start), "date_to": str(end)}
    elif kind == "search-group":
        params |= {"group": True, "k": rng.choice((10, 20))}
    elif kind == "search-explain":
        params |= {"explain": True, "mode": rng.choice(MODES)}
    return params


def _request(kind: str, query: str, corpus: _Corpus, rng: random.Random) -> Request:
    if kind == "health":
        return Request(kind, "GET", "/health")
    if kind == "stats":
        return Request(kind, "GET", "/stats")
    if kind in ("article", "similar"):
        quoted = urllib.parse.quote(rng.choice(corpus.article_ids), safe="")
        if kind == "article":
            return Request(kind, "GET", f"/articles/{quoted}")
        return Request(kind, "GET", f"/articles/{quoted}/similar?k={rng.choice((5, 10, 20))}")
    params = _search(kind, query, corpus, rng)
    if kind == "post-search":
        return Request(kind, "POST", "/search", json.dumps(params, ensure_ascii=False))
    flat = {k: str(v).lower() if isinstance(v, bool) else v for k, v in params.items()}
    return Request(kind, "GET", "/search?" + urllib.parse.urlencode(flat))


def mixed_requests(index_dir: Path, n: int, *, seed: int = 29) -> list[Request]:
    """`n` mixed read requests against the index's latest commit, in a seeded random order."""
    rng = random.Random(seed)
    corpus = _corpus(index_dir, max(1, n), seed)
    kinds = rng.choices(list(KINDS), weights=list(KINDS.values()), k=n)
    queries = corpus.queries  # fewer than requests on a small index: cycle through them
    return [_request(kind, queries[i % len(queries)], corpus, rng) for i, kind in enumerate(kinds)]


def write_requests(requests: list[Request], path: Path) -> None:
    """Save requests one a line for `harness/mixed.lua` (and `read_requests`)."""
    lines = [f"{r.method}\t{r.path}\t{r.body}" for r in requests]
    if any(line.count("\t") != 2 or "\n" in line for line in lines):
        raise ValueError("a request holds a tab or a newline; it cannot be saved one a line")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_requests(path: Path) -> list[Request]:
    """Requests saved by `write_requests` (their kind is not saved: "")."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        method, target, body = line.split("\t")
        out.append(Request("", method, target, body))
    return out
