"""The judged benchmark's files (bench/judged/) hold what its README says they hold."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pytest
import yaml

from policy_search.index.storage.lexical import Analyzer

JUDGED = Path(__file__).resolve().parent.parent / "bench" / "judged"


@pytest.fixture(scope="module")
def questions() -> list[dict[str, object]]:
    return list(yaml.safe_load((JUDGED / "questions.yaml").read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def corpus() -> dict[str, str]:
    lines = (JUDGED / "corpus.tsv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "id\twhy"
    rows = [line.split("\t") for line in lines[1:]]
    assert len({r[0] for r in rows}) == len(rows), "a speech is listed twice"
    return {r[0]: r[1] for r in rows}


@pytest.fixture(scope="module")
def judgments() -> list[dict[str, object]]:
    text = (JUDGED / "judgments.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line]


def test_questions_are_many_spread_and_split(questions: list[dict[str, object]]) -> None:
    assert len(questions) >= 40
    ids = [q["id"] for q in questions]
    assert len(set(ids)) == len(ids)
    for q in questions:
        assert {"id", "query", "topic", "relevant", "paraphrase", "split"} <= set(q)
        assert q["split"] in ("tune", "report")
    splits = Counter(str(q["split"]) for q in questions)
    assert splits["tune"] == splits["report"]
    for split in ("tune", "report"):
        half = [q for q in questions if q["split"] == split]
        assert sum(bool(q["paraphrase"]) for q in half) * 2 >= len(half)
        assert {str(q["id"])[:3] for q in half} == {"un-", "us-"}  # both collections


def test_a_paraphrase_avoids_its_topics_leading_keyword(questions: list[dict[str, object]]) -> None:
    analyzer = Analyzer()
    for q in questions:
        if q["paraphrase"]:
            leading = analyzer.terms(str(q["topic"]))[0]
            assert leading not in analyzer.terms(str(q["query"])), q["id"]


def test_the_corpus_is_the_data_sets_speeches(corpus: dict[str, str], data_dir: Path) -> None:
    assert len(corpus) >= 400
    whys = Counter(why.split(":")[0] for why in corpus.values())
    assert set(whys) == {"topic", "background", "deeper", "named"}
    found = set()
    for name in ("un-general-debates", "us-presidential-speeches"):
        path = data_dir / "policy" / name / "articles.jsonl.gz"
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            found |= {json.loads(line)["id"] for line in handle} & set(corpus)
    assert found == set(corpus)


def test_every_question_is_judged_over_the_corpus(
    questions: list[dict[str, object]], corpus: dict[str, str], judgments: list[dict[str, object]]
) -> None:
    ids = {str(q["id"]) for q in questions}
    pairs = [(str(j["query"]), str(j["article"])) for j in judgments]
    assert len(set(pairs)) == len(pairs), "a speech is judged twice for one question"
    for j in judgments:
        assert j["query"] in ids and j["article"] in corpus
        assert j["grade"] in (0, 1, 2)
        assert str(j["reason"]).strip()
    relevant = Counter(str(j["query"]) for j in judgments if int(j["grade"]) > 0)  # type: ignore[call-overload]
    judged = Counter(str(j["query"]) for j in judgments)
    for qid in ids:
        assert judged[qid] >= 10, f"{qid}: only {judged[qid]} speeches judged"
        assert relevant[qid] >= 1, f"{qid}: no relevant speech"
