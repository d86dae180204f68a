"""The short run of `make fuzz`: schemathesis over every operation of the real, served API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.fuzz_api import main
from tests.conftest import CORPUS

pytestmark = [pytest.mark.e2e, pytest.mark.model]


def test_schemathesis_finds_nothing_with_or_without_the_key(tmp_path: Path) -> None:
    # The API, not relevance: the seed article alone spares indexing the whole demo corpus again.
    seed = str(CORPUS / "azerbaijan-israel-us-partnership.md")
    # Without a good key, no coverage phase (read operations answered as with the key, malformed
    # writes refused): every operation still runs, writes with valid bodies among them.
    arguments = ["--examples", "5", "--keyless-phases", "fuzzing,stateful",
                 "--keyless-examples", "10", "--corpus", seed, "--out", str(tmp_path)]  # fmt: skip
    assert main(arguments) == 0, tmp_path / "fuzz.json"
    summary = json.loads((tmp_path / "fuzz.json").read_text())
    runs = {r["run"]: r for r in summary["runs"]}
    assert set(runs) == {"with-key", "without-key", "wrong-key"}
    for run in runs.values():
        assert run["cases"] > 100 and run["passed"], run
    # With the key, writes got through; without it or with a wrong one, not one did.
    assert runs["with-key"]["statuses"].get("201", 0) > 0
    for label, refusal in (("without-key", "401"), ("wrong-key", "403")):
        assert "201" not in runs[label]["statuses"], runs[label]
        assert runs[label]["statuses"].get(refusal, 0) > 0, runs[label]
    assert not summary["key_in_log"] and not summary["server_crashed"]
