"""The `policy-search` command: search, similar, stats, serve, eval (writers in `cli_write`,
saved searches in `cli_alerts`).

Errors raised below are turned into a one-line message and exit status 1 (2 for usage) by
`cli_common.fail_cleanly`.
Heavy libraries are imported inside the commands so that `--help` is instant.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import secrets
import socket
import typing
from pathlib import Path
from typing import Any

try:
    import click
    import pydantic_settings  # noqa: F401 (the settings below need it)
except ImportError as missing:  # the client alone: `pip install policy-search`
    raise SystemExit(
        f"policy-search: the server is not installed ({missing.name} is missing): "
        "pip install 'policy-search[server]'"
    ) from None

from policy_search.api.cli_alerts import alerts_group
from policy_search.api.cli_common import (
    count,
    fail_cleanly,
    index_dir_option,
    json_option,
    model_option,
    record_options,
    settings_from,
)
from policy_search.api.cli_print import print_result
from policy_search.api.cli_write import (
    add_command,
    index_command,
    optimize_command,
    remove_command,
    upgrade_command,
)
from policy_search.api.settings import WORKER_HEALTHCHECK, Settings, force_offline
from policy_search.records import (
    EXPORT_FORMATS,
    CiteRequest,
    Mode,
    SearchRequest,
    SearchResult,
    to_json,
)

if typing.TYPE_CHECKING:
    from policy_search.search.searcher import Searcher

__all__ = ["cli", "main", "serve_workers"]


def _json(record: object) -> str:
    """A wire record as the API would send it, indented (`--json`)."""
    return json.dumps(to_json(record), indent=2, ensure_ascii=False)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option("0.1.0", prog_name="policy-search")
def cli() -> None:
    """Semantic search over policy articles."""
    force_offline()


@cli.command("search")
@click.argument("query")
@record_options(SearchRequest, skip=("q",), flags={"k": "-k"})
@index_dir_option
@model_option
@json_option
@click.option("--full", is_flag=True, help="Print each whole passage, not its snippet.")
@click.option(
    "--format", "export_format", type=click.Choice(EXPORT_FORMATS), default=None,
    help="Write every hit (up to POLICY_SEARCH_EXPORT_LIMIT, from the first) to stdout as "
    "csv or jsonl (a row per passage), bibtex or ris (an entry per article).",
)  # fmt: skip
@fail_cleanly
def search_command(
    query: str,
    index_dir: Path | None,
    model: str | None,
    as_json: bool,
    full: bool,
    export_format: str | None,
    **options: Any,
) -> None:
    """Search the index and print ranked passages (the options are GET /search's)."""
    if export_format and as_json:
        raise click.UsageError("give --json or --format, not both")
    from policy_search.search.filters import Filters
    from policy_search.search.query import parse_query
    from policy_search.search.searcher import Searcher, check_request

    settings = settings_from(index_dir=index_dir, model=model)
    request = SearchRequest(q=query, **options)
    Filters.of(check_request(request), parse_query(request.q))  # fail before loading the model
    searcher = Searcher.load(settings.index_dir, settings.embedder(),
                             fusion=settings.fusion_settings(),
                             articles=settings.article_settings(),
                             ranker=(ranker := settings.ranker()),
                             learned_order=settings.learned_ranker,
                             confidence_floor=settings.floor(ranker))  # fmt: skip
    if export_format:
        _export(searcher, request, export_format, settings)
        return
    result = _paged(settings, searcher, request)
    if as_json:
        click.echo(_json(result))
        return
    print_result(result, full=full)


def _paged(settings: Settings, searcher: Searcher, request: SearchRequest) -> SearchResult:
    """The page, with `next_cursor`; a `--cursor` is followed while the index's newest commit is
    the one it was made at (a run holds no earlier commit)."""
    from policy_search.api.cursors import Pager, local_key

    secret = settings.cursor_key
    key = secret.get_secret_value().encode() if secret else local_key(settings.index_dir)
    pager = Pager(key, ttl=settings.cursor_ttl, limit=1)
    return pager.search(request, searcher)


def _export(searcher: Any, request: SearchRequest, name: str, settings: Settings) -> None:
    """The query's whole result set in an export format, to stdout as it is rendered."""
    from policy_search.api.render import renderer
    from policy_search.api.render.export import export_chunks

    chunks = export_chunks(
        searcher, request, renderer(name), limit=settings.export_limit,
        base_url=settings.page_url(),
    )  # fmt: skip
    for chunk in chunks:
        click.echo(chunk, nl=False)  # bytes: written as they are, to the binary stdout


@cli.command("cite")
@click.argument("article_id")
@record_options(CiteRequest)
@index_dir_option
@json_option
@fail_cleanly
def cite_command(article_id: str, index_dir: Path | None, as_json: bool, **options: Any) -> None:
    """Cite an article, or the span [START, END) of its text, in a style (GET /cite's)."""
    from datetime import UTC, datetime

    from policy_search.api.render import cite
    from policy_search.index.errors import ArticleNotFound
    from policy_search.search.shards import open_corpus

    settings = settings_from(index_dir=index_dir)
    corpus = open_corpus(settings.index_dir)
    try:
        article = corpus.article(article_id)
    finally:
        corpus.close()
    if article is None:
        raise ArticleNotFound(f"no article with id {article_id!r}")
    citation = cite(
        article, CiteRequest(**options), base_url=settings.page_url(),
        accessed=datetime.now(UTC).date(),
    )  # fmt: skip
    if as_json:
        click.echo(_json(citation))
        return
    if citation.quote:
        click.echo(f"“{' '.join(citation.quote.split())}”\n")
    click.echo(citation.text.rstrip("\n"))
    click.echo(f"\n{citation.permalink}")


@cli.command("similar")
@click.argument("article_id")
@click.option("-k", "k", type=int, default=10, show_default=True, help="Articles to return.")
@index_dir_option
@model_option
@json_option
@fail_cleanly
def similar_command(
    article_id: str, k: int, index_dir: Path | None, model: str | None, as_json: bool
) -> None:
    """Articles nearest to one article, not itself."""
    from policy_search.search.searcher import Searcher

    settings = settings_from(index_dir=index_dir, model=model)
    searcher = Searcher.load(settings.index_dir, settings.embedder(),
                             articles=settings.article_settings())  # fmt: skip
    similar = searcher.similar(article_id, k=k)
    if as_json:
        click.echo(_json(similar))
        return
    if not similar.results:
        click.echo("No other articles.")
    for n, item in enumerate(similar.results, start=1):
        a = item.article
        meta = " · ".join(x for x in (a.source, a.author, a.date) if x)
        click.echo(
            f"{n}. {a.title}  [{item.score:.3f}]\n   {a.id}" + (f" · {meta}" if meta else "")
        )


@cli.command("stats")
@index_dir_option
@json_option
@fail_cleanly
def stats_command(index_dir: Path | None, as_json: bool) -> None:
    """What the index holds: counts, sources, dates, generation, size."""
    from policy_search.search.shards import open_corpus

    settings = settings_from(index_dir=index_dir)
    stats = open_corpus(settings.index_dir).stats()
    if as_json:
        click.echo(_json(stats))
        return
    size = stats.bytes_on_disk / 1e6
    click.echo(f"{stats.articles} articles, {stats.passages} passages, generation "
               f"{stats.generation} ({size:.1f} MB), model {stats.model}")  # fmt: skip
    if stats.date_min:
        click.echo(f"dates {stats.date_min} – {stats.date_max}")
    for source in stats.sources[:20]:
        click.echo(f"  {source.articles:>7}  {source.source}")


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options: address, the slow-client deadlines, the connection cap, logging, how
    long the supervisor of several workers waits for one to answer its health check."""
    from policy_search.api.protocol import DeadlineH11Protocol

    return {
        "host": settings.host,
        "port": settings.port,
        # Each request head must arrive within request_timeout (the body has its own deadline
        # in policy_search.api.limits); an idle kept-alive connection is closed after 5 s.
        "http": functools.partial(DeadlineH11Protocol, head_timeout=settings.request_timeout),
        "timeout_keep_alive": 5,
        "limit_concurrency": settings.max_connections,
        "timeout_graceful_shutdown": 10,
        "timeout_worker_healthcheck": WORKER_HEALTHCHECK,
        "log_level": "info",
    }


@cli.command("serve")
@click.option("--host", default=None, help="Listen address [env POLICY_SEARCH_HOST; 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port [env POLICY_SEARCH_PORT; 8000].")
@click.option(
    "--workers", type=click.IntRange(1, 64), default=None,
    help="Server processes [env POLICY_SEARCH_WORKERS; 1].",
)  # fmt: skip
@click.option(
    "--ray", "ray_address", default=None, metavar="ADDRESS",
    help="Serve a sharded index on the Ray cluster at ADDRESS (host:port of its head) "
    "[env POLICY_SEARCH_RAY_ADDRESS].",
)  # fmt: skip
@click.option(
    "--replicas", type=click.IntRange(1, 64), default=None,
    help="With --ray: Ray Serve replicas of each shard [env POLICY_SEARCH_REPLICAS; 1].",
)  # fmt: skip
@index_dir_option
@model_option
@fail_cleanly
def serve_command(
    host: str | None, port: int | None, workers: int | None, ray_address: str | None,
    replicas: int | None, index_dir: Path | None, model: str | None,
) -> None:  # fmt: skip
    """Serve the HTTP API (OpenAPI docs at /docs); with --ray, a sharded index on Ray Serve."""
    import uvicorn

    from policy_search.api.app import create_app

    _few_malloc_arenas()
    settings = settings_from(
        host=host, port=port, workers=workers, index_dir=index_dir, model=model,
        ray_address=ray_address, replicas=replicas,
    )  # fmt: skip
    if settings.ray_address:
        from policy_search.index.distributed.ray_connect import require_ray

        require_ray()  # before the model: without the extra, the install line at once
    embedder = settings.embedder()  # a bad model is a one-line error, not a traceback
    if settings.ray_address:
        _serve_on_ray(settings, embedder)
        return
    options = server_options(settings)
    if settings.workers == 1:
        uvicorn.run(create_app(settings, embedder=embedder), **options)
        return
    del embedder  # each worker loads its own, from the settings passed down in its environment
    serve_workers(settings, "policy_search.api.app:create_app", options)


def serve_workers(settings: Settings, factory: str, options: dict[str, Any]) -> None:
    """Run the app that `factory` (an app factory's import path) makes in `settings.workers`
    processes on one socket, each reading its settings from the environment set here."""
    import uvicorn

    from policy_search.api.metrics import Workers, multiprocess_dir

    os.environ["POLICY_SEARCH_INDEX_DIR"] = str(settings.index_dir)
    os.environ["POLICY_SEARCH_MODEL"] = settings.model
    if settings.cursor_key is None:  # one key for every worker: each reads the others' cursors
        os.environ["POLICY_SEARCH_CURSOR_KEY"] = secrets.token_urlsafe(32)
    config = uvicorn.Config(factory, factory=True, workers=settings.workers, **options)
    sock = config.bind_socket()
    # uvicorn makes this socket with protocol 0, so asyncio leaves TCP_NODELAY off on accepted
    # connections, and a keep-alive client waits out a delayed ACK on every request (56 ms
    # instead of 12 on the UN index); Linux gives accepted connections the listener's option.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    # Each worker counts its metrics in files of this directory, and /metrics sums them.
    with multiprocess_dir(settings.metrics):
        Workers(config, sockets=[sock]).run()


def _serve_on_ray(settings: Settings, embedder: Any) -> None:
    """Deploy the sharded index on the Ray cluster and keep it served until Ctrl-C or SIGTERM;
    then shut Serve down there."""
    import signal
    import threading

    from policy_search.api.ray_serve import deploy

    assert settings.ray_address is not None
    app = deploy(settings, address=settings.ray_address, replicas=settings.replicas,
                 checked_with=embedder)  # fmt: skip
    del embedder  # the ingress loads its own, on the cluster
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    click.echo(
        f"Serving {count(app.shards, 'shard')}, {count(app.replicas, 'replica')} each, on Ray "
        f"at {app.url} "
        "(Ctrl-C to stop)",
        err=True,
    )
    try:
        while not stop.wait(1.0):
            pass
    finally:
        app.stop()


def _few_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's malloc arenas, for this process and the workers it spawns."""
    import ctypes

    os.environ.setdefault("MALLOC_ARENA_MAX", str(arenas))  # read by each spawned worker
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").mallopt(-8, arenas)  # M_ARENA_MAX, for this process


@cli.command("eval")
@click.argument("beir_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option(
    "--mode", type=click.Choice([*typing.get_args(Mode), "all"]), default="hybrid",
    show_default=True,
    help="`all`: a table of every mode and fusion beside the published figures.",
)  # fmt: skip
@click.option("--fusion", type=click.Choice(["score", "rrf"]), default=None, help="Hybrid fusion.")
@click.option("--split", default="test", show_default=True, help="Which qrels/<split>.tsv.")
@click.option(
    "--cache", type=click.Path(path_type=Path), default=None,
    help="Where the dataset's index is kept [default var/eval/<dataset>-<backend>].",
)  # fmt: skip
@model_option
@json_option
@fail_cleanly
def eval_command(
    beir_dir: Path, mode: str, fusion: str | None, split: str, cache: Path | None,
    model: str | None, as_json: bool,
) -> None:  # fmt: skip
    """nDCG@10, P@5, Recall@100 and MRR@10 on a BEIR-layout benchmark."""
    from policy_search.search.evaluate import REFERENCES, evaluate

    settings = settings_from(model=model, fusion=fusion)
    cache = cache or Path("var/eval") / f"{beir_dir.resolve().name}-{settings.backend}"
    embedder = settings.embedder()
    configured = settings.fusion_settings()
    # `all`: both halves, their plain reciprocal rank fusion (no feedback: the baseline the
    # hybrid must beat), and the configured hybrid.
    plain_rrf = dataclasses.replace(configured, method="rrf", prf_weight=0.0)
    ranker = settings.ranker()
    # ... and the configured hybrid without its learned ranker (the fused ranking alone).
    ordering = ranker if settings.learned_ranker else None
    runs = [(mode, configured, ordering)] if mode != "all" else [
        ("dense", configured, ranker), ("lexical", configured, ranker),
        ("hybrid", plain_rrf, None), ("hybrid", configured, None), ("hybrid", configured, ranker),
    ]  # fmt: skip
    reports = []
    for run_mode, run_fusion, run_ranker in runs:
        report = evaluate(
            beir_dir, embedder, cache=cache, mode=run_mode, split=split, fusion=run_fusion,
            batch_size=settings.batch_size, articles=settings.article_settings(),
            ranker=run_ranker,
        )  # fmt: skip
        reports.append(report)
        if as_json:
            click.echo(json.dumps(reports[-1].as_json()))
    if as_json:
        return
    first = reports[0]
    cached = " by an earlier run" if first.index_cached else ""
    click.echo(f"{first.dataset}: {first.queries} queries ({split}); index built in "
               f"{first.index_seconds:.0f} s{cached} (backend {settings.backend})\n")  # fmt: skip
    click.echo(
        f"{'mode':<20}{'nDCG@10':>9}{'P@5':>7}{'R@100':>8}{'MRR@10':>8}{'search s':>10}  published"
    )
    refs = REFERENCES.get(first.dataset, {})
    for r in reports:
        ref = refs.get(r.mode.split(" ")[0], "")
        click.echo(
            f"{r.mode:<20}{100 * r.ndcg_at_10:>9.1f}{100 * r.p_at_5:>7.1f}"
            f"{100 * r.recall_at_100:>8.1f}{100 * r.mrr_at_10:>8.1f}"
            f"{r.search_seconds:>10.2f}  {ref}"
        )


cli.add_command(index_command, "index")
cli.add_command(add_command, "add")
cli.add_command(remove_command, "remove")
cli.add_command(upgrade_command, "upgrade")
cli.add_command(optimize_command, "optimize")
cli.add_command(alerts_group, "alerts")


def main() -> None:
    """Entry point of the `policy-search` console script."""
    # Ray, read when it is first imported (`--ray`): a cluster is joined explicitly
    # (index/distributed/ray_connect.py), never a local Ray started behind our back by a first
    # call, e.g. from a Ray Data thread that outlives the cluster it ran on.
    os.environ.setdefault("RAY_ENABLE_AUTO_CONNECT", "0")
    cli()
