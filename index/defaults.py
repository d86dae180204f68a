"""Defaults of the index layer, one home each: the functions that take them and the settings
(api/settings.py) name these constants, so a value is changed in one place."""

from __future__ import annotations

__all__ = [
    "APPROXIMATE_ABOVE",
    "BULK_SEGMENT_PASSAGES",
    "CATALOG_BUSY_WAIT",
    "COMMITS_HELD",
    "COMMIT_HOLD",
    "RAY_STARTUP_WAIT",
    "RAY_TIMEOUT",
    "SHARD_TIMEOUT",
    "WRITER_WAIT",
]  # fmt: skip

# Seconds a writer (build, add, remove, merge, upgrade, re-analysis) waits for another to finish.
WRITER_WAIT = 60.0
# Seconds a catalog connection waits on SQLite's own lock (another connection's write) before
# it fails: the writer lock above orders the writers; this covers a reader's brief wait.
CATALOG_BUSY_WAIT = 30.0
# Seconds to reach a Ray cluster, and the longest an ingest waits on it for progress once its
# embedding actors are up (POLICY_SEARCH_RAY_TIMEOUT).
RAY_TIMEOUT = 30.0
# Seconds an ingest waits for its first embedding actor to start (a worker spawned, the model
# loaded: minutes on a cold node that exports the ONNX model first); the progress wait above
# starts only then.
RAY_STARTUP_WAIT = 300.0
# Seconds a query waits on one shard of a sharded index (POLICY_SEARCH_SHARD_TIMEOUT).
SHARD_TIMEOUT = 30.0
# Seconds a commit given out stays open for the reads at it: a cursor's window
# (POLICY_SEARCH_CURSOR_TTL), and a shard's hold on the commits its queries read.
COMMIT_HOLD = 300.0
# Commits a shard keeps open at most (the least recently used go first): as many as the points
# in time a server keeps for cursors (POLICY_SEARCH_CURSOR_POINTS' default).
COMMITS_HELD = 16
# Passages a streamed build (index/storage/bulk.py) gathers into one segment: ~100 MB of float32
# vectors at 384 dimensions, the most a shard writer holds at a time.
BULK_SEGMENT_PASSAGES = 65_536
# Passages past which an index whose vector kind nobody named turns from exact `flat` vectors to
# approximate `ivf-rerank` ones, at the commit of the write that takes it there (`make
# bench-ann-threshold`: a flat scan on one thread passes ~3 ms here idle, and grows linearly).
APPROXIMATE_ABOVE = 50_000
