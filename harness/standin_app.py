"""The real app on the stand-in encoder (`harness.embedders`), for indexes built with it.

    POLICY_SEARCH_INDEX_DIR=DIR POLICY_SEARCH_PORT=PORT python -m harness.standin_app
    uvicorn harness.standin_app:create_app --factory ...

Settings come from the environment (`api/settings.py`: POLICY_SEARCH_INDEX_DIR, _API_KEY,
POLICY_SEARCH_HOST, POLICY_SEARCH_PORT, ...). `python -m` serves one process with the options
`policy-search serve` uses (`policy_search.api.cli.server_options`), in POLICY_SEARCH_WORKERS
processes as serve runs them (`serve_workers`); give it MALLOC_ARENA_MAX=2 in its environment to
match serve's malloc. Only benchmarks of the index's own work: the stand-in's
vectors carry no meaning.
"""

from __future__ import annotations

from fastapi import FastAPI

from harness.embedders import StandInEmbedder
from policy_search.api.app import create_app as _create_app

__all__ = ["create_app"]


def create_app() -> FastAPI:
    """The app from the environment's settings, encoding with the stand-in."""
    return _create_app(embedder=StandInEmbedder())  # settings from the environment


if __name__ == "__main__":
    import uvicorn

    from policy_search.api.cli import serve_workers, server_options
    from policy_search.api.cli_common import settings_from

    settings = settings_from()  # the same environment as the app's
    options = server_options(settings)
    if settings.workers > 1:
        serve_workers(settings, "harness.standin_app:create_app", options)
    else:
        uvicorn.run("harness.standin_app:create_app", factory=True, **options)
