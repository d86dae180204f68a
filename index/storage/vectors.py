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
  segment (policy_search.index.storage.store's quantizer), so merging segments concatenates their
  lists.
- `ivf-pq`: IVF lists over product-quantized vectors (48 bytes), ~0.1 KB a passage; the least
  accurate.
- `ivf-rerank`: the `ivf-sq8` lists find n + RERANK candidates, which are scored again exactly
  against the passages' fp16 vectors, kept beside the lists in a file that is memory-mapped
  (only the candidates' rows are read). Its scores are the `flat` kind's; its memory is the
  lists' alone (~0.4 KB a passage). The kind an index picks by itself past
  `policy_search.index.defaults.APPROXIMATE_ABOVE` passages (bench/ann.py).

Each kind is one `VectorKind` in `KINDS`, the one place a kind's name is looked up
(`vector_kind`); the rest of the index asks the kind object, never tests its name. The manifest
stores the name (`Manifest.vector_kind`).

Search-time settings (efSearch, nprobe) live in the index itself, so a loaded index searches as
it was built to. Approximate kinds search a filtered query exactly over the allowed passages'
vectors when those are few (see `EXACT_BELOW`); graph and list searches degrade under filters.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from policy_search.index.errors import IndexStoreError

if TYPE_CHECKING:
    from policy_search.index.storage.segment import LiveSegment

__all__ = [
    "EXACT_BELOW",
    "KINDS",
    "RERANK",
    "VECTOR_INDEXES",
    "Reranked",
    "VectorKind",
    "kind_described",
    "read_index",
    "vector_kind",
    "write_index",
]

HNSW_M = 32
HNSW_EF_CONSTRUCTION = 40  # FAISS's default; build time grows with it
# Short queries (2-4 words) have many near-equal neighbours, so approximate search needs a wide
# beam to return exactly the exact top 10 (bench/ann.py on the 198,198 UN passages: HNSW ef 1024
# recall@10 0.883 at 3.1 ms, 2048 0.933; IVF-SQ8 1024 of 2048 lists 0.970 at 3.4 ms).
HNSW_EF_SEARCH = 1024
IVF_NPROBE = 1024  # at most half the lists (see IvfKind.empty)
# ivf-rerank: lists probed, and candidates re-scored a result wanted. bench/ann.py at 1,000,000
# passages (4,096 lists): nprobe 256 recall@10 0.969 in 2.6% of flat's time (512: 0.986, 5.1%);
# the re-rank corrects SQ8's errors among near-equal neighbours (ivf-sq8 at 256: 0.918).
# The candidates re-scored beyond the n wanted: SQ8's errors are among near-equal neighbours, so
# a margin corrects them at any depth. At 200,000 passages (bench/ann.py's vectors, nprobe 256)
# recall@10 and @200 were the same with 10·n, 4·n, 2·n and n + 100 candidates, and a hybrid
# query's 200 cost 7x less with n + 100 than with 10·n (2,000 fp16 rows read and scored).
RERANK_NPROBE = 256
RERANK = 100
PQ_BYTES = 48  # 384 dimensions in 48 sub-vectors of 8
PQ_MIN_TRAINING = 39 * 256  # FAISS's minimum for 256 codes per sub-vector
EXACT_BELOW = 50_000  # filtered searches over at most this many passages are exact

# The trained, empty index of a trained kind, given the vectors to train it on if there is none
# yet (None: there must be one already).
Trained = Callable[[np.ndarray | None], Any]


def pq_bytes(dim: int) -> int:
    """Bytes of a product-quantized vector: at most PQ_BYTES, a divisor of the dimension."""
    return max(m for m in range(1, PQ_BYTES + 1) if dim % m == 0)


def nlist_for(n: int) -> int:
    """IVF lists for n vectors: ~4·sqrt(n) as a power of two, at least 39 training points each."""
    if n <= 0:
        return 1
    lists = 2 ** round(math.log2(max(1.0, 4 * math.sqrt(n))))
    return int(max(1, min(lists, 65_536, n // 39)))


class VectorKind:
    """One kind of vector index: how it is trained, built, merged (or converted into), searched,
    read back and described. Subclasses differ only where FAISS does."""

    name: ClassVar[str]
    exact: ClassVar[bool] = False  # a search scans every vector: a filter costs no recall
    trains: ClassVar[bool] = False  # its segments start from one trained, empty index

    def empty(self, dim: int, training: np.ndarray) -> Any:
        """An empty index of this kind (trained on `training` where the kind needs it)."""
        raise NotImplementedError

    def build(self, dim: int, vectors: np.ndarray, ids: np.ndarray, trained: Any = None) -> Any:
        """An index holding these vectors under these ids (trained kinds: `trained`'s copy)."""
        faiss = _faiss()
        index = faiss.clone_index(trained) if self.trains else self.empty(dim, vectors)
        if len(ids):
            index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
        return index

    def merge(self, parts: Sequence[LiveSegment], dim: int, trained: Trained) -> Any:
        """One index of this kind holding the live vectors of `parts`, which may be of another
        kind (a conversion is a merge into another kind)."""
        vectors, ids = _live_vectors(parts, dim)
        return self.build(dim, vectors, ids, trained(vectors) if self.trains else None)

    def search(
        self,
        index: Any,
        vector: np.ndarray,
        n: int,
        *,
        allowed: np.ndarray | None = None,
        excluded: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """FAISS's top `n` (scores, ids; -1 for none) for one vector, among `allowed` ids or all
        but `excluded` ones."""
        if allowed is None and excluded is None:
            scores, ids = index.search(vector.reshape(1, -1), n)
            return scores[0], ids[0]
        faiss = _faiss()
        inner = None
        if allowed is not None:
            selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
        else:
            inner = faiss.IDSelectorBatch(np.ascontiguousarray(excluded, dtype=np.int64))
            selector = faiss.IDSelectorNot(inner)
        params = self._params(index)
        params.sel = selector
        scores, ids = index.search(vector.reshape(1, -1), n, params=params)
        del selector, inner  # kept alive until the search is done
        return scores[0], ids[0]

    def _params(self, index: Any) -> Any:
        return _faiss().SearchParameters()

    def reconstruct(self, index: Any, ids: np.ndarray) -> np.ndarray:
        """The stored (decoded) vectors of these ids, in order."""
        return index.reconstruct_batch(np.asarray(ids, dtype=np.int64))

    def describe(self, trained: Any = None) -> str:
        """A FAISS factory-like description, for the manifest (trained kinds: of `trained`)."""
        raise NotImplementedError


class FlatKind(VectorKind):
    """IDMap2 over fp16 scalar-quantized vectors, searched exhaustively (the default)."""

    name = "flat"
    exact = True

    def empty(self, dim: int, training: np.ndarray) -> Any:
        faiss = _faiss()
        return faiss.IndexIDMap2(
            faiss.IndexScalarQuantizer(
                dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
            )
        )

    def describe(self, trained: Any = None) -> str:
        return "IDMap2,SQfp16"


class FlatFp32Kind(VectorKind):
    """IDMap2 over IndexFlatIP: exact to the float."""

    name = "flat-fp32"
    exact = True

    def empty(self, dim: int, training: np.ndarray) -> Any:
        faiss = _faiss()
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    def describe(self, trained: Any = None) -> str:
        return "IDMap2,Flat"


class HnswKind(VectorKind):
    """IDMap2 over an HNSW graph; graphs cannot be merged, so a merge builds one anew."""

    name = "hnsw"

    def empty(self, dim: int, training: np.ndarray) -> Any:
        faiss = _faiss()
        graph = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        graph.hnsw.efSearch = HNSW_EF_SEARCH
        return faiss.IndexIDMap2(graph)

    def describe(self, trained: Any = None) -> str:
        return f"IDMap2,HNSW{HNSW_M},Flat"


class IvfKind(VectorKind):
    """IVF lists over quantized codes, trained once and shared by every segment."""

    trains = True
    code = ""

    nprobe = IVF_NPROBE

    def _code(self, dim: int) -> str:
        return self.code

    def empty(self, dim: int, training: np.ndarray) -> Any:
        faiss = _faiss()
        lists = nlist_for(len(training))
        index = faiss.index_factory(
            dim, f"IVF{lists},{self._code(dim)}", faiss.METRIC_INNER_PRODUCT
        )
        index.cp.max_points_per_centroid = 64  # k-means on a sample: minutes, not an hour
        index.cp.niter = 10
        index.cp.min_points_per_centroid = 1  # small corpora get few lists; no warning
        self._tune(index)
        index.train(np.ascontiguousarray(training, dtype=np.float32))
        index.set_direct_map_type(faiss.DirectMap.Hashtable)  # reconstruct, remove by id
        index.nprobe = max(1, min(self.nprobe, lists // 2))
        return index

    def _tune(self, index: Any) -> None:
        """Kind-specific training settings."""

    def merge(self, parts: Sequence[LiveSegment], dim: int, trained: Trained) -> Any:
        if not all(p.segment.kind is self for p in parts):
            return super().merge(parts, dim, trained)  # a conversion: encoded anew
        merged = _concatenated(trained(None), [(p.segment.vectors, p.dead_ids) for p in parts])
        merged.set_direct_map_type(_faiss().DirectMap.Hashtable)
        return merged

    def _params(self, index: Any) -> Any:
        params = _faiss().SearchParametersIVF()  # IVF refuses generic parameters
        params.nprobe = index.nprobe
        return params

    def describe(self, trained: Any = None) -> str:
        return f"IVF{trained.nlist},{self._code(trained.d)}"


class IvfSq8Kind(IvfKind):
    """IVF lists over 8-bit scalar-quantized vectors."""

    name = "ivf-sq8"
    code = "SQ8"


class IvfPqKind(IvfKind):
    """IVF lists over product-quantized vectors; needs PQ_MIN_TRAINING vectors to train."""

    name = "ivf-pq"

    def _code(self, dim: int) -> str:
        return f"PQ{pq_bytes(dim)}"

    def empty(self, dim: int, training: np.ndarray) -> Any:
        if len(training) < PQ_MIN_TRAINING:
            raise IndexStoreError(
                f"an ivf-pq index needs at least {PQ_MIN_TRAINING:,} passages to train its codes "
                f"(this build has {len(training):,}); use flat or ivf-sq8"
            )
        return super().empty(dim, training)

    def _tune(self, index: Any) -> None:
        # k-means of 256 codes per sub-vector: slow in few dimensions
        index.do_polysemous_training = False  # minutes of annealing, unused by search
        index.pq.cp.niter = 10
        index.pq.cp.max_points_per_centroid = 64


def widened(half: np.ndarray) -> np.ndarray:
    """fp16 values as float32, bit for bit as `astype` makes them, in a quarter of its time
    (numpy's cast takes ~2 ns a value here; a query re-scores ~800 rows of 384): each value's
    bits moved into a float32's places and scaled by 2**112, the two exponent biases apart,
    which is exact for every finite fp16 value, subnormals included, and done in place on one
    array. An array holding an infinity or a NaN (stored vectors never do) takes `astype`."""
    bits = half.view(np.uint16)
    if bool(((bits & 0x7C00) == 0x7C00).any()):
        return half.astype(np.float32)
    wide = bits.astype(np.uint32)
    sign = wide & 0x8000
    wide &= 0x7FFF
    wide <<= 13
    values = wide.view(np.float32)
    values *= np.float32(2.0**112)
    sign <<= 16
    wide |= sign
    return values


class Reranked:
    """An ivf-rerank segment's vectors: IVF-SQ8 lists in memory, and the fp16 vectors the
    candidates are scored against, memory-mapped, in the order of their sorted passage ids."""

    def __init__(self, lists: Any, exact: np.ndarray, ids: np.ndarray) -> None:
        self.lists = lists
        self.exact = exact  # fp16, one row a passage
        self.ids = ids  # ascending: row i holds passage ids[i]
        self.ntotal = int(lists.ntotal)
        self.d = int(lists.d)

    @classmethod
    def of(cls, lists: Any, vectors: np.ndarray, ids: np.ndarray) -> Reranked:
        """These lists with these vectors (float32, rows in `ids`' order) to re-rank against."""
        order = np.argsort(ids, kind="stable")
        exact = np.ascontiguousarray(vectors[order], dtype=np.float16)
        return cls(lists, exact, np.ascontiguousarray(ids[order], dtype=np.int64))

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        """The fp16 vectors of these passage ids (all held here), as float32."""
        rows = np.searchsorted(self.ids, np.asarray(ids, dtype=np.int64))
        return widened(np.asarray(self.exact).take(rows, axis=0))

    def save(self, path: Path) -> None:
        """Write the lists to `path` and the vectors beside it."""
        _faiss().write_index(self.lists, str(path))
        np.save(_exact_path(path), self.exact)
        np.save(_ids_path(path), self.ids)

    @classmethod
    def load(cls, path: Path, lists: Any) -> Reranked:
        """The lists read from `path` (as `lists`) with the vectors beside them, mapped."""
        return cls(lists, np.load(_exact_path(path), mmap_mode="r"),
                   np.load(_ids_path(path), mmap_mode="r"))  # fmt: skip


class IvfRerankKind(IvfSq8Kind):
    """IVF-SQ8 candidates re-scored exactly against memory-mapped fp16 vectors."""

    name = "ivf-rerank"
    nprobe = RERANK_NPROBE
    rerank = RERANK

    def empty(self, dim: int, training: np.ndarray) -> Any:
        index = super().empty(dim, training)
        index.set_direct_map_type(_faiss().DirectMap.NoMap)  # ids are looked up in Reranked
        return index

    def build(self, dim: int, vectors: np.ndarray, ids: np.ndarray, trained: Any = None) -> Any:
        lists = _faiss().clone_index(trained)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if len(ids):
            lists.add_with_ids(vectors, ids)
        return Reranked.of(lists, vectors, np.asarray(ids, dtype=np.int64))

    def merge(self, parts: Sequence[LiveSegment], dim: int, trained: Trained) -> Any:
        if not all(p.segment.kind is self for p in parts):
            return VectorKind.merge(self, parts, dim, trained)  # a conversion: encoded anew
        lists = _concatenated(trained(None), [(p.segment.vectors.lists, p.dead_ids) for p in parts])
        return Reranked.of(lists, *_live_vectors(parts, dim))

    def search(
        self,
        index: Any,
        vector: np.ndarray,
        n: int,
        *,
        allowed: np.ndarray | None = None,
        excluded: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        wanted = min(index.ntotal, n + self.rerank)
        _, ids = super().search(index.lists, vector, wanted, allowed=allowed, excluded=excluded)
        ids = ids[ids >= 0]
        scores = index.vectors(ids) @ vector.reshape(-1).astype(np.float32)
        best = np.argsort(-scores, kind="stable")[:n]
        return scores[best], ids[best]

    def reconstruct(self, index: Any, ids: np.ndarray) -> np.ndarray:
        return index.vectors(ids)

    def describe(self, trained: Any = None) -> str:
        return f"{super().describe(trained)},RFlat16"


def _live_vectors(parts: Sequence[LiveSegment], dim: int) -> tuple[np.ndarray, np.ndarray]:
    """The stored vectors of the live passages of `parts`, and their ids, in order."""
    empty = np.zeros((0, dim), np.float32)
    vectors = np.concatenate([empty, *(p.segment.reconstruct(p.live_ids) for p in parts)])
    return vectors, np.concatenate([np.zeros(0, np.int64), *(p.live_ids for p in parts)])


def _concatenated(trained: Any, parts: Sequence[tuple[Any, np.ndarray]]) -> Any:
    """One IVF index of the lists of `parts` (an index and the ids to leave out), which share
    the `trained` quantizer: every code carried over as is, no direct map."""
    faiss = _faiss()
    merged = faiss.clone_index(trained)
    merged.set_direct_map_type(faiss.DirectMap.NoMap)
    for lists, dead in parts:
        # An owned copy: a segment's lists may be memory-mapped views, which neither
        # remove_ids nor merge_from (it moves codes out of its source) can change.
        index = faiss.deserialize_index(faiss.serialize_index(lists))
        if len(dead):
            index.remove_ids(np.ascontiguousarray(dead, dtype=np.int64))
        index.set_direct_map_type(faiss.DirectMap.NoMap)
        merged.merge_from(index, 0)
    return merged


def _exact_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}.fp16.npy")


def _ids_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}.ids.npy")


def write_index(index: Any, path: Path) -> None:
    """Write a segment's vectors (any kind's) to `path` (and, for ivf-rerank, beside it)."""
    if isinstance(index, Reranked):
        index.save(path)
    else:
        _faiss().write_index(index, str(path))


def read_index(path: Path, lists: Any) -> Any:
    """A segment's vectors, given the FAISS index read from `path`."""
    return Reranked.load(path, lists) if _exact_path(path).exists() else lists


KINDS: dict[str, VectorKind] = {
    kind.name: kind
    for kind in (FlatKind(), FlatFp32Kind(), HnswKind(), IvfSq8Kind(), IvfPqKind(), IvfRerankKind())
}
VECTOR_INDEXES = tuple(KINDS)


def vector_kind(name: str) -> VectorKind:
    """The kind of this name; IndexStoreError for an unknown one."""
    kind = KINDS.get(name)
    if kind is None:
        raise IndexStoreError(
            f"unknown vector index {name!r}; use one of {', '.join(VECTOR_INDEXES)}"
        )
    return kind


def kind_described(description: str) -> str:
    """The kind a `describe` string names: how manifests from before `vector_kind` was stored
    (and format-5 indexes) are read."""
    if "HNSW" in description:
        return "hnsw"
    if description.endswith("RFlat16"):
        return "ivf-rerank"
    if description.startswith("IVF"):
        return "ivf-sq8" if description.endswith("SQ8") else "ivf-pq"
    return "flat" if description.endswith("SQfp16") else "flat-fp32"


def _faiss() -> Any:
    """faiss, untyped: its stubs lack some of what the SWIG module has."""
    import faiss

    return faiss
