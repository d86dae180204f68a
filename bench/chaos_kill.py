"""Killing a command at a chosen moment, and reading what the kill left in the index folder.

A moment is anchored at the process start, at the start of its write (its staging folder
appears) or at its commit (the staging folder is renamed into place), so kills land inside
writes, and in the few milliseconds of their commit, however slow the machine is. What a kill
left (a staging folder, a generation renamed into place, a new CURRENT) says where it landed.
"""

from __future__ import annotations

import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from index.store import CURRENT, GENERATIONS, KEEP_GENERATIONS

__all__ = [
    "ANCHORS", "Kill", "Run", "Snapshot", "Timing", "garbage", "phase", "run_command", "snapshot",
]  # fmt: skip

POLL = 0.002  # seconds between looks at the index folder while a command runs
ANCHORS = ("start", "write", "commit")


@dataclass(frozen=True, slots=True)
class Kill:
    """Send SIGKILL `after` seconds past the anchor: the process `start`, its `write` or its
    `commit` (or, for the server, the `stream` of writes)."""

    anchor: str
    after: float

    def describe(self) -> str:
        return f"{self.after:5.2f} s after {self.anchor:<6}"


@dataclass(frozen=True, slots=True)
class Timing:
    """Seconds from each anchor to the exit, in a run that was not killed."""

    start: float
    write: float
    commit: float

    def span(self, anchor: str) -> float:
        return float(getattr(self, anchor if anchor in ANCHORS else "start"))

    def at_least(self, anchor: str, seconds: float) -> Timing:
        """These, knowing that a run lasted `seconds` past `anchor` (a kill found it running)."""
        if anchor not in ANCHORS or seconds <= self.span(anchor):
            return self
        return Timing(**{**{a: self.span(a) for a in ANCHORS}, anchor: seconds})


@dataclass(frozen=True, slots=True)
class Run:
    """How a command ended."""

    status: int | None  # exit status; None when the kill found it running
    output: str
    seconds: float  # from its start to its exit or kill
    write_began: float | None  # seconds after its start that its staging folder appeared
    commit_began: float | None  # … and that it was renamed into place

    def timing(self) -> Timing:
        """How long it ran from each anchor (a run that finished)."""
        write = self.write_began if self.write_began is not None else self.seconds
        commit = self.commit_began if self.commit_began is not None else self.seconds
        return Timing(self.seconds, self.seconds - write, self.seconds - commit)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The index folder's state as far as writes go."""

    pointer: str  # what CURRENT says
    generations: frozenset[str]
    staging: frozenset[tuple[str, int, int]]  # (name, inode, ctime): a new folder differs


def snapshot(index_dir: Path) -> Snapshot:
    """Look at the index folder now."""
    try:
        pointer = (index_dir / CURRENT).read_text(encoding="utf-8")
    except FileNotFoundError:
        pointer = ""
    root = index_dir / GENERATIONS
    names: set[str] = set()
    staging: set[tuple[str, int, int]] = set()
    for child in root.iterdir() if root.is_dir() else ():
        try:
            info = child.stat()
        except FileNotFoundError:  # removed while we looked
            continue
        if child.name.endswith(".tmp"):
            staging.add((child.name, info.st_ino, info.st_ctime_ns))
        else:
            names.add(child.name)
    return Snapshot(pointer, frozenset(names), frozenset(staging))


def phase(index_dir: Path, before: Snapshot) -> str:
    """Where a kill landed, from what it left since `before`: a new CURRENT (published), a new
    generation folder not yet named by CURRENT (renamed), a staging folder (staging), or
    nothing (startup: before the write began)."""
    now = snapshot(index_dir)
    if now.pointer != before.pointer:
        return "published"
    if now.generations - before.generations:
        return "renamed"
    return "staging" if now.staging - before.staging else "startup"


def run_command(
    command: list[str], *, cwd: Path, env: dict[str, str], index_dir: Path, kill: Kill | None,
    timeout: float = 600.0,
) -> Run:  # fmt: skip
    """Run a command that writes `index_dir`, killing it with SIGKILL as `kill` says."""
    began: dict[str, float] = {}  # anchor → seconds after the start
    before = snapshot(index_dir)
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=out)
        try:
            started = time.perf_counter()
            _watch(proc, index_dir, kill, before, started, timeout, began)
        finally:
            if proc.poll() is None:  # this run was interrupted: leave no writer behind
                proc.kill()
                proc.wait()
        seconds = time.perf_counter() - started
        out.seek(0)
        output = out.read().decode(errors="replace")
    status = None if proc.returncode == -signal.SIGKILL else proc.returncode
    return Run(status, output, seconds, began.get("write"), began.get("commit"))


def _watch(
    proc: subprocess.Popen, index_dir: Path, kill: Kill | None, before: Snapshot,
    started: float, timeout: float, began: dict[str, float],
) -> None:  # fmt: skip
    """Wait for a command, noting when its write and its commit begin, and kill it when due.

    The write begins when a staging folder changes (the writer drops stale ones, then makes its
    own: ext4 may give it the name and inode of the one it dropped, but not its ctime); the
    commit when a new generation folder appears (the staging folder renamed into place).
    """
    deadline = started + kill.after if kill and kill.anchor == "start" else None
    while proc.poll() is None:
        now = time.perf_counter()
        if "commit" not in began:
            seen = snapshot(index_dir)
            if "write" not in began and seen.staging - before.staging:
                began["write"] = now - started
            if seen.generations - before.generations:
                began.setdefault("write", now - started)
                began["commit"] = now - started
        if kill is not None and deadline is None and kill.anchor in began:
            deadline = started + began[kill.anchor] + kill.after
        if (deadline is not None and now >= deadline) or now - started > timeout:
            proc.send_signal(signal.SIGKILL)  # not reaped yet: the pid is still this one
            proc.wait()
            return
        time.sleep(POLL)


def garbage(index_dir: Path, leftovers: int) -> tuple[int, int, list[str]]:
    """Generations and temporaries in the index folder, and what is more than allowed.

    A writer drops stale staging folders before it stages, and the last KEEP_GENERATIONS after
    it publishes; so each kill since the last finished write may leave one generation (renamed
    or half pruned) or one staging folder, and CURRENT.tmp, and no more.
    """
    root = index_dir / GENERATIONS
    generations = [p for p in root.iterdir() if p.is_dir() and not p.name.endswith(".tmp")]
    staging = list(root.glob("*.tmp"))
    pointer = (index_dir / f"{CURRENT}.tmp").exists()
    journals = [  # in a published generation: a staging folder's are its own, dropped with it
        p for p in (*index_dir.rglob("*-journal"), *index_dir.rglob("*-wal"))
        if not any(part.endswith(".tmp") for part in p.relative_to(index_dir).parts)
    ]  # fmt: skip
    problems = []
    if len(generations) > KEEP_GENERATIONS + leftovers:
        problems.append(
            f"{len(generations)} generations after {leftovers} kills since the last finished "
            f"write (at most {KEEP_GENERATIONS} + {leftovers})"
        )
    if len(staging) > min(1, leftovers) or (pointer and not leftovers):
        problems.append(f"temporaries left: {[p.name for p in staging]}, CURRENT.tmp {pointer}")
    if journals:
        problems.append(f"SQLite journals left: {[str(p) for p in journals]}")
    return len(generations), len(staging) + int(pointer) + len(journals), problems
