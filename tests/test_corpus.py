"""The shipped demo corpus: what corpus/README.md says, what scripts/demo_corpus.py makes."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from policy_search.index.readers import read_paths
from policy_search.index.readers.article import Article
from tests.conftest import CORPUS, ROOT

README = CORPUS / "README.md"
COUNT = r"\*\*(\d+) articles\*\*"  # how corpus/README.md states the number of articles
SEED = "azerbaijan-israel-us-partnership"
DATASETS = ("un-general-debates", "us-presidential-speeches")
MIDDLE_CORRIDOR = {
    "UNGDC-KAZ-77-2022",
    "UNGDC-KAZ-78-2023",
    "UNGDC-GEO-78-2023",
    "UNGDC-GEO-79-2024",
    "UNGDC-ARM-79-2024",
}


@pytest.fixture(scope="module")
def articles() -> list[Article]:
    return list(read_paths([CORPUS]))


def _stated(pattern: str) -> int:
    """A figure corpus/README.md states."""
    match = re.search(pattern, README.read_text(encoding="utf-8"))
    assert match, f"corpus/README.md states no {pattern!r}"
    return int(match.group(1).replace(",", ""))


def _files(root: Path) -> dict[str, bytes]:
    """The data sets' files under `root`, by path below it."""
    return {
        str(path.relative_to(root)): path.read_bytes()
        for dataset in DATASETS
        for path in sorted((root / dataset).glob("*"))
    }


def test_every_file_reads_and_the_counts_are_the_readmes(articles: list[Article]) -> None:
    assert len(articles) == _stated(COUNT)
    for dataset in DATASETS:
        files = list((CORPUS / dataset).glob("*.md"))
        assert len(files) == _stated(rf"\| `{dataset}/` \| (\d+) \|"), dataset
    text = sum(len(a.text.encode("utf-8")) for a in articles)
    assert text == _stated(r"([\d,]+) bytes of article text")


def test_the_corpus_stays_under_2_mb() -> None:
    assert sum(p.stat().st_size for p in CORPUS.rglob("*") if p.is_file()) < 2_000_000


def test_the_middle_corridor_has_its_six_articles(articles: list[Article]) -> None:
    naming = {a.id for a in articles if "Middle Corridor" in a.text}
    assert naming == MIDDLE_CORRIDOR | {SEED}
    seed = next(a for a in articles if a.id == SEED)
    assert seed.source == "World Israel News" and seed.author == "Vered Weiss"


def test_each_file_is_named_by_its_id(articles: list[Article]) -> None:
    named = {p.stem for dataset in DATASETS for p in (CORPUS / dataset).glob("*.md")}
    assert named | {SEED} == {a.id for a in articles}


@pytest.fixture(scope="module")
def data_sets(data_dir: Path) -> tuple[dict[str, dict], dict[str, Counter[str]]]:
    """Every record of the two data sets by id, and each country's names since 1992."""
    found, names = {}, defaultdict(Counter)
    for dataset in DATASETS:
        with gzip.open(data_dir / "policy" / dataset / "articles.jsonl.gz", "rt") as lines:
            for line in lines:
                row = json.loads(line)
                found[row["id"]] = row
                if "country" in row and row["year"] >= 1992:
                    names[row["country_iso"]][row["country"]] += 1
    return found, names


def test_texts_and_fields_are_the_data_sets_own(
    articles: list[Article], data_sets: tuple[dict[str, dict], dict[str, Counter[str]]]
) -> None:
    rows, names = data_sets
    for article in articles:
        if article.id == SEED:
            continue
        row = rows[article.id]
        assert article.text == row["text"], article.id  # byte for byte: offsets hold
        assert (article.title, article.source, article.date) == (
            row["title"],
            row["source"],
            str(row["date"]),
        )
        assert article.author == (row.get("speaker") or row.get("president"))
        assert article.url == row["url"]
        if "country" not in row:
            assert article.tags == ["United States"]
        elif names[row["country_iso"]]:  # the country's most frequent name since 1992
            counts = names[row["country_iso"]]
            assert len(article.tags) == 1, article.id
            assert counts[article.tags[0]] == max(counts.values()), article.id
        else:  # a country gone by 1992 keeps a name of its own
            assert len(article.tags) == 1, article.id


def test_the_script_reproduces_the_corpus(tmp_path: Path, data_dir: Path) -> None:
    script = ROOT / "scripts" / "demo_corpus.py"
    done = subprocess.run(
        [sys.executable, str(script), "--data", str(data_dir), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.startswith(f"{_stated(COUNT)} articles")
    made, shipped = _files(tmp_path), _files(CORPUS)
    assert sorted(made) == sorted(shipped)
    assert [name for name in made if made[name] != shipped[name]] == []
