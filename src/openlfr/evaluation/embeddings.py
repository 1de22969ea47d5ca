"""Embedding the evaluation data, with a cache so that reruns are fast.

The cache is one SQLite file under ``settings.cache_dir``, keyed by model pack, the image file's SHA-256,
the padding policy and a fingerprint of the vision and quality settings (anything that changes the
embedding). It is written as work progresses, so an interrupted run resumes where it stopped. It holds
templates of research photographs only (never of live probes: DESIGN.md rule 3 is about deployments).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from openlfr.config import Settings
from openlfr.evaluation.datasets import ImageRecord
from openlfr.vision import FaceEngine, ImageError, best_face, load_image

Progress = Callable[[int, int], None]
"""Called with (done, total) as images are embedded."""

# How each dataset is detected: LFW thumbnails are centred scenes (retry padded if nothing is found);
# UTKFace crops are so tight that detectors need a border (see the data README); a force's own crowd
# folder ("crowd") may hold either, so it is tried as it is, then with a border.
PAD_POLICY: dict[str, tuple[float, ...]] = {"lfw": (0.0, 0.5), "utkface": (0.5,), "crowd": (0.0, 0.5)}


@dataclass
class EmbeddingSet:
    """One pack's templates for a list of images; rows without a detected face are zero."""

    pack: str
    records: list[ImageRecord]
    embeddings: npt.NDArray[np.float32]
    detected: npt.NDArray[np.bool_]
    acceptable: npt.NDArray[np.bool_]
    """The face met the quality bar (reported beside the rates, not used to drop searches)."""
    quality: npt.NDArray[np.float32]

    def subset(self, dataset: str) -> EmbeddingSet:
        idx = [i for i, r in enumerate(self.records) if r.dataset == dataset]
        return EmbeddingSet(
            self.pack,
            [self.records[i] for i in idx],
            self.embeddings[idx],
            self.detected[idx],
            self.acceptable[idx],
            self.quality[idx],
        )


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def settings_fingerprint(settings: Settings) -> str:
    """What in the settings changes a template (threads do not)."""
    vision = settings.vision.model_dump(exclude={"threads"})
    return hashlib.sha256(
        json.dumps({"vision": vision, "quality": settings.quality.model_dump()}, sort_keys=True).encode()
    ).hexdigest()[:16]


class EmbeddingCache:
    """Templates of evaluation images, keyed by pack + file SHA-256 + pad policy + settings fingerprint."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(str(path))
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS template (pack TEXT, sha256 TEXT, policy TEXT, fingerprint TEXT, "
            "detected INTEGER, acceptable INTEGER, quality REAL, vector BLOB, "
            "PRIMARY KEY (pack, sha256, policy, fingerprint))"
        )

    def get_many(
        self, pack: str, keys: Sequence[str], policy: str, fingerprint: str
    ) -> dict[str, tuple[bool, bool, float, bytes | None]]:
        out: dict[str, tuple[bool, bool, float, bytes | None]] = {}
        rows = self._db.execute(
            "SELECT sha256, detected, acceptable, quality, vector FROM template "
            "WHERE pack=? AND policy=? AND fingerprint=?",
            (pack, policy, fingerprint),
        )
        wanted = set(keys)
        for sha, det, acc, q, vec in rows:
            if sha in wanted:
                out[sha] = (bool(det), bool(acc), float(q), vec)
        return out

    def put(
        self,
        pack: str,
        sha: str,
        policy: str,
        fingerprint: str,
        detected: bool,
        acceptable: bool,
        quality: float,
        vector: npt.NDArray[np.float32] | None,
    ) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO template VALUES (?,?,?,?,?,?,?,?)",
            (
                pack,
                sha,
                policy,
                fingerprint,
                int(detected),
                int(acceptable),
                float(quality),
                None if vector is None else np.asarray(vector, np.float32).tobytes(),
            ),
        )

    def commit(self) -> None:
        self._db.commit()

    def close(self) -> None:
        self._db.commit()
        self._db.close()


def cache_path(settings: Settings) -> Path:
    return settings.cache_dir / "evaluation-embeddings.sqlite"


def embed_one(
    engine: FaceEngine, record: ImageRecord, settings: Settings
) -> tuple[bool, bool, float, npt.NDArray[np.float32] | None]:
    """(detected, acceptable, quality score, template) for the main face of one evaluation image."""
    try:
        image = load_image(
            record.path,
            max_pixels=settings.vision.max_image_pixels,
            max_bytes=settings.vision.max_image_bytes,
        )
    except ImageError:
        return False, False, 0.0, None
    for pad in PAD_POLICY[record.dataset]:
        faces = engine.assess(image, engine.detect(image, pad=pad))
        face = best_face(faces, image.shape)
        if face is not None:
            emb = engine.embed(image, [face])[0].embedding
            assert emb is not None
            q = face.quality
            return True, bool(q is None or q.acceptable), float(q.score if q else 1.0), emb
    return False, False, 0.0, None


def embed_records(
    engine: FaceEngine,
    records: Sequence[ImageRecord],
    settings: Settings,
    progress: Progress | None = None,
    use_cache: bool = True,
) -> EmbeddingSet:
    """Templates of every record (from the cache where present), in the order given."""
    pack = engine.pack.name
    dim = engine.embedding_size
    fp = settings_fingerprint(settings)
    n = len(records)
    emb = np.zeros((n, dim), np.float32)
    detected = np.zeros(n, bool)
    acceptable = np.zeros(n, bool)
    quality = np.zeros(n, np.float32)
    shas = [file_sha256(r.path) for r in records]
    cache = EmbeddingCache(cache_path(settings)) if use_cache else None
    try:
        known: dict[tuple[str, str], tuple[bool, bool, float, bytes | None]] = {}
        if cache is not None:
            for ds in sorted({r.dataset for r in records}):
                policy = ",".join(str(p) for p in PAD_POLICY[ds])
                ds_keys = [s for s, r in zip(shas, records, strict=True) if r.dataset == ds]
                for sha, val in cache.get_many(pack, ds_keys, policy, fp).items():
                    known[(ds, sha)] = val
        done = 0
        for i, (rec, sha) in enumerate(zip(records, shas, strict=True)):
            policy = ",".join(str(p) for p in PAD_POLICY[rec.dataset])
            hit = known.get((rec.dataset, sha))
            if hit is not None:
                det, acc, q, vec = hit
                if vec is not None:
                    emb[i] = np.frombuffer(vec, np.float32)
            else:
                det, acc, q, v = embed_one(engine, rec, settings)
                if v is not None:
                    emb[i] = v
                if cache is not None:
                    cache.put(pack, sha, policy, fp, det, acc, q, v)
                    done += 1
                    if done % 200 == 0:
                        cache.commit()
            detected[i], acceptable[i], quality[i] = det, acc, q
            if progress is not None:
                progress(i + 1, n)
    finally:
        if cache is not None:
            cache.close()
    return EmbeddingSet(pack, list(records), emb, detected, acceptable, quality)
