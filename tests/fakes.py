"""The fake embedder of plumbing tests (never for relevance): `harness.embedders.FakeEmbedder`.

It lives in the harness because the fake server end-to-end tests start (`harness.fake_app`)
serves it too; tests import it from here.
"""

from __future__ import annotations

from harness.embedders import FakeEmbedder

__all__ = ["FakeEmbedder"]
