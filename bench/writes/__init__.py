"""What one write costs on a small and a large index, and what many writes do to search.

`python -m bench.writes` (`make bench-writes`; options and what it measures: `cli`). Its parts:
`corpus` (the speeches and the stand-in indexes of them), `single` (one write at a time), `load`
(many writes, then search latency), `model` (the real model's share), `served` (a real server's
memory and reads while it writes), `report` (the table).
"""
