"""The crash proof, short: harness.chaos with four rounds on ten (cut) speeches.

`make chaos` runs the long one (50 rounds, whole speeches); this one kills the CLI in the middle
of an `index` sync, an `add` or an `optimize` (a merge into one segment), and the server in the
middle of a stream of HTTP writes, and checks after each that the index loads, searches answer
(a merge changing none of their results), every acknowledged write is there, and the segments
folder holds nothing a later write leaves behind.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.chaos import main

pytestmark = [pytest.mark.e2e, pytest.mark.model]


def test_kill_9_loses_no_acknowledged_write(tmp_path: Path, data_dir: Path) -> None:
    out = tmp_path / "chaos.json"
    status = main([
        "--rounds", "4", "--seed", "5", "--articles", "10", "--max-chars", "3000",
        "--scenarios", "index,add,server,optimize", "--work-dir", str(tmp_path / "chaos"),
        "--data-dir", str(data_dir), "--json", str(out),
    ])  # fmt: skip
    summary = json.loads(out.read_text())
    assert summary["failures"] == []
    assert status == 0
    assert summary["scenarios"] == {"index": 1, "add": 1, "server": 1, "optimize": 1}
    assert summary["kills_by_scenario"].get("server") == 1  # a server never exits by itself
    assert summary["kills"] == summary["kills_survived"] >= 1
    assert summary["acknowledged_writes"] >= 1
    rounds = summary["per_round"]
    assert (rounds[0]["scenario"], rounds[-1]["scenario"]) == ("calibrate", "final")
    assert all(r["checked"] >= r["articles"] >= 5 for r in rounds)
    assert rounds[-1]["segments"] >= 1
    assert rounds[-1]["orphans"] == 0 and rounds[-1]["temporaries"] == 0
