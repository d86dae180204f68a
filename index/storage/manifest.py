"""The index directory's self-description, checked whenever an index is opened."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from policy_search.index.analysis.chunk import ChunkSettings
from policy_search.index.analysis.stemmers import STEMMERS
from policy_search.index.errors import IndexCorrupt, IndexMismatch
from policy_search.index.storage.lexical import LexicalSettings
from policy_search.index.storage.vectors import KINDS, kind_described

__all__ = ["FORMAT_VERSION", "UPGRADABLE", "Manifest", "parse_manifest"]

# 2: the lexical (BM25) index; 3: content hashes, tags, date ranges; 4: BM25 as term-frequency
# postings (words no longer kept in the store); 5: article text compressed; 6: immutable
# segments and a catalog as the commit point; 7: the countries each passage names; 8: the
# analyzer (stemmer, its version, the chain's version) recorded in LexicalSettings, Krovetz
# stems and hyphenated prefixes kept with their word. Versions 5 to 7 are upgraded in place
# without re-embedding by `policy-search upgrade` or the next write (index/storage/upgrade.py);
# older ones are rebuilt.
FORMAT_VERSION = 8
UPGRADABLE = (5, 6, 7)  # the older formats that can be upgraded in place
_ANALYZER_FIELDS = ("stemmer", "stemmer_version", "analysis")  # what format 8 records


@dataclass(frozen=True, slots=True)
class Manifest:
    """What built an index and what its commit holds."""

    model_id: str
    dim: int
    chunking: ChunkSettings
    lexical: LexicalSettings
    articles: int
    passages: int
    generation: int
    built_at: str
    build_seconds: float = 0.0
    format_version: int = FORMAT_VERSION
    normalised: bool = True
    metric: str = "inner_product"
    faiss_index: str = "IDMap2,Flat"
    extra: dict[str, object] = field(default_factory=dict)
    # The kind of vector index (policy_search.index.storage.vectors.KINDS). Manifests written
    # before it was stored lack it: read from `faiss_index` then (parse_manifest).
    vector_kind: str = "flat-fp32"

    def check(self, *, model_id: str, dim: int, index_dir: Path) -> None:
        """Refuse an index that the given model cannot search."""
        how = f"rebuild it with `policy-search index --index-dir {index_dir}`"
        if self.model_id != model_id or self.dim != dim:
            raise IndexMismatch(
                f"index at {index_dir} was built with model {self.model_id!r} ({self.dim} "
                f"dimensions) but the configured model is {model_id!r} ({dim} dimensions); "
                f"{how}, or set POLICY_SEARCH_MODEL={self.model_id}"
            )

    def check_analyzer(self, index_dir: Path) -> None:
        """Refuse an index whose terms this program cannot make (another stemmer or version):
        its queries would be analysed otherwise than its passages were."""
        if not self.lexical.current():
            ours = self.lexical.with_analyzer(self.lexical.stemmer).analyzer_name
            if self.lexical.stemmer not in STEMMERS:
                ours = "no such stemmer"
            raise IndexMismatch(
                f"the index at {index_dir} was analysed with {self.lexical.analyzer_name}, "
                f"this program analyses with {ours}; re-analyse it in place, keeping its "
                f"vectors, with `policy-search upgrade --index-dir {index_dir}`"
            )


def parse_manifest(data: object, where: str) -> Manifest:
    """A manifest from its JSON form (kept in the catalog), validated."""
    try:
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        if data.get("format_version") in UPGRADABLE:
            raise IndexMismatch(
                f"the index in {where} has format version {data['format_version']}, this "
                f"program reads version {FORMAT_VERSION}; upgrade it in place, keeping its "
                "vectors, with `policy-search upgrade` (any write also upgrades it)"
            )
        if data.get("format_version") != FORMAT_VERSION:
            raise IndexMismatch(
                f"the index in {where} has format version {data.get('format_version')}, "
                f"this program reads version {FORMAT_VERSION}; rebuild it with "
                "`policy-search index`"
            )
        data = dict(data)
        data["chunking"] = ChunkSettings(**data["chunking"])
        missing = [name for name in _ANALYZER_FIELDS if name not in data["lexical"]]
        if missing:
            raise ValueError(f"the lexical settings lack {', '.join(missing)}")
        data["lexical"] = LexicalSettings(**data["lexical"])
        if "vector_kind" not in data:
            data["vector_kind"] = kind_described(str(data.get("faiss_index", "IDMap2,Flat")))
        if data["vector_kind"] not in KINDS:
            raise ValueError(f"unknown vector index {data['vector_kind']!r}")
        return Manifest(**data)
    except (ValueError, TypeError, KeyError) as exc:
        raise IndexCorrupt(
            f"the manifest in {where} is unreadable ({exc.__class__.__name__}: {exc}); "
            "rebuild with `policy-search index`"
        ) from None
