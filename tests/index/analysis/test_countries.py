"""The countries a passage names: the detector, their rows in the catalog, filters and facets
over them, and the upgrade of a format-6 index that lacks them."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from policy_search.facets import ArticleColumn, PassageCountries
from policy_search.index.analysis.countries import (
    COUNTRY_CODES,
    country_name,
    detector,
    resolve_country,
)
from policy_search.index.build import add_articles, build_index, remove_articles
from policy_search.index.distributed.shards import ShardSet, build_sharded
from policy_search.index.errors import IndexMismatch
from policy_search.index.readers.article import Article
from policy_search.index.storage.catalog import NEW_IN_7, Catalog, Conditions, Texts
from policy_search.index.storage.merge import optimize
from policy_search.index.storage.store import CATALOG, segments_dir
from policy_search.index.storage.upgrade import upgrade
from policy_search.search.searcher import Searcher
from tests.conftest import ARTICLES
from tests.fakes import FakeEmbedder


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Officials in Baku met Azerbaijani diplomats.", ["AZ"]),
        ("Tehran answered; the Kremlin and Moscow did not.", ["IR", "RU"]),
        ("Michael Jordan and Vernon Jordan spoke.", []),
        ("King Hussein of Jordan spoke. In Jordan, refugees wait.", ["JO"]),
        ("Water from the Jordan River.", []),
        ("Voters in Atlanta, Georgia and in Texas.", []),
        ("Georgia and Abkhazia signed.", ["GE"]),
        ("We ate turkey at Thanksgiving.", []),
        ("Turkey and Greece", ["GR", "TR"]),
        ("Guinea-Bissau, Papua New Guinea and Equatorial Guinea", ["GQ", "GW", "PG"]),
        ("Guinea voted.", ["GN"]),
        ("Chad Smith said so.", []),
        ("Chad, Niger and Nigeria", ["NE", "NG", "TD"]),
        ("The Niger River floods.", []),
        ("Zaire and Congo-Brazzaville", ["CD", "CG"]),
        ("Congolese troops left Brazzaville.", ["CG"]),
        ("Korea", ["KR"]),
        ("North Korea and South Korea", ["KP", "KR"]),
        ("Latin America, Central America and the Americas", []),
        ("American workers and Latin American farmers", ["US"]),
        ("George Washington lived in Washington State.", []),
        ("Washington has decided.", ["US"]),
        ("Dominica and the Dominican Republic", ["DM", "DO"]),
        ("South Sudan left Sudan.", ["SD", "SS"]),
        ("New Mexico borders Mexico.", ["MX"]),
        ("The Soviet Union (USSR), Burma and Persia", ["IR", "MM", "RU"]),
        ("a woman from Somalia; Somali pirates", ["SO"]),
        ("the Indian Ocean", []),
        ("the Inter-American system", []),
        ("the Iran-Iraq war", ["IQ", "IR"]),
        ("Côte d’Ivoire", ["CI"]),
        ("the Paris Agreement", []),
        ("British Columbia", []),
        ("fine china and a chad", []),
    ],
)
def test_detects_the_countries_a_text_names(text: str, expected: list[str]) -> None:
    assert detector().detect(text) == expected


def test_codes_names_and_resolution() -> None:
    assert {"US", "RU", "KR", "CD"} <= COUNTRY_CODES and len(COUNTRY_CODES) >= 249
    assert [resolve_country(v) for v in ("ir", "IRN", "iran", "South Korea", "usa")] == [
        "IR", "IR", "IR", "KR", "US",
    ]  # fmt: skip
    assert resolve_country("Atlantis") is None and resolve_country("xx") is None
    assert [country_name(c) for c in ("RU", "IR", "KR", "US")] == [
        "Russia", "Iran", "South Korea", "United States",
    ]  # fmt: skip


def test_importing_the_module_loads_no_data() -> None:
    code = (
        "import sys; import policy_search.index.analysis.countries; "
        "print(any(m in sys.modules for m in ('pycountry', 'babel', 'ahocorasick')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def rows(index_dir: Path) -> set[tuple[str, int, str]]:
    """Every (article id, ordinal, country) the catalog holds, and checks no row is orphaned."""
    conn = sqlite3.connect(index_dir / CATALOG)
    try:
        orphans = conn.execute(
            "SELECT COUNT(*) FROM passage_countries c LEFT JOIN passages p ON p.id = c.passage "
            "WHERE p.id IS NULL OR p.article_rowid != c.article"
        ).fetchone()[0]
        assert orphans == 0
        found = conn.execute(
            "SELECT a.id, p.ordinal, c.country FROM passage_countries c "
            "JOIN passages p ON p.id = c.passage JOIN articles a ON a.rowid = p.article_rowid"
        ).fetchall()
    finally:
        conn.close()
    return {(aid, ordinal, country) for aid, ordinal, country in found}


def test_rows_follow_adds_replacements_removals_and_merges(fake_index: Path) -> None:
    assert rows(fake_index) == {("corridor", 0, c) for c in ("AZ", "CN", "GE", "KZ", "RU")} | {
        ("accords", 0, "AZ"),
        ("accords", 0, "IL"),
    }
    add_articles([Article(id="ir", title="Talks", text="Tehran spoke to Oman.")], fake_index,
                 FakeEmbedder())  # fmt: skip
    replaced = Article(id="accords", title="Abraham Accords", text="Morocco joined.")
    add_articles([replaced], fake_index, FakeEmbedder())
    remove_articles(["corridor"], fake_index)
    expected = {("ir", 0, "IR"), ("ir", 0, "OM"), ("accords", 0, "MA")}
    assert rows(fake_index) == expected
    assert optimize(fake_index) == 1 and rows(fake_index) == expected


def test_reads_filters_and_facets(fake_index: Path) -> None:
    add_articles(
        [Article(id="ir", title="Talks", text="Tehran spoke. " * 200 + "Oman answered.",
                 source="Example Wire", date="2023-02-01", tags=["Gulf"])],
        fake_index, FakeEmbedder(),
    )  # fmt: skip
    catalog = Catalog(fake_index / CATALOG, readonly=True)
    try:
        spans = catalog.article_record("ir", Texts())
        assert spans is not None and len(spans.passages) > 1
        assert spans.passages[0].countries == ["IR"] and spans.passages[-1].countries[-1] == "OM"
        ids = [p.id for p in spans.passages]
        assert [p.start for p in spans.passages] == sorted(p.start for p in spans.passages)
        every = catalog.passage_rows(list(range(10_000)), Texts())
        assert every[ids[0]].countries == ("IR",)
        named = {pid for pid, row in every.items() if {"AZ", "OM"} & set(row.countries)}
        got = catalog.matching_passages(Conditions.of((PassageCountries(), ("AZ", "OM"))))
        assert got is not None and set(got.tolist()) == named
        got = catalog.matching_passages(
            Conditions.of(
                (ArticleColumn("source"), ("example wire", "nobody")),
                (PassageCountries(), ("IR",)),
            )
        )
        assert got is not None and set(got.tolist()) == {
            pid for pid, row in every.items() if "IR" in row.countries
        }
        got = catalog.matching_passages(Conditions.of((ArticleColumn("id", exact=True), ["ir"])))
        assert got is not None and got.tolist() == sorted(ids)
        # Conditions on articles alone are met by articles (a snapshot maps them to passages):
        # None when every article meets them.
        both = Conditions.of((ArticleColumn("source"), ("Example Wire", "Other Source")))
        assert catalog.matching_articles(both) is not None  # an article has no source
        assert catalog.matching_articles(Conditions()) is None
        wire = catalog.matching_articles(
            Conditions.of((ArticleColumn("source"), ("example wire",)))
        )
        assert wire is not None and {every[i].article_rowid for i in ids} <= set(wire.tolist())
        assert all(row.article.source == "Example Wire" for row in every.values()
                   if row.article_rowid in set(wire.tolist()))  # fmt: skip
        _check_facets(catalog, every, [*ids[1:], min(every)])
    finally:
        catalog.close()


def _check_facets(catalog: Catalog, every: dict, ids: list[int]) -> None:
    """facet_counts against a count by hand over the rows of these passages."""
    brute: dict[str, dict[str, set[int]]] = {f: {} for f in ("source", "year", "tag", "country")}
    dates = {pid: row.article.id for pid, row in every.items()}
    for pid in ids:
        row = every[pid]
        values = {
            "source": [row.article.source] if row.article.source else [],
            "year": [d[:4] for d in [catalog.passage_dates([pid]).get(pid)] if d],
            "tag": [t.lower() for t in row.article.tags],
            "country": list(row.countries),
        }
        for facet, found in values.items():
            for value in found:
                brute[facet].setdefault(value, set()).add(row.article_rowid)
    expected = {f: {v: len(a) for v, a in found.items()} for f, found in brute.items()}
    rowids = sorted({every[pid].article_rowid for pid in ids})
    got = catalog.facet_counts(ids, rowids, ["source", "year", "tag", "country"])
    assert {f: {v.lower(): n for v, n in c.items()} for f, c in got.items()} == {
        f: {v.lower(): n for v, n in c.items()} for f, c in expected.items()
    }
    assert set(catalog.passage_dates(ids)) == {p for p in ids if dates[p] in ("ir", "corridor")}


def as_format_6(index_dir: Path) -> None:
    """What the code before format 7 built: no passage_countries, format 6 in the manifest."""
    conn = sqlite3.connect(index_dir / CATALOG)
    try:
        for kind, name in re.findall(r"CREATE (TABLE|INDEX) (\w+)", NEW_IN_7)[::-1]:
            conn.execute(f"DROP {kind} {name}")
        conn.execute(
            "UPDATE meta SET value = json_set(value, '$.format_version', 6) WHERE key = 'manifest'"
        )
        conn.commit()
    finally:
        conn.close()


def segment_bytes(index_dir: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(index_dir)): p.read_bytes()
        for p in segments_dir(index_dir).rglob("*") if p.is_file()
    }  # fmt: skip


def kept_bytes(index_dir: Path) -> list[bytes]:
    """The segments' vectors and articles, whatever their folders are called."""
    found = segment_bytes(index_dir).items()
    return sorted(v for k, v in found if k.endswith(("vectors.faiss", "articles.npy")))


