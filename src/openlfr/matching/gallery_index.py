"""Gallery search: one ``GalleryIndex`` interface, the exact matrix product as the reference and an
approximate FAISS index (IVF lists with int8 scalar-quantised codes) as the embedded default.

A gallery holds millions of templates (custody images), so unlike a watchlist it needs an index
(DESIGN.md, "Storage and scale"). Ids are int64 template ids chosen by the caller (the gallery store's
template rows); several ids may belong to one person, which the caller folds.

Why IVF-SQ8 (measured by ``benchmarks/gallery_index.py``, figures in the README): it builds in seconds
(a k-means on a sample, then one assignment per vector), its int8 codes take 1 byte per dimension
(128 MB for 1M x 128-d), a removal is an in-place delete from one inverted list (so "removal is
immediate" holds without a rebuild), and recall@20 against exact stays above 0.99 at a handful of
milliseconds. HNSW graphs search as fast but take minutes to build at 1M on two cores and cannot
delete in place (FAISS) or only by tombstone (usearch).

Until enough templates exist to train the coarse quantiser, templates sit in an exact buffer, so a small
gallery is searched exactly and a growing one moves to the approximate index on its own.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from openlfr.vision.face import FloatArray, l2_normalise

IdArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class GalleryHit:
    """One gallery template returned for a probe: its id and cosine similarity, and rank (1 = best)."""

    template_id: int
    score: float
    rank: int


class GalleryIndex(ABC):
    """Templates (L2-normalised, inner product = cosine similarity) searched by id.

    ``remove`` takes effect for the very next ``search`` (a custody image of someone never charged must
    stop being findable at once).
    """

    dim: int

    @abstractmethod
    def add(self, ids: npt.ArrayLike, vectors: npt.ArrayLike) -> None:
        """Add templates under the given ids (ids must be new)."""

    @abstractmethod
    def remove(self, ids: Iterable[int]) -> int:
        """Remove templates by id; returns how many were present."""

    @abstractmethod
    def search_arrays(self, probes: npt.ArrayLike, k: int) -> tuple[FloatArray, IdArray]:
        """Scores and ids (``-1`` where fewer than ``k`` exist), each probes x k, best first."""

    @abstractmethod
    def __len__(self) -> int: ...

    def search(self, probes: npt.ArrayLike, k: int = 20) -> list[list[GalleryHit]]:
        scores, ids = self.search_arrays(probes, k)
        return [
            [
                GalleryHit(int(i), float(s), r + 1)
                for r, (s, i) in enumerate(zip(row_s, row_i, strict=True))
                if i >= 0
            ]
            for row_s, row_i in zip(scores, ids, strict=True)
        ]

    def _prepare(self, ids: npt.ArrayLike, vectors: npt.ArrayLike) -> tuple[IdArray, FloatArray]:
        i = np.asarray(ids, dtype=np.int64).reshape(-1)
        v = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        if v.shape[0] != i.shape[0]:
            raise ValueError(f"{v.shape[0]} vectors but {i.shape[0]} ids")
        if v.shape[0] and v.shape[1] != self.dim:
            raise ValueError(f"vectors have {v.shape[1]} dimensions, the gallery index {self.dim}")
        return i, np.ascontiguousarray(l2_normalise(v) if v.shape[0] else v)

    def _probes(self, probes: npt.ArrayLike) -> FloatArray:
        p = np.atleast_2d(np.asarray(probes, dtype=np.float32))
        if p.shape[1] != self.dim:
            raise ValueError(f"probe has {p.shape[1]} dimensions, the gallery index {self.dim}")
        return np.ascontiguousarray(l2_normalise(p))


def _top_k(sims: FloatArray, ids: IdArray, k: int) -> tuple[FloatArray, IdArray]:
    """Best ``k`` columns of each row of ``sims`` (padded with -inf / -1)."""
    n, m = sims.shape
    out_s = np.full((n, k), -np.inf, np.float32)
    out_i = np.full((n, k), -1, np.int64)
    kk = min(k, m)
    if kk == 0:
        return out_s, out_i
    top = np.argpartition(-sims, kk - 1, axis=1)[:, :kk] if kk < m else np.tile(np.arange(m), (n, 1))
    part = np.take_along_axis(sims, top, axis=1)
    order = np.argsort(-part, axis=1, kind="stable")
    top = np.take_along_axis(top, order, axis=1)
    out_s[:, :kk] = np.take_along_axis(sims, top, axis=1)
    out_i[:, :kk] = ids[top]
    return out_s, out_i


def _merge(
    a: tuple[FloatArray, IdArray], b: tuple[FloatArray, IdArray], k: int
) -> tuple[FloatArray, IdArray]:
    s = np.concatenate([a[0], b[0]], axis=1)
    i = np.concatenate([a[1], b[1]], axis=1)
    order = np.argsort(-s, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(s, order, axis=1), np.take_along_axis(i, order, axis=1)


class ExactGalleryIndex(GalleryIndex):
    """The reference: every template as float32, searched by one matrix product."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._ids: IdArray = np.zeros(0, np.int64)
        self._vectors: FloatArray = np.zeros((0, dim), np.float32)

    def __len__(self) -> int:
        return int(self._ids.shape[0])

    @property
    def ids(self) -> IdArray:
        return self._ids.copy()

    @property
    def vectors(self) -> FloatArray:
        return self._vectors

    def add(self, ids: npt.ArrayLike, vectors: npt.ArrayLike) -> None:
        i, v = self._prepare(ids, vectors)
        if np.isin(i, self._ids).any():
            raise ValueError("some ids are already in the gallery index")
        self._ids = np.concatenate([self._ids, i])
        self._vectors = np.concatenate([self._vectors, v]) if len(self) > len(i) else v.copy()

    def remove(self, ids: Iterable[int]) -> int:
        gone = np.isin(self._ids, np.fromiter(ids, np.int64))
        n = int(gone.sum())
        if n:
            self._ids = self._ids[~gone]
            self._vectors = self._vectors[~gone]
        return n

    def search_arrays(self, probes: npt.ArrayLike, k: int) -> tuple[FloatArray, IdArray]:
        p = self._probes(probes)
        return _top_k(p @ self._vectors.T, self._ids, k)


