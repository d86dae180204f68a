"""The writer's cost of alerts: one write (an article added, merge=False) with 1,000 saved alerts
against the same write with none, the model's time aside (the stand-in embedder).

Two copies of the UN stand-in index (`make bench-writes` builds it), one with 1,000 alerts saved
(`harness.alerts`: drawn from its passages, compiled as the server compiles them), written to in
turns (A B B A) with the same articles; each write matches its passages against the saved alerts
in its own transaction (index/storage/alerts.py). Prints the medians and their ratio (goal
<= 1.2x), and the matches the writes recorded.

    python -m bench.alerts [INDEX] [--alerts 1000] [--writes 15]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from harness.alerts import save_compiled
from harness.embedders import StandInEmbedder
from harness.indexes import copy_index
from policy_search.index.build import add_articles
from policy_search.index.readers.article import Article
from policy_search.index.storage.survey import Survey
from policy_search.search.percolate import AlertMatcher
from policy_search.search.rerank import Ranker

UN = Path("var/bench/writes/un-11500")
WORK = Path("var/bench/alerts")


def _articles(index_dir: Path, n: int) -> list[Article]:
    """`n` new articles, each the text of a few of the index's passages (so alerts can match)."""
    out = []
    with Survey(index_dir) as survey:
        count = survey.passage_count()
        for i in range(n):
            texts = [survey.passage_text((7919 * (4 * i + j)) % count) or "" for j in range(4)]
            out.append(Article(id=f"bench-alerts-{i}", title=f"Statement {i}",
                               text="\n\n".join(t for t in texts if t)))  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index_dir", nargs="?", type=Path, default=UN)
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--writes", type=int, default=15, help="Writes to each copy.")
    args = parser.parse_args()
    embedder = StandInEmbedder()
    copies = {name: copy_index(args.index_dir, WORK / name) for name in ("none", "alerts")}
    began = time.perf_counter()
    saved = save_compiled(copies["alerts"], args.alerts, embedder)
    print(f"{saved} alerts compiled and saved in {time.perf_counter() - began:.1f} s")
    ranker = Ranker.load()
    matcher = AlertMatcher(ranker, ranker.confidence_floor)
    articles = _articles(args.index_dir, args.writes)
    seconds: dict[str, list[float]] = {name: [] for name in copies}
    matched = 0
    for i, article in enumerate(articles):
        for name in list(copies) if i % 2 == 0 else list(reversed(copies)):
            start = time.perf_counter()
            report = add_articles([article], copies[name], embedder, merge=False,
                                  percolator=matcher)  # fmt: skip
            seconds[name].append(time.perf_counter() - start)
            matched += report.alerts_matched
    none, some = (statistics.median(seconds[n]) for n in ("none", "alerts"))
    passages = sum(len(a.text) for a in articles) // max(len(articles), 1)
    print(f"index {args.index_dir} ({args.writes} writes of one article, ~{passages} chars each)")
    print(f"write, no alerts saved      median {1000 * none:7.1f} ms")
    print(f"write, {saved} alerts saved  median {1000 * some:7.1f} ms")
    print(f"ratio {some / none:.2f}x (goal <= 1.2x); matches recorded: {matched}")


if __name__ == "__main__":
    main()
