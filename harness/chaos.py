"""Crash proof: kill -9 the CLI and the server at random moments of writes, and check each time.

    .venv/bin/python -m harness.chaos --rounds 50 --seed 1 [--work-dir var/chaos] [--articles 60]

Real processes, the real model (int8 ONNX all-MiniLM), real UN General Debate speeches. Setup
writes a corpus folder of speeches (one .jsonl file each, a marker word in each text) and runs
`policy-search index`. Each scenario is then timed once un-killed, and each round picks a
scenario and a moment, and sends SIGKILL:

- index:    `policy-search index CORPUS`, a sync after files were added, edited and deleted;
- add:      `policy-search add FILE…`, one to three articles, new ones or replacements;
- remove:   `policy-search remove ID…`;
- optimize: `policy-search optimize`, a merge of every segment into one (no article changes:
  searches must find exactly the passages they found before it);
- server:   `policy-search serve`, while a client sends POST/PUT/DELETE writes, each followed by
  a search for what it wrote;
- alerts:   `python -m harness.chaos_alerts`, saving one to three alerts in one transaction or
  deleting one; every write of the other scenarios matches each saved alert (its article's
  first passage), and every check verifies the alerts and their matches whole
  (harness/chaos_alerts.py).

(A CLI write merges small segments after its commit, so kills land in merges there too.) For
the CLI the moment is anchored, at random, at the process start, at the start of its write (a
staging folder `segments/<name>.tmp` appears; startup, reading, embedding come before) or at its
commit (a segment folder is renamed into place; the catalog commit, clean-up, merges and exit
follow), and falls between 0 and `--window` (1.2) times what follows that anchor in an un-killed
run: retimed by every run that finishes first (its writes are acknowledged too), and stretched
by every kill that finds a run still going later than that. For the server it falls in the
stream of writes likewise. Where it landed (harness.chaos_kill.phase): startup, staging, renamed
(a segment folder no commit names) or published (the catalog's generation advanced).

A write is acknowledged when the CLI exited 0 before the kill, or the HTTP write got its 2xx
answer. After each round: the writer lock is free, `policy-search stats` exits 0, a restarted
server answers /health and real searches, and holds every acknowledged write with the one
unacknowledged write applied whole or not at all, searches agreeing (harness/chaos_check.py); and
the segments folder holds the segments the catalog names and no more than the kills since the
last finished write left (one staging folder or unnamed segment each; the next write's clean-up
removes them), or, after a server wrote, the segments its own readers held when its merges
retired them (until the next CLI write). A last un-killed write must leave only the named
segments. Exits 1 on any failure, and writes a JSON summary (default var/bench/chaos.json).
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import os
import random
import shutil
import signal
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from harness.chaos_alerts import check_alerts
from harness.chaos_check import State, Verdict, Version, markers, verify
from harness.chaos_kill import ANCHORS, Kill, Run, Timing, garbage, phase, run_command, snapshot
from harness.chaos_stream import KEY, MIN_ARTICLES, Stream, Write
from harness.server import ROOT, free_port, server_log, start, stop, wait_until_up
from policy_search.index.errors import IndexLocked
from policy_search.index.storage.store import writer_lock

__all__ = ["Chaos", "Config", "main"]

SCENARIOS = ("index", "add", "remove", "server", "optimize", "alerts")
UN_SPEECHES = "policy/un-general-debates/articles.jsonl.gz"
SPARE = 40  # speeches beyond the corpus, the texts of articles that writes add
TYPICAL_STREAM = 4  # writes a server round is timed on
# Feeds keep every match, so that the check can ask each alert for all of them.
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
       "TOKENIZERS_PARALLELISM": "false", "POLICY_SEARCH_API_KEY": KEY,
       "POLICY_SEARCH_FEED_LENGTH": "10000"}  # fmt: skip
WORK_MARK = ".chaos-work-dir"  # only a folder holding this is ever wiped
PROBES = ("international peace and security", "climate change and development",
          "nuclear disarmament", "human rights")  # searched before and after a merge  # fmt: skip
PROBE_MODES = ("lexical", "dense", "hybrid")


@dataclass(frozen=True, slots=True)
class Config:
    """One chaos run."""

    rounds: int = 50
    seed: int = 1
    work_dir: Path = Path("var/chaos")
    data_dir: Path = Path("../shared/data")
    articles: int = 60  # speeches in the corpus folder
    scenarios: tuple[str, ...] = SCENARIOS
    window: float = 1.2  # kill moments span 0 .. window × the scenario's un-killed duration
    max_chars: int = 0  # cut each speech to about this many characters (0: whole speeches)
    json_out: Path | None = Path("var/bench/chaos.json")


@dataclass(slots=True)
class Attempt:
    """What one write round did, before it is checked."""

    allowed: list[State]  # acknowledged writes only; then with the unacknowledged one applied
    acknowledged: int  # article writes acknowledged
    phase: str  # where the kill landed (chaos_kill.phase; idle, request), or completed, failed
    killed: bool
    written: set[str] = field(default_factory=set)  # markers of this round's versions
    problems: list[str] = field(default_factory=list)
    finished: bool = False  # a write ran to its end (its clean-up cleared what kills left)
    alerts: list[frozenset[str]] | None = None  # the alerts allowed after it (None: unchanged)


@dataclass(slots=True)
class Round:
    """One line of the report."""

    number: int
    scenario: str
    kill: Kill | None  # when the kill was due (it may have found the process finished)
    phase: str
    killed: bool
    acknowledged: int
    unacknowledged_present: bool
    articles: int = 0  # in the index after the round
    checked: int = 0  # article ids fetched
    searches: int = 0  # marker searches
    segments: int = 0  # the catalog names, after the round
    orphans: int = 0  # segment folders it does not name
    temporaries: int = 0  # staging folders (and journals)
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    def line(self, rounds: int) -> str:
        """The round as one line."""
        kill = f"kill {self.kill.describe()}" if self.kill is not None else f"{'no kill':<24}"
        number = f"{self.number:>3}/{rounds}" if 0 < self.number <= rounds else " " * 7
        verdict = "ok" if not self.problems else "FAILED: " + "; ".join(self.problems[:3])
        present = self.unacknowledged_present
        return (
            f"round {number}  {self.scenario:<9} {kill}  {self.phase:<9}  "
            f"acked {self.acknowledged}  unacked present {'yes' if present else 'no '}  "
            f"verified {self.articles} articles, {self.searches} searches  "
            f"segs {self.segments} orphans {self.orphans} tmp {self.temporaries}  {verdict}"
        )


class Chaos:
    """The corpus folder, the index, and the state every acknowledged write must leave."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.work = config.work_dir.resolve()
        self.corpus_dir = self.work / "corpus"
        self.index_dir = self.work / "index"
        self.speeches: list[dict[str, str]] = []
        self.state: dict[str, Version] = {}  # what the index holds, checked after every round
        self.corpus: dict[str, Version] = {}  # what the corpus folder's files hold
        self.versions: dict[str, Version] = {}  # every version ever written, by marker
        self.known: set[str] = set()  # every article id ever written
        self.timing: dict[str, Timing] = {}  # each scenario's un-killed run, the latest
        self.kills_since_finished = 0  # kills since the last write that finished
        self.served_writes = False  # a server wrote since the last CLI write that finished
        self.probed: dict[str, list[tuple[str, int]]] | None = None  # the last check's searches
        self._markers = markers()
        self._serial = itertools.count(1)
        self.alerts: frozenset[str] = frozenset()  # the alerts saved (harness/chaos_alerts.py)

    # -- articles ------------------------------------------------------------------------------

    def version(self, article_id: str, speech: dict[str, str] | None = None) -> Version:
        """A new text for an article: a speech (a random spare one by default) and a marker."""
        speech = speech or self.rng.choice(self.speeches)
        marker = next(self._markers)
        version = Version(
            article_id=article_id, marker=marker, title=speech["title"],
            text=f"Chaos marker {marker}.\n\n{speech['text']}", date=speech.get("date"),
            source=speech.get("source"),
        )  # fmt: skip
        self.versions[marker] = version
        self.known.add(article_id)
        return version

    def new_id(self) -> str:
        """An article id never used before."""
        return f"chaos-{next(self._serial):04d}"

    def _edit(self, old: Version) -> Version:
        """The same speech with a new marker: only the first passage changes."""
        body = old.text.split("\n\n", 1)[1]
        speech = {"title": old.title, "text": body, "date": old.date or "",
                  "source": old.source or ""}  # fmt: skip
        return self.version(old.article_id, speech)

    def _write_file(self, path: Path, versions: list[Version]) -> None:
        lines = "".join(json.dumps(v.record(), ensure_ascii=False) + "\n" for v in versions)
        path.write_text(lines, encoding="utf-8")

    # -- setup ---------------------------------------------------------------------------------

    def setup(self) -> None:
        """A fresh work folder, the corpus folder of speeches, and the first index."""
        if self.work.exists():
            if not (self.work / WORK_MARK).exists():
                raise SystemExit(f"{self.work} exists and is not a chaos work folder; not wiping")
            shutil.rmtree(self.work)
        self.corpus_dir.mkdir(parents=True)
        (self.work / WORK_MARK).touch()
        wanted = self.config.articles + SPARE
        with gzip.open(self.config.data_dir / UN_SPEECHES, "rt", encoding="utf-8") as lines:
            for line in itertools.islice(lines, wanted):
                record = json.loads(line)
                speech = {k: record[k] for k in ("id", "title", "date", "source", "text")}
                if self.config.max_chars and len(speech["text"]) > self.config.max_chars:
                    speech["text"] = speech["text"][: self.config.max_chars].rsplit(" ", 1)[0]
                self.speeches.append(speech)
        for speech in self.speeches[: self.config.articles]:
            self._put_corpus(self.version(speech["id"], speech))
        self.speeches = self.speeches[self.config.articles :]
        first = self.run_cli(["index", str(self.corpus_dir)], None)
        if first.status != 0:
            raise SystemExit(f"the first `policy-search index` failed:\n{first.output}")
        self.state = dict(self.corpus)

    def _put_corpus(self, version: Version) -> None:
        self._write_file(self.corpus_dir / f"{version.article_id}.jsonl", [version])
        self.corpus[version.article_id] = version

    # -- processes -----------------------------------------------------------------------------

    def run_cli(self, args: list[str], kill: Kill | None) -> Run:
        """Run `policy-search ARGS --index-dir …`, killed as `kill` says."""
        script = Path(sys.executable).with_name("policy-search")
        head = [str(script)] if script.exists() else [sys.executable, "-m", "policy_search"]
        command = [*head, *args, "--index-dir", str(self.index_dir)]
        return run_command(command, cwd=ROOT, env=ENV, index_dir=self.index_dir, kill=kill)

    # -- scenarios -----------------------------------------------------------------------------

    def attempt(self, scenario: str, kill: Kill | None) -> Attempt:
        """Run one scenario, killed as `kill` says (None: left to finish)."""
        scenarios = {
            "index": self._index, "add": self._add, "remove": self._remove,
            "server": self._server, "optimize": self._optimize, "alerts": self._alerts,
        }  # fmt: skip
        return scenarios[scenario](dict(self.state), kill)

    def _index(self, before: State, kill: Kill | None) -> Attempt:
        """`policy-search index CORPUS`, after files of the corpus folder changed."""
        written = self._change_corpus()
        args = ["index", str(self.corpus_dir)]
        return self._cli("index", args, before, dict(self.corpus), kill, written)

    def _optimize(self, before: State, kill: Kill | None) -> Attempt:
        """`policy-search optimize`: a merge into one segment, no article changes."""
        return self._cli("optimize", ["optimize"], before, dict(before), kill, set())

    def _add(self, before: State, kill: Kill | None) -> Attempt:
        """`policy-search add FILE…`: one to three new articles or replacements."""
        writes = [Write("PUT", v.article_id, v) for v in self._additions(before)]
        after = Write.apply_all(writes, before)
        folder = self.work / "adds" / f"{len(self.versions):05d}"
        folder.mkdir(parents=True)
        for w in writes:
            assert w.version is not None
            self._write_file(folder / f"{w.article_id}.jsonl", [w.version])
        written = {w.version.marker for w in writes if w.version}
        args = ["add", *(str(p) for p in sorted(folder.iterdir()))]
        return self._cli("add", args, before, after, kill, written)

    def _alerts(self, before: State, kill: Kill | None) -> Attempt:
        """Save one to three alerts (one transaction), or delete one, killed as `kill` says."""
        saved = sorted(self.alerts)
        if saved and self.rng.random() < 0.4:
            action, ids = "delete", [self.rng.choice(saved)]
            after = self.alerts - set(ids)
        else:
            action, ids = "save", [f"chaos-alert-{next(self._serial):04d}"
                                   for _ in range(self.rng.randint(1, 3))]  # fmt: skip
            after = self.alerts | set(ids)
        command = [sys.executable, "-m", "harness.chaos_alerts", str(self.index_dir), action, *ids]
        run = run_command(command, cwd=ROOT, env=ENV, index_dir=self.index_dir, kill=kill)
        if run.status == 0:
            self.timing["alerts"] = run.timing()
            return Attempt([before], 0, "completed", False, alerts=[after])
        if run.status is None:
            return Attempt([before], 0, "startup", True, alerts=[self.alerts, after])
        tail = run.output.strip().splitlines()[-1:] or ["(no output)"]
        problem = f"`harness.chaos_alerts {action}` failed with status {run.status}: {tail[0]}"
        return Attempt([before], 0, "failed", False, problems=[problem], alerts=[self.alerts])

    def _remove(self, before: State, kill: Kill | None) -> Attempt:
        """`policy-search remove ID…`: one to three articles, never below MIN_ARTICLES."""
        gone = self.rng.sample(sorted(before), k=min(self.rng.randint(1, 3),
                                                     len(before) - MIN_ARTICLES))  # fmt: skip
        after = Write.apply_all([Write("DELETE", aid, None) for aid in gone], before)
        return self._cli("remove", ["remove", *gone], before, after, kill, set())

    def _cli(
        self, scenario: str, args: list[str], before: State, after: State, kill: Kill | None,
        written: set[str],
    ) -> Attempt:  # fmt: skip
        changes = sum(1 for aid in set(before) | set(after) if before.get(aid) != after.get(aid))
        seen = snapshot(self.index_dir)
        run = self.run_cli(args, kill)
        if run.status == 0:
            self.timing[scenario] = run.timing()  # as the machine is now
            return Attempt([after], changes, "completed", False, written, finished=True)
        if run.status is None:
            if kill is not None and scenario in self.timing:  # it ran at least this long
                self.timing[scenario] = self.timing[scenario].at_least(kill.anchor, kill.after)
            return Attempt([before, after], 0, phase(self.index_dir, seen), True, written)
        tail = run.output.strip().splitlines()[-1:] or ["(no output)"]
        problem = f"`policy-search {args[0]}` failed with status {run.status}: {tail[0]}"
        return Attempt([before], 0, "failed", False, written, [problem])

    def _change_corpus(self) -> set[str]:
        """Edit, add and delete files of the corpus folder; the markers written."""
        written: set[str] = set()
        for aid in self.rng.sample(sorted(self.corpus), k=self.rng.randint(1, 3)):
            self._put_corpus(edited := self._edit(self.corpus[aid]))
            written.add(edited.marker)
        for _ in range(self.rng.randint(0, 2)):
            self._put_corpus(added := self.version(self.new_id()))
            written.add(added.marker)
        if self.rng.random() < 0.5 and len(self.corpus) > MIN_ARTICLES:
            aid = self.rng.choice(sorted(self.corpus))
            (self.corpus_dir / f"{aid}.jsonl").unlink()
            del self.corpus[aid]
        return written

    def _additions(self, state: State) -> list[Version]:
        """One to three articles: new ones, or replacements of articles the index holds."""
        versions: list[Version] = []
        for _ in range(self.rng.randint(1, 3)):
            taken = {v.article_id for v in versions}
            free = sorted(set(state) - taken)
            if free and self.rng.random() < 0.4:
                versions.append(self.version(self.rng.choice(free)))
            else:
                versions.append(self.version(self.new_id()))
        return versions

    def _server(self, before: State, kill: Kill | None) -> Attempt:
        """Writes over HTTP to `policy-search serve`, killed `kill.after` s into the stream."""
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        proc = start(self.index_dir, fake=False, port=port, env={"POLICY_SEARCH_API_KEY": KEY})
        stream = Stream(self, base, before, limit=TYPICAL_STREAM if kill is None else 50)
        try:
            wait_until_up(proc, base)
            stream.start()
            if kill is None:
                stream.join()
            else:
                stream.join(timeout=kill.after)
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                stream.join()
        finally:
            stop(proc)
        allowed: list[State] = [stream.state]
        if stream.in_flight is not None:
            allowed.append(stream.in_flight.apply(stream.state))
        landed = "idle"  # killed between writes
        if stream.in_flight is not None and stream.before_in_flight is not None:
            landed = phase(self.index_dir, stream.before_in_flight).replace("startup", "request")
        if kill is None:
            landed = "completed"
            self.timing["server"] = Timing(stream.seconds, stream.seconds, stream.seconds)
        self.served_writes = True  # its merges may have retired segments its readers held
        return Attempt(allowed, len(stream.acknowledged), landed, kill is not None,
                       stream.written, stream.problems, bool(stream.acknowledged))  # fmt: skip

    # -- checks --------------------------------------------------------------------------------

    def check(self, attempt: Attempt, *, same: bool = False) -> tuple[Verdict, list[str]]:
        """Lock, `stats`, a restarted server against the allowed states; then the folder.

        `same`: the round changed no article (a merge), so searches must find exactly the
        passages, in the order, that the last check's found."""
        problems: list[str] = []
        try:
            with writer_lock(self.index_dir, wait=0):
                pass
        except IndexLocked:
            problems.append("the writer lock is held with no writer running")
        stats = self.run_cli(["stats", "--json"], None)
        if stats.status != 0:
            problems.append(f"`policy-search stats` failed ({stats.status}): {stats.output[-300:]}")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        proc = start(self.index_dir, fake=False, port=port, env={"POLICY_SEARCH_API_KEY": KEY})
        try:
            wait_until_up(proc, base)
            retired = attempt.written | {v.marker for s in attempt.allowed for v in s.values()}
            with httpx.Client(base_url=base, timeout=60) as client:
                verdict = verify(client, attempt.allowed, known=self.known,
                                 versions=self.versions, retired=retired)  # fmt: skip
                probed = probe(client)
            if same and self.probed is not None and probed != self.probed:
                problems += [
                    f"after the merge a {key} search finds other passages: {probed.get(key)} "
                    f"(before: {self.probed.get(key)})"
                    for key in sorted(set(probed) | set(self.probed))
                    if probed.get(key) != self.probed.get(key)
                ][:3]
            self.probed = probed
        except RuntimeError as exc:
            verdict = Verdict(problems=[f"the server does not start: {exc}"[:500]])
        finally:
            log = server_log(proc)
            stop(proc)
        if "Traceback" in log:
            problems.append("the server logged a traceback: " + log.strip()[-300:])
        self.alerts, wrong = check_alerts(self.index_dir, attempt.alerts or [self.alerts])
        return verdict, problems + wrong

    # -- rounds --------------------------------------------------------------------------------

    def calibrate(self) -> Round:
        """Time each scenario un-killed (their writes are acknowledged), then check them all."""
        started = time.perf_counter()
        allowed: list[State] = []
        acknowledged, problems = 0, []
        written: set[str] = set()
        alerts = None
        for scenario in self.config.scenarios:
            attempt = self.attempt(scenario, None)
            alerts = attempt.alerts or alerts
            if attempt.alerts:
                self.alerts = attempt.alerts[0]
            problems += attempt.problems
            acknowledged += attempt.acknowledged
            written |= attempt.written
            self.state = dict(attempt.allowed[0])
            allowed = [self.state]
        attempt = Attempt(allowed, acknowledged, "completed", False, written, problems,
                          alerts=alerts)  # fmt: skip
        return self.settle(0, "calibrate", None, attempt, started)

    def round(self, number: int, scenario: str) -> Round:
        """One scenario killed at a random moment, then checked."""
        started = time.perf_counter()
        timing = self.timing[scenario]
        # A write that stages no segment (a removal: tombstones only) has no write or commit
        # moment to anchor at (their spans are 0): its kills count from its start.
        anchors = [a for a in ANCHORS if a == "start" or timing.span(a) > 0]
        anchor = "stream" if scenario == "server" else self.rng.choice(anchors)
        kill = Kill(anchor, self.rng.uniform(0, self.config.window * timing.span(anchor)))
        return self.settle(number, scenario, kill, self.attempt(scenario, kill), started)

    def settle(
        self, number: int, scenario: str, kill: Kill | None, attempt: Attempt, started: float
    ) -> Round:
        """Check a round's outcome and take the state the index is in as the new one."""
        if attempt.finished:  # a write finished: it cleared what earlier kills left
            self.kills_since_finished = 0
            if scenario != "server":  # and, with no reader, what a server had to leave
                self.served_writes = False
        if attempt.killed and attempt.phase != "idle":
            self.kills_since_finished += 1
        verdict, problems = self.check(attempt, same=scenario == "optimize")
        left = garbage(self.index_dir, self.kills_since_finished, held=self.served_writes)
        position = verdict.position
        if position is not None:
            self.state = dict(attempt.allowed[position])
        elif verdict.served is not None:
            self.state = dict(verdict.served)  # carry on from what is there
        return Round(
            number=number, scenario=scenario, kill=kill, phase=attempt.phase,
            killed=attempt.killed, acknowledged=attempt.acknowledged,
            unacknowledged_present=bool(position), articles=len(self.state),
            checked=verdict.articles, searches=verdict.searches, segments=left.named,
            orphans=left.orphans, temporaries=left.temporaries,
            seconds=round(time.perf_counter() - started, 2),
            problems=attempt.problems + problems + verdict.problems + left.problems,
        )  # fmt: skip

    def finish(self) -> Round:
        """A last write, un-killed: it must succeed and leave only the named segments."""
        started = time.perf_counter()
        version = self.version(self.new_id())
        folder = self.work / "adds" / "final"
        folder.mkdir(parents=True)
        self._write_file(folder / f"{version.article_id}.jsonl", [version])
        after = Write.apply_all([Write("PUT", version.article_id, version)], self.state)
        attempt = self._cli(
            "final", ["add", str(folder)], dict(self.state), after, None, {version.marker}
        )
        return self.settle(self.config.rounds + 1, "final", None, attempt, started)


