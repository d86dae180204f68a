"""The table `python -m bench.writes` prints from its figures."""

from __future__ import annotations

__all__ = ["print_report"]


def _mb(n: float) -> str:
    return f"{n / 1e6:.2f}"


def print_report(report: dict) -> None:
    """The figures of every part that ran, as tables."""
    sizes = report["sizes"]
    print(f"\nencoder: {report['encoder']}; {report['cores']} cores")
    if all("ops" in sizes.get(name, {}) for name in ("small", "large")):
        _print_ops(sizes["small"], sizes["large"])
    for name, figures in sizes.items():
        load = figures.get("load")
        if not load:
            continue
        a, o = load["after_writes"], load["after_optimize"]
        fq, mq = load["query_after_writes"], load["query_after_optimize"]
        print(f"\n{name} ({figures['passages']:,} passages): {load['writes']} single-speech "
              f"writes in {load['seconds']:.0f} s ({load['seconds'] / load['writes'] * 1000:.0f} "
              f"ms each, merges included)")  # fmt: skip
        print(f"  {'':<22} {'segments':>8} {'tombstones':>10} {'p50 ms':>7} {'p99 ms':>7}")
        print(f"  {'after the writes':<22} {a['segments']:>8} {a['tombstones']:>10} "
              f"{fq['p50']:>7.2f} {fq['p99']:>7.2f}")  # fmt: skip
        took = load["optimize"]
        print(f"  {'after optimize':<22} {o['segments']:>8} {o['tombstones']:>10} "
              f"{mq['p50']:>7.2f} {mq['p99']:>7.2f}   (optimize took {took['seconds']:.1f} s, "
              f"wrote {_mb(took['written'])} MB)")  # fmt: skip
    share = report.get("model_share")
    if share:
        print(f"\nthe model's share, left out above: {share['model']} embeds one speech's "
              f"{share['passages']} passages in {share['seconds'] * 1000:.0f} ms")  # fmt: skip
    for name, figures in report.get("server", {}).items():
        _print_server(name, figures)


def _print_ops(small: dict, large: dict) -> None:
    print("median of the rounds; write(): bytes this process passed to write(); storage: bytes "
          "it sent to the disk")  # fmt: skip
    print(f"{'one speech':<12} {'':>5} {'small ms':>9} {'large ms':>9} {'ratio':>6}   "
          f"{'write() MB s/l':>15} {'storage MB s/l':>15} {'on disk +MB s/l':>16}")  # fmt: skip
    for op in ("add", "replace", "remove", "merge"):
        s, lg = small["ops"][op], large["ops"][op]
        ratio = lg["seconds"] / s["seconds"] if s["seconds"] else float("nan")
        print(f"{op:<12} {'':>5} {s['seconds'] * 1000:>9.1f} {lg['seconds'] * 1000:>9.1f} "
              f"{ratio:>6.2f}   {_mb(s['written']):>7}/{_mb(lg['written']):<7} "
              f"{_mb(s['storage']):>7}/{_mb(lg['storage']):<7} "
              f"{_mb(s['growth']):>8}/{_mb(lg['growth']):<7}")  # fmt: skip


def _print_server(name: str, figures: dict) -> None:
    memory, reads, server = figures["memory"], figures["reads"], figures["server"]
    written = memory["writes"]
    lat = written["latency_ms"]
    print(f"\nserver on a copy of {name} ({figures['passages']:,} passages): uvicorn on "
          f"127.0.0.1, one process, the stand-in encoder; memory sampled every "
          f"{memory['every_s']:.1f} s")  # fmt: skip
    print(f"  {'memory MB':<34} {'VmRSS med':>9} {'max':>7} {'Pss med':>8} {'max':>7} "
          f"{'Pss anon':>8} {'Pss file':>8}")  # fmt: skip
    labels = {"idle": "idle", "during": f"during {written['writes']} writes",
              "after": f"after (settled {memory['settle_s']:.0f} s)"}  # fmt: skip
    for key, label in labels.items():
        m = memory[key]
        rss, pss = m.get("VmRSS", {}), m.get("Pss", {})
        anon, file = m.get("Pss_Anon", {}), m.get("Pss_File", {})
        print(f"  {label:<34} {rss.get('median', 0):>9.0f} {rss.get('max', 0):>7.0f} "
              f"{pss.get('median', 0):>8.0f} {pss.get('max', 0):>7.0f} "
              f"{anon.get('median', 0):>8.0f} {file.get('median', 0):>8.0f}")  # fmt: skip
    end = memory["end"]
    print(f"  {'at the end (after the reads)':<34} {end.get('VmRSS', 0):>9.0f} {'':>7} "
          f"{end.get('Pss', 0):>8.0f} {'':>7} {end.get('Pss_Anon', 0):>8.0f} "
          f"{end.get('Pss_File', 0):>8.0f}")  # fmt: skip
    print(f"  the {written['writes']} writes, back to back: {written['seconds']:.1f} s, "
          f"p50 {lat['p50']:.0f} ms, p99 {lat['p99']:.0f}, max {lat['max']:.0f}")  # fmt: skip
    idle, during = reads["idle"], reads["during_writes"]
    print(f"  {'GET /search, ' + str(idle['clients']) + ' clients':<34} {'seconds':>9} "
          f"{'requests':>9} {'q/s':>7} {'fail':>5} {'p50 ms':>7} {'p99 ms':>7}")  # fmt: skip
    rows = [("idle", idle), (f"during {during['writes']['writes']} writes, 1/s", during)]
    for label, r in rows:
        q = r["latency_ms"]
        print(f"  {label:<34} {r['seconds']:>9.1f} {r['requests']:>9} {r['qps']:>7.1f} "
              f"{r['failures']:>5} {q['p50']:>7.1f} {q['p99']:>7.1f}")  # fmt: skip
    ratio = reads["ratio"]
    print(f"  {'during / idle':<34} {'':>9} {'':>9} {during['qps'] / idle['qps']:>7.2f} "
          f"{'':>5} {ratio.get('p50', float('nan')):>7.2f} "
          f"{ratio.get('p99', float('nan')):>7.2f}")  # fmt: skip
    wl = during["writes"]["latency_ms"]
    print(f"  the writes during the reads: p50 {wl['p50']:.0f} ms, max {wl['max']:.0f}; "
          f"write errors {len(server['write_errors'])}; server "
          f"{'alive' if server['alive'] else 'DEAD'}, log: {server['tracebacks']} tracebacks, "
          f"{server['5xx_logged']} 5xx")  # fmt: skip
    print(f"  machine load average (1 min): {figures['loadavg'][0]:.2f} before this part, "
          f"{figures['loadavg_after'][0]:.2f} after")  # fmt: skip
