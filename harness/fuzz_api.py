"""Fuzz the served API with schemathesis: every operation, with the key, without it, and wrong.

    .venv/bin/python -m harness.fuzz_api --examples 200        # `make fuzz`
    .venv/bin/python -m harness.fuzz_api --examples 5 \
        --keyless-phases fuzzing,stateful --keyless-examples 10  # the short run in `make test`

Builds an index of `corpus/` (or `--corpus PATH`) with the real model, serves it
(`policy-search serve`, a random API key), and runs `st run --checks all` against /openapi.json
three times: with the key, with none, and with a wrong one. All of schemathesis's checks apply
(no 5xx, responses and status codes as documented, schema-valid requests accepted, invalid ones
refused, auth enforced, ...), plus two rules the spec cannot state, in `harness/fuzz_hooks.py`.
The server's access log gives the statuses it answered; the key must never appear in its log.
Prints a table, writes var/bench/fuzz/fuzz.json (`--out`), and exits 1 on any failure.

`--keyless-phases` narrows the two runs without a good key to some of schemathesis's phases.
The short run drops their coverage phase: its ~4,700 boundary cases a run (nine tenths of the
time) are read operations answered as with the key, and refusals of writes whose bodies are
malformed; the fuzzing and stateful phases still send every operation, writes with valid
bodies among them, so a write let through without the key still shows as a 201; there
`--keyless-examples` gives each operation more cases than `--examples` does (10 against 5: some
180 cases a run in ~8 s, against ~4,800 in ~38 s).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.server import ROOT, running_server, server_log

__all__ = ["main", "run"]

_ACCESS = re.compile(r'"[A-Z]+ [^"]*HTTP/1\.[01]" (\d{3})')
_GENERATED = re.compile(r"(\d+) generated")


def _st(
    url: str, label: str, headers: list[str], keyless: bool, args: argparse.Namespace, out: Path
) -> dict:
    """One schemathesis run (`keyless`: without a good key, as `--keyless-*` say); its figures
    and where its full output is."""
    phases = args.keyless_phases if keyless else None
    examples = (args.keyless_examples if keyless else None) or args.examples
    accepted = out / f"accepted-{label}.txt"
    accepted.unlink(missing_ok=True)
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "harness.fuzz_hooks",
        "POLICY_SEARCH_FUZZ_ACCEPTED": str(accepted),
        "PYTHONPATH": str(ROOT),
    }
    command = [
        str(Path(sys.executable).parent / "st"), "run", f"{url}/openapi.json",
        "--checks", "all", "--max-examples", str(examples), "--seed", str(args.seed),
        "--workers", "1", "--request-timeout", "30", *headers,
        *(["--phases", phases] if phases else []),
    ]  # fmt: skip
    began = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    report = out / f"schemathesis-{label}.txt"
    report.write_text(done.stdout + done.stderr)
    generated = _GENERATED.findall(done.stdout)
    return {
        "run": label,
        "passed": done.returncode == 0,
        "cases": int(generated[-1]) if generated else 0,
        "seconds": round(time.perf_counter() - began, 1),
        "accepted_upstream_failures": len(accepted.read_text().splitlines())
        if accepted.exists()
        else 0,
        "report": str(report.relative_to(ROOT) if report.is_relative_to(ROOT) else report),
    }


def _statuses(log: str) -> dict[str, int]:
    return dict(sorted(collections.Counter(_ACCESS.findall(log)).items()))


def run(args: argparse.Namespace) -> dict:
    """Build, serve, fuzz three ways; the figures."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory() as tmp:
        index_dir = Path(tmp) / "index"
        subprocess.run(
            [sys.executable, "-m", "policy_search", "index", str(args.corpus), "--index-dir",
             str(index_dir)], cwd=ROOT, check=True, capture_output=True,
        )  # fmt: skip
        env = {"POLICY_SEARCH_API_KEY": key, "POLICY_SEARCH_RELOAD_SECONDS": "0.2"}
        runs = []
        with running_server(index_dir, env=env) as server:
            wrong = secrets.token_urlsafe(24)
            for label, headers, keyless in (
                ("with-key", ["-H", f"Authorization: Bearer {key}"], False),
                ("without-key", [], True),
                ("wrong-key", ["-H", f"Authorization: Bearer {wrong}"], True),
            ):
                before = len(server_log(server.proc))
                result = _st(server.url, label, headers, keyless, args, out)
                result["statuses"] = _statuses(server_log(server.proc)[before:])
                result["server_errors"] = sum(
                    n for code, n in result["statuses"].items() if code.startswith("5")
                )
                runs.append(result)
            log = server_log(server.proc)
            crashed = server.proc.poll() is not None
    (out / "server.log").write_text(log.replace(key, "<KEY>"))
    return {"runs": runs, "key_in_log": key in log, "server_crashed": crashed, "seed": args.seed}


def _print(summary: dict) -> None:
    print(f"{'run':<12} {'cases':>6} {'5xx':>5} {'fetch fails':>12} {'passed':>7}  statuses")
    for r in summary["runs"]:
        statuses = " ".join(f"{code}:{n}" for code, n in r["statuses"].items())
        print(f"{r['run']:<12} {r['cases']:>6} {r['server_errors']:>5} "
              f"{r['accepted_upstream_failures']:>12} {r['passed']!s:>7}  {statuses}")  # fmt: skip
    print(f"API key in the server log: {summary['key_in_log']}; "
          f"server crashed: {summary['server_crashed']}")  # fmt: skip
    for r in summary["runs"]:
        if not r["passed"]:
            print(f"{r['run']}: failures, see {r['report']}")


def ok(summary: dict) -> bool:
    """Every run passed, every 5xx was an accepted failed fetch, no key logged, no crash."""
    return (
        all(r["passed"] for r in summary["runs"])
        and all(r["server_errors"] <= r["accepted_upstream_failures"] for r in summary["runs"])
        and not summary["key_in_log"]
        and not summary["server_crashed"]
    )


def main(argv: list[str] | None = None) -> int:
    """Run, print, save; 0 when everything held."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=200, help="Cases per operation.")
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument(
        "--keyless-phases", default=None,
        help="schemathesis phases of the runs without the key or with a wrong one "
        "(comma-separated; default: all)",
    )  # fmt: skip
    parser.add_argument(
        "--keyless-examples", type=int, default=None,
        help="Cases per operation of those two runs (default: --examples).",
    )  # fmt: skip
    parser.add_argument(
        "--corpus", type=Path, default=ROOT / "corpus", help="Articles to index and serve."
    )
    parser.add_argument("--out", default=str(ROOT / "var" / "bench" / "fuzz"))
    args = parser.parse_args(argv)
    summary = run(args)
    _print(summary)
    Path(args.out, "fuzz.json").write_text(json.dumps(summary, indent=2))
    return 0 if ok(summary) else 1


if __name__ == "__main__":
    sys.exit(main())
