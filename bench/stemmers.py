"""Which stemmer: each candidate's over-matching on judged word pairs, and its retrieval on the
judged policy benchmark (tune and report halves) and SciFact (train and test), lexical and
hybrid, against today's Snowball in the same run.

Pairs: tests/data/stem_pairs.tsv, inflections (which must meet: one term) and derivations
(which must not). Retrieval: the eval indexes `make eval` caches (var/eval/) are copied into
var/bench/stemmers/ and re-analysed in place by each candidate (index/storage/reanalyze.py: new
postings, the same vectors; nothing is embedded again), then scored as `policy-search eval`
scores them (search/evaluate.py's `measure`); query vectors are computed once per benchmark.

    .venv/bin/python -m bench.stemmers [--judged DIR] [--scifact DIR] [--eval-cache DIR]
        [--only NAME ...] [--pairs-only]
"""

from __future__ import annotations

import argparse
import csv
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from policy_search.index.analysis.embed import Embedder
from policy_search.index.analysis.stemmers import StemmerEntry
from policy_search.index.storage.lexical import Analyzer, LexicalSettings
from policy_search.index.storage.reanalyze import reanalyze
from policy_search.index.storage.upgrade import upgrade
from policy_search.search.evaluate import load_qrels, load_queries, measure
from policy_search.search.fusion import FusionSettings
from policy_search.search.searcher import Searcher

PAIRS = Path(__file__).resolve().parent.parent / "tests" / "data" / "stem_pairs.tsv"
WORK = Path("var/bench/stemmers")

# The examples, protected from Snowball (Lucene's KeywordMarkerFilter): what a list of
# exceptions does, and what it leaves (every derivation not on the list).
PROTECTED = frozenset({
    "accordance", "according", "accordingly", "national", "nationals", "nationalism",
    "nationalist", "nationalists", "nationality", "nationalities",
})  # fmt: skip


def _protected_snowball(language: str) -> Callable[[str], str]:
    import Stemmer

    stem = Stemmer.Stemmer(language).stemWord
    return lambda word: word if word in PROTECTED else stem(word)


def _lemminflect(language: str) -> Callable[[str], str]:
    """A lemmatizer without a tagger: the noun's lemma, else the verb's, else the word."""
    import lemminflect

    def lemma(word: str) -> str:
        for pos in ("NOUN", "VERB"):
            found = lemminflect.getLemma(word, upos=pos)
            if found and found[0] != word:
                return str(found[0]).lower()
        return word

    return lemma


def _krovetz_alone(language: str) -> Callable[[str], str]:
    """Krovetz without the registry's plural rule (index/analysis/stemmers.py)."""
    import krovetzstemmer

    return krovetzstemmer.Stemmer().stem  # type: ignore[no-any-return]


def _s_stemmer(language: str) -> Callable[[str], str]:
    """Harman's S-stemmer (Lucene's EnglishMinimalStemmer): plurals only. No kept library
    provides it; these three rules are the whole algorithm."""

    def stem(word: str) -> str:
        if len(word) < 3 or word[-1] != "s" or word[-2] in "us":
            return word
        if word.endswith("ies") and not word.endswith(("eies", "aies")):
            return word[:-3] + "y"
        if word.endswith("es") and not word.endswith(("aes", "ees", "oes")):
            return word[:-1]
        return word[:-1]

    return stem


# (name, analyzer): today's chain first, the baseline.
def candidates() -> list[tuple[str, Analyzer]]:
    """Every candidate analyzer, baseline first."""
    bench_only = [
        StemmerEntry("snowball-protected", ("PyStemmer",), _protected_snowball),
        StemmerEntry("lemminflect", ("lemminflect",), _lemminflect),
        StemmerEntry("s-stemmer", ("PyStemmer",), _s_stemmer),  # (no package of its own)
        StemmerEntry("krovetz-alone", ("KrovetzStemmer",), _krovetz_alone),
    ]
    return [
        ("snowball (today)", Analyzer(stemmer="snowball", analysis=1)),
        ("snowball", Analyzer(stemmer="snowball")),
        ("snowball-protected", Analyzer(stemmer=bench_only[0])),
        ("krovetz-alone", Analyzer(stemmer=bench_only[3])),
        ("krovetz", Analyzer(stemmer="krovetz")),
        ("simplemma", Analyzer(stemmer="simplemma")),
        ("lemminflect", Analyzer(stemmer=bench_only[1])),
        ("s-stemmer", Analyzer(stemmer=bench_only[2])),
    ]


def settings_of(analyzer: Analyzer) -> LexicalSettings:
    """The lexical settings an index analysed by `analyzer` records."""
    return LexicalSettings(
        language=analyzer.language, stemmer=analyzer.stemmer,
        stemmer_version=analyzer.stemmer_version, analysis=analyzer.analysis,
    )  # fmt: skip


