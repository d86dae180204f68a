"""Start the server as a real process on a free loopback port, and stop it.

Three servers: `policy-search serve` (the real model), the app on the fake embedder
(`harness.fake_app`, for plumbing tests), or any `python -m module` configured by the
environment (`harness.standin_app`, for benchmarks of the index's own work).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = [
    "ROOT", "Server", "free_port", "running_server", "server_log", "start", "stop",
    "wait_until_up",
]  # fmt: skip

ROOT = Path(__file__).resolve().parents[1]  # the checkout: servers run from there


@dataclass(frozen=True)
class Server:
    """A running server process and its base URL."""

    url: str
    proc: subprocess.Popen


def free_port() -> int:
    """A loopback port free at this moment."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(
    index_dir: Path,
    *,
    fake: bool,
    port: int,
    env: dict[str, str] | None,
    module: str | None = None,
) -> subprocess.Popen:
    """`policy-search serve`, or with `fake` the app on the fake embedder (harness.fake_app),
    or `python -m module` configured by the environment (harness.standin_app)."""
    env = dict(env or {})
    if module:
        command = [sys.executable, "-m", module]
        env.update(POLICY_SEARCH_INDEX_DIR=str(index_dir), POLICY_SEARCH_PORT=str(port))
    elif fake:
        command = [sys.executable, "-m", "harness.fake_app", str(index_dir), str(port)]
    else:
        command = [sys.executable, "-m", "policy_search", "serve", "--port", str(port),
                   "--index-dir", str(index_dir)]  # fmt: skip
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    # The log goes to a file: a pipe nobody reads blocks the server once its access log fills it.
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed by stop())
    proc = subprocess.Popen(
        command, cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT
    )
    proc.log = log  # type: ignore[attr-defined]
    return proc


def server_log(proc: subprocess.Popen) -> str:
    """What a server started by `start` has printed so far."""
    log = proc.log  # type: ignore[attr-defined]
    log.seek(0)
    return log.read().decode(errors="replace")


def wait_until_up(proc: subprocess.Popen, base: str, timeout: float = 120.0) -> None:
    """Return once `base` serves its OpenAPI spec (an error status means not yet: Ray Serve's
    proxy answers 404 until the app is in); fail with the log if the process exits or time
    runs out."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {server_log(proc)[-3000:]}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{base}/openapi.json", timeout=2).status_code == 200:
                return
        if time.monotonic() > deadline:
            said = server_log(proc)[-3000:]
            raise RuntimeError(f"server did not come up in {timeout:g} s: {said}")
        time.sleep(0.1)


@contextlib.contextmanager
def running_server(
    index_dir: Path,
    *,
    fake: bool = False,
    port: int | None = None,
    env: dict[str, str] | None = None,
    module: str | None = None,
) -> Iterator[Server]:
    """Yield a live server (its URL and process); fail with its log if it does not come up."""
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start(index_dir, fake=fake, port=port, env=env, module=module)
    try:
        wait_until_up(proc, base)
        yield Server(base, proc)
    finally:
        stop(proc)


def stop(proc: subprocess.Popen) -> None:
    """Stop a server politely, then firmly; a process the test killed is only reaped."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    proc.log.close()  # type: ignore[attr-defined]
