"""The vector side of an index: exact (flat) or approximate (HNSW, IVF with SQ8 or PQ) FAISS.

Every kind maps passage ids to vectors, reconstructs a vector by id (for scoring lexical
candidates and for `similar`), and removes by id:

- `flat`: IDMap2 over vectors stored as fp16, searched exhaustively. The default: 0.77 KB a
  passage, and faster than fp32 (half the memory to stream per query); the top 10 are those of
  fp32 (recall@10 1.000 in bench/ann.py), scores differ in the fourth decimal.
- `flat-fp32`: IDMap2 over IndexFlatIP. Exact to the float; 1.5 KB a passage.
- `hnsw`: IDMap2 over IndexHNSWFlat (M 32). Fast and near exact at any size, but 1.8 KB a passage,
  and graphs cannot be merged: each segment has its own graph, and a merge builds the merged
  segment's graph anew from the stored vectors (time grows with the merged size).
- `ivf-sq8`: IVF lists over 8-bit scalar-quantized vectors, ~0.4 KB a passage; lists trained
  (k-means) once, on the vectors of the build that creates the index, and shared by every
  segment (policy_search.index.store's quantizer), so merging segments concatenates their lists.
- `ivf-pq`: IVF lists over product-quantized vectors (48 bytes), ~0.1 KB a passage; the least
  accurate.

Search-time settings (efSearch, nprobe) live in the index itself, so a loaded index searches as
it was built to. Approximate kinds search a filtered query exactly over the allowed passages'
vectors when those are few (see `EXACT_BELOW`); graph and list searches degrade under filters.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from policy_search.index.errors import IndexStoreError

__all__ = [
    "EXACT_BELOW",
    "VECTOR_INDEXES",
    "all_vectors",
    "describe",
    "describe_kind",
    "kind_described",
    "kind_of",
    "new_index",
    "remove_ids",
    "search_params",
]

VECTOR_INDEXES = ("flat", "flat-fp32", "hnsw", "ivf-sq8", "ivf-pq")
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 40  # FAISS's default; build time grows with it
# Short queries (2-4 words) have many near-equal neighbours, so approximate search needs a wide
# beam to return exactly the exact top 10 (bench/ann.py on the 198,198 UN passages: HNSW ef 1024
# recall@10 0.883 at 3.1 ms, 2048 0.933; IVF-SQ8 1024 of 2048 lists 0.970 at 3.4 ms).
HNSW_EF_SEARCH = 1024
IVF_NPROBE = 1024  # at most half the lists (see new_index)
PQ_BYTES = 48  # 384 dimensions in 48 sub-vectors of 8
PQ_MIN_TRAINING = 39 * 256  # FAISS's minimum for 256 codes per sub-vector
EXACT_BELOW = 50_000  # filtered searches over at most this many passages are exact


def pq_bytes(dim: int) -> int:
    """Bytes of a product-quantized vector: at most PQ_BYTES, a divisor of the dimension."""
    return max(m for m in range(1, PQ_BYTES + 1) if dim % m == 0)


def nlist_for(n: int) -> int:
    """IVF lists for n vectors: ~4·sqrt(n) as a power of two, at least 39 training points each."""
    if n <= 0:
        return 1
    lists = 2 ** round(math.log2(max(1.0, 4 * math.sqrt(n))))
    return int(max(1, min(lists, 65_536, n // 39)))


def new_index(kind: str, dim: int, training: np.ndarray) -> Any:
    """An empty index of `kind`; IVF kinds are trained on `training` (vectors to be added)."""
    import faiss

    if kind == "flat":
        return faiss.IndexIDMap2(
            faiss.IndexScalarQuantizer(
                dim, _faiss().ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
            )
        )
    if kind == "flat-fp32":
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    if kind == "hnsw":
        graph = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        graph.hnsw.efSearch = HNSW_EF_SEARCH
        return faiss.IndexIDMap2(graph)
    if kind == "ivf-pq" and len(training) < PQ_MIN_TRAINING:
        raise IndexStoreError(
            f"an ivf-pq index needs at least {PQ_MIN_TRAINING:,} passages to train its codes "
            f"(this build has {len(training):,}); use flat or ivf-sq8"
        )
    if kind in ("ivf-sq8", "ivf-pq"):
        lists = nlist_for(len(training))
        code = "SQ8" if kind == "ivf-sq8" else f"PQ{pq_bytes(dim)}"
        index: Any = faiss.index_factory(dim, f"IVF{lists},{code}", faiss.METRIC_INNER_PRODUCT)
        index.cp.max_points_per_centroid = 64  # k-means on a sample: minutes, not an hour
        index.cp.niter = 10
        index.cp.min_points_per_centroid = 1  # small corpora get few lists; no warning
        if kind == "ivf-pq":  # k-means of 256 codes per sub-vector: slow in few dimensions
            index.do_polysemous_training = False  # minutes of annealing, unused by search
            index.pq.cp.niter = 10
            index.pq.cp.max_points_per_centroid = 64
        index.train(np.ascontiguousarray(training, dtype=np.float32))
        index.set_direct_map_type(_faiss().DirectMap.Hashtable)  # reconstruct, remove by id
        index.nprobe = max(1, min(IVF_NPROBE, lists // 2))
        return index
    raise IndexStoreError(f"unknown vector index {kind!r}; use one of {', '.join(VECTOR_INDEXES)}")


def kind_of(index: Any) -> str:
    """Which of VECTOR_INDEXES a loaded index is."""
    import faiss

    inner = faiss.downcast_index(index.index) if hasattr(index, "id_map") else index
    if isinstance(inner, faiss.IndexHNSW):
        return "hnsw"
    if isinstance(inner, faiss.IndexIVFScalarQuantizer):
        return "ivf-sq8"
    if isinstance(inner, faiss.IndexIVFPQ):
        return "ivf-pq"
    if isinstance(inner, faiss.IndexScalarQuantizer):
        return "flat"
    return "flat-fp32"


def describe(index: Any) -> str:
    """A FAISS factory-like description, for the manifest."""
    return describe_kind(kind_of(index), index)


def describe_kind(kind: str, quantizer: Any = None) -> str:
    """What `describe` says of an index of `kind` (IVF kinds: made from `quantizer`)."""
    if kind == "flat":
        return "IDMap2,SQfp16"
    if kind == "flat-fp32":
        return "IDMap2,Flat"
    if kind == "hnsw":
        return f"IDMap2,HNSW{HNSW_M},Flat"
    code = "SQ8" if kind == "ivf-sq8" else f"PQ{pq_bytes(quantizer.d)}"
    return f"IVF{quantizer.nlist},{code}"


def kind_described(description: str) -> str:
    """The kind a `describe` string (as kept in the manifest) names."""
    if "HNSW" in description:
        return "hnsw"
    if description.startswith("IVF"):
        return "ivf-sq8" if description.endswith("SQ8") else "ivf-pq"
    return "flat" if description.endswith("SQfp16") else "flat-fp32"


def all_vectors(index: Any) -> tuple[np.ndarray, np.ndarray]:
    """(ids, vectors) of everything in the index (vectors decoded for quantized kinds)."""
    import faiss

    if hasattr(index, "id_map"):
        ids = faiss.vector_to_array(index.id_map).astype(np.int64)
        return ids, index.index.reconstruct_n(0, index.ntotal)
    ids = np.concatenate(
        [faiss.rev_swig_ptr(index.invlists.get_ids(i), index.invlists.list_size(i)).copy()
         for i in range(index.nlist)] or [np.zeros(0, dtype=np.int64)]
    ).astype(np.int64)  # fmt: skip
    ids.sort()
    return ids, index.reconstruct_batch(ids) if len(ids) else np.zeros((0, index.d), np.float32)


def remove_ids(index: Any, ids: np.ndarray) -> Any:
    """The index without these ids (the same object, or for HNSW a rebuilt one)."""
    if len(ids) == 0:
        return index
    if kind_of(index) != "hnsw":
        index.remove_ids(np.asarray(ids, dtype=np.int64))
        return index
    kept_ids, vectors = all_vectors(index)
    keep = ~np.isin(kept_ids, ids)
    rebuilt = new_index("hnsw", index.d, vectors[keep])
    if keep.any():
        rebuilt.add_with_ids(vectors[keep], kept_ids[keep])
    return rebuilt


def search_params(
    index: Any, allowed: np.ndarray | None = None, excluded: np.ndarray | None = None
) -> tuple[Any, Any]:
    """(params, selector) restricting a search to `allowed` ids, or to all but `excluded`
    ones; keep the selector alive."""
    import faiss

    if allowed is None and excluded is None:
        return None, None
    inner = None
    selector: Any
    if allowed is not None:
        selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
    else:
        inner = faiss.IDSelectorBatch(np.ascontiguousarray(excluded, dtype=np.int64))
        selector = faiss.IDSelectorNot(inner)
    params: Any = faiss.SearchParameters()
    if hasattr(index, "nprobe"):  # IVF refuses generic parameters
        params = _faiss().SearchParametersIVF()
        params.nprobe = index.nprobe
    params.sel = selector
    return params, (selector, inner)  # the wrapped selector must outlive the search too


def _faiss() -> Any:
    """faiss, untyped: its stubs lack some of what the SWIG module has."""
    import faiss

    return faiss
