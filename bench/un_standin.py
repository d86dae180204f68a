"""The UN corpus indexed with the stand-in encoder, once: the index `make bench-queries` serves.

    .venv/bin/python -m bench.un_standin CORPUS INDEX_DIR

The project's own build and chunker over every speech, with `harness.embedders.StandInEmbedder`
(hashed words, no model) for the vectors, then merged into one segment; kept and reused while
it is there (any other index at INDEX_DIR is replaced). The vectors carry no meaning: the
benchmarks that read it measure the index's work, not the model's.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from harness.embedders import StandInEmbedder
from policy_search.index.build import build_index
from policy_search.index.readers import read_file
from policy_search.index.storage.merge import optimize
from policy_search.index.storage.store import exists, open_catalog, read_manifest


def built(index_dir: Path, model_id: str) -> bool:
    """Whether `index_dir` already holds an index built with the stand-in."""
    if not exists(index_dir):
        return False
    catalog = open_catalog(index_dir, readonly=True)
    try:
        return read_manifest(catalog).model_id == model_id
    finally:
        catalog.close()


def main() -> None:
    """Build the index unless it is there."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("index_dir", type=Path)
    args = parser.parse_args()
    embedder = StandInEmbedder()
    if built(args.index_dir, embedder.model_id):
        print(f"{args.index_dir}: built with the stand-in already")
        return
    shutil.rmtree(args.index_dir, ignore_errors=True)
    began = time.perf_counter()
    build_index(read_file(args.corpus), args.index_dir, embedder, merge=False)
    optimize(args.index_dir)
    print(f"{args.index_dir}: built in {time.perf_counter() - began:.0f} s (stand-in vectors)")


if __name__ == "__main__":
    main()
