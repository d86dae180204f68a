"""Serve the real app with the fake embedder: for end-to-end plumbing tests (kills, writes).

python -m harness.fake_app INDEX_DIR PORT

With POLICY_SEARCH_WORKERS above 1, that many worker processes serve it as `policy-search serve
--workers` does (`serve_workers`: one socket, one cursor key), and each answer says which worker
gave it in an `X-Worker` header, so a test can send a request to another worker.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Request, Response
from starlette.middleware.base import RequestResponseEndpoint

from harness.embedders import FakeEmbedder
from policy_search.api.app import create_app
from policy_search.api.cli import serve_workers, server_options
from policy_search.api.settings import Settings


def worker_app() -> FastAPI:
    """One worker's app, its settings from the environment `serve_workers` set."""
    app = create_app(Settings(reload_seconds=0.2), embedder=FakeEmbedder())

    @app.middleware("http")
    async def _worker(request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        response.headers["X-Worker"] = str(os.getpid())
        return response

    return app


if __name__ == "__main__":
    settings = Settings(index_dir=Path(sys.argv[1]), reload_seconds=0.2)
    # The served options (slow-client deadlines, connection cap), on this port, quieter.
    options = {**server_options(settings), "port": int(sys.argv[2]), "log_level": "warning"}
    if settings.workers > 1:
        serve_workers(settings, "harness.fake_app:worker_app", options)
    else:
        uvicorn.run(create_app(settings, embedder=FakeEmbedder()), **options)
