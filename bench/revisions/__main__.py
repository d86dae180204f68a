"""Measure two revisions in one run (see the package docstring)."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).resolve().parent / "worker.py"
VAR = ROOT / "var" / "revisions"


def checkout(revision: str) -> Path:
    """A worktree of `revision` under var/revisions (made once)."""
    sha = subprocess.run(
        ["git", "rev-parse", "--short", revision], cwd=ROOT, check=True, capture_output=True,
        text=True,
    ).stdout.strip()  # fmt: skip
    tree = VAR / sha / "tree"
    if not tree.exists():
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), sha], cwd=ROOT,
                       check=True, capture_output=True)  # fmt: skip
    return tree


def import_path(tree: Path, into: Path) -> Path:
    """A tree of links naming `tree`'s packages as they install (its pyproject's package-dir)."""
    config = tomllib.loads((tree / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {"policy_search": "policy_search", **config.get("package-dir", {})}
    if into.exists():
        subprocess.run(["rm", "-rf", str(into)], check=True)
    for package, folder in sorted(folders.items(), key=lambda item: item[0].count(".")):
        target = into.joinpath(*package.split("."))
        target.mkdir(parents=True, exist_ok=True)
        for entry in (tree / folder).iterdir():
            if entry.name != "__pycache__" and not (target / entry.name).exists():
                (target / entry.name).symlink_to(entry)
    return into


def run(tree: Path, path: Path, *args: str) -> dict[str, float]:
    """One worker round of `tree`, importing from `path` (its links) then the tree's own root."""
    env = {**os.environ, "PYTHONPATH": f"{path}:{tree}", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, str(WORKER), *args], cwd=VAR, env=env,
                          capture_output=True, text=True, timeout=1800)  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"{tree}: the worker failed:\n{done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--before", required=True, help="a git revision")
    parser.add_argument("--after", type=Path, default=ROOT, help="a tree (default: this one)")
    parser.add_argument("--index", type=Path, default=ROOT / "var/eval/policy-judged-onnx-int8")
    parser.add_argument(
        "--before-index",
        type=Path,
        default=None,
        help="the index the before revision reads, when its format is older (default: --index)",
    )
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    VAR.mkdir(parents=True, exist_ok=True)
    trees = {"before": checkout(args.before), "after": args.after.resolve()}
    paths = {name: import_path(tree, VAR / f"path-{name}") for name, tree in trees.items()}
    questions = str(ROOT / "bench/judged/questions.yaml")
    indexes = {"before": args.before_index or args.index, "after": args.index}
    jobs = {
        name: {
            "queries": [str(indexes[name].resolve()), questions],
            "writes": [str(ROOT / "corpus"), str(VAR / "writes")],
        }
        for name in trees
    }
    figures: dict[str, dict[str, list[float]]] = {"before": {}, "after": {}}
    for n in range(args.rounds):
        order = ["before", "after"] if n % 2 == 0 else ["after", "before"]
        for name in order:
            for job, job_args in jobs[name].items():
                for key, value in run(trees[name], paths[name], job, *job_args).items():
                    figures[name].setdefault(key, []).append(value)
    print(f"{args.before} → {args.after}: {args.rounds} rounds, alternating; medians of rounds")
    print(f"{'':<22}{'before':>12}{'after':>12}{'after/before':>14}")
    for key in figures["before"]:
        before = statistics.median(figures["before"][key])
        after = statistics.median(figures["after"][key])
        ratio = after / before if before else float("nan")
        print(f"{key:<22}{before:>12,.2f}{after:>12,.2f}{ratio:>14.2f}")


if __name__ == "__main__":
    main()
