"""Pool the speeches to judge for each question, and write one reading packet per question.

A speech is judged when any of these runs puts it in its top `DEPTH` speeches (a speech scores its
best passage): dense, lexical, hybrid by score fusion and hybrid by RRF on the question, and
lexical on the question's `topic` keywords (a manual run, to find relevant speeches the question's
wording misses), plus `--extra` runs. Pairs already in judgments.jsonl are left out, so a later
round judges only what a new ranking brought up.

Each packet lists, per speech, its title and the passages that matched best (by hybrid on the
question, and lexical on the topic); the judge reads the whole speech in `texts/` when they do
not settle it.

    .venv/bin/python -m bench.judged.pool [--index DIR] [--out var/judged/pool]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from bench.judged.beir import corpus, judgments
from bench.judged.select import questions
from policy_search.search.articles import ArticleSettings, rank_articles
from policy_search.search.fusion import FusionSettings
from policy_search.search.searcher import Searcher

# Hybrid rankings added to the pool in the second round: the levers chosen on the tune half.
EXTRA: list[tuple[str, FusionSettings, ArticleSettings]] = []
DEPTH = 10
SHOW = 2  # passages shown per speech and run
MOST = 4  # passages shown per speech
PASSAGE_CHARS = 900


def _top_articles(
    searcher: Searcher, vector: np.ndarray, text: str, mode: str, depth: int = DEPTH
) -> dict[str, list[int]]:
    """Article id → its matching passage ids (best first), for the top DEPTH articles, ranked
    as the searcher ranks articles."""
    terms = searcher.analyzer.terms(text)
    ranking = searcher.rank(vector, terms, mode=mode, depth=400, min_score=float("-inf"))
    doc_of = _doc_of(searcher)
    docs = np.array([doc_of[int(p)] for p in ranking.ids], dtype=object)
    ranked = rank_articles(docs, ranking.scores, searcher.articles)
    top = ranked.articles[:depth].tolist()
    return {doc: [int(p) for p, d in zip(ranking.ids, docs, strict=True) if d == doc]
            for doc in top}  # fmt: skip


_DOCS: dict[Path, dict[int, str]] = {}


def _doc_of(searcher: Searcher) -> dict[int, str]:
    if searcher.index_dir not in _DOCS:
        _DOCS[searcher.index_dir] = searcher.passage_articles()
    return _DOCS[searcher.index_dir]


def pool(searcher: Searcher, out: Path, rrf: Searcher, extra: dict[str, Searcher]) -> int:
    """Write the packets; return how many (question, speech) pairs they hold."""
    done = {(str(j["query"]), str(j["article"])) for j in judgments()}
    chosen: dict[str, list[str]] = {}
    for speech_id, why in corpus().items():
        if ":" in why:
            chosen.setdefault(why.split(":", 1)[1], []).append(speech_id)
    out.mkdir(parents=True, exist_ok=True)
    reader = searcher.snapshot
    pairs = 0
    for question in questions():
        qid, query, topic = str(question["id"]), str(question["query"]), str(question["topic"])
        vector = searcher.embedder.encode([query])[0]
        zero = np.zeros_like(vector)
        runs = {
            "hybrid": _top_articles(searcher, vector, query, "hybrid"),
            "topic": _top_articles(searcher, zero, topic, "lexical"),
            "dense": _top_articles(searcher, vector, query, "dense"),
            "lexical": _top_articles(searcher, zero, query, "lexical"),
            "rrf": _top_articles(rrf, vector, query, "hybrid"),
            **{
                name: _top_articles(other, vector, query, "hybrid") for name, other in extra.items()
            },
        }
        # The speeches the corpus took for this question's topic are judged whatever the runs say.
        deep = _top_articles(searcher, zero, topic, "lexical", depth=100)
        runs["chosen"] = {doc: deep.get(doc, []) for doc in chosen.get(qid, [])}
        shown: dict[str, list[int]] = {}
        for name, run in runs.items():
            for doc, pids in list(run.items())[: None if name == "chosen" else DEPTH]:
                if (qid, doc) in done:
                    continue
                for pid in pids[:SHOW]:
                    if pid not in shown.setdefault(doc, []) and len(shown[doc]) < MOST:
                        shown[doc].append(pid)
        lines = [
            f"# {qid}",
            "",
            f"Question: {query}",
            "",
            f"Relevant when the speech {question['relevant']}.",
            "",
        ]
        for doc, pids in sorted(shown.items()):
            rows = reader.passage_rows(pids)
            found = reader.article(doc)
            lines += [f"## {doc}", "", f"Title: {found.title if found else doc}", ""]
            for pid in pids:
                row = rows.get(pid)
                if row is None:
                    continue
                lines += [f"> {row.text[:PASSAGE_CHARS].replace(chr(10), ' ')}", ""]
            pairs += 1
        (out / f"{qid}.md").write_text("\n".join(lines), encoding="utf-8")
        for doc in shown:
            text_file = out / "texts" / f"{doc}.txt"
            if not text_file.exists():
                article = reader.article(doc)
                text_file.parent.mkdir(exist_ok=True)
                text_file.write_text(article.text if article else "", encoding="utf-8")
    return pairs


def main() -> None:
    from policy_search.api.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=Path("var/judged/pool"))
    args = parser.parse_args()
    settings = Settings()
    index = args.index or Path(f"var/eval/policy-judged-{settings.backend}")
    embedder = settings.embedder()
    searcher = Searcher.load(index, embedder)
    rrf = Searcher.load(index, embedder, fusion=FusionSettings(method="rrf"))
    extra = {name: Searcher(searcher.snapshot, embedder, fusion=fusion, articles=articles)
             for name, fusion, articles in EXTRA}  # fmt: skip
    print(f"{pool(searcher, args.out, rrf, extra)} pairs to judge → {args.out}")


if __name__ == "__main__":
    main()