def read_pairs(path: Path = PAIRS) -> list[tuple[str, str, str]]:
    """(kind, first, second) of the judged pairs."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line[:1] != "#"]
    return [(k, a, b) for k, a, b in list(csv.reader(lines, delimiter="\t"))[1:]]


def pair_figures(analyzer: Analyzer, pairs: Sequence[tuple[str, str, str]]) -> dict[str, object]:
    """Inflection pairs met and derivation pairs kept apart, with the misses."""
    met = {(a, b): analyzer.terms(a) == analyzer.terms(b) for _, a, b in pairs}
    inflections = [(a, b) for k, a, b in pairs if k == "inflection"]
    derivations = [(a, b) for k, a, b in pairs if k == "derivation"]
    return {
        "inflections": (sum(met[p] for p in inflections), len(inflections)),
        "derivations": (sum(not met[p] for p in derivations), len(derivations)),
        "missed": [f"{a}/{b}" for a, b in inflections if not met[(a, b)]],
        "merged": [f"{a}/{b}" for a, b in derivations if met[(a, b)]],
    }


class CachedEmbedder:
    """The model, each query's vector computed once for every candidate."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder
        self.model_id, self.dim = embedder.model_id, embedder.dim
        self._vectors: dict[str, np.ndarray] = {}

    def token_spans(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        return self._embedder.token_spans(texts)  # type: ignore[return-value]

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False):
        new = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if new:
            for text, vector in zip(new, self._embedder.encode(new, batch_size=batch_size),
                                    strict=True):  # fmt: skip
                self._vectors[text] = vector
        return np.stack([self._vectors[t] for t in texts]) if texts else np.zeros((0, self.dim))


def retrieval(
    name: str, analyzer: Analyzer, index_dir: Path, dataset: Path, splits: Sequence[str],
    embedder: CachedEmbedder,
) -> dict[tuple[str, str], tuple[float, float]]:  # fmt: skip
    """(split, mode) → (nDCG@10, P@5) with the index re-analysed by `analyzer`."""
    started = time.perf_counter()
    reanalyze(index_dir, settings_of(analyzer), embedder=embedder, analyzer=analyzer)
    took = time.perf_counter() - started
    searcher = Searcher.load(index_dir, embedder, fusion=FusionSettings(), analyzer=analyzer)
    assert searcher.manifest.lexical == settings_of(analyzer)
    queries = load_queries(dataset)
    out = {}
    for split in splits:
        qrels = load_qrels(dataset, split)
        asked = {q: queries[q] for q in qrels if q in queries}
        for mode in ("lexical", "hybrid"):
            figures, _ = measure(searcher, asked, qrels, mode=mode)
            out[(split, mode)] = (figures["ndcg_cut_10"], figures["P_5"])
    print(f"  {name}: re-analysed in {took:.1f} s", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--judged", type=Path, default=Path("var/judged/policy-judged"))
    parser.add_argument("--scifact", type=Path, default=Path("../shared/data/beir/scifact"))
    parser.add_argument("--eval-cache", type=Path, default=Path("var/eval"))
    parser.add_argument("--only", nargs="*", help="candidates to measure (names as printed)")
    parser.add_argument("--pairs-only", action="store_true")
    parser.add_argument("--benchmarks", nargs="*", default=["judged", "scifact"])
    args = parser.parse_args()
    chosen = [(n, a) for n, a in candidates() if not args.only or n in args.only]
    pairs = read_pairs()
    print(f"Judged pairs ({PAIRS.name}): inflections met, derivations kept apart")
    for name, analyzer in chosen:
        f = pair_figures(analyzer, pairs)
        (im, it), (da, dt) = f["inflections"], f["derivations"]  # type: ignore[misc]
        print(f"  {name:<20} {im:>2}/{it} met  {da:>2}/{dt} apart   missed: "
              f"{', '.join(f['missed']) or '-'}; merged: {', '.join(f['merged']) or '-'}")  # type: ignore[arg-type]  # fmt: skip
    if args.pairs_only:
        return
    from policy_search.api.settings import Settings

    settings = Settings()
    embedder = CachedEmbedder(settings.embedder())

    def cache_of(dataset: Path) -> Path:
        return args.eval_cache / f"{dataset.resolve().name}-{settings.backend}"

    every = {
        "judged": (args.judged, cache_of(args.judged), ("tune", "report")),
        "scifact": (args.scifact, cache_of(args.scifact), ("train", "test")),
    }
    benchmarks = [(name, *every[name]) for name in args.benchmarks]
    table: dict[str, dict[tuple[str, str, str], tuple[float, float]]] = {}
    for _, dataset, cache, splits in benchmarks:
        work = WORK / cache.name
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(cache, work)
        upgrade(work, embedder=embedder)  # a cache of an older format
        print(f"{dataset.name}: {', '.join(splits)}", flush=True)
        for name, analyzer in chosen:
            figures = retrieval(name, analyzer, work, dataset, splits, embedder)
            for (split, mode), value in figures.items():
                table.setdefault(name, {})[(dataset.name, split, mode)] = value
    _print_table(table)


def _print_table(table: dict[str, dict[tuple[str, str, str], tuple[float, float]]]) -> None:
    columns = list(next(iter(table.values())))
    print("\nnDCG@10 / P@5 (x100)")
    print(f"{'candidate':<20}" + "".join(f"{f'{d[:13]} {s} {m[:3]}':>22}" for d, s, m in columns))
    for name, figures in table.items():
        cells = "".join(f"{f'{100 * n:.1f} / {100 * p:.1f}':>22}" for n, p in
                        (figures[c] for c in columns))  # fmt: skip
        print(f"{name:<20}{cells}")


if __name__ == "__main__":
    main()
