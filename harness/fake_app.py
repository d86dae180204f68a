"""Serve the real app with the fake embedder: for end-to-end plumbing tests (kills, writes).

python -m harness.fake_app INDEX_DIR PORT
"""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn

from harness.embedders import FakeEmbedder
from policy_search.api.app import create_app
from policy_search.api.cli import server_options
from policy_search.api.settings import Settings

if __name__ == "__main__":
    settings = Settings(index_dir=Path(sys.argv[1]), reload_seconds=0.2)
    app = create_app(settings, embedder=FakeEmbedder())
    # The served options (slow-client deadlines, connection cap), on this port, quieter.
    options = {**server_options(settings), "port": int(sys.argv[2]), "log_level": "warning"}
    uvicorn.run(app, **options)