def probe(client: httpx.Client) -> dict[str, list[tuple[str, int]]]:
    """The passages (article id, passage id) some searches find, ranked, by mode and query."""
    found: dict[str, list[tuple[str, int]]] = {}
    for query, mode in itertools.product(PROBES, PROBE_MODES):
        response = client.get(
            "/search", params={"q": query, "mode": mode, "k": 10, "min_confidence": 0}
        )
        hits = response.json()["results"] if response.status_code == 200 else []
        found[f"{mode} {query!r}"] = [(h["article"]["id"], h["passage"]["id"]) for h in hits]
    return found


def scenario_order(rng: random.Random, scenarios: tuple[str, ...], rounds: int) -> list[str]:
    """Scenarios in shuffled bags: random, yet each comes up within every len(scenarios)."""
    order: list[str] = []
    while len(order) < rounds:
        bag = list(scenarios)
        rng.shuffle(bag)
        order += bag
    return order[:rounds]


def run(config: Config) -> dict[str, object]:
    """Set up, calibrate, run the rounds, finish; print a line a round; return the summary."""
    started = time.perf_counter()
    chaos = Chaos(config)
    chaos.setup()
    print(f"chaos: {config.articles} speeches indexed in {chaos.index_dir}", flush=True)
    rounds = [chaos.calibrate()]
    timed = ", ".join(f"{k} {t.start:.2f} s (write {t.write:.2f} s, commit {t.commit:.2f} s)"
                      for k, t in chaos.timing.items())  # fmt: skip
    print(f"un-killed: {timed}", flush=True)
    print(rounds[0].line(config.rounds), flush=True)
    for number, scenario in enumerate(scenario_order(chaos.rng, config.scenarios, config.rounds),
                                      start=1):  # fmt: skip
        rounds.append(chaos.round(number, scenario))
        print(rounds[-1].line(config.rounds), flush=True)
    rounds.append(chaos.finish())
    print(rounds[-1].line(config.rounds), flush=True)
    return summarize(config, chaos, rounds, time.perf_counter() - started)


