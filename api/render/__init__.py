"""Output formats and citation styles, one registry entry each (`registry`): CSV and JSON Lines
rows (`rows`), BibTeX and RIS entries (`entries`), APA, Chicago and MLA (`styles`), the
citation record's assembly (`cite`) and streamed exports of a search (`export`)."""

from policy_search.api.render.cite import SpanError, cite, permalink
from policy_search.api.render.registry import (
    RENDERERS,
    STYLES,
    Renderer,
    Style,
    UnknownFormat,
    formats,
    renderer,
    style,
)

__all__ = [
    "RENDERERS",
    "STYLES",
    "Renderer",
    "SpanError",
    "Style",
    "UnknownFormat",
    "cite",
    "formats",
    "permalink",
    "renderer",
    "style",
]
