"""The country detector against passages judged by hand (tests/data/countries_judged.jsonl):
precision and recall over (passage, country) pairs, micro-averaged. The labels were written by
a person reading each passage, apart from the detector; never tune the detector to them."""

from __future__ import annotations

import json
from pathlib import Path

from policy_search.index.analysis.countries import detector

JUDGED = Path(__file__).resolve().parents[2] / "data" / "countries_judged.jsonl"


def score(path: Path = JUDGED) -> tuple[float, float, int]:
    """(precision, recall, passages) of the detector over the judged passages."""
    found = expected = right = passages = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        got, gold = set(detector().detect(item["text"])), set(item["countries"])
        found, expected, right = found + len(got), expected + len(gold), right + len(got & gold)
        passages += 1
    return right / max(found, 1), right / max(expected, 1), passages


def test_precision_and_recall_on_judged_passages() -> None:
    precision, recall, passages = score()
    print(f"countries over {passages} judged passages: precision {precision:.3f}, "
          f"recall {recall:.3f}")  # fmt: skip
    assert passages >= 100
    assert precision >= 0.95 and recall >= 0.90
