"""Pass/fail harnesses: the hardening proofs, and the servers they and the tests start.

Not installed; run from the checkout (`python -m harness.chaos`). Each proof exits 1 on any
failure, and `make test` runs a short version of each (tests/e2e/test_chaos.py, test_load.py,
test_fuzz_api.py). bench/ prints figures and may import this package; tests/ imports it; it
imports neither, only `policy_search`.

Entry points:

- `harness.chaos`: kill -9 the CLI and the server at random moments of writes (`make chaos`);
  `chaos_kill` kills and reads what a kill left, `chaos_check` checks a restarted server,
  `chaos_stream` sends the HTTP writes;
- `harness.soak`: mixed reads from 64 connections while a writer writes (`make load`); its
  traffic is `mix` (requests) sent by `traffic` (wrk, `mixed.lua`) or `load` (threads), its
  writer `writer`, its memory verdict `memory`;
- `harness.limits`: the largest query allowed against its latency budget (`make load`);
- `harness.fuzz_api`: schemathesis over the served API (`make fuzz`; hooks in `fuzz_hooks`);
- `harness.load`: a closed-loop HTTP load generator (`harness.soak` runs it; `bench.queries`
  runs wrk through `harness.traffic`).

Shared pieces: `server` (start a server on a free loopback port, stop it), `fake_app` and
`standin_app` (the app on `embedders.FakeEmbedder` or `embedders.StandInEmbedder`),
`query_list` (queries drawn from an index), `latency` (percentiles), `indexes` (an index's
manifest and backend, a copy to work on).
"""
