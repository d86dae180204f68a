"""`policy-search alerts`: saved searches whose new matches go to an Atom feed.

As `search` and `add` do, the commands open the index directory (`--index-dir`) and save, list
and remove alerts there through what the API's routes call; with `--url` they ask the server at
that address instead (POST/GET/DELETE /alerts, with the API key), through the Python client.
Either way each is the same four calls (`follow`, `alerts`, `unfollow`, `feed`, the client's
names), so a command is written once for both.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol, TypeVar

import click

from policy_search.api.cli_common import (
    fail_cleanly,
    index_dir_option,
    json_option,
    model_option,
    record_options,
    settings_from,
)
from policy_search.api.settings import Settings
from policy_search.facets import FILTERS
from policy_search.records import Alert, AlertCreated, AlertList, AlertRequest, to_json

__all__ = ["alerts_group"]

F = TypeVar("F", bound=Callable[..., Any])


class _Alerts(Protocol):
    """Where alerts are kept: the index directory, or a server (`policy_search.Client`)."""

    def follow(self, q: AlertRequest) -> AlertCreated: ...
    def alerts(self) -> list[Alert]: ...
    def unfollow(self, alert_id: str) -> None: ...
    def feed(self, alert_id: str) -> str: ...


class _IndexAlerts:
    """The alerts kept in the index directory, saved, listed and read by what the routes call
    (policy_search.api.alerts); the feed's address is on POLICY_SEARCH_PUBLIC_URL (or `serve`'s)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _feed_url(self, alert_id: str) -> str:
        return f"{self.settings.page_url()}/alerts/{alert_id}/feed"

    def follow(self, q: AlertRequest) -> AlertCreated:
        """Compile the query against the index (its analysis; the model's vector unless
        lexical) and save it, as POST /alerts does."""
        from policy_search.api.alerts import new_alert
        from policy_search.index.storage.alerts import save_alert
        from policy_search.search.searcher import Searcher

        settings = self.settings
        embedder = settings.embedder()
        searcher = Searcher.load(settings.index_dir, embedder)
        alert = new_alert(q, searcher.analyzer, lambda t: embedder.encode([t])[0])
        save_alert(settings.index_dir, alert, limit=settings.max_alerts)
        return AlertCreated(id=alert.id, feed=self._feed_url(alert.id))

    def alerts(self) -> list[Alert]:
        """Every saved alert, newest first, as GET /alerts lists them."""
        from policy_search.index.storage.alerts import list_alerts

        return [
            Alert(**a.request, id=a.id, created=a.created, feed=self._feed_url(a.id),
                  matched=a.matched)
            for a in list_alerts(self.settings.index_dir)
        ]  # fmt: skip

    def unfollow(self, alert_id: str) -> None:
        """Delete the alert and its matches (AlertNotFound if none has the id)."""
        from policy_search.index.storage.alerts import delete_alert

        delete_alert(self.settings.index_dir, alert_id)

    def feed(self, alert_id: str) -> str:
        """The alert's Atom feed, as GET /alerts/{id}/feed writes it."""
        from policy_search.api.alerts import atom_feed
        from policy_search.index.storage.alerts import alert_feed

        settings = self.settings
        alert, matches = alert_feed(settings.index_dir, alert_id, settings.feed_length)
        atom = atom_feed(alert, matches, settings.page_url(), self._feed_url(alert_id))
        return atom.decode("utf-8")


def _where(func: F) -> F:
    """The options that say where the alerts are: the index (and its model), or a server."""
    func = click.option(
        "--key", default=None, metavar="KEY",
        help="With --url: the server's API key [env POLICY_SEARCH_API_KEY].",
    )(func)  # fmt: skip
    func = click.option(
        "--url", default=None, metavar="URL",
        help="Ask the server at URL (e.g. http://127.0.0.1:8000) instead of opening the index.",
    )(func)  # fmt: skip
    return index_dir_option(func)


