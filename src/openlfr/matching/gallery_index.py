"""Gallery search: one ``GalleryIndex`` interface, the exact matrix product as the reference and an
approximate FAISS index (inverted lists with compact codes, re-ranked exactly) as the embedded default.

A gallery holds millions of templates (custody images), so unlike a watchlist it needs an index
(DESIGN.md, "Storage and scale"). Ids are int64 template ids chosen by the caller (the gallery store's
template rows); several ids may belong to one person, which the caller folds.

Why IVF with 4-bit fast-scan PQ codes and an fp16 re-rank (measured by ``benchmarks/gallery_index.py``,
figures in the README): it builds in minutes at 10M on two cores (a k-means on a sample, then one
assignment per vector), a removal is an in-place delete from the lists (so "removal is immediate" holds
without a rebuild), and a search reads 0.5 byte per dimension of the share of the gallery it visits, with
SIMD table lookups: about 4x less memory traffic than int8 codes (the earlier default), which is what
bounds a search's time on a small machine. The codes only choose a shortlist; the fp16 copies re-score it,
so recall@20 against exact is set by how much of the gallery is visited (``probe_share``), not by the
codes. HNSW graphs search faster but built five times slower than IVF in a 100k trial here, and cannot
delete in place (FAISS) or only by tombstone (usearch).

Until enough templates exist to train the coarse quantiser, templates sit in an exact buffer, so a small
gallery is searched exactly and a growing one moves to the approximate index on its own.
"""

from __future__ import annotations

import math
import os
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from openlfr.vision.face import FloatArray, l2_normalise

IdArray = npt.NDArray[np.int64]

_BATCH_QUERIES = 4
"""From this many probes in one call, FAISS threads split the probes rather than one probe's lists."""


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


