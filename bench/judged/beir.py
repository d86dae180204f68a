"""Lay the judged benchmark out in BEIR form, so `policy-search eval` scores it like SciFact.

Reads the committed corpus list, questions and judgments (this folder) and the speeches'
texts from ../shared/data/policy/, and writes `<out>/policy-judged/`:

- `corpus.jsonl.gz`: the speeches (`_id`, `title`, `text`), byte for byte the data set's;
- `queries.jsonl`: the questions (`_id`, `text`);
- `qrels/tune.tsv`, `qrels/report.tsv`, `qrels/all.tsv`: the judgments of each split, graded
  0–2 (a 0 is written too: judged, not relevant).

    .venv/bin/python -m bench.judged.beir [--data ../shared/data] [--out var/judged]
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

from bench.judged.select import HERE, questions, read_policy

NAME = "policy-judged"


def corpus() -> dict[str, str]:
    """The committed corpus: each speech id (in the file's order) with why it is there."""
    lines = (HERE / "corpus.tsv").read_text(encoding="utf-8").splitlines()[1:]
    return dict(line.split("\t", 1) for line in lines if line)


def judgments() -> list[dict[str, object]]:
    """Every judgment: `query`, `article`, `grade` (0–2) and the judge's `reason`."""
    path = HERE / "judgments.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def materialize(data: Path, out: Path) -> Path:
    """Write the BEIR folder (every time: it is cheap) and return it."""
    target = out / NAME
    (target / "qrels").mkdir(parents=True, exist_ok=True)
    wanted = set(corpus())
    found = 0
    with gzip.open(target / "corpus.jsonl.gz", "wt", encoding="utf-8") as handle:
        for speech in read_policy(data):
            if speech["id"] in wanted:
                record = {"_id": speech["id"], "title": speech["title"], "text": speech["text"]}
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
                found += 1
    if found != len(wanted):
        raise SystemExit(f"{len(wanted) - found} speeches of corpus.tsv are not in {data}")
    asked = questions()
    with open(target / "queries.jsonl", "w", encoding="utf-8") as handle:
        for question in asked:
            handle.write(json.dumps({"_id": question["id"], "text": question["query"]}) + "\n")
    split_of = {str(q["id"]): str(q["split"]) for q in asked}
    rows = {"tune": [], "report": [], "all": []}
    for judged in judgments():
        row = f"{judged['query']}\t{judged['article']}\t{judged['grade']}\n"
        rows[split_of[str(judged["query"])]].append(row)
        rows["all"].append(row)
    for split, lines in rows.items():
        with open(target / "qrels" / f"{split}.tsv", "w", encoding="utf-8") as handle:
            handle.write("query-id\tcorpus-id\tscore\n")
            handle.writelines(lines)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path("var/judged"))
    args = parser.parse_args()
    print(materialize(args.data, args.out))


if __name__ == "__main__":
    main()
