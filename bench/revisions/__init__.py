"""Two revisions of the code, measured in one run: query latency in process and bytes per write.

    .venv/bin/python -m bench.revisions --before 9334b79 [--after WORKTREE] [--rounds 6]

Each revision runs in processes of its own (`worker.py`, which uses only what every revision
since the segments has: `Searcher.load`, `Searcher.search(q, k=…, mode=…)`, `build_index`,
`add_articles`, `remove_articles`), rounds alternating before/after (ABBA…) so that a noisy machine
weighs on both alike. `--before` is a git revision, checked out once into var/revisions/<rev>;
the working tree is `after`. A revision is imported from a tree of links laid from its own
pyproject's `package-dir`, so a revision with another layout runs as it was installed.

Queries: the judged benchmark's 52 questions and the README's three on the judged index
(`make eval` builds it), query vectors computed once, so the model is out of it; each round
gives the median over the queries of a first page (hybrid, k=10), of the third page (offset 20)
and of a grouped page. Writes: the demo corpus indexed with the stand-in encoder (no model),
then adds, replacements and removals of one article, each its bytes written to storage
(/proc/self/io `write_bytes`, fsyncs included) and its time.
"""
