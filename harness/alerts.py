"""Saved alerts for the proofs and the benchmark: `n` alert bodies drawn from an index's own
passages (`harness.query_list`), a mix of modes, phrases, exclusions and filters, the same for
every run of a seed; saved over HTTP (`post_alerts`, a running server) or compiled and saved
straight into an index (`save_compiled`, the benchmark's and chaos's way)."""

from __future__ import annotations

import random
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from harness.query_list import make_queries
from policy_search.index.analysis.embed import Embedder
from policy_search.index.storage.alerts import StoredAlert, save_alerts
from policy_search.index.storage.lexical import Analyzer
from policy_search.index.storage.store import manifest_of
from policy_search.records import AlertRequest

__all__ = ["alert_bodies", "compiled_alerts", "post_alerts", "save_compiled"]

_COUNTRIES = ["US", "FR", "AZ", "CN", "BR", "ZA", "IN", "RU"]


def alert_bodies(index_dir: Path, n: int, seed: int = 29) -> list[dict[str, Any]]:
    """`n` POST /alerts bodies: hybrid mostly, some dense or lexical, some with a phrase, an
    exclusion, a country or a date range (as people save them)."""
    rng = random.Random(seed)
    bodies = []
    for query in make_queries(index_dir, n, seed=seed):
        body: dict[str, Any] = {
            "q": query,
            "mode": rng.choice(["hybrid"] * 3 + ["dense", "lexical"]),
        }
        words = query.split()
        kind = rng.random()
        if kind < 0.15 and len(words) >= 2:
            body["q"] = f'"{" ".join(words[:2])}" {" ".join(words[2:])}'.strip()
        elif kind < 0.25:
            body["q"] = f"{query} -war"
        elif kind < 0.35:
            body["country"] = [rng.choice(_COUNTRIES)]
        elif kind < 0.45:
            body["date_from"] = str(rng.randint(1970, 2015))
        bodies.append(body)
    return bodies


def compiled_alerts(
    index_dir: Path, bodies: list[dict[str, Any]], embedder: Embedder
) -> list[StoredAlert]:
    """The bodies compiled as the server compiles them (search/percolate.py), against the index's
    analyzer, each query embedded once by `embedder`."""
    from policy_search.search.percolate import compile_alert

    analyzer = Analyzer.of(manifest_of(index_dir).lexical)
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    out = []
    for body in bodies:
        compiled, vector = compile_alert(
            AlertRequest(**body), analyzer, lambda text: embedder.encode([text])[0]
        )
        out.append(StoredAlert(secrets.token_urlsafe(16), body, compiled, vector, now))
    return out


def save_compiled(index_dir: Path, n: int, embedder: Embedder, seed: int = 29) -> int:
    """Save `n` alerts straight into the index (one transaction); how many."""
    alerts = compiled_alerts(index_dir, alert_bodies(index_dir, n, seed), embedder)
    save_alerts(index_dir, alerts, limit=max(n, 1) + 1_000_000)
    return len(alerts)


def post_alerts(url: str, key: str, bodies: list[dict[str, Any]], timeout: float = 60.0) -> int:
    """Save the bodies through a running server (POST /alerts); how many it saved."""
    saved = 0
    with httpx.Client(base_url=url, timeout=timeout,
                      headers={"Authorization": f"Bearer {key}"}) as client:  # fmt: skip
        for body in bodies:
            response = client.post("/alerts", json=body)
            if response.status_code != 201:
                raise RuntimeError(f"POST /alerts answered {response.status_code}: {response.text}")
            saved += 1
    return saved