def test_upgrade_6_to_8_in_place_keeps_vectors_and_results(fake_index: Path) -> None:
    before = Searcher.load(fake_index, FakeEmbedder()).search("Caspian route Baku", k=10)
    expected = rows(fake_index)
    as_format_6(fake_index)
    with pytest.raises(IndexMismatch, match="policy-search upgrade"):
        Searcher.load(fake_index, FakeEmbedder())
    vectors = kept_bytes(fake_index)
    # Generation 2: countries added (the catalog alone, generation 1 still), then the postings
    # made anew by the analyzer (tests/index/storage/test_reanalyze.py): the vectors' bytes are
    # untouched.
    assert upgrade(fake_index) == 2
    assert kept_bytes(fake_index) == vectors and rows(fake_index) == expected
    after = Searcher.load(fake_index, FakeEmbedder()).search("Caspian route Baku", k=10)
    assert [(h.passage.id, h.score) for h in after.hits] == [
        (h.passage.id, h.score) for h in before.hits
    ]
    assert upgrade(fake_index) is None


def test_a_write_upgrades_format_6_first(fake_index: Path) -> None:
    as_format_6(fake_index)
    remove_articles(["weather"], fake_index)
    assert {aid for aid, _, _ in rows(fake_index)} == {"corridor", "accords"}


def test_a_sharded_index_is_upgraded_shard_by_shard(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from policy_search.api.cli import cli

    root = tmp_path / "sharded"
    build_sharded(ARTICLES, root, FakeEmbedder(), shards=2)
    dirs = ShardSet.open(root).dirs
    expected = [rows(d) for d in dirs]
    for directory in dirs:
        as_format_6(directory)
    result = CliRunner().invoke(cli, ["upgrade", "--index-dir", str(root)])
    assert result.exit_code == 0 and result.output.count("Upgraded") == len(dirs)
    assert [rows(d) for d in dirs] == expected
    build_index(ARTICLES, tmp_path / "one", FakeEmbedder())
    assert set().union(*expected) == rows(tmp_path / "one")
