"""A writer slow enough to be killed in the middle: the fake embedder, sleeping per passage.

python -m tests.e2e.slow_writer index|add INDEX_DIR N
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from policy_search.index.build import add_articles, build_index
from policy_search.index.readers.article import Article
from tests.conftest import ARTICLES
from tests.fakes import FakeEmbedder


class SlowEmbedder(FakeEmbedder):
    """Takes 20 ms a text, so a write of a few dozen articles lasts about a second."""

    def encode(self, texts, **kwargs):
        time.sleep(0.02 * len(texts))
        return super().encode(texts, **kwargs)


def articles(n: int) -> list[Article]:
    return [
        Article(id=f"slow-{i}", title=f"Report {i}", text=f"Report {i} on Caspian trade. " * 30)
        for i in range(n)
    ]


if __name__ == "__main__":
    mode, index_dir, n = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    if mode == "index":
        build_index([*ARTICLES, *articles(n)], index_dir, SlowEmbedder())
    else:
        add_articles(articles(n), index_dir, SlowEmbedder())
    print("done", flush=True)
