"""A slice of the real UN General Debate corpus: filters and grouping at realistic proportions.

Plumbing, so the fake embedder (hashed bag of words) stands in for the model.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from policy_search.index.build import build_index
from policy_search.index.readers import read_file
from policy_search.index.storage.survey import Survey
from policy_search.search.searcher import Searcher
from tests.fakes import FakeEmbedder

EVERY = 40  # one statement in 40: about 270 statements spread over 1946-2024


@pytest.fixture(scope="module")
def un_searcher(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Searcher:
    path = data_dir / "policy/un-general-debates/articles.jsonl.gz"
    articles = list(itertools.islice(read_file(path), 0, None, EVERY))
    embedder = FakeEmbedder(max_tokens=256)
    index_dir = tmp_path_factory.mktemp("un") / "index"
    build_index(articles, index_dir, embedder)
    return Searcher.load(index_dir, embedder)


def _year_with_few_passages(searcher: Searcher) -> tuple[str, int]:
    with Survey(searcher.index_dir) as survey:
        counts = survey.passages_per_date()
    date, count = min(((d, c) for d, c in counts.items() if c >= 10), key=lambda dc: dc[1])
    return date, count


@pytest.mark.parametrize("mode", ["hybrid", "lexical", "dense"])
def test_a_year_filter_under_one_percent_still_returns_k(un_searcher: Searcher, mode: str) -> None:
    year, passages = _year_with_few_passages(un_searcher)
    assert passages / un_searcher.manifest.passages < 0.01
    # The fake embedder's cosines are not the model's: no relevance floor in dense mode here.
    floor = -1.0 if mode == "dense" else None
    # Words that every one of the year's ten passages holds one of: Snowball matched "national",
    # "developing" or "secure" to the first four; Krovetz keeps derivations apart (format 8).
    query = "peace security development developing nations national united world countries people"
    result = un_searcher.search(
        query,
        k=10,
        mode=mode,
        date_from=year,
        date_to=year,
        min_score=floor,
    )
    assert len(result.hits) == 10
    assert {h.article.date for h in result.hits} == {year}


def test_a_source_filter_and_a_grouped_query(un_searcher: Searcher) -> None:
    result = un_searcher.search("nuclear disarmament", k=10, group=True)
    ids = [h.article.id for h in result.hits]
    assert len(ids) == len(set(ids)) == 10
    assert result.total >= 10 and all(h.more is not None for h in result.hits)
    assert all(h.article.id.startswith("UNGDC-") for h in result.hits)
    other = un_searcher.search("nuclear disarmament", source="elsewhere")
    assert other.hits == [] and other.total == 0