@contextlib.contextmanager
def _opened(
    url: str | None, key: str | None, index_dir: Path | None, model: str | None = None
) -> Iterator[_Alerts]:
    """The alerts' keeper for these options; a server's refusal is a one-line error, exit 1."""
    if url is None:
        if key is not None:
            raise click.UsageError("--key goes with --url (the index needs no key)")
        yield _IndexAlerts(settings_from(index_dir=index_dir, model=model))
        return
    if index_dir is not None:
        raise click.UsageError("give --url or --index-dir, not both")
    from policy_search.client import Client, SearchAPIError

    if key is None and (secret := settings_from().api_key) is not None:
        key = secret.get_secret_value()
    try:
        client = Client(url, api_key=key)
    except ValueError as exc:  # a URL that is not http(s)
        raise click.BadParameter(str(exc), param_hint="--url") from None
    try:
        with client:
            yield client
    except SearchAPIError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


def _json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _filters(alert: Alert | AlertRequest) -> str:
    """The filters an alert has, as `name: value` pairs, in the registry's order."""
    said = []
    for spec in FILTERS:
        value = getattr(alert, spec.name)
        if value not in (None, [], ""):
            shown = ", ".join(value) if isinstance(value, list) else value
            said.append(f"{spec.name.replace('_', ' ')}: {shown}")
    return " · ".join(said)


@click.group("alerts")
def alerts_group() -> None:
    """Follow searches: the passages of articles written afterwards that match go to a feed."""


@alerts_group.command("add")
@click.argument("query")
@record_options(AlertRequest, skip=("q",))
@_where
@model_option
@json_option
@fail_cleanly
def add_command(
    query: str, url: str | None, key: str | None, index_dir: Path | None, model: str | None,
    as_json: bool, **options: Any,
) -> None:  # fmt: skip
    """Follow QUERY (with a search's mode, floor and filters); print its feed's address."""
    from policy_search.search.filters import Filters
    from policy_search.search.query import parse_query
    from policy_search.search.searcher import check_request

    request = AlertRequest(q=query, **options)
    search = request.search()
    Filters.of(check_request(search), parse_query(search.q))  # refused before any model or call
    with _opened(url, key, index_dir, model) as where:
        created = where.follow(request)
    if as_json:
        _json(to_json(created))
        return
    about = " · ".join(x for x in (request.mode, _filters(request)) if x)
    click.echo(f"Following “{request.q}” ({about}): alert {created.id}.")
    click.echo(f"Its Atom feed of new matching passages: {created.feed}")


@alerts_group.command("list")
@_where
@json_option
@fail_cleanly
def list_command(url: str | None, key: str | None, index_dir: Path | None, as_json: bool) -> None:
    """The saved alerts, newest first: query, filters, entries and feed."""
    with _opened(url, key, index_dir) as where:
        alerts = where.alerts()
    if as_json:
        _json(to_json(AlertList(alerts=alerts)))
        return
    if not alerts:
        click.echo("No alerts saved.")
    for alert in alerts:
        entries = f"{alert.matched} entr{'y' if alert.matched == 1 else 'ies'}"
        about = " · ".join(x for x in (alert.mode, _filters(alert)) if x)
        click.echo(f"{alert.id}  “{alert.q}”  ({about})")
        click.echo(f"   saved {alert.created} · {entries} · {alert.feed}")


@alerts_group.command("remove")
@click.argument("alert_id")
@_where
@json_option
@fail_cleanly
def remove_command(
    alert_id: str, url: str | None, key: str | None, index_dir: Path | None, as_json: bool
) -> None:
    """Stop following: delete the alert ALERT_ID and its feed."""
    with _opened(url, key, index_dir) as where:
        where.unfollow(alert_id)
    if as_json:
        _json({"removed": alert_id})
        return
    click.echo(f"Removed alert {alert_id}.")


@alerts_group.command("feed")
@click.argument("alert_id")
@_where
@fail_cleanly
def feed_command(alert_id: str, url: str | None, key: str | None, index_dir: Path | None) -> None:
    """Print the Atom feed of the alert ALERT_ID (XML), newest entries first."""
    with _opened(url, key, index_dir) as where:
        feed = where.feed(alert_id)
    click.echo(feed.rstrip("\n"))
