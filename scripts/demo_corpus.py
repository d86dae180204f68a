"""Choose the demo corpus from the shared policy data and write it into corpus/.

    .venv/bin/python scripts/demo_corpus.py                    # --data ../shared/data --out corpus
    .venv/bin/python scripts/demo_corpus.py --dry-run          # print the choice, write nothing

Whole statements from the UN General Debate Corpus (CC0) and whole speeches from the Miller
Center's presidential transcripts (public domain), chosen so the questions the product exists for
have answers from several sources: the Middle Corridor, Azerbaijan, the Caspian, the Abraham
Accords' neighbours, energy routes that avoid Russia; then the shortest statements and speeches,
spread across decades and countries (or presidents), until the text budget is spent. Each becomes
one Markdown file (`corpus/<data set>/<id>.md`) whose body is the data set's text, byte for byte:
a text that a Markdown file cannot hold exactly (a carriage return) is never chosen. The choice is
deterministic; rerunning the script on the same data writes the same files. Standard library and
PyYAML only, so it runs before anything is installed but PyYAML.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
UN = "un-general-debates"
PRESIDENTIAL = "us-presidential-speeches"
SEED = ROOT / "corpus" / "azerbaijan-israel-us-partnership.md"  # kept as it is, never written
BUDGET = 1_600_000  # bytes of article text in all, the seed article included

# What the product is asked about; each topic is a pattern counted in a text.
ROUTES = (
    r"Southern Gas Corridor|Baku[-–‑ ]Tbilisi[-–‑ ]Ceyhan|Baku[-–‑ ]Tbilisi[-–‑ ]Kars|"
    r"Trans-?Caspian|TRACECA|Nabucco|TANAP|Trans[- ]Anatolian|Trans[- ]Adriatic"
)
TOPICS: dict[str, re.Pattern[str]] = {
    "Middle Corridor": re.compile(r"Middle Corridor"),
    "Azerbaijan": re.compile(r"Azerbaijan"),
    "Caspian": re.compile(r"Caspian"),
    "Abraham Accords": re.compile(r"Abraham Accords"),
    "energy routes": re.compile(rf"{ROUTES}|\bpipelines?\b|energy (?:routes?|corridors?)"),
    "Caucasus, Central Asia": re.compile(r"Karabakh|Caucasus|Transcaucasia|Central Asia"),
}
WEIGHTS = {"Middle Corridor": 8, "Abraham Accords": 6, "Caspian": 3, "energy routes": 2}
NAMED_ROUTES = re.compile(ROUTES)

# The countries whose statements answer those questions: how many of each, counting those the
# topics chose, the densest in the topics first and spread over the decades (each decade's
# best, then each decade's second best, ...).
CORE = ("AZE", "KAZ", "TKM", "GEO", "ARM")  # the Middle Corridor's and the Caspian's own
NEIGHBOURS = ("TUR", "IRN", "RUS")  # on the region (no Russian statement names the Caspian)
ACCORDS = ("ISR", "ARE", "BHR", "MAR")  # the Abraham Accords' states, from 2020 on
PER_COUNTRY = {**dict.fromkeys(CORE, 6), **dict.fromkeys(NEIGHBOURS + ACCORDS, 3)}
MIN_SCORE = 3  # a Caspian mention, or three of Azerbaijan, or more
PRESIDENTIAL_TOPICS: dict[str, re.Pattern[str]] = {
    "Middle East": re.compile(r"Middle East|Israel|Persian Gulf|Camp David|Palestin|Arab"),
    "energy": re.compile(r"\benergy\b|\boil\b|pipelines?|natural gas|OPEC"),
    "Soviet Union": re.compile(r"Soviet|Russia|Gorbachev|Yeltsin|Ukrain|Kazakhstan|Baltic"),
}
PER_PRESIDENTIAL_TOPIC = 5  # speeches a topic, the densest first
TOPICAL_MAX_BYTES = 25_000  # a longer topical statement or speech is left for a bigger corpus
RECENT = 1992  # a country's tag is its name in the statements since then (country_names)
FILL_MAX_BYTES = 6_000  # the short statements and speeches that make up the numbers


@dataclass(frozen=True)
class Record:
    """One statement or speech as the data set gives it."""

    dataset: str
    row: dict

    @property
    def id(self) -> str:
        return self.row["id"]

    @property
    def text(self) -> str:
        return self.row["text"]

    @property
    def size(self) -> int:
        return len(self.text.encode("utf-8"))

    @property
    def year(self) -> int:
        return int(str(self.row["date"])[:4])

    @property
    def voice(self) -> str:
        """Who speaks: the country (UN) or the president."""
        return self.row.get("country_iso") or self.row.get("president") or ""


@dataclass
class Choice:
    """The records chosen so far, each with the stage that chose it."""

    budget: int
    used: int = 0
    records: dict[str, Record] = field(default_factory=dict)
    stages: dict[str, str] = field(default_factory=dict)

    def take(self, record: Record, stage: str, *, within_budget: bool = False) -> bool:
        if record.id in self.records:
            return False
        if within_budget and self.used + record.size > self.budget:
            return False
        self.records[record.id] = record
        self.stages[record.id] = stage
        self.used += record.size
        return True


def load(path: Path, dataset: str) -> list[Record]:
    """The data set's records that a Markdown file holds exactly, in the data set's order."""
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines]
    return [Record(dataset, r) for r in rows if "\r" not in r["text"] and r["text"].strip()]


def counts(text: str, patterns: dict[str, re.Pattern[str]]) -> dict[str, int]:
    return {name: len(p.findall(text)) for name, p in patterns.items()}


def score(record: Record) -> int:
    """How much a statement says about the product's questions (each topic counted to 3)."""
    found = counts(record.text, TOPICS)
    return sum(WEIGHTS.get(t, 1) * min(n, 3) for t, n in found.items())


