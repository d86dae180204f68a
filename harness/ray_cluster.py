"""A real Ray cluster of N nodes on loopback, started and stopped by tests and benchmarks.

    with running_cluster(nodes=2) as cluster:      # or start_cluster / stop_cluster
        run(address=cluster.address)               # "127.0.0.2:<port>", the GCS
        os.kill(worker_pids(cluster, "Embed")[0], signal.SIGKILL)
        kill_node(cluster, 1)                      # kill -9 the second node

Why loopback only, and these addresses: Ray resolves `127.0.0.1` to the machine's outward
address, so the head listens on 127.0.0.2 and node i on 127.0.0.(2+i); nothing leaves the box.
Why not `ray stop`: it kills every Ray process on the machine, other sessions' clusters too.
Instead each node is a `ray start --block` process in a session of its own, owned here, and
`stop_cluster` terminates them, then kills whatever process still names the cluster's private
temp dir on its command line (Ray's workers, raylet, GCS), and checks none is left.

Every wait is bounded: `ray.init` on an address where nothing answers hangs for minutes, so
`gcs_answers` (a TCP connect with a timeout) is the check to make before it.

Nodes start with the checkout on PYTHONPATH, so workers can unpickle `harness` and `tests`
objects (the fake embedder of plumbing tests).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "Cluster", "cluster_pids", "gcs_answers", "kill_node", "running_cluster", "start_cluster",
    "stop_cluster", "worker_pids",
]  # fmt: skip

ROOT = Path(__file__).resolve().parents[1]
RAY = Path(sys.executable).with_name("ray")  # the venv's `ray` command
START_TIMEOUT = 60.0  # seconds for a node to come up (about 5 on this machine)


@dataclass
class Cluster:
    """A running loopback cluster: its GCS address, private temp dir and node processes
    (`procs[0]` the head). Each node has its own IP: 127.0.0.(2 + i)."""

    address: str
    temp_dir: Path
    procs: list[subprocess.Popen] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    def node_ip(self, i: int) -> str:
        """The loopback address of node i (0: the head)."""
        return f"127.0.0.{2 + i}"


def gcs_answers(address: str, timeout: float = 2.0) -> bool:
    """Whether something accepts TCP connections at `host:port` within `timeout` seconds."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def _free_port(host: str = "127.0.0.2") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _spawn(args: list[str], log: Path) -> subprocess.Popen:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    with open(log, "wb") as out:
        return subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=env,
            start_new_session=True, preexec_fn=_die_with_parent,
        )  # fmt: skip


