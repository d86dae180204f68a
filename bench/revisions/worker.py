"""One revision's round (run as a script, under the revision's own import path; see __init__).

    python bench/revisions/worker.py queries INDEX_DIR QUESTIONS_YAML
    python bench/revisions/worker.py writes CORPUS_DIR WORK_DIR

Prints one JSON object. Imports only what every revision measured has.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

README_QUERIES = [
    "Middle Corridor",
    "Azerbaijan and the Abraham Accords",
    "who argues the US should follow Israel's lead in Baku?",
]
PAGES = {
    "first page ms": {"k": 10},
    "third page ms": {"k": 10, "offset": 20},
    "grouped ms": {"group": True},
    "all facets ms": {"k": 10, "facets": ["year", "country", "source", "tag"]},
}
WRITES = 10  # of each kind


def _settings() -> Any:
    try:
        from policy_search.api.settings import Settings
    except ImportError:  # the layout before policy_search.api
        from policy_search.settings import Settings  # type: ignore[no-redef]
    return Settings()


def queries(index_dir: Path, questions: Path) -> dict[str, float]:
    """The median latency (ms) over the queries of each kind of page."""
    import yaml

    from policy_search.search.searcher import Searcher

    searcher = Searcher.load(index_dir, _settings().embedder())
    asked = yaml.safe_load(questions.read_text(encoding="utf-8"))
    texts = [str(q["query"]) for q in asked] + README_QUERIES
    for text in texts:
        searcher.queries.vector(text)
        searcher.search(text, k=10)  # warm: the texts the hits read
    out = {}
    for name, options in PAGES.items():
        latencies = []
        for text in texts:
            started = time.perf_counter()
            searcher.search(text, **options)
            latencies.append((time.perf_counter() - started) * 1000)
        out[name] = statistics.median(latencies)
    return out


def _written() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    raise RuntimeError("no write_bytes in /proc/self/io")


def writes(corpus: Path, work: Path) -> dict[str, float]:
    """Median bytes written and ms of adding, replacing and removing one article."""
    from harness.embedders import StandInEmbedder
    from policy_search.index.build import add_articles, build_index, remove_articles
    from policy_search.index.readers import read_paths

    embedder = StandInEmbedder()
    articles = list(read_paths([corpus]))
    shutil.rmtree(work, ignore_errors=True)
    index_dir = work / "index"
    build_index(articles[WRITES:], index_dir, embedder)
    figures: dict[str, list[tuple[int, float]]] = {"add": [], "replace": [], "remove": []}
    ops = {
        "add": lambda a: add_articles([a], index_dir, embedder),
        "replace": lambda a: add_articles(
            [dataclasses.replace(a, text=a.text + " A sentence more.")], index_dir, embedder
        ),
        "remove": lambda a: remove_articles([a.id], index_dir),
    }
    for article in articles[:WRITES]:
        for name, op in ops.items():
            bytes_before, started = _written(), time.perf_counter()
            op(article)
            figures[name].append((_written() - bytes_before, time.perf_counter() - started))
    shutil.rmtree(work, ignore_errors=True)
    out = {}
    for name, values in figures.items():
        out[f"{name} bytes"] = statistics.median(b for b, _ in values)
        out[f"{name} ms"] = statistics.median(s * 1000 for _, s in values)
    return out


def main() -> None:
    kind, first, second = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    result = queries(first, second) if kind == "queries" else writes(first, second)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
