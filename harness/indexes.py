"""The index a run is pointed at: what built it, and a copy of it to work on."""

from __future__ import annotations

import shutil
from pathlib import Path

from policy_search.index.storage.manifest import Manifest
from policy_search.index.storage.store import LOCK, exists, manifest_of

__all__ = ["backend_of", "copy_index", "index_manifest"]


def index_manifest(index_dir: Path) -> Manifest:
    """The manifest of the index's latest commit."""
    return manifest_of(index_dir)


def backend_of(model_id: str) -> str:
    """The backend an index was built with, from the model id in its manifest."""
    return "onnx-int8" if model_id.endswith("+onnx-int8") else "torch"


def copy_index(source: Path, target: Path) -> Path:
    """Replace `target` with a copy of the index directory `source` (not its writer lock);
    return `target`. Copy an index no one writes to meanwhile."""
    source, target = source.resolve(), target.resolve()
    if target == source or source in target.parents or target in source.parents:
        raise ValueError(f"the copy {target} and the index {source} must not overlap")
    if not exists(source):
        raise ValueError(f"no index at {source}")
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(LOCK))
    return target