def _faiss() -> Any:
    """FAISS, imported on first use (a heavy native module that only gallery work needs).

    Its OpenMP threads are told to sleep, not spin, while they wait: on two cores shared with the
    detector, the API and the database, spinning threads were measured to make a small training run
    20x slower (13 s against 0.7 s). Set before FAISS loads its OpenMP runtime; an explicit
    ``OMP_WAIT_POLICY`` in the environment wins.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import faiss

    return faiss


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
    """IVF list count for ``n`` templates: about sqrt(n), a power of two (1024 at 1M, 4096 at 10M). More
    lists would cost a k-means over more centroids, which on two cores dominates the build; how much of the
    gallery a search reads is set by ``probe_share``, not by the list count."""
    return int(2 ** round(math.log2(max(16.0, math.sqrt(max(n, 1))))))


IvfCodes = Literal["pq4", "sq8"]


class IvfGalleryIndex(GalleryIndex):
    """FAISS inverted lists (inner product) with compact codes, an fp16 re-ranking store, and an exact
    buffer until trained.

    ``codes`` is how the lists store a template: ``pq4`` (the default) is product quantisation with 4-bit
    codes in FAISS's "fast scan" layout (``IndexIVFPQFastScan``: dim/2 sub-quantisers, 0.5 byte per
    dimension, scored with SIMD lookups), ``sq8`` is one int8 per dimension (``IndexIVFScalarQuantizer``).
    Either only finds a shortlist of ``refine_factor`` x k; the fp16 copies re-score it, so the order of a
    top-k list is the exact one up to fp16 rounding. ``probe_share`` is the share of the lists a search
    visits: what a search reads, and so its time and recall, is that share of the gallery whatever the
    list count (a fixed ``nprobe`` would visit a smaller share as a gallery grows and trains more lists).
    ``train_after`` is how many templates the exact buffer holds before the quantisers are trained on
    them; later additions go straight to the lists.
    """

    def __init__(
        self,
        dim: int,
        probe_share: float = 0.3,
        train_after: int = 50_000,
        nlist: int | None = None,
        refine_factor: int = 200,
        codes: IvfCodes = "pq4",
    ) -> None:
        if not 0.0 < probe_share <= 1.0:
            raise ValueError(f"probe_share must be in (0, 1], not {probe_share}")
        if codes not in ("pq4", "sq8"):
            raise ValueError(f"unknown IVF codes {codes!r}: choose pq4 or sq8")
        self.dim = dim
        self.probe_share = probe_share
        self.train_after = train_after
        self.nlist = nlist
        self.refine_factor = refine_factor
        self.codes: IvfCodes = codes
        self._ivf: Any = None  # a faiss.IndexIVF once trained
        self._buffer = ExactGalleryIndex(dim)
        # Re-ranking store: float16 copies of the lists' vectors, rows sorted by id. The codes find a
        # shortlist of refine_factor x k; these re-score it, so the tail of a top-20 list (impostors whose
        # scores differ by less than the codes' error) comes out in exact order. A removed template's row
        # is zeroed at once (nothing of it stays) and its id kept, so later lookups stay a binary search.
        self._ref_ids: IdArray = np.zeros(0, np.int64)
        self._ref_vecs: npt.NDArray[np.float16] = np.zeros((0, dim), np.float16)

    def __len__(self) -> int:
        return len(self._buffer) + (int(self._ivf.ntotal) if self._ivf is not None else 0)

    @property
    def trained(self) -> bool:
        return self._ivf is not None

    @property
    def nprobe(self) -> int:
        """Lists a search visits: ``probe_share`` of the trained list count."""
        if self._ivf is None:
            return 0
        return max(1, min(int(self._ivf.nlist), math.ceil(self.probe_share * int(self._ivf.nlist))))

    def _new_ivf(self, sample: FloatArray, nlist: int) -> Any:
        faiss = _faiss()

        quantiser = faiss.IndexFlatIP(self.dim)
        if self.codes == "pq4":
            # by_residual is off (FAISS's default here): the codes then quantise the vectors themselves,
            # which for inner product on unit vectors loses little and makes encoding independent of lists.
            ivf = faiss.IndexIVFPQFastScan(
                quantiser, self.dim, nlist, self.dim // 2, 4, faiss.METRIC_INNER_PRODUCT
            )
        else:
            ivf = faiss.IndexIVFScalarQuantizer(
                quantiser, self.dim, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
            )
        ivf.own_fields = True
        quantiser.this.disown()
        ivf.cp.max_points_per_centroid = 64  # train on a sample: k-means cost grows with it
        ivf.cp.niter = 10  # a coarse quantiser only needs roughly balanced lists; 25 iterations cost 2.5x
        ivf.train(sample)
        if self.codes == "sq8":
            ivf.set_direct_map_type(faiss.DirectMap.Hashtable)
        return ivf

    def train(self, sample: npt.ArrayLike, nlist: int | None = None) -> None:
        """Train the coarse quantiser and the codes on ``sample`` (moves the buffer in)."""
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
        wanted = np.unique(np.fromiter(ids, np.int64))
        n = self._buffer.remove(wanted)
        if self._ivf is not None and wanted.size:
            faiss = _faiss()

            # Fast-scan lists keep no id -> list map (FAISS does not support one there), so removal scans
            # the ids of every list once against a hash set: milliseconds per million templates.
            if self.codes == "sq8":  # its lists keep an id -> list hashtable: O(1) a template
                sel = faiss.IDSelectorArray(wanted.size, faiss.swig_ptr(wanted))
            else:
                sel = faiss.IDSelectorBatch(wanted.size, faiss.swig_ptr(wanted))
            n += int(self._ivf.remove_ids(sel))
            if len(self._ref_ids):
                rows = np.searchsorted(self._ref_ids, wanted)
                inside = rows < len(self._ref_ids)
                rows = rows[inside][self._ref_ids[rows[inside]] == wanted[inside]]
                self._ref_vecs[rows] = 0
        return n

    def search_arrays(self, probes: npt.ArrayLike, k: int) -> tuple[FloatArray, IdArray]:
        p = self._probes(probes)
        exact = self._buffer.search_arrays(p, k)
        if self._ivf is None:
            return exact
        self._ivf.nprobe = self.nprobe
        if self.codes == "pq4":
            # FAISS's fast-scan implementation 14 splits one query's lists among the threads (an interactive
            # search then uses both cores, about 2x faster); for a batch, splitting the queries does better.
            self._ivf.implem = 14 if p.shape[0] < _BATCH_QUERIES else 0
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

        faiss = _faiss()

        out = io.BytesIO()
        ivf = faiss.serialize_index(self._ivf).tobytes() if self._ivf is not None else b""
        np.savez(
            out,
            ivf=np.frombuffer(ivf, np.uint8),
            buffer_ids=self._buffer.ids,
            buffer_vectors=self._buffer.vectors,
            ref_ids=self._ref_ids,
            ref_vecs=self._ref_vecs,
            meta=np.asarray([self.dim, 0, self.train_after, self.refine_factor], np.int64),
            codes=np.asarray(self.codes),
            probe_share=np.asarray(self.probe_share, np.float64),
        )
        return out.getvalue()

    @classmethod
    def from_bytes(
        cls, data: bytes, probe_share: float | None = None, refine_factor: int | None = None
    ) -> IvfGalleryIndex:
        """An index written by :meth:`to_bytes`; ``probe_share`` and ``refine_factor`` (the current
        settings: both are search-time choices) override the saved ones, the latter only where fp16 copies
        were kept. Files written before the codes were recorded hold int8 (``sq8``) lists."""
        import io

        faiss = _faiss()

        z = np.load(io.BytesIO(data), allow_pickle=False)
        dim, _, train_after, refine = (int(x) for x in z["meta"])
        codes: IvfCodes = "pq4" if "codes" in z and str(z["codes"]) == "pq4" else "sq8"
        saved_share = float(z["probe_share"]) if "probe_share" in z else 0.5
        if refine and refine_factor is not None:
            refine = refine_factor
        idx = cls(dim, probe_share or saved_share, train_after, refine_factor=refine, codes=codes)
        idx._ref_ids, idx._ref_vecs = z["ref_ids"], z["ref_vecs"]
        if z["ivf"].size:
            idx._ivf = faiss.deserialize_index(z["ivf"])
            if codes == "sq8":
                idx._ivf.set_direct_map_type(faiss.DirectMap.Hashtable)
        if z["buffer_ids"].size:
            idx._buffer.add(z["buffer_ids"], z["buffer_vectors"])
        return idx

    def save_file(self, path: Path) -> None:
        """Plain (unencrypted) IVF file for memory-mapped opening; used by the benchmark."""
        faiss = _faiss()

        if self._ivf is None:
            raise ValueError("the index is not trained yet: nothing to write as a FAISS file")
        faiss.write_index(self._ivf, str(path))

    @classmethod
    def open_mmap(cls, path: Path, probe_share: float = 0.3) -> IvfGalleryIndex:
        """Open a plain ``sq8`` IVF file memory-mapped (codes paged in on demand; read-only: no add/remove).
        FAISS cannot memory-map fast-scan (``pq4``) lists."""
        faiss = _faiss()

        idx = cls(0, probe_share=probe_share, refine_factor=0, codes="sq8")
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