def summarize(
    config: Config, chaos: Chaos, rounds: list[Round], seconds: float
) -> dict[str, object]:
    """The run's figures."""
    killed = [r for r in rounds if r.killed]
    failed = [r for r in rounds if r.problems]
    return {
        "rounds": config.rounds,
        "seed": config.seed,
        "articles": config.articles,
        "window": config.window,
        "max_chars": config.max_chars,
        "seconds": round(seconds, 1),
        "timing": {k: asdict(t) for k, t in chaos.timing.items()},
        "scenarios": dict(Counter(r.scenario for r in rounds[1:-1])),
        "kills": len(killed),
        "kills_by_scenario": dict(Counter(r.scenario for r in killed)),
        "kills_by_phase": dict(Counter(f"{r.scenario}/{r.phase}" for r in killed)),
        "finished_before_kill": sum(1 for r in rounds[1:-1] if not r.killed),
        "kills_survived": sum(1 for r in killed if not r.problems),
        "acknowledged_writes": sum(r.acknowledged for r in rounds),
        "unacknowledged_present": sum(1 for r in rounds if r.unacknowledged_present),
        "articles_checked": sum(r.checked for r in rounds),
        "marker_searches": sum(r.searches for r in rounds),
        "max_segments": max(r.segments for r in rounds),
        "max_orphans": max(r.orphans for r in rounds),
        "max_temporaries": max(r.temporaries for r in rounds),
        "final_segments": rounds[-1].segments,
        "final_orphans": rounds[-1].orphans,
        "final_temporaries": rounds[-1].temporaries,
        "failures": [
            {"round": r.number, "scenario": r.scenario, "problems": r.problems} for r in failed
        ],
        "per_round": [asdict(r) for r in rounds],
    }


