"""The registries of filters and facets (policy_search/facets.py) are the one place each is
declared: every entry shows up, with its rules, in the query record, the app's spec and
validation, `GET /search/options`, the CLI's options, the client's keywords and the query
syntax, and nothing there names a filter or facet the registries do not hold."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from policy_search import records
from policy_search.api.app import create_app
from policy_search.api.cli import cli
from policy_search.api.settings import Settings
from policy_search.client import QueryOptions
from policy_search.facets import FACETS, FILTERS, RESTRICTIONS, FilterOptions
from policy_search.search.query import parse_query
from tests.fakes import FakeEmbedder

# The query record's fields that are neither filters nor facets.
OTHERS = {"q", "k", "offset", "mode", "explain", "min_score", "min_confidence", "group", "sort",
          "facets", "cursor"}  # fmt: skip
FILTER_NAMES = [f.name for f in FILTERS]
FACET_NAMES = [f.name for f in FACETS]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    # No index: the spec and the options need none.
    index_dir = tmp_path_factory.mktemp("none") / "index"
    app = create_app(Settings(index_dir=index_dir), embedder=FakeEmbedder())
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_the_query_record_has_a_field_for_each_filter_with_its_rules() -> None:
    fields = {f.name: f for f in dataclasses.fields(records.SearchRequest)}
    assert set(fields) - OTHERS == set(FILTER_NAMES)
    hints = typing.get_type_hints(records.SearchRequest)
    for spec in FILTERS:
        f = fields[spec.name]
        assert f.metadata["description"] == spec.description
        assert {k: v for k, v in f.metadata.items() if k != "description"} == spec.rules
        assert hints[spec.name] == typing.get_type_hints(FilterOptions)[spec.name]
        assert spec.many == (f.default_factory is list)


def test_every_filter_and_facet_is_in_the_spec(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    params = {p["name"]: p for p in spec["paths"]["/search"]["get"]["parameters"]}
    assert set(params) - OTHERS - {"format"} == set(FILTER_NAMES)  # format: an export's, no filter
    for f in FILTERS:
        assert params[f.name]["description"] == f.description
    items = params["country"]["schema"]["items"]
    assert items["maxLength"] == FILTERS[FILTER_NAMES.index("country")].rules["items"]["max_length"]
    facets = params["facets"]["schema"]
    assert facets["items"]["enum"] == FACET_NAMES
    body = spec["components"]["schemas"]["SearchRequest"]["properties"]
    assert set(FILTER_NAMES) <= set(body)


def test_the_options_endpoint_serves_the_registries(client: TestClient) -> None:
    options = client.get("/search/options")  # no index loaded: still answered
    assert options.status_code == 200, options.text
    got = records.parse(records.SearchChoices, options.json())
    assert got == records.SearchChoices.offered()
    assert [m.name for m in got.modes] == list(records.MODES)
    assert [s.name for s in got.sorts] == list(records.SORTS)
    assert [(f.name, f.label, f.order, f.filter) for f in got.facets] == [
        (f.name, f.label, f.order, f.filter) for f in FACETS
    ]
    names = [f.name for f in got.filters]
    assert names == list(dict.fromkeys([*FILTER_NAMES, *(r.name for r in RESTRICTIONS)]))
    assert {f.name for f in got.filters if f.request} == set(FILTER_NAMES)
    assert {f.name for f in got.filters if f.syntax} == set(records.QUERY_FIELDS)
    # every facet's values go to a filter the page can set
    assert {f.filter for f in got.facets} <= set(names)


def test_every_filter_and_facet_is_a_cli_option() -> None:
    search = cli.commands["search"]
    options = {p.name: p for p in search.params}
    assert set(FILTER_NAMES) <= set(options)
    for spec in FILTERS:
        assert options[spec.name].help == spec.description
        assert options[spec.name].multiple == spec.many
    assert options["facets"].multiple


def test_every_filter_and_facet_is_a_keyword_of_the_client() -> None:
    keywords = typing.get_type_hints(QueryOptions)
    assert set(FILTER_NAMES) <= set(keywords)
    assert typing.get_args(typing.get_args(keywords["facets"])[0]) == tuple(FACET_NAMES)


@pytest.mark.parametrize("spec", RESTRICTIONS, ids=lambda s: s.name)
def test_every_restriction_is_query_syntax(spec) -> None:
    assert spec.syntax is not None
    example = spec.syntax.split(" or ")[0]
    parsed = parse_query(f"corridor {example}")
    assert [r.name for r in parsed.reading.restrictions] == [spec.name]
    assert spec.name in records.QUERY_FIELDS


def test_every_facet_counts_and_names_as_its_entry_says(fake_index: Path) -> None:
    from policy_search.search.searcher import Searcher

    result = Searcher.load(fake_index, FakeEmbedder()).search(
        "Caspian corridor pipeline", facets=FACET_NAMES, min_score=-1.0
    )
    assert list(result.facets) == FACET_NAMES
    for spec in FACETS:
        values = result.facets[spec.name]
        assert values, spec.name  # the test index has every kind of value
        if spec.order == "value":
            assert [v.value for v in values] == sorted(v.value for v in values)
        else:
            keys = [(-v.count, v.value) for v in values]
            assert keys == sorted(keys)
        assert all((v.name is None) == (spec.names is None) for v in values)