def by_decade(records: Iterable[Record], key: Callable[[Record], object]) -> list[Record]:
    """Records in rounds: the best (by `key`) of each decade, then the second best, and so on."""
    decades: dict[int, list[Record]] = collections.defaultdict(list)
    for r in sorted(records, key=key):
        decades[r.year // 10].append(r)
    rounds = []
    for decade, group in decades.items():
        rounds.extend((rank, -decade, r.id, r) for rank, r in enumerate(group))
    return [r for *_, r in sorted(rounds, key=lambda t: t[:3])]


def choose_un(statements: list[Record], choice: Choice) -> None:
    """The UN statements that answer the product's questions."""
    for r in statements:
        if TOPICS["Middle Corridor"].search(r.text):
            choice.take(r, "Middle Corridor")
    for r in statements:
        if TOPICS["Abraham Accords"].search(r.text):
            choice.take(r, "Abraham Accords")
    for r in statements:
        if len(NAMED_ROUTES.findall(r.text)) >= 2:
            choice.take(r, "energy routes")
    for country, wanted in PER_COUNTRY.items():
        own = [
            r for r in statements
            if r.voice == country and r.size <= TOPICAL_MAX_BYTES
            and (score(r) >= MIN_SCORE or (country in ACCORDS and r.year >= 2020))
        ]  # fmt: skip
        taken = sum(r.id in choice.records for r in own)
        for r in by_decade(own, key=lambda r: (-score(r) / r.size, r.id)):
            if taken >= wanted:
                break
            taken += choice.take(r, f"country {country}")


def choose_presidential(speeches: list[Record], choice: Choice) -> None:
    """The speeches densest in each of the presidential topics."""
    for topic, pattern in PRESIDENTIAL_TOPICS.items():
        dense = [
            (-len(pattern.findall(r.text)) / r.size, r.id, r)
            for r in speeches
            if r.size <= TOPICAL_MAX_BYTES and len(pattern.findall(r.text)) >= 5
        ]
        taken = 0
        for *_, r in sorted(dense, key=lambda t: t[:2]):
            if taken >= PER_PRESIDENTIAL_TOPIC:
                break
            taken += choice.take(r, f"speeches on {topic}", within_budget=True)


def fill(records: list[Record], choice: Choice, stage: str, budget: int) -> None:
    """The shortest records, a new voice in each decade first, until `budget` bytes are used."""
    seen: set[tuple[int, str]] = set()
    short = [r for r in records if r.size <= FILL_MAX_BYTES and r.id not in choice.records]
    rounds = []
    for r in sorted(short, key=lambda r: (r.size, r.id)):
        fresh = (r.year // 10, r.voice) not in seen
        seen.add((r.year // 10, r.voice))
        rounds.append((not fresh, r.size, r.id, r))
    for *_, r in sorted(rounds, key=lambda t: t[:3]):
        if choice.used + r.size > budget:
            continue
        choice.take(r, stage)


def country_names(statements: list[Record]) -> dict[str, str]:
    """One tag a country, so that a tag filter finds all its statements: the data set spells
    some several ways ("Azerbaijan", "Republic of Azerbaijan"), so each country's most frequent
    name since 1992 (Russia, not the Soviet Union), or of all years for a country gone by then."""
    recent: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    every: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for r in statements:
        every[r.row["country_iso"]][r.row["country"]] += 1
        if r.year >= RECENT:
            recent[r.row["country_iso"]][r.row["country"]] += 1
    return {
        iso: min(c, key=lambda name: (-c[name], name))
        for iso, c in ((iso, recent.get(iso) or names) for iso, names in every.items())
    }


def front_matter(record: Record, names: dict[str, str]) -> dict[str, object]:
    """The article's fields as the data set names them; the tag is the speaker's country."""
    row = record.row
    meta: dict[str, object] = {"id": row["id"], "title": row["title"], "source": row["source"]}
    author = row.get("speaker") if record.dataset == UN else row.get("president")
    if author:
        meta["author"] = author
    meta["date"] = str(row["date"])
    if row.get("url"):
        meta["url"] = row["url"]
    meta["tags"] = [names[row["country_iso"]]] if record.dataset == UN else ["United States"]
    return meta


def markdown(record: Record, names: dict[str, str]) -> str:
    """The file: YAML front matter, then the text exactly as the data set has it."""
    meta = yaml.safe_dump(
        front_matter(record, names),
        sort_keys=False,
        allow_unicode=True,
        width=10**6,
        default_flow_style=None,
    )
    return f"---\n{meta}---\n{record.text}\n"


def write(choice: Choice, out: Path, names: dict[str, str]) -> int:
    """Write one file an article into out/<data set>/, removing files no longer chosen; the
    bytes written."""
    written = 0
    for dataset in (UN, PRESIDENTIAL):
        folder = out / dataset
        folder.mkdir(parents=True, exist_ok=True)
        keep = {f"{r.id}.md" for r in choice.records.values() if r.dataset == dataset}
        for stale in folder.glob("*.md"):
            if stale.name not in keep:
                stale.unlink()
    for r in choice.records.values():
        data = markdown(r, names).encode("utf-8")
        (out / r.dataset / f"{r.id}.md").write_bytes(data)
        written += len(data)
    return written


def report(choice: Choice, seed: Path, written: int | None) -> None:
    """What was chosen: counts by data set, stage, topic and decade, the seed article included."""
    records = list(choice.records.values())
    seed_text = seed.read_text(encoding="utf-8").split("---\n", 2)[2].strip()
    texts = [seed_text] + [r.text for r in records]
    files = f", {written + seed.stat().st_size:,} bytes of files" if written is not None else ""
    print(f"{len(texts)} articles (the seed article and {len(records)} chosen), "
          f"{sum(len(t.encode()) for t in texts):,} bytes of text{files}")  # fmt: skip
    for dataset in (UN, PRESIDENTIAL):
        mine = [r for r in records if r.dataset == dataset]
        print(f"  {dataset}: {len(mine)} articles, {sum(r.size for r in mine):,} bytes, "
              f"{len({r.voice for r in mine})} voices")  # fmt: skip
    print("by stage (articles, bytes):")
    sizes: dict[str, list[int]] = collections.defaultdict(list)
    for r in records:
        sizes[choice.stages[r.id]].append(r.size)
    for stage, n in sizes.items():
        print(f"  {len(n):4d} {sum(n):>9,}  {stage}")
    print("articles mentioning each topic (voices: countries or presidents):")
    for topic, pattern in {**TOPICS, **PRESIDENTIAL_TOPICS}.items():
        hits = [r for r in records if pattern.search(r.text)]
        seed_too = " and the seed article" if pattern.search(seed_text) else ""
        print(f"  {len(hits) + bool(seed_too):4d}  {topic}  "
              f"({len({r.voice for r in hits})} voices{seed_too})")  # fmt: skip
    decades = collections.Counter(f"{r.year // 10 * 10}s" for r in records)
    print("by decade: " + ", ".join(f"{d} {n}" for d, n in sorted(decades.items())))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "corpus")
    parser.add_argument("--budget", type=int, default=BUDGET, help="bytes of text in all")
    parser.add_argument("--dry-run", action="store_true", help="print the choice only")
    args = parser.parse_args(argv)
    policy = args.data / "policy"
    if not policy.is_dir():
        print(f"error: no policy data at {policy}; pass --data", file=sys.stderr)
        return 1
    statements = load(policy / UN / "articles.jsonl.gz", UN)
    speeches = load(policy / PRESIDENTIAL / "articles.jsonl.gz", PRESIDENTIAL)
    seed_bytes = len(SEED.read_text(encoding="utf-8").split("---\n", 2)[2].strip().encode())
    choice = Choice(budget=args.budget - seed_bytes)
    choose_un(statements, choice)
    choose_presidential(speeches, choice)
    # What is left goes two to one to UN statements, the rest to short speeches.
    left = choice.budget - choice.used
    fill(statements, choice, "short UN statements", choice.used + left * 2 // 3)
    fill(speeches, choice, "short speeches", choice.budget)
    names = country_names(statements)
    written = None if args.dry_run else write(choice, args.out, names)
    report(choice, SEED, written)
    return 0


if __name__ == "__main__":
    sys.exit(main())