def suggested_lists(n: int) -> int:
    """IVF list count for ``n`` templates: about sqrt(n), a power of two (1024 at 1M). More lists would
    scan less per search but cost a k-means over more centroids, which on two cores dominates the build."""
    return int(2 ** round(math.log2(max(16.0, math.sqrt(max(n, 1))))))


class IvfGalleryIndex(GalleryIndex):
    """FAISS ``IndexIVFScalarQuantizer`` (int8 codes, inner product) plus an exact buffer until trained.

    ``nprobe`` is how many inverted lists a search visits (recall against speed; the benchmark measures
    it). ``train_after`` is how many templates the exact buffer holds before the quantiser is trained on
    them; later additions go straight to the IVF lists.
    """

    def __init__(
        self,
        dim: int,
        nprobe: int = 256,
        train_after: int = 50_000,
        nlist: int | None = None,
        refine_factor: int = 4,
    ) -> None:
        self.dim = dim
        self.nprobe = nprobe
        self.train_after = train_after
        self.nlist = nlist
        self.refine_factor = refine_factor
        self._ivf: Any = None  # a faiss.IndexIVFScalarQuantizer once trained
        self._buffer = ExactGalleryIndex(dim)
        # Re-ranking store: float16 copies of the IVF's vectors, rows sorted by id. The int8 codes find a
        # shortlist of refine_factor x k; these re-score it, so the tail of a top-20 list (impostors whose
        # scores differ by less than the int8 error) comes out in exact order.
        self._ref_ids: IdArray = np.zeros(0, np.int64)
        self._ref_vecs: npt.NDArray[np.float16] = np.zeros((0, dim), np.float16)

    def __len__(self) -> int:
        return len(self._buffer) + (int(self._ivf.ntotal) if self._ivf is not None else 0)

    @property
    def trained(self) -> bool:
        return self._ivf is not None

    def _new_ivf(self, sample: FloatArray, nlist: int) -> Any:
        import faiss  # imported here: a heavy native module that only gallery work needs

        quantiser = faiss.IndexFlatIP(self.dim)
        ivf = faiss.IndexIVFScalarQuantizer(
            quantiser, self.dim, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
        )
        ivf.own_fields = True
        quantiser.this.disown()  # type: ignore[attr-defined]
        ivf.cp.max_points_per_centroid = 64  # train on a sample: k-means cost grows with it
        ivf.cp.niter = 10  # a coarse quantiser only needs roughly balanced lists; 25 iterations cost 2.5x
        ivf.train(sample)
        ivf.nprobe = self.nprobe
        ivf.set_direct_map_type(faiss.DirectMap.Hashtable)  # type: ignore[attr-defined]  # remove_ids finds a vector's list in O(1)
        return ivf

    def train(self, sample: npt.ArrayLike, nlist: int | None = None) -> None:
        """Train the coarse quantiser and scalar quantiser on ``sample`` (moves the buffer in)."""
        s = np.ascontiguousarray(l2_normalise(np.asarray(sample, dtype=np.float32)))
        n_lists = nlist or self.nlist or suggested_lists(max(len(self), s.shape[0]) * 20)
        n_lists = min(n_lists, max(1, s.shape[0] // 39))  # FAISS wants ~39 points per list to train
        self._ivf = self._new_ivf(s, n_lists)
        if len(self._buffer):
            self._ivf_add(self._buffer.ids, self._buffer.vectors)
            self._buffer = ExactGalleryIndex(self.dim)

    def _ivf_add(self, ids: IdArray, vectors: FloatArray) -> None:
        self._ivf.add_with_ids(vectors, ids)
        if self.refine_factor:
            all_ids = np.concatenate([self._ref_ids, ids])
            all_vecs = np.concatenate([self._ref_vecs, vectors.astype(np.float16)])
            if len(self._ref_ids) and ids.size and ids.min() <= self._ref_ids[-1]:
                order = np.argsort(all_ids, kind="stable")
                all_ids, all_vecs = all_ids[order], all_vecs[order]
            self._ref_ids, self._ref_vecs = all_ids, all_vecs

    def add(self, ids: npt.ArrayLike, vectors: npt.ArrayLike) -> None:
        i, v = self._prepare(ids, vectors)
        if self._ivf is not None:
            self._ivf_add(i, v)
            return
        self._buffer.add(i, v)
        if len(self._buffer) >= self.train_after:
            self.train(self._buffer.vectors)

    def remove(self, ids: Iterable[int]) -> int:
        wanted = np.fromiter(ids, np.int64)
        n = self._buffer.remove(wanted)
        if self._ivf is not None and wanted.size:
            import faiss

            n += int(self._ivf.remove_ids(faiss.IDSelectorArray(wanted.size, faiss.swig_ptr(wanted))))
        return n

    def search_arrays(self, probes: npt.ArrayLike, k: int) -> tuple[FloatArray, IdArray]:
        p = self._probes(probes)
        exact = self._buffer.search_arrays(p, k)
        if self._ivf is None:
            return exact
        self._ivf.nprobe = self.nprobe
        refine = bool(self.refine_factor) and len(self._ref_ids) > 0
        s, i = self._ivf.search(p, k * self.refine_factor if refine else k)
        i = i.astype(np.int64)
        if refine:
            rows = np.clip(np.searchsorted(self._ref_ids, i), 0, len(self._ref_ids) - 1)
            s = np.einsum("qd,qkd->qk", p, self._ref_vecs[rows].astype(np.float32))
            s = np.where(i < 0, -np.inf, s).astype(np.float32)
            order = np.argsort(-s, axis=1, kind="stable")[:, :k]
            s, i = np.take_along_axis(s, order, axis=1), np.take_along_axis(i, order, axis=1)
        s = np.where(i < 0, -np.inf, s).astype(np.float32)
        return _merge((s, i), exact, k) if len(self._buffer) else (s, i)

    # Persistence: the gallery store encrypts these bytes with the gallery's key (templates at rest).
    def to_bytes(self) -> bytes:
        import io

        import faiss

        out = io.BytesIO()
        ivf = faiss.serialize_index(self._ivf).tobytes() if self._ivf is not None else b""
        np.savez(
            out,
            ivf=np.frombuffer(ivf, np.uint8),
            buffer_ids=self._buffer.ids,
            buffer_vectors=self._buffer.vectors,
            ref_ids=self._ref_ids,
            ref_vecs=self._ref_vecs,
            meta=np.asarray([self.dim, self.nprobe, self.train_after, self.refine_factor], np.int64),
        )
        return out.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, nprobe: int | None = None) -> IvfGalleryIndex:
        import io

        import faiss

        z = np.load(io.BytesIO(data), allow_pickle=False)
        dim, saved_nprobe, train_after, refine = (int(x) for x in z["meta"])
        idx = cls(dim, nprobe=nprobe or saved_nprobe, train_after=train_after, refine_factor=refine)
        idx._ref_ids, idx._ref_vecs = z["ref_ids"], z["ref_vecs"]
        if z["ivf"].size:
            idx._ivf = faiss.deserialize_index(z["ivf"])
            idx._ivf.set_direct_map_type(faiss.DirectMap.Hashtable)  # type: ignore[attr-defined]
        if z["buffer_ids"].size:
            idx._buffer.add(z["buffer_ids"], z["buffer_vectors"])
        return idx

    def save_file(self, path: Path) -> None:
        """Plain (unencrypted) IVF file for memory-mapped opening; used by the benchmark."""
        import faiss

        if self._ivf is None:
            raise ValueError("the index is not trained yet: nothing to write as a FAISS file")
        faiss.write_index(self._ivf, str(path))

    @classmethod
    def open_mmap(cls, path: Path, nprobe: int = 256) -> IvfGalleryIndex:
        """Open a plain IVF file memory-mapped (codes paged in on demand; read-only: no add/remove)."""
        import faiss

        idx = cls(0, nprobe=nprobe, refine_factor=0)
        idx._ivf = faiss.read_index(str(path), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
        idx.dim = int(idx._ivf.d)
        idx._buffer = ExactGalleryIndex(idx.dim)
        return idx


class QdrantGalleryIndex(GalleryIndex):
    """Adapter to Qdrant, for galleries beyond one machine (DESIGN.md: a distributed vector database rather
    than home-made sharding). ``client`` is a ``qdrant_client.QdrantClient``: a server or cluster URL in
    production, or the library's local mode (``QdrantClient(path=...)`` / ``":memory:"``) to test against.
    Deletes wait for the server's acknowledgement, so a removal holds for the very next search."""

    def __init__(self, client: Any, collection: str, dim: int) -> None:
        from qdrant_client import models

        self.dim = dim
        self.client = client
        self.collection = collection
        self._models = models
        if not client.collection_exists(collection):
            client.create_collection(
                collection_name=collection,
                vectors_config=models.VectorParams(size=dim, distance=models.Distance.COSINE),
            )

    def __len__(self) -> int:
        return int(self.client.count(collection_name=self.collection, exact=True).count)

    def add(self, ids: npt.ArrayLike, vectors: npt.ArrayLike) -> None:
        i, v = self._prepare(ids, vectors)
        if not len(i):
            return
        self.client.upsert(
            collection_name=self.collection,
            points=self._models.Batch(ids=[int(x) for x in i], vectors=v.tolist()),
            wait=True,
        )

    def remove(self, ids: Iterable[int]) -> int:
        wanted = [int(x) for x in ids]
        if not wanted:
            return 0
        present = self.client.retrieve(collection_name=self.collection, ids=wanted, with_vectors=False)
        self.client.delete(
            collection_name=self.collection,
            points_selector=self._models.PointIdsList(points=wanted),
            wait=True,
        )
        return len(present)

    def search_arrays(self, probes: npt.ArrayLike, k: int) -> tuple[FloatArray, IdArray]:
        p = self._probes(probes)
        out_s = np.full((p.shape[0], k), -np.inf, np.float32)
        out_i = np.full((p.shape[0], k), -1, np.int64)
        for row, q in enumerate(p):
            res = self.client.query_points(collection_name=self.collection, query=q.tolist(), limit=k)
            for j, pt in enumerate(res.points[:k]):
                out_s[row, j] = float(pt.score)
                out_i[row, j] = int(pt.id)
        return out_s, out_i
