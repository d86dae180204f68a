"""How often snippets found without a model call pick the sentences the model picks.

    .venv/bin/python -m bench.snippets [INDEX_DIR] [--queries 120]

Against a real-model index (default var/eval/policy-judged-onnx-int8, the judged index: `make
eval` builds it). The judged questions (bench/judged/questions.yaml), then 2-4 word phrases from
the index (harness.query_list), each asked in dense and hybrid mode, k=10. For each hit that
matched by meaning alone (no word of the query) and has two sentences or more to choose from, its
snippet (the model's static vectors: index/analysis/static.py) is set beside the one the model
itself picks (`meaning_scores`: its sentences embedded): the share of the same sentence run, and
of runs that overlap. The query vectors are the searcher's own, as in a search.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from harness.indexes import backend_of, index_manifest
from harness.query_list import make_queries
from policy_search.index.analysis.chunk import sentence_spans
from policy_search.index.analysis.embed import load_embedder
from policy_search.search.searcher import Searcher
from policy_search.search.snippet import make_snippet, meaning_scores

QUESTIONS = Path(__file__).parent / "judged" / "questions.yaml"


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "index_dir", nargs="?", type=Path, default=Path("var/eval/policy-judged-onnx-int8")
    )
    parser.add_argument("--queries", type=int, default=120, help="phrases besides the questions")
    args = parser.parse_args()
    embedder = load_embedder(backend=backend_of(index_manifest(args.index_dir).model_id))
    searcher = Searcher.load(args.index_dir, embedder)
    questions = [q["query"] for q in yaml.safe_load(QUESTIONS.read_text(encoding="utf-8"))]
    phrases = make_queries(args.index_dir, args.queries + 7)[7:]  # its first 7: its questions
    for name, queries in (("judged questions", questions), ("phrases", phrases)):
        same = overlap = total = 0
        for query in queries:
            vector = searcher.queries.vector(query)
            for mode in ("dense", "hybrid"):
                for hit in searcher.search(query, mode=mode, k=10).results:
                    text, got = hit.passage.text, hit.snippet
                    sentences = sentence_spans(text)
                    if hit.passage.highlights or len(sentences) < 2:
                        continue
                    (nearness,) = meaning_scores(embedder, vector, [text], [sentences])
                    model = make_snippet(text, [], sentences=sentences, nearness=nearness)
                    total += 1
                    same += (got.start, got.end) == (model.start, model.end)
                    overlap += got.start < model.end and model.start < got.end
        print(f"{name}: {len(queries)} queries, {total} hits matched by meaning alone: "
              f"same run as the model's {same / max(total, 1):.1%}, "
              f"overlapping {overlap / max(total, 1):.1%}")  # fmt: skip


if __name__ == "__main__":
    main()
