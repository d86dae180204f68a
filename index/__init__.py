"""Build and update the index: read articles, chunk them, embed them, store them.

Knows nothing of search or HTTP. Its errors, one tree under `PolicySearchError`, are in
`policy_search.index.errors`.
"""

from policy_search.index.analysis.chunk import ChunkSettings, Passage, chunk_article, embed_text
from policy_search.index.analysis.embed import DEFAULT_MODEL, Embedder, load_embedder
from policy_search.index.build import BuildReport, add_articles, build_index, remove_articles
from policy_search.index.readers import read_file, read_paths
from policy_search.index.readers.article import Article, make_article
from policy_search.index.storage.manifest import FORMAT_VERSION, Manifest
from policy_search.index.storage.writer import IndexWriter, OpenMode, WriteOptions

__all__ = [
    "DEFAULT_MODEL",
    "FORMAT_VERSION",
    "Article",
    "BuildReport",
    "ChunkSettings",
    "Embedder",
    "IndexWriter",
    "Manifest",
    "OpenMode",
    "Passage",
    "WriteOptions",
    "add_articles",
    "build_index",
    "chunk_article",
    "embed_text",
    "load_embedder",
    "make_article",
    "read_file",
    "read_paths",
    "remove_articles",
]
