"""What finding countries costs at index time, and how well it finds them.

    .venv/bin/python -m bench.countries [--articles 300] [--rounds abba]

Three figures: the detector alone over the passages of N UN General Debate statements
(passages/s); `build_index` of the same statements with the real model, detection on and off,
in A B B A order (on a shared 2-core machine absolute times drift, the ratio much less); and
precision and recall on the hand-judged passages (tests/data/countries_judged.jsonl).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import tempfile
import time
from pathlib import Path
from unittest import mock

from policy_search.index.analysis.chunk import ChunkSettings, chunk_article
from policy_search.index.analysis.countries import detector
from policy_search.index.analysis.embed import Embedder, load_embedder
from policy_search.index.build import build_index
from policy_search.index.readers import read_file
from policy_search.index.readers.article import Article
from policy_search.index.storage import transaction

JUDGED = Path(__file__).resolve().parent.parent / "tests/data/countries_judged.jsonl"


class _Nothing:
    """A detector that finds nothing: the write path with detection off."""

    def detect(self, text: str) -> list[str]:
        return []


def main() -> None:
    """Print the three figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=300, help="UN statements to index.")
    parser.add_argument("--no-build", action="store_true", help="The detector alone.")
    args = parser.parse_args()
    data = Path(os.environ.get("POLICY_SEARCH_DATA_DIR", "../shared/data"))
    source = data / "policy/un-general-debates/articles.jsonl.gz"
    articles = list(itertools.islice(read_file(source), args.articles))
    embedder = load_embedder()
    texts = [p.text for a in articles for p in chunk_article(a, embedder, ChunkSettings())]
    started = time.perf_counter()
    found = detector()  # built once per process: its cost, apart
    built = time.perf_counter() - started
    started = time.perf_counter()
    named = sum(len(found.detect(t)) for t in texts)
    alone = time.perf_counter() - started
    rate, each = len(texts) / alone, named / len(texts)
    print(f"detector: built in {built:.2f} s; {len(texts)} passages in {alone:.2f} s = "
          f"{rate:,.0f} passages/s, {each:.2f} countries each")  # fmt: skip
    if not args.no_build:
        _builds(articles, embedder)
    if JUDGED.is_file():
        print(_judged(JUDGED))


def _judged(path: Path) -> str:
    """Precision and recall over (passage, country) pairs, micro-averaged (bench and tests
    never import each other: tests/index/analysis/test_countries_judged.py counts the same way)."""
    found = expected = right = passages = 0
    for line in filter(str.strip, path.read_text(encoding="utf-8").splitlines()):
        item = json.loads(line)
        got, gold = set(detector().detect(item["text"])), set(item["countries"])
        found, expected, right = found + len(got), expected + len(gold), right + len(got & gold)
        passages += 1
    return (
        f"judged: {passages} passages, precision {right / found:.3f}, recall {right / expected:.3f}"
    )


def _builds(articles: list[Article], embedder: Embedder) -> None:
    """build_index with detection on and off, A B B A; passages/s and the ratio."""
    times: dict[str, list[float]] = {"on": [], "off": []}
    passages = 0
    for mode in ("on", "off", "off", "on"):
        with tempfile.TemporaryDirectory() as tmp:
            off = mock.patch.object(transaction, "detector", _Nothing)
            with off if mode == "off" else contextlib.nullcontext():
                started = time.perf_counter()
                passages = build_index(articles, Path(tmp) / "i", embedder).passages
                times[mode].append(time.perf_counter() - started)
    on, off = sum(times["on"]) / 2, sum(times["off"]) / 2
    print(f"build_index of {len(articles)} statements ({passages} passages): detection on "
          f"{passages / on:,.1f} passages/s, off {passages / off:,.1f}; "
          f"time on/off {on / off:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
