"""The commands that write the index: index, add, remove."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from policy_search.api.cli_common import (
    count,
    fail_cleanly,
    index_dir_option,
    json_option,
    model_option,
    settings_from,
)
from policy_search.api.settings import Settings
from policy_search.index.distributed.shards import MAX_SHARDS
from policy_search.index.storage.vectors import VECTOR_INDEXES

__all__ = [
    "add_command",
    "index_command",
    "optimize_command",
    "remove_command",
    "upgrade_command",
]


@click.command("index")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@index_dir_option
@model_option
@click.option("--batch-size", type=click.IntRange(1, 4096), default=None, help="Passages per call.")
@click.option(
    "--vectors", type=click.Choice(VECTOR_INDEXES), default=None,
    help="Vector index: flat (exhaustive, fp16), flat-fp32 (exact), hnsw, ivf-sq8, ivf-pq or "
    "ivf-rerank (approximate) [env POLICY_SEARCH_VECTOR_INDEX; default: keep the index's; one "
    "that never named a kind is flat up to 50,000 passages, ivf-rerank past them]. Changing it "
    "converts the stored vectors without re-embedding; a kind named is kept from then on.",
)  # fmt: skip
@click.option(
    "--shards", type=click.IntRange(1, MAX_SHARDS), default=None,
    help="Build S shards, the articles split by a hash of their id (`serve --ray` serves each "
    "apart) [default: one index; a sharded index is rebuilt with its own count].",
)  # fmt: skip
@click.option(
    "--ray", "ray_address", default=None, metavar="HOST:PORT",
    help="Read, chunk and embed on this Ray cluster (the `ray` extra) "
    "[env POLICY_SEARCH_RAY_ADDRESS].",
)  # fmt: skip
@click.option(
    "--ray-actors",
    type=click.IntRange(1, 1024),
    default=None,
    help="Embedding actors on the cluster [env POLICY_SEARCH_RAY_ACTORS; 1].",
)
@click.option(
    "--ray-cpus-per-actor",
    type=click.FloatRange(0, 256, min_open=True),
    default=None,
    help="CPUs per embedding actor [env POLICY_SEARCH_RAY_CPUS_PER_ACTOR; 1].",
)
@click.option(
    "--ray-gpus-per-actor", type=click.FloatRange(0, 16), default=None,
    help="GPUs per embedding actor, the model then on CUDA; needs POLICY_SEARCH_BACKEND=torch "
    "[env POLICY_SEARCH_RAY_GPUS_PER_ACTOR; 0].",
)  # fmt: skip
@json_option
@fail_cleanly
def index_command(
    paths: tuple[Path, ...], index_dir: Path | None, model: str | None,
    batch_size: int | None, vectors: str | None, shards: int | None, ray_address: str | None,
    ray_actors: int | None, ray_cpus_per_actor: float | None,
    ray_gpus_per_actor: float | None, as_json: bool,
) -> None:  # fmt: skip
    """Build the index from article files or folders (default: corpus/)."""
    from policy_search.index.build import build_index
    from policy_search.index.distributed.shards import build_sharded
    from policy_search.index.readers import read_paths

    settings = settings_from(
        index_dir=index_dir, model=model, batch_size=batch_size, vector_index=vectors,
        ray_address=ray_address, ray_actors=ray_actors, ray_cpus_per_actor=ray_cpus_per_actor,
        ray_gpus_per_actor=ray_gpus_per_actor,
    )  # fmt: skip
    sources = list(paths) or [Path("corpus")]
    shards = shards or _shard_count(settings.index_dir)
    progress = sys.stderr.isatty() and not as_json

    def chunked(articles: int, passages: int) -> None:
        if not as_json:
            click.echo(f"Read {count(articles, 'article')} into {passages} passages…", err=True)

    if settings.ray_address:
        _print_report(_index_on_ray(sources, settings, shards, chunked), as_json)
        return
    embedder = settings.embedder()
    if shards is not None:
        report = build_sharded(
            list(read_paths(sources)), settings.index_dir, embedder, shards=shards,
            batch_size=settings.batch_size, vectors=settings.vector_index,
        )  # fmt: skip
    else:
        report = build_index(
            read_paths(sources), settings.index_dir, embedder, batch_size=settings.batch_size,
            progress=progress, on_chunked=chunked, vectors=settings.vector_index,
            percolator=_matcher(settings),
        )  # fmt: skip
    _print_report(report, as_json)


def _matcher(settings: Settings) -> Any:
    """What the CLI's writes match the saved alerts with, as the server's writes do."""
    from policy_search.search.percolate import AlertMatcher

    ranker = settings.ranker()
    fusion = None if settings.learned_ranker else settings.fusion_settings()
    return AlertMatcher(ranker, settings.floor(ranker), feed_length=settings.feed_length,
                        fusion=fusion)  # fmt: skip


def _shard_count(index_dir: Path) -> int | None:
    """A sharded index is rebuilt as as many shards as it has (None: not sharded)."""
    from policy_search.index.distributed.shards import ShardSet, is_sharded

    return ShardSet.open(index_dir).count if is_sharded(index_dir) else None


def _index_on_ray(sources: list[Path], settings: Settings, shards: int | None, chunked: Any) -> Any:
    """`index --ray`: the same build, its reading, chunking and embedding on the cluster."""
    from policy_search.index.distributed.ray_connect import require_ray

    require_ray()  # the extra's install line, before the model loads
    if settings.ray_gpus_per_actor and settings.backend != "torch":
        raise click.UsageError(
            "--ray-gpus-per-actor needs the torch backend (POLICY_SEARCH_BACKEND=torch): "
            f"{settings.backend} runs on CPUs"
        )
    from policy_search.index.distributed.ray_ingest import ModelSpec, RayIngest, RayOptions

    assert settings.ray_address is not None
    options = RayOptions(
        settings.ray_address, timeout=settings.ray_timeout, actors=settings.ray_actors,
        cpus_per_actor=settings.ray_cpus_per_actor, gpus_per_actor=settings.ray_gpus_per_actor,
    )  # fmt: skip
    spec = ModelSpec(settings.model, settings.backend, settings.model_cache)
    with RayIngest(options, spec) as cluster:  # joined first: a bad address fails fast
        return cluster.build(
            sources, settings.index_dir, settings.embedder(), shards=shards,
            batch_size=settings.batch_size, vectors=settings.vector_index, on_chunked=chunked,
        )  # fmt: skip


def _print_report(report: Any, as_json: bool) -> None:
    """What a write did: JSON, or a line a person reads."""
    if as_json:
        click.echo(json.dumps({
            "index_dir": str(report.index_dir), "generation": report.generation,
            "articles": report.articles, "passages": report.passages,
            "added": len(report.added), "updated": len(report.updated),
            "removed": len(report.removed),
            "unchanged": report.unchanged, "embedded": report.embedded,
            "seconds": round(report.seconds, 2),
        }))  # fmt: skip
        return
    changes = ", ".join(
        f"{n} {label}"
        for n, label in ((len(report.added), "added"), (len(report.updated), "updated"),
                         (len(report.removed), "removed"), (report.unchanged, "unchanged"))
        if n
    )  # fmt: skip
    click.echo(
        f"Index holds {count(report.articles, 'article')} as {report.passages} passages "
        f"({changes or 'no change'}; {report.embedded} passages embedded) in "
        f"{report.seconds:.1f} s: {report.index_dir}, generation {report.generation}."
    )


def _read_inputs(inputs: tuple[str, ...], settings: Settings) -> list[Any]:
    """Articles from files, folders and URLs."""
    from policy_search.index.readers import is_url, read_paths
    from policy_search.index.readers.fetch import fetch_article

    articles = []
    for item in inputs:
        if is_url(item):
            articles.append(
                fetch_article(
                    item, timeout=settings.fetch_timeout, max_bytes=settings.fetch_max_bytes
                )
            )
        else:
            articles.extend(read_paths([Path(item)]))
    return articles


@click.command("add")
@click.argument("inputs", nargs=-1, required=True)
@index_dir_option
@model_option
@json_option
@fail_cleanly
def add_command(
    inputs: tuple[str, ...], index_dir: Path | None, model: str | None, as_json: bool
) -> None:
    """Add or replace articles from files, folders or URLs (http/https)."""
    from policy_search.index.build import add_articles

    settings = settings_from(index_dir=index_dir, model=model)
    articles = _read_inputs(inputs, settings)  # bad input fails before the model loads
    report = add_articles(articles, settings.index_dir, settings.embedder(),
                          batch_size=settings.batch_size,
                          percolator=_matcher(settings))  # fmt: skip
    _print_report(report, as_json)


@click.command("remove")
@click.argument("article_ids", nargs=-1, required=True)
@index_dir_option
@json_option
@fail_cleanly
def remove_command(article_ids: tuple[str, ...], index_dir: Path | None, as_json: bool) -> None:
    """Remove articles by id (all or none: an unknown id removes nothing)."""
    from policy_search.index.build import remove_articles

    settings = settings_from(index_dir=index_dir)
    _print_report(remove_articles(article_ids, settings.index_dir), as_json)


@click.command("upgrade")
@index_dir_option
@fail_cleanly
def upgrade_command(index_dir: Path | None) -> None:
    """Upgrade an index of an older format (5, 6 or 7) in place, keeping its vectors (an
    index analysed by another version of its stemmer is re-analysed)."""
    from policy_search.index.storage.store import open_catalog
    from policy_search.index.storage.upgrade import upgrade

    settings = settings_from(index_dir=index_dir)
    for directory in _index_dirs(settings.index_dir):  # a sharded index's shards one by one
        # The model's tokenizer cuts long titles when postings are made anew: loaded if needed.
        number = upgrade(directory, embedder=settings.embedder)
        if number is None:
            open_catalog(directory, readonly=True).close()  # no index at all: say so
            click.echo(f"{directory} is already in the current format; nothing to do.")
        else:
            click.echo(f"Upgraded {directory}: generation {number}, vectors kept.")


def _index_dirs(root: Path) -> tuple[Path, ...]:
    """The index folders of `root`: its shards' when it is sharded, else itself."""
    from policy_search.index.distributed.shards import ShardSet, is_sharded

    return ShardSet.open(root).dirs if is_sharded(root) else (root,)


@click.command("optimize")
@index_dir_option
@fail_cleanly
def optimize_command(index_dir: Path | None) -> None:
    """Merge the index into one segment, dropping deleted passages (results do not change)."""
    from policy_search.index.storage.merge import optimize
    from policy_search.index.storage.store import open_catalog

    settings = settings_from(index_dir=index_dir)
    dirs = _index_dirs(settings.index_dir)  # each shard on its own
    for directory in dirs:
        open_catalog(directory, readonly=True).close()  # no index at all: say so
    merged = sum(optimize(directory) for directory in dirs)
    click.echo(f"{settings.index_dir}: " + ("merged into one segment." if merged else
               "already one segment without deletions; nothing to do."))  # fmt: skip
