"""Reaching a Ray cluster: the optional extra, an address that answers, the resources asked for.

Ray is an optional extra (`pip install 'policy-search[ray]'`); everything here fails with one
line saying what to do, never a traceback and never a hang: `ray.init` waits minutes on an
address where nothing answers, so the cluster's control port is tried first, within
`timeout` seconds. A run that fails on the cluster is one error too (`failure`).
"""

from __future__ import annotations

import importlib
import ipaddress
import re
import socket
from types import ModuleType
from typing import Any

from policy_search.index.defaults import RAY_TIMEOUT
from policy_search.index.errors import ClusterUnavailable, PolicySearchError, RayMissing

__all__ = [
    "OFFLINE", "check_resources", "connect", "failure", "parse_address", "require_ray",
]  # fmt: skip

# The environment of a cluster's workers: the model's libraries never reach for a hub.
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}

INSTALL = "pip install 'policy-search[ray]'"


def require_ray() -> ModuleType:
    """The `ray` module, or RayMissing saying how to install the extra. (The command sets
    RAY_ENABLE_AUTO_CONNECT=0 first, api/cli.py: the cluster is joined by `connect` alone.)"""
    try:
        return importlib.import_module("ray")
    except ImportError:
        raise RayMissing(f"--ray needs the Ray extra, which is not installed: {INSTALL}") from None


def parse_address(address: str) -> tuple[str, int]:
    """(host, port) of a `host:port` cluster address, or ClusterUnavailable saying why not."""
    host, sep, port = address.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ClusterUnavailable(
            f"the Ray address {address!r} is not host:port (e.g. 127.0.0.2:6379)"
        )
    return host, int(port)


def connect(address: str, *, timeout: float = RAY_TIMEOUT, namespace: str = "policy-search") -> Any:
    """Join the Ray cluster at `address` as a driver (once a process): ClusterUnavailable when
    nothing answers there within `timeout` seconds."""
    ray = require_ray()
    host, port = parse_address(address)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        raise ClusterUnavailable(
            f"no Ray cluster answers at {address} (within {timeout:g} s: {exc.strerror or exc}); "
            "start one with `ray start --head` or check POLICY_SEARCH_RAY_ADDRESS"
        ) from None
    if ray.is_initialized():
        if _joined(ray) == (host, port):
            return ray
        # Joined elsewhere (another cluster, or a local Ray started by a library): leave it,
        # or this process would run its work there and never on the cluster asked for.
        ray.shutdown()
    options: dict[str, Any] = {"address": f"{host}:{port}", "namespace": namespace,
                               "logging_level": "WARNING", "log_to_driver": False}  # fmt: skip
    if _loopback(host):
        # Ray resolves 127.0.0.1 to the machine's outward address; a cluster on loopback is
        # joined from loopback.
        options["_node_ip_address"] = host if host != "localhost" else "127.0.0.1"
    try:
        ray.init(**options)
    except (ConnectionError, RuntimeError, TimeoutError) as exc:
        raise ClusterUnavailable(f"could not join the Ray cluster at {address}: {exc}") from None
    return ray


def _joined(ray: Any) -> tuple[str, int] | None:
    """The host and port of the cluster this process has joined (None: unknown)."""
    try:
        gcs = str(ray.get_runtime_context().gcs_address)
    except Exception:  # an older or odd Ray: taken as another cluster
        return None
    host, _, port = gcs.rpartition(":")
    return (host, int(port)) if port.isdigit() else None


def check_resources(*, cpus: float, gpus: float, actors: int = 1) -> None:
    """ClusterUnavailable unless some node of the joined cluster can hold an actor of `cpus`
    CPUs and `gpus` GPUs, and the cluster `actors` of them (asked up front: Ray would wait for
    them forever)."""
    ray = require_ray()
    nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
    fits = [n for n in nodes if n.get("CPU", 0) >= cpus and n.get("GPU", 0) >= gpus]
    total_cpus = sum(n.get("CPU", 0) for n in nodes)
    total_gpus = sum(n.get("GPU", 0) for n in nodes)
    if not fits or total_cpus < cpus * actors or total_gpus < gpus * actors:
        raise ClusterUnavailable(
            f"the Ray cluster has {total_cpus:g} CPUs and {total_gpus:g} GPUs on "
            f"{len(nodes)} nodes: not enough for {actors} actors of {cpus:g} CPUs and "
            f"{gpus:g} GPUs each; ask for fewer"
        )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def failure(exc: BaseException) -> PolicySearchError:
    """What a failed Ray run raises: our own error if one caused it (bad input found on a
    worker), else one line saying the ingest failed, why, and that nothing was written."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    texts: list[str] = []
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        inner = getattr(cause, "cause", None)
        # A RayTaskError carries the worker's exception as `cause`, and is made an instance of
        # its class too (its message Ray's traceback): the worker's own is the one to raise.
        if isinstance(cause, PolicySearchError) and not isinstance(inner, BaseException):
            return cause
        texts.append(_ANSI.sub("", str(cause)))
        cause = inner or cause.__cause__ or cause.__context__  # Ray Data chains its own
    return ClusterUnavailable(
        f"the ingest failed on the Ray cluster ({_reason(exc, texts)}); nothing was written, "
        "the previous index is as it was"
    )


def _reason(exc: BaseException, texts: list[str]) -> str:
    """The worker's own error (the last `SomeError: message` line of the tracebacks Ray
    relays), else the first line of Ray's."""
    found = [
        m for text in texts for m in _ERROR_LINE.finditer(text) if m.group(1) not in _RAY_ERRORS
    ]
    if found:
        return f"{found[-1].group(1)}: {found[-1].group(2).strip()[:300]}"
    lines = [line.strip() for text in texts for line in text.splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0][:300] if lines else ''}"


_ERROR_LINE = re.compile(r"^(\w+(?:Error|Exception)): (.+)$", re.MULTILINE)
_RAY_ERRORS = {"RayTaskError", "UserCodeException", "RaySystemError", "RayError", "ActorDiedError"}
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
