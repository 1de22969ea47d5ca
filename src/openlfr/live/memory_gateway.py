"""An in-memory deployment for dry runs and benchmarks: ``openlfr run --dry-run --watchlist DIR``.

Nothing is written anywhere: the watchlist is enrolled from a folder of reference photos into memory, and
alerts are kept in a list (and handed to an optional callback, e.g. the CLI's printer). It enforces the same
rules as the real gateway: a time window and a camera list (rule 1), counters only for non-matches (rule 3).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import cv2
import numpy as np

from openlfr.errors import OpenLFRError
from openlfr.live.gateway import ScanRefused
from openlfr.matching.watchlist_index import WatchlistIndex
from openlfr.vision import FaceEngine, ImageError, best_face, load_image

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class MemoryDeployment:
    id: str
    pack: str
    threshold: float
    cameras: tuple[str, ...]
    starts_at: datetime
    ends_at: datetime
    status: str = "open"


@dataclass(frozen=True)
class SubjectInfo:
    subject_id: str
    label: str
    category: str = "dry run"


@dataclass(frozen=True)
class MemoryAlert:
    id: str
    camera_id: str
    track_id: str
    subject_id: str
    template_index: int
    score: float
    threshold: float
    probe_crop: bytes = field(repr=False)
    frame_crop: bytes = field(repr=False)
    reference_image: bytes = field(repr=False)
    observed_at: datetime
    raised_at: datetime


class WatchlistFolderError(OpenLFRError, ValueError):
    """A watchlist folder that cannot be enrolled; the message names the file and the problem."""


def _reference_files(folder: Path) -> list[tuple[str, Path]]:
    """``(subject_id, image)`` pairs: one sub-folder per subject, or one image per subject named for it."""
    if not folder.is_dir():
        raise WatchlistFolderError(f"{folder}: not a folder")
    pairs: list[tuple[str, Path]] = []
    for entry in sorted(folder.iterdir()):
        if entry.is_dir():
            pairs += [(entry.name, p) for p in sorted(entry.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES]
        elif entry.suffix.lower() in IMAGE_SUFFIXES:
            pairs.append((entry.stem, entry))
    if not pairs:
        raise WatchlistFolderError(f"{folder}: no reference images (.jpg, .png, ...) found")
    return pairs


class InMemoryGateway:
    """A deployment held in memory, implementing :class:`~openlfr.live.gateway.LiveGateway`."""

    def __init__(
        self,
        deployment: MemoryDeployment,
        index: WatchlistIndex,
        subjects: Mapping[str, SubjectInfo],
        reference_images: Sequence[bytes],
        *,
        clock: Callable[[], datetime] | None = None,
        on_alert: Callable[[MemoryAlert], None] | None = None,
    ) -> None:
        if len(reference_images) != index.template_count:
            raise ValueError("one reference image per template is needed")
        self._deployment = deployment
        self._index = index
        self._subjects = dict(subjects)
        self._references = list(reference_images)
        self._clock = clock or utc_now
        self._on_alert = on_alert
        self._lock = threading.Lock()
        self.alerts: list[MemoryAlert] = []
        self.counters: dict[str, dict[str, int]] = {}

    @classmethod
    def from_folder(
        cls,
        folder: Path,
        engine: FaceEngine,
        *,
        threshold: float,
        deployment_id: str = "dry-run",
        cameras: Iterable[str] = (),
        duration: timedelta = timedelta(hours=12),
        clock: Callable[[], datetime] | None = None,
        on_alert: Callable[[MemoryAlert], None] | None = None,
    ) -> InMemoryGateway:
        """Enrol every reference photo in ``folder`` (the most prominent face of each)."""
        templates, subject_ids, images = [], [], []
        for subject_id, path in _reference_files(Path(folder)):
            try:
                img = load_image(path)
            except ImageError as exc:
                raise WatchlistFolderError(str(exc)) from exc
            face = best_face(engine.analyse(img, pad=0.25), img.shape)
            if face is None or face.embedding is None:
                raise WatchlistFolderError(f"{path}: no face found in the reference image")
            templates.append(face.embedding)
            subject_ids.append(subject_id)
            ok, buf = cv2.imencode(".jpg", img)
            images.append(buf.tobytes() if ok else b"")
        now = (clock or utc_now)()
        deployment = MemoryDeployment(
            id=deployment_id,
            pack=engine.pack.name,
            threshold=float(threshold),
            cameras=tuple(cameras),
            starts_at=now - timedelta(minutes=1),
            ends_at=now + duration,
        )
        index = WatchlistIndex(np.stack(templates), subject_ids)
        subjects = {s: SubjectInfo(s, s.replace("_", " ")) for s in subject_ids}
        return cls(deployment, index, subjects, images, clock=clock, on_alert=on_alert)

    @property
    def deployment(self) -> MemoryDeployment:
        return self._deployment

    def allow_camera(self, camera_id: str) -> None:
        """Add a camera to the dry-run deployment (dry runs name their cameras after their sources)."""
        if camera_id not in self._deployment.cameras:
            from dataclasses import replace

            self._deployment = replace(self._deployment, cameras=(*self._deployment.cameras, camera_id))

    def check_can_scan(self, camera_id: str, at: datetime | None = None) -> None:
        d = self._deployment
        at = at or self._clock()
        if d.status != "open":
            raise ScanRefused(f"deployment {d.id} is {d.status}, not open")
        if not d.starts_at <= at < d.ends_at:
            raise ScanRefused(
                f"deployment {d.id} runs {d.starts_at:%Y-%m-%d %H:%M} to {d.ends_at:%Y-%m-%d %H:%M} UTC; "
                f"not scanning at {at:%Y-%m-%d %H:%M:%S}"
            )
        if camera_id not in d.cameras:
            raise ScanRefused(f"camera {camera_id!r} is not one of deployment {d.id}'s cameras")

    def watchlist(self) -> tuple[WatchlistIndex, Mapping[str, Any]]:
        return self._index, dict(self._subjects)

    def reference_image(self, subject_id: str, template_index: int) -> bytes:
        return self._references[template_index]

    def raise_alert(
        self,
        *,
        camera_id: str,
        track_id: str,
        subject_id: str,
        template_index: int,
        score: float,
        threshold: float,
        probe_crop: bytes,
        frame_crop: bytes,
        observed_at: datetime,
    ) -> str:
        alert = MemoryAlert(
            id=str(uuid4()),
            camera_id=camera_id,
            track_id=track_id,
            subject_id=subject_id,
            template_index=template_index,
            score=score,
            threshold=threshold,
            probe_crop=probe_crop,
            frame_crop=frame_crop,
            reference_image=self.reference_image(subject_id, template_index),
            observed_at=observed_at,
            raised_at=self._clock(),
        )
        with self._lock:
            self.alerts.append(alert)
        if self._on_alert is not None:
            self._on_alert(alert)
        return alert.id

    def record_counters(
        self, camera_id: str, *, faces_seen: int, tracks: int, frames_processed: int, frames_dropped: int
    ) -> None:
        with self._lock:
            c = self.counters.setdefault(
                camera_id, {"faces_seen": 0, "tracks": 0, "frames_processed": 0, "frames_dropped": 0}
            )
            c["faces_seen"] += faces_seen
            c["tracks"] += tracks
            c["frames_processed"] += frames_processed
            c["frames_dropped"] += frames_dropped
