"""Metadata that documents carry (an HTML page's meta tags, a PDF's info dictionary) as text.

The HTML and PDF readers share this: such values are free strings, often with control
characters and line breaks, or not strings at all.
"""

from __future__ import annotations

import re

__all__ = ["clean_metadata"]

_SPACE = re.compile(r"\s+")


def clean_metadata(value: object) -> str | None:
    """A metadata value as one printable line of text, or None when empty or not a string."""
    if not isinstance(value, str):
        return None
    text = _SPACE.sub(" ", "".join(c if c.isprintable() else " " for c in value)).strip()
    return text or None
