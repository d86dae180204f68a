"""Start `policy-search serve` as a real process on a free loopback port, and stop it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_server(index_dir: Path, *, timeout: float = 120.0) -> Iterator[str]:
    """Yield the base URL of a live server; fail with its log if it does not come up."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [
        sys.executable,
        "-m",
        "api",
        "serve",
        "--port",
        str(port),
        "--index-dir",
        str(index_dir),
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"server exited: {proc.stdout.read().decode() if proc.stdout else ''}"
                )
            with contextlib.suppress(httpx.TransportError):
                httpx.get(f"{base}/openapi.json", timeout=2).raise_for_status()
                break
            if time.monotonic() > deadline:
                raise RuntimeError("server did not come up in time")
            time.sleep(0.2)
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
