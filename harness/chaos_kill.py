"""Killing a command at a chosen moment, and reading what the kill left in the index folder.

A moment is anchored at the process start, at the start of its write (a staging folder
`segments/<name>.tmp` appears) or at its commit (a segment folder is renamed into place, the
catalog commit naming it follows), so kills land inside writes, and in the few milliseconds of
their commit, however slow the machine is. What a kill left says where it landed: a staging
folder (staging), a segment folder the catalog does not name (renamed), or a catalog whose
generation advanced (published). A write and the merges after it stage one segment each, so a
kill in a merge reads the same way.
"""

from __future__ import annotations

import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from policy_search.index.errors import IndexStoreError
from policy_search.index.storage.segment import STAGING_SUFFIX
from policy_search.index.storage.store import open_catalog, segments_dir

__all__ = [
    "ANCHORS", "Folder", "Garbage", "Kill", "Run", "Snapshot", "Timing", "catalog_state", "folder",
    "garbage", "phase", "run_command", "snapshot",
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
class Folder:
    """The segments folder's entries as far as writes go (no catalog read: cheap to poll)."""

    segments: frozenset[str]  # segment folders renamed into place, named by a commit or not
    staging: frozenset[tuple[str, int, int]]  # (name, inode, ctime): a new folder differs


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The index folder's state as far as writes go: its folder and its catalog's commit."""

    generation: int  # the catalog's generation (-1: no catalog yet, or unreadable)
    named: frozenset[str]  # the segments the catalog names
    folder: Folder

    @property
    def orphans(self) -> frozenset[str]:
        """Segment folders no commit names (a killed writer's, or retired and still held)."""
        return self.folder.segments - self.named


def folder(index_dir: Path) -> Folder:
    """Look at the segments folder now."""
    root = segments_dir(index_dir)
    names: set[str] = set()
    staging: set[tuple[str, int, int]] = set()
    for child in root.iterdir() if root.is_dir() else ():
        try:
            info = child.stat()
        except FileNotFoundError:  # removed while we looked
            continue
        if child.name.endswith(STAGING_SUFFIX):
            staging.add((child.name, info.st_ino, info.st_ctime_ns))
        elif child.is_dir():
            names.add(child.name)
    return Folder(frozenset(names), frozenset(staging))


def catalog_state(index_dir: Path) -> tuple[int, frozenset[str]]:
    """The catalog's generation and the segments it names (-1 and none: no catalog)."""
    try:
        catalog = open_catalog(index_dir, readonly=True)
    except IndexStoreError:
        return -1, frozenset()
    try:
        with catalog.reading():
            return int(catalog.meta("generation", 0)), frozenset(s.name for s in catalog.segments())
    except IndexStoreError:
        return -1, frozenset()
    finally:
        catalog.close()


def snapshot(index_dir: Path) -> Snapshot:
    """Look at the index folder and its catalog now (the folder first: a segment renamed in
    between is then named, not an orphan)."""
    seen = folder(index_dir)
    generation, named = catalog_state(index_dir)
    return Snapshot(generation, named, seen)


def phase(index_dir: Path, before: Snapshot) -> str:
    """Where a kill landed, from what it left since `before`: a newer catalog generation
    (published), a new segment folder the catalog does not name (renamed), a new staging folder
    (staging), or nothing (startup: before the write began)."""
    now = snapshot(index_dir)
    if now.generation != before.generation:
        return "published"
    if now.orphans - before.folder.segments:
        return "renamed"
    return "staging" if now.folder.staging - before.folder.staging else "startup"


def run_command(
    command: list[str], *, cwd: Path, env: dict[str, str], index_dir: Path, kill: Kill | None,
    timeout: float = 600.0,
) -> Run:  # fmt: skip
    """Run a command that writes `index_dir`, killing it with SIGKILL as `kill` says."""
    began: dict[str, float] = {}  # anchor → seconds after the start
    before = folder(index_dir)
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
    proc: subprocess.Popen, index_dir: Path, kill: Kill | None, before: Folder,
    started: float, timeout: float, began: dict[str, float],
) -> None:  # fmt: skip
    """Wait for a command, noting when its write and its commit begin, and kill it when due.

    The write begins when a staging folder appears (a new one: ext4 may give it the name and
    inode of one dropped, but not its ctime); the commit when a new segment folder appears (the
    staging folder renamed into place; the catalog commit naming it follows). Only the folder
    is polled: reading the catalog every few milliseconds would slow the writer.
    """
    deadline = started + kill.after if kill and kill.anchor == "start" else None
    while proc.poll() is None:
        now = time.perf_counter()
        if "commit" not in began:
            seen = folder(index_dir)
            if "write" not in began and seen.staging - before.staging:
                began["write"] = now - started
            if seen.segments - before.segments:
                began.setdefault("write", now - started)
                began["commit"] = now - started
        if kill is not None and deadline is None and kill.anchor in began:
            deadline = started + began[kill.anchor] + kill.after
        if (deadline is not None and now >= deadline) or now - started > timeout:
            proc.send_signal(signal.SIGKILL)  # not reaped yet: the pid is still this one
            proc.wait()
            return
        time.sleep(POLL)


@dataclass(frozen=True, slots=True)
class Garbage:
    """What the segments folder holds beyond the segments the catalog names."""

    named: int  # segments the catalog names
    orphans: int  # segment folders it does not name
    temporaries: int  # staging folders, and SQLite journals inside segments
    problems: list[str]


def garbage(index_dir: Path, leftovers: int, *, held: bool = False) -> Garbage:
    """The segments folder against what kills may leave, and what is more than allowed.

    A writer (and a merge) stages one segment at a time and removes, after its commit, every
    folder no commit names and no process holds (index.store.clean). So each kill since the
    last finished write may leave one staging folder or one renamed, unnamed segment, and no
    more; after a finished write there is nothing but the named segments. `held`: a server
    served the index while it wrote (its readers held the segments its merges retired, which
    its clean-up had to leave): such retired segments are allowed too, until the next write
    with no server running removes them.
    """
    now = snapshot(index_dir)
    root = segments_dir(index_dir)
    staging = sorted(name for name, _, _ in now.folder.staging)
    orphans = sorted(now.orphans)
    missing = sorted(now.named - now.folder.segments)
    journals = [  # a segment holds no SQLite file; a staging folder's are its own
        p for p in (*root.rglob("*-journal"), *root.rglob("*-wal"))
        if not any(part.endswith(STAGING_SUFFIX) for part in p.relative_to(root).parts)
    ] if root.is_dir() else []  # fmt: skip
    problems = []
    if missing:
        problems.append(f"the catalog names segments with no folder: {missing}")
    if len(staging) > leftovers:
        problems.append(
            f"staging folders left: {staging} after {leftovers} kills since the last finished write"
        )
    if not held and len(orphans) + len(staging) > leftovers:
        problems.append(
            f"segments no commit names: {orphans} (and {len(staging)} staging) after "
            f"{leftovers} kills since the last finished write (at most {leftovers} in all)"
        )
    if journals:
        problems.append(f"SQLite journals left: {[str(p) for p in journals]}")
    return Garbage(len(now.named), len(orphans), len(staging) + len(journals), problems)
