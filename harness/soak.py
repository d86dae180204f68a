"""The load proof: mixed reads from 64 connections for 60 s while a writer adds, replaces and
removes articles. Passes with zero errors, every acknowledged write holding, and flat memory.

    .venv/bin/python -m harness.soak [INDEX_DIR] [--seconds 60] [--connections 64] [--workers 1]
                                     [--warmup 10] [--generator wrk|threads] [--env NAME=VALUE]
                                     [--out FILE]

Never writes to INDEX_DIR (default var/bench/un): the whole index directory is copied afresh to
var/load/<name> and `policy-search serve` runs on the copy, on a free loopback port, with a random
API key (never printed). The readers are wrk (`harness/mixed.lua`, cycling through the requests
of `harness.mix`), or Python threads with `--generator threads`. The writer (`harness.writer`)
writes one article after another through the warm-up and the run, then checks every acknowledged
write over HTTP. The server's resident memory (all its processes) is sampled every second
(`harness.memory`). Prints a summary, saves every figure as JSON (default var/bench/load.json),
and exits 1 if anything failed: an answer not 2xx, a socket error or timeout, a writer error, an
acknowledged write that does not hold, a traceback or a 5xx in the server's log, a server
process that died, or memory that is not flat. Memory needs many new generations to judge (see
`harness.memory`): at 60 s the verdict is usually "too short to tell"; `--seconds 240` gives one.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import sys
import time
from pathlib import Path

from harness.alerts import alert_bodies, post_alerts
from harness.indexes import backend_of, copy_index, index_manifest
from harness.load import errors_of, run_threads
from harness.memory import MemorySampler, processes_of
from harness.mix import mixed_requests, write_requests
from harness.server import Server, running_server, server_log
from harness.traffic import run_wrk
from harness.writer import Writer, source_texts

__all__ = ["soak"]

VERDICTS = {True: "flat", False: "NOT flat", None: "too short to tell ({} new generations)"}
_5XX = re.compile(r'HTTP/1\.[01]" 5\d\d ')


def _load(generator: str, server: Server, work: Path, seconds: float, options: dict) -> dict:
    requests = options.pop("requests")
    if generator == "wrk":
        return run_wrk(server.url, work / "requests.tsv", seconds=seconds, **options)
    options.pop("threads")
    return run_threads(server.url, requests, seconds=seconds, **options)


def _server_health(server: Server, before: list[int]) -> dict:
    """Whether the server and its workers are the ones that started, and what its log says."""
    log = server_log(server.proc)
    alive = server.proc.poll() is None
    after = processes_of(server.proc.pid) if alive else []
    return {
        "alive": alive,
        "same_processes": sorted(after) == sorted(before),
        "tracebacks": log.count("Traceback (most recent call last)"),
        "5xx_logged": len(_5XX.findall(log)),
        "log_tail": log[-2000:] if "Traceback" in log else "",
    }


def soak(
    index_dir: Path,
    work: Path,
    *,
    seconds: float = 60.0,
    warmup: float = 10.0,
    connections: int = 64,
    threads: int = 2,
    workers: int = 1,
    generator: str = "wrk",
    timeout: float = 10.0,
    fake: bool = False,
    settle: float = 2.5,
    env: dict[str, str] | None = None,
    standin: bool = False,
    alerts: int = 0,
) -> dict:
    """Run the proof on a copy of `index_dir` made in `work`; return every figure and `ok`.

    `fake` serves with the fake embedder (harness.fake_app): plumbing only; `standin` with the
    stand-in encoder (harness.standin_app), for indexes `make bench-writes` built with it (the
    index's own work under load, the model left out). `env` adds to the server's environment
    (for A/B runs, e.g. MALLOC_ARENA_MAX). `alerts`: saved through the server before the
    load (harness/alerts.py), so that every write matches its passages against them.
    """
    copy = copy_index(index_dir, work / "index")
    manifest = index_manifest(copy)
    requests = mixed_requests(copy, 3000)
    write_requests(requests, work / "requests.tsv")
    texts = source_texts(copy, 200)
    key = secrets.token_urlsafe(32)
    server_env = {**(env or {}), "POLICY_SEARCH_API_KEY": key,
                  "POLICY_SEARCH_WORKERS": str(workers),
                  "POLICY_SEARCH_BACKEND": backend_of(manifest.model_id)}  # fmt: skip
    options = {"connections": connections, "threads": threads, "timeout": timeout}
    module = "harness.standin_app" if standin else None
    if standin:
        server_env.pop("POLICY_SEARCH_BACKEND")
        server_env.setdefault("MALLOC_ARENA_MAX", "2")  # as `policy-search serve` sets
    with running_server(copy, fake=fake, env=server_env, module=module) as server:
        began = time.perf_counter()
        saved = post_alerts(server.url, key, alert_bodies(copy, alerts)) if alerts else 0
        saving = {"saved": saved, "seconds": round(time.perf_counter() - began, 1)}
        before = processes_of(server.proc.pid)
        sampler = MemorySampler(server.proc.pid)
        sampler.start()
        writer = Writer(server.url, key, texts, run=secrets.token_hex(3))
        writer.start()
        try:
            if warmup > 0:
                _load(generator, server, work, warmup, {**options, "requests": requests})
            sampler.mark()
            traffic = _load(generator, server, work, seconds, {**options, "requests": requests})
        finally:
            writer.stop()
            writer.join()
            sampler.stop()
        time.sleep(settle)  # every worker follows the last generation (reload_seconds is 1)
        wrong = writer.check()
        writer.close()
        health = _server_health(server, before)
        if saved:
            saving["matched"] = _matched(server.url, key)
    report = {
        "index": str(index_dir), "articles": manifest.articles,
        "passages": manifest.passages, "model": manifest.model_id, "fake": fake,
        "workers": workers, "connections": connections, "seconds": seconds, "warmup": warmup,
        "server_env": env or {},
        "traffic": traffic, "writer": writer.figures() | {"not_holding": wrong},
        "memory": sampler.figures(seconds, writer.acknowledged_at), "server": health,
        "alerts": saving,
    }  # fmt: skip
    report["failures"] = failures(report)
    report["ok"] = not report["failures"]
    return report


def _matched(url: str, key: str) -> int:
    """Feed entries of every saved alert: what the writes under load matched."""
    import httpx

    response = httpx.get(f"{url}/alerts", headers={"Authorization": f"Bearer {key}"}, timeout=60)
    response.raise_for_status()
    return sum(a["matched"] for a in response.json()["alerts"])


def failures(report: dict) -> list[str]:
    """What failed in a report, one sentence each."""
    traffic, writer, server = report["traffic"], report["writer"], report["server"]
    out = []
    if errors_of(traffic):
        out.append(f"{errors_of(traffic)} read requests failed: {traffic['error_samples'][:3]}")
    if writer["errors"]:
        out.append(f"{writer['errors']} writes failed: {writer['error_samples'][:3]}")
    if writer["not_holding"]:
        out.append(f"acknowledged writes that do not hold: {writer['not_holding'][:5]}")
    if not writer["writes"]:
        out.append("the writer wrote nothing")
    if not (server["alive"] and server["same_processes"]):
        out.append("a server process died during the run")
    if server["tracebacks"] or server["5xx_logged"]:
        out.append(f"server log: {server['tracebacks']} tracebacks, {server['5xx_logged']} 5xx")
    if report["memory"]["flat"] is False:
        out.append(f"memory is not flat ({report['memory']['definition']})")
    return out


def summary(report: dict) -> str:
    """The report as a few human lines."""
    t, w, m, s = report["traffic"], report["writer"], report["memory"], report["server"]
    lat, wl = t["latency_ms"], w["latency_ms"]
    sockets = ", ".join(f"{k} {v}" for k, v in t["socket_errors"].items())
    acked = ", ".join(f"{op} {n}" for op, n in w["acknowledged"].items())
    lines = [
        f"index {report['index']}: {report['articles']:,} articles, {report['passages']:,} "
        f"passages, {report['model']}; {report['workers']} worker(s); {t['generator']}, "
        f"{report['connections']} connections, {report['seconds']:.0f} s after a "
        f"{report['warmup']:.0f} s warm-up"
        + "".join(f"; {k}={v}" for k, v in report["server_env"].items()),
        f"{'':8}{'requests':>9} {'errors':>6} {'q/s':>7} {'p50':>8} {'p90':>8} {'p99':>8} "
        f"{'max':>8}  (ms)",
        f"{'reads':<8}{t['requests']:>9,} {errors_of(t):>6} {t['requests'] / t['seconds']:>7.1f} "
        f"{lat['p50']:>8.1f} {lat['p90']:>8.1f} {lat['p99']:>8.1f} {lat['max']:>8.1f}",
        f"{'':8}not 2xx {t['non2xx']}, socket errors: {sockets}",
        f"{'writes':<8}{w['writes']:>9,} {w['errors']:>6} ({acked}; through warm-up and run) "
        f"p50 {wl['p50']:.0f} p95 {wl['p95']:.0f} max {wl['max']:.0f} ms",
        f"{'':8}checked after the run: {w['present']} present, {w['removed']} removed; "
        + ("all hold" if not w["not_holding"] else f"{len(w['not_holding'])} do not hold"),
    ]
    if "start_mb" in m:
        lines += [
            f"{'memory':<8}{m['judged']} start {m['start_mb']:.0f} MB, end {m['end_mb']:.0f}, peak "
            f"{m['peak_mb']:.0f}; floor {m['floor_start_mb']:.0f} -> {m['floor_end_mb']:.0f}; "
            f"second half: {m['slope_mb_per_min']:+.1f} MB/min raw, floor "
            f"{m['floor_slope_mb_per_min']:+.1f} MB/min ({m['floor_second_half_growth_mb']:+.0f}"
            f" MB): {VERDICTS[m['flat']].format(m['swaps_second_half'])}",
            f"{'':8}({m['definition']}; judged on {m['judged']})",
            f"{'':8}resident (VmRSS, mapped segment pages included): start "
            f"{m['resident_mb']['start']:.0f} MB, end {m['resident_mb']['end']:.0f}, floor "
            f"{m['resident_mb']['floor_start']:.0f} -> {m['resident_mb']['floor_end']:.0f}",
        ]
    if report.get("alerts", {}).get("saved"):
        a = report["alerts"]
        lines.append(f"{'alerts':<8}{a['saved']} saved before the load in {a['seconds']} s; "
                     f"the writes matched {a.get('matched', '?')} passages")  # fmt: skip
    lines.append(
        f"{'server':<8}{'alive' if s['alive'] else 'DEAD'}, "
        f"{'same processes' if s['same_processes'] else 'processes CHANGED'}; log: "
        f"{s['tracebacks']} tracebacks, {s['5xx_logged']} 5xx"
    )
    verdict = "PASS" if report["ok"] else "FAIL: " + "; ".join(report["failures"])
    return "\n".join([*lines, f"{'result':<8}{verdict}"])


def main() -> None:
    """Run the proof, print the summary, save the JSON; exit 1 unless it passed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index_dir", nargs="?", type=Path, default=Path("var/bench/un"))
    parser.add_argument("--work", type=Path, help="Where the copy goes [var/load/<name>].")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="wrk's threads.")
    parser.add_argument("--workers", type=int, default=1, help="Server processes.")
    parser.add_argument("--generator", choices=["wrk", "threads"], default="wrk")
    parser.add_argument(
        "--standin", action="store_true",
        help="Serve with the stand-in encoder (an index `make bench-writes` built).",
    )  # fmt: skip
    parser.add_argument("--timeout", type=float, default=10.0, help="Seconds a read may take.")
    parser.add_argument(
        "--alerts", type=int, default=0,
        help="Alerts to save (POST /alerts) before the load; each write matches against them.",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("var/bench/load.json"))
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE",
        help="Add to the server's environment (repeatable), e.g. MALLOC_ARENA_MAX=2.",
    )  # fmt: skip
    args = parser.parse_args()
    env = dict(item.split("=", 1) for item in args.env)
    load_before = os.getloadavg()
    report = soak(
        args.index_dir, args.work or Path("var/load") / args.index_dir.resolve().name,
        seconds=args.seconds, warmup=args.warmup, connections=args.connections,
        threads=args.threads, workers=args.workers, generator=args.generator,
        timeout=args.timeout, env=env, standin=args.standin, alerts=args.alerts,
    )  # fmt: skip
    report["loadavg"] = {"before": load_before, "after": os.getloadavg()}
    print(summary(report))
    print(f"machine load average (1, 5, 15 min) before {load_before[0]:.2f} "
          f"{load_before[1]:.2f} {load_before[2]:.2f}, after "
          + " ".join(f"{v:.2f}" for v in report["loadavg"]["after"]))  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"figures: {args.out}")
    sys.exit(0 if report["ok"] else 1)


if __name__ == "__main__":
    main()