def report(summary: dict[str, object]) -> str:
    """The summary as a few lines."""
    failures = summary["failures"]
    assert isinstance(failures, list)
    return "\n".join([
        f"chaos: {summary['rounds']} rounds in {summary['seconds']} s (seed {summary['seed']}): "
        f"{summary['kills']} kills, {summary['kills_survived']} survived, "
        f"{len(failures)} failures; {summary['finished_before_kill']} runs finished before "
        "their kill",
        f"kills by scenario: {summary['kills_by_scenario']}",
        f"kills by phase: {summary['kills_by_phase']}",
        f"acknowledged writes checked: {summary['acknowledged_writes']}; unacknowledged but "
        f"present: {summary['unacknowledged_present']}; articles checked "
        f"{summary['articles_checked']}, marker searches {summary['marker_searches']}",
        f"index folder: at most {summary['max_segments']} segments, {summary['max_orphans']} "
        f"unnamed segments and {summary['max_temporaries']} staging folders; after the last "
        f"write {summary['final_segments']} segments, {summary['final_orphans']} unnamed, "
        f"{summary['final_temporaries']} staging",
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Run from the command line; 0 when every round passed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    defaults = Config()
    parser.add_argument("--work-dir", type=Path, default=defaults.work_dir)
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("POLICY_SEARCH_DATA_DIR", "../shared/data")),
    )
    parser.add_argument("--articles", type=int, default=defaults.articles)
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help=f"Comma-separated, of {', '.join(SCENARIOS)}.",
    )
    parser.add_argument("--window", type=float, default=defaults.window)
    parser.add_argument(
        "--max-chars", type=int, default=0, help="Cut speeches to about this many characters."
    )
    parser.add_argument("--json", type=Path, default=defaults.json_out, dest="json_out")
    args = parser.parse_args(argv)  # fmt: skip
    scenarios = tuple(s.strip() for s in args.scenarios.split(",") if s.strip())
    if not scenarios or set(scenarios) - set(SCENARIOS):
        parser.error(f"--scenarios takes some of {', '.join(SCENARIOS)}")
    # A SIGTERM unwinds like an error, so that no server or writer this run started lives on.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    config = Config(
        rounds=args.rounds, seed=args.seed, work_dir=args.work_dir, data_dir=args.data_dir,
        articles=args.articles, scenarios=scenarios, window=args.window,
        max_chars=args.max_chars, json_out=args.json_out,
    )  # fmt: skip
    summary = run(config)
    print(report(summary))
    if config.json_out is not None:
        config.json_out.parent.mkdir(parents=True, exist_ok=True)
        config.json_out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return 1 if summary["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
