"""The query list: distinct queries drawn from an index, the same for every run of a seed.

A few questions, then 2–4 consecutive words from random passages of the index, so no cache
flatters a figure and every query finds something. The proofs' traffic (`harness.mix`,
`harness.limits`) and the benchmarks (`bench.queries`, `bench.ann`, `bench.peer`,
`bench.writes`) ask these.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

from policy_search.index.storage.survey import Survey

__all__ = ["QUESTIONS", "make_queries"]

QUESTIONS = [
    "Middle Corridor", "who argues the US should follow Israel's lead in Baku?",
    "nuclear disarmament and the non-proliferation treaty",
    "climate change and small island states", "apartheid in South Africa",
    "reform of the Security Council", "debt relief for Africa",
]  # fmt: skip
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]{2,}")


def make_queries(index_dir: Path, n: int, seed: int = 13) -> list[str]:
    """`n` distinct queries: the questions, then 2–4 word phrases from random passages (fewer
    when the index has not that many)."""
    rng = random.Random(seed)
    with Survey(index_dir) as survey:
        count = survey.passage_count()
        queries, seen = list(QUESTIONS), set(QUESTIONS)
        attempts = 50 * n if count > 1 else 0  # a small index has few distinct phrases: stop
        while len(queries) < n and attempts:
            attempts -= 1
            text = survey.passage_text(rng.randrange(count))  # None: a removed passage's id
            words = _WORD.findall(text) if text else []
            if len(words) < 4:
                continue
            size = rng.randint(2, 4)
            start = rng.randrange(len(words) - size)
            query = " ".join(words[start : start + size])
            if query.lower() not in seen:
                seen.add(query.lower())
                queries.append(query)
    return queries
