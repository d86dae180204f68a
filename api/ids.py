"""Article ids in URL paths: they may hold slashes, but never end in `/similar` or `/cite`.

`/articles/{id}/similar` names the articles near `{id}` and `/articles/{id}/cite` its citation,
so an id ending in either could not be fetched, replaced or removed by its own URL. The converter
keeps every article route from matching such a path: `PUT /articles/x/similar` is then a method
that path does not allow (405), not a write to an article called `x/similar`.
"""

from __future__ import annotations

import re

from starlette.convertors import Convertor, register_url_convertor

from policy_search.index.readers.article import RESERVED_ID_SUFFIXES

__all__ = ["ARTICLE_ID_PATH"]


class _ArticleIdConvertor(Convertor[str]):
    regex = ".+" + "".join(f"(?<!{re.escape(suffix)})" for suffix in RESERVED_ID_SUFFIXES)

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("article_id", _ArticleIdConvertor())
#: The path parameter of every route addressing one article.
ARTICLE_ID_PATH = "{article_id:article_id}"