def _die_with_parent() -> None:
    """In the `ray start` child: be killed when the thread that started it dies. A test run
    killed with -9 (a timeout) cannot stop its cluster; this way the cluster goes with it (a
    `ray start` killed takes its GCS, raylet and workers along: Ray makes them share its fate).
    So start a cluster from a thread that outlives it (the main thread)."""
    import ctypes

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _wait_nodes(cluster: Cluster, nodes: int, timeout: float) -> None:
    """Until the GCS answers and `nodes` raylets have registered (the node table lists them)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc, log in zip(cluster.procs, cluster.logs, strict=True):
            if proc.poll() is not None:
                raise RuntimeError(f"a Ray node exited early: {log.read_text()[-2000:]}")
        if gcs_answers(cluster.address, 0.5) and _started(cluster) >= nodes:
            return
        time.sleep(0.3)
    raise RuntimeError(f"the Ray cluster did not come up in {timeout:.0f} s")


def _started(cluster: Cluster) -> int:
    """Nodes whose `ray start` has said it is up (it says so once its raylet has registered)."""
    return sum(
        1 for log in cluster.logs if log.is_file() and b"Ray runtime started" in log.read_bytes()
    )


def start_cluster(
    nodes: int = 2,
    cpus_per_node: int = 1,
    *,
    timeout: float = START_TIMEOUT,
    system_config: dict[str, Any] | None = None,
) -> Cluster:
    """Start a head and `nodes - 1` workers on loopback; return once all are up (or raise,
    leaving nothing running). `system_config`: Ray's internal settings for the head, e.g.
    `{"health_check_period_ms": 500, "health_check_failure_threshold": 3}` so that a killed
    node is declared dead in seconds rather than half a minute."""
    # Token authentication stays off, for the nodes and this driver alike. Left unset, Ray
    # 2.60 turns it on for a head that finds ~/.ray/auth_token (which any local `ray.init()`
    # writes), while a node that joins does not: it is then refused ("InvalidAuthToken").
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    temp_dir = Path(tempfile.mkdtemp(prefix="psray-", dir="/tmp"))  # short: sockets live there
    port = _free_port()
    cluster = Cluster(address=f"127.0.0.2:{port}", temp_dir=temp_dir)
    try:
        head = [
            str(RAY), "start", "--head", "--block", f"--node-ip-address={cluster.node_ip(0)}",
            f"--port={port}", f"--num-cpus={cpus_per_node}", "--num-gpus=0",
            "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp_dir}",
            f"--ray-client-server-port={_free_port()}", f"--dashboard-port={_free_port()}",
            f"--dashboard-agent-listen-port={_free_port()}",
        ]  # fmt: skip
        if system_config:
            head.append(f"--system-config={json.dumps(system_config)}")
        cluster.logs.append(temp_dir / "node-0.log")
        cluster.procs.append(_spawn(head, cluster.logs[0]))
        _wait_nodes(cluster, 1, timeout)
        for i in range(1, nodes):
            worker = [
                str(RAY), "start", "--block", f"--address={cluster.address}",
                f"--node-ip-address={cluster.node_ip(i)}", f"--num-cpus={cpus_per_node}",
                "--num-gpus=0", "--disable-usage-stats", f"--temp-dir={temp_dir}",
                f"--dashboard-agent-listen-port={_free_port()}",
            ]  # fmt: skip
            cluster.logs.append(temp_dir / f"node-{i}.log")
            cluster.procs.append(_spawn(worker, cluster.logs[i]))
            _wait_nodes(cluster, i + 1, timeout)
    except BaseException:
        stop_cluster(cluster)
        raise
    return cluster


def stop_cluster(cluster: Cluster, *, timeout: float = 20.0) -> None:
    """Stop every process of this cluster and only this cluster's; raise if any is left.

    SIGTERM first, then SIGKILL after a short grace: `ray start --block` takes ten seconds and
    more to wind down on SIGTERM, and nothing of a test cluster needs a graceful end. This
    process leaves the cluster first: a driver still joined to a cluster that is gone is ended
    by Ray itself, minutes later."""
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()
    for proc in cluster.procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    grace = time.monotonic() + 2.0
    while time.monotonic() < grace and any(p.poll() is None for p in cluster.procs):
        time.sleep(0.1)
    deadline = time.monotonic() + timeout
    while True:
        left = cluster_pids(cluster)
        for proc in cluster.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        for pid in left:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        for proc in cluster.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.5)
        if not left:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"Ray processes left after stopping the cluster: {left}")
        time.sleep(0.2)
    shutil.rmtree(cluster.temp_dir, ignore_errors=True)


@contextlib.contextmanager
def running_cluster(
    nodes: int = 2, cpus_per_node: int = 1, *, system_config: dict[str, Any] | None = None
) -> Iterator[Cluster]:
    """A cluster for the `with` block, stopped afterwards whatever happens."""
    cluster = start_cluster(nodes, cpus_per_node, system_config=system_config)
    try:
        yield cluster
    finally:
        stop_cluster(cluster)


def _cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode("utf-8", "replace")


def _pids(temp_dir: Path, fragment: str = "") -> list[int]:
    """Live processes whose command line names `temp_dir` (and `fragment`)."""
    mine = os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == mine:
            continue
        line = _cmdline(int(entry.name))
        if str(temp_dir) in line and fragment in line and not _zombie(int(entry.name)):
            found.append(int(entry.name))
    return sorted(found)


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] in ("Z", "X")


def cluster_pids(cluster: Cluster) -> list[int]:
    """Every live process of this cluster: the `ray start` processes, whatever names its temp
    dir (GCS, raylets, agents), and their descendants (workers, which retitle themselves
    `ray::<name>` and so no longer name the temp dir)."""
    roots = set(_pids(cluster.temp_dir))
    roots.update(p.pid for p in cluster.procs if p.poll() is None)
    children: dict[int, list[int]] = {}
    for pid in _all_pids():
        children.setdefault(_parent(pid), []).append(pid)
    found, todo = set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid in found or pid == os.getpid() or _zombie(pid):
            continue
        found.add(pid)
        todo.extend(children.get(pid, []))
    return sorted(found)


def _all_pids() -> list[int]:
    return [int(e.name) for e in Path("/proc").iterdir() if e.name.isdigit()]


def worker_pids(cluster: Cluster, name_fragment: str) -> list[int]:
    """Pids of this cluster's Ray worker processes whose title names `name_fragment`: an actor
    (`ray::_EmbedActor`, `ray::MapWorker(MapBatches(_EmbedActor))`), a task, so that a test can
    kill -9 a real one. A worker takes its title (`ray::<name>`) once it runs something."""
    return [
        pid for pid in cluster_pids(cluster)
        if _cmdline(pid).startswith("ray::") and name_fragment in _cmdline(pid)
    ]  # fmt: skip


def _parent(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return -1
    return int(stat.rpartition(")")[2].split()[1])


def kill_node(cluster: Cluster, i: int) -> None:
    """kill -9 node i (not the head) as a machine that loses power: its `ray start` process,
    its raylet and everything below them (its workers)."""
    if i == 0:
        raise ValueError("kill_node kills a worker node; node 0 is the head")
    ip = cluster.node_ip(i)
    proc = cluster.procs[i]
    tops = {proc.pid} | {
        p for p in _pids(cluster.temp_dir, "/raylet/raylet ") if f"={ip} " in _cmdline(p) + " "
    }
    children: dict[int, list[int]] = {}
    for pid in _all_pids():
        children.setdefault(_parent(pid), []).append(pid)
    victims, todo = set(), list(tops)
    while todo:
        pid = todo.pop()
        if pid not in victims:
            victims.add(pid)
            todo.extend(children.get(pid, []))
    for pid in sorted(victims):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait(timeout=10)
