"""How far alerts' matches agree with the search they stand for, on real-model data: each saved
alert's feed against a search of its query restricted to each article written.

A copy of the judged index (`make eval` builds it: real int8 MiniLM vectors); one alert per judged
question and mode, compiled as the server compiles them; then articles of the index are removed
and written again (new passages, the same texts), matched at that write. For every (alert,
article) the search `q` with `article=ID` (the server's confidence floor, the shipped ranker)
returns some passages; the feed holds some. Prints, per mode, the pairs both hold, the feed alone
and the search alone, and the share that agree (|both| / |either|).

    python -m bench.alerts_agreement [INDEX] [--questions 30] [--articles 60]
"""

from __future__ import annotations

import argparse
import random
from collections import Counter
from pathlib import Path

import yaml

from harness.indexes import copy_index
from policy_search.api.settings import Settings
from policy_search.index.build import add_articles, remove_articles
from policy_search.index.storage.alerts import StoredAlert, alert_feed, save_alerts
from policy_search.index.storage.store import open_catalog
from policy_search.records import AlertRequest, SearchRequest
from policy_search.search.cache import QueryCache
from policy_search.search.percolate import AlertMatcher, compile_alert
from policy_search.search.searcher import Searcher

JUDGED = Path("var/eval/policy-judged-onnx-int8")
QUESTIONS = Path(__file__).resolve().parent / "judged" / "questions.yaml"
WORK = Path("var/bench/alerts/judged")
MODES = ("hybrid", "dense", "lexical")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index_dir", nargs="?", type=Path, default=JUDGED)
    parser.add_argument("--questions", type=int, default=30)
    parser.add_argument("--articles", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--floored", default="dense,lexical,hybrid",
        help="The modes whose confidence floor the matcher applies (comma-separated).",
    )  # fmt: skip
    args = parser.parse_args()
    copy = copy_index(args.index_dir, WORK)
    settings = Settings(index_dir=copy)
    embedder = settings.embedder()
    searcher = Searcher.load(copy, embedder)
    queries = QueryCache(embedder)
    questions = [q["query"] for q in yaml.safe_load(QUESTIONS.read_text())][: args.questions]
    alerts = []
    for n, (query, mode) in enumerate((q, m) for q in questions for m in MODES):
        body = AlertRequest(q=query, mode=mode)  # type: ignore[arg-type]
        compiled, vector = compile_alert(body, searcher.analyzer, queries.vector)
        alerts.append(StoredAlert(f"agree-{n:04d}", {"q": query, "mode": mode}, compiled, vector,
                                  "2026-01-01T00:00:00+00:00"))  # fmt: skip
    save_alerts(copy, alerts, limit=len(alerts))
    catalog = open_catalog(copy, readonly=True)
    try:
        ids = sorted(catalog.existing())
    finally:
        catalog.close()
    chosen = random.Random(args.seed).sample(ids, min(args.articles, len(ids)))
    articles = [searcher.article(aid) for aid in chosen]
    remove_articles(chosen, copy, merge=False)
    ranker = searcher.ranker
    floor = settings.floor(ranker)
    floored = tuple(m for m in args.floored.split(",") if m)
    matcher = AlertMatcher(ranker, floor, feed_length=100_000, floored=floored)
    report = add_articles(articles, copy, embedder, merge=False, percolator=matcher)
    searcher = Searcher.load(copy, embedder)
    counts: dict[str, Counter[str]] = {m: Counter() for m in MODES}
    for alert in alerts:
        mode = alert.request["mode"]
        fed = {(m.article, m.start, m.end) for m in alert_feed(copy, alert.id, 100_000)[1]}
        found: set[tuple[str, int, int]] = set()
        for aid in chosen:
            request = SearchRequest(q=alert.request["q"], mode=mode, article=aid, k=100,
                                    min_confidence=floor)  # fmt: skip
            found |= {(h.article.id, h.passage.start, h.passage.end)
                      for h in searcher.search(request).results}  # fmt: skip
        counts[mode].update(both=len(fed & found), feed_only=len(fed - found),
                            search_only=len(found - fed))  # fmt: skip
    print(f"index {args.index_dir}: {len(questions)} questions x {len(MODES)} modes, "
          f"{len(chosen)} articles written again ({report.passages} passages in the index, "
          f"{report.alerts_matched} matches), floor {floor} in {floored or 'no mode'}")  # fmt: skip
    for mode, c in counts.items():
        either = c["both"] + c["feed_only"] + c["search_only"]
        share = c["both"] / either if either else 1.0
        print(f"{mode:<8} both {c['both']:>5}  feed only {c['feed_only']:>5}  search only "
              f"{c['search_only']:>5}  agreement {share:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
