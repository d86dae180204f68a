"""The model's share of a write, left out of the stand-in indexes' figures."""

from __future__ import annotations

import time

from policy_search.index.analysis.chunk import (
    ChunkSettings,
    chunk_article,
    embed_text,
    title_prefix,
)
from policy_search.index.readers.article import Article

__all__ = ["model_share"]


def model_share(article: Article) -> dict:
    """Seconds the real model takes to embed one speech's passages (loaded once, warmed)."""
    from policy_search.index.analysis.embed import load_embedder

    embedder = load_embedder()
    settings = ChunkSettings()
    prefix = title_prefix(article, embedder, settings)
    texts = [embed_text(prefix, p.text) for p in chunk_article(article, embedder, settings)]
    embedder.encode(texts[:4])
    began = time.perf_counter()
    embedder.encode(texts)
    return {"model": embedder.model_id, "passages": len(texts),
            "seconds": time.perf_counter() - began}  # fmt: skip


# --- The server: its memory and its reads while it writes -----------------------------------
