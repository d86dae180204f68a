"""Choose the judged benchmark's corpus from ../shared/data/policy/ (writes corpus.tsv).

The corpus has to be small enough to embed in minutes and to judge by reading, yet hold, for every
question, speeches that discuss its topic among many that do not. So it is made of

- for each question, the `PER_TOPIC` speeches that best match its `topic` keywords (BM25 over whole
  speeches, Snowball-stemmed), a form of the question the benchmark never searches with, and
- a background of `BACKGROUND` speeches drawn at random (seeded), half from each collection, and
- for a question with a `depth` (those whose first corpus held fewer than six relevant speeches,
  as judged), its topic's next speeches down to that depth, and
- for a question that names its topic (not a paraphrase), every speech that contains the
  question's words verbatim, when at most `NAMED_MAX` do: a reader searching "Middle Corridor"
  expects the speeches that say it, and BM25 on the topic keywords missed three of five.

Every run gives the same file; `tests/test_judged.py` checks the committed one against the data.

    .venv/bin/python -m bench.judged.select [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
from collections.abc import Iterator
from pathlib import Path

import yaml

HERE = Path(__file__).parent
COLLECTIONS = ("un-general-debates", "us-presidential-speeches")
PER_TOPIC = 6
BACKGROUND = 120
SEED = 14
NAMED_MAX = 20


def questions() -> list[dict[str, object]]:
    """The questions, in file order."""
    loaded = yaml.safe_load((HERE / "questions.yaml").read_text(encoding="utf-8"))
    return list(loaded)


def read_policy(data: Path) -> Iterator[dict[str, object]]:
    """Every speech of both collections, in file order."""
    for name in COLLECTIONS:
        with gzip.open(data / "policy" / name / "articles.jsonl.gz", "rt", encoding="utf-8") as f:
            for line in f:
                yield json.loads(line)


def select(data: Path) -> list[tuple[str, str]]:
    """(speech id, why it is in the corpus) for the whole corpus, ids in first-chosen order."""
    import bm25s
    import Stemmer

    speeches = list(read_policy(data))
    ids = [str(s["id"]) for s in speeches]
    stemmer = Stemmer.Stemmer("english")
    retriever = bm25s.BM25()
    retriever.index(
        bm25s.tokenize([str(s["text"]) for s in speeches], stemmer=stemmer, show_progress=False),
        show_progress=False,
    )
    chosen: dict[str, str] = {}
    ranked: dict[str, list[str]] = {}
    for question in questions():
        depth = max(PER_TOPIC, int(question.get("depth", PER_TOPIC)))  # type: ignore[call-overload]
        tokens = bm25s.tokenize([str(question["topic"])], stemmer=stemmer, show_progress=False)
        rows, _ = retriever.retrieve(tokens, k=depth, show_progress=False)
        ranked[str(question["id"])] = [ids[int(row)] for row in rows[0]]
        for speech_id in ranked[str(question["id"])][:PER_TOPIC]:
            chosen.setdefault(speech_id, f"topic:{question['id']}")
    rng = random.Random(SEED)
    for name in COLLECTIONS:
        pool = sorted(i for i, s in zip(ids, speeches, strict=True)
                      if _collection(s) == name and i not in chosen)  # fmt: skip
        for speech_id in rng.sample(pool, BACKGROUND // 2):
            chosen[speech_id] = "background"
    # Last, so that the background drawn above is the same whatever the depths are.
    for qid, speech_ids in ranked.items():
        for speech_id in speech_ids[PER_TOPIC:]:
            chosen.setdefault(speech_id, f"deeper:{qid}")
    for question in questions():
        if question["paraphrase"]:
            continue
        words = re.compile(re.escape(str(question["query"])), re.IGNORECASE)
        naming = [i for i, s in zip(ids, speeches, strict=True) if words.search(str(s["text"]))]
        if len(naming) <= NAMED_MAX:
            for speech_id in naming:
                chosen.setdefault(speech_id, f"named:{question['id']}")
    return list(chosen.items())


def _collection(speech: dict[str, object]) -> str:
    return COLLECTIONS[0] if str(speech["id"]).startswith("UNGDC-") else COLLECTIONS[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    args = parser.parse_args()
    rows = select(args.data)
    with open(HERE / "corpus.tsv", "w", encoding="utf-8") as out:
        out.write("id\twhy\n")
        out.writelines(f"{speech_id}\t{why}\n" for speech_id, why in rows)
    print(f"{len(rows)} speeches → {HERE / 'corpus.tsv'}")


if __name__ == "__main__":
    main()
