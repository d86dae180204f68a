"""Alerts in the crash proof (harness/chaos.py): a process that saves or deletes alerts, to be
killed, and the check that alerts and their matches are whole after any kill.

    python -m harness.chaos_alerts INDEX save ID…      one transaction saving these alerts
    python -m harness.chaos_alerts INDEX delete ID…    each deleted in its own transaction

Every chaos alert follows the phrase that starts each chaos article's text ("Chaos marker M."),
in lexical mode, so each write of an article matches each alert saved before it: its first
passage, exactly (a quoted phrase: no confidence floor, as its search has none). The check:

- the saved alerts are one of the allowed sets (a save of several is all or nothing);
- each alert matched exactly the live passages written after it was saved (ids from its `since`
  on) that hold the phrase, and no passage written before: matches commit with their passages,
  so a kill leaves both or neither (a removed article's matches stay, their passage gone).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from policy_search.index.storage.alerts import (
    StoredAlert,
    delete_alert,
    matched_passages,
    save_alerts,
)
from policy_search.index.storage.catalog import unpack_text
from policy_search.index.storage.store import open_catalog

__all__ = ["PHRASE", "check_alerts"]

PHRASE = "Chaos marker"
QUERY = f'"{PHRASE.lower()}"'


def _alerts(index_dir: Path, ids: list[str]) -> list[StoredAlert]:
    """Chaos alerts, compiled as the server compiles them (lexical: no vector, no model)."""
    from policy_search.index.storage.lexical import Analyzer
    from policy_search.index.storage.store import manifest_of
    from policy_search.records import AlertRequest
    from policy_search.search.percolate import compile_alert

    body = AlertRequest(q=QUERY, mode="lexical")
    analyzer = Analyzer.of(manifest_of(index_dir).lexical)
    compiled, _ = compile_alert(body, analyzer, _no_model)
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    request = {"q": body.q, "mode": body.mode}
    return [StoredAlert(alert_id, request, compiled, None, now) for alert_id in ids]


def _no_model(text: str) -> Any:
    raise AssertionError("a lexical alert needs no vector")


def live_phrase_passages(index_dir: Path) -> dict[int, bool]:
    """Every live passage id, and whether its text holds the phrase."""
    catalog = open_catalog(index_dir, readonly=True)
    try:
        with catalog.reading():
            rowids = [rowid for rowid, _ in catalog.existing().values()]
            rows = catalog.passage_texts(rowids)
    finally:
        catalog.close()
    texts: dict[int, str] = {}
    out = {}
    for pid, start, end, rowid, _title, body in rows:
        if rowid not in texts:
            texts[rowid] = unpack_text(body)
        out[int(pid)] = PHRASE in texts[rowid][start:end]
    return out


def check_alerts(
    index_dir: Path, allowed: list[frozenset[str]]
) -> tuple[frozenset[str], list[str]]:
    """The alerts saved now, and what is wrong with them and their matches (see the module)."""
    saved = matched_passages(index_dir)
    now = frozenset(saved)
    problems = []
    if now not in allowed:
        problems.append(f"alerts saved {sorted(now)} are none of the allowed {allowed}")
    live = live_phrase_passages(index_dir)
    for aid, (since, matched) in sorted(saved.items()):
        early = sorted(p for p in matched if p < since)
        if early:
            problems.append(f"alert {aid} matched passages written before it: {early[:5]}")
        expected = {p for p, holds in live.items() if holds and p >= since}
        found = {p for p in matched if p in live}
        if found != expected:
            problems.append(
                f"alert {aid} matched {sorted(found - expected)[:5]} it should not and not "
                f"{sorted(expected - found)[:5]} (live passages from {since} on with the phrase)"
            )
    return now, problems


def main() -> None:
    index_dir, action, *ids = sys.argv[1:]
    if action == "save":
        save_alerts(Path(index_dir), _alerts(Path(index_dir), ids), limit=1_000_000)
    elif action == "delete":
        for alert_id in ids:
            delete_alert(Path(index_dir), alert_id)
    else:
        raise SystemExit(f"unknown action {action!r}: save or delete")


if __name__ == "__main__":
    main()
