"""An in-memory deployment for dry runs and benchmarks: ``openlfr run --dry-run --watchlist DIR``.

Nothing is written anywhere: the watchlist is enrolled from a folder of reference photos into memory, and
alerts are kept in a list (and handed to an optional callback, e.g. the CLI's printer). It enforces the same
rules as the real gateway: a time window and a camera list (rule 1), counters only for non-matches (rule 3).

Given the pack's reference crowd (``matching/reference_crowd.py``, written by ``openlfr evaluate`` into the
data folder), each reference template gets the enrolment attraction check as a stored watchlist does: a
template that attracts strangers gets its own higher threshold (an offset). The validated minimum of a
calibration may assume that check (``Calibration.minimum_for``), so a dry run without a reference crowd is
held to the stricter minimum validated without it.
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
import numpy.typing as npt

from openlfr.errors import OpenLFRError
from openlfr.governance.deployments import check_can_scan
from openlfr.governance.live_contract import Counts, NewAlert
from openlfr.matching.attraction import Attraction, AttractionPolicy, attraction_of
from openlfr.matching.reference_crowd import ReferenceCrowd
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
    """An alert as the dry run keeps it: what the pipeline sent, with its id and the reference image."""

    id: str
    alert: NewAlert
    reference_image: bytes = field(repr=False)
    raised_at: datetime

    @property
    def subject_id(self) -> str:
        return self.alert.subject_id

    @property
    def score(self) -> float:
        return self.alert.score


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


@dataclass(frozen=True)
class CrowdCheck:
    """The enrolment attraction check for a dry run: a reference crowd with the rule applied to it."""

    crowd: ReferenceCrowd
    policy: AttractionPolicy


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
        self.attraction: dict[int, tuple[str, Attraction]] | None = None
        """Per template (enrolment order): the attraction check's evidence, or ``None`` when the watchlist
        was enrolled without the check (no reference crowd)."""

    @property
    def attraction_checked(self) -> bool:
        """Whether every template passed through the enrolment attraction check."""
        return self.attraction is not None

    @property
    def offset_rule(self) -> str | None:
        """The offset rule every template got (``matching/attraction.py``), or ``None`` without the check."""
        if not self.attraction:
            return None
        return next(iter(self.attraction.values()))[1].rule

    @property
    def attractors(self) -> list[tuple[str, Attraction]]:
        """Templates the check flagged, with their evidence (each has its own higher threshold)."""
        return [a for a in (self.attraction or {}).values() if a[1].attractor]

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
        check: CrowdCheck | None = None,
    ) -> InMemoryGateway:
        """Enrol every reference photo in ``folder`` (the most prominent face of each), with the attraction
        check when ``check`` is given."""
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
        return cls.from_templates(
            templates,
            subject_ids,
            images,
            pack=engine.pack.name,
            threshold=threshold,
            deployment_id=deployment_id,
            cameras=cameras,
            duration=duration,
            clock=clock,
            on_alert=on_alert,
            check=check,
        )

    @classmethod
    def from_templates(
        cls,
        templates: Sequence[npt.NDArray[np.float32]],
        subject_ids: Sequence[str],
        images: Sequence[bytes],
        *,
        pack: str,
        threshold: float,
        deployment_id: str = "dry-run",
        cameras: Iterable[str] = (),
        duration: timedelta = timedelta(hours=12),
        clock: Callable[[], datetime] | None = None,
        on_alert: Callable[[MemoryAlert], None] | None = None,
        check: CrowdCheck | None = None,
        fusion: str = "max",
    ) -> InMemoryGateway:
        """A dry-run deployment over templates already computed (one reference image each; a subject may
        have several, combined by ``fusion`` as in ``WatchlistIndex``); with ``check``, each template gets
        the attraction check and an attractor its offset."""
        evidence = (
            [attraction_of(t, check.crowd.templates, check.policy) for t in templates]
            if check is not None
            else None
        )
        now = (clock or utc_now)()
        deployment = MemoryDeployment(
            id=deployment_id,
            pack=pack,
            threshold=float(threshold),
            cameras=tuple(cameras),
            starts_at=now - timedelta(minutes=1),
            ends_at=now + duration,
        )
        offsets = None if evidence is None else [e.offset for e in evidence]
        index = WatchlistIndex(np.stack(templates), list(subject_ids), offsets=offsets, fusion=fusion)
        subjects = {s: SubjectInfo(s, s.replace("_", " ")) for s in subject_ids}
        gateway = cls(deployment, index, subjects, list(images), clock=clock, on_alert=on_alert)
        if evidence is not None:
            gateway.attraction = {i: (subject_ids[i], e) for i, e in enumerate(evidence)}
        return gateway

    @property
    def deployment(self) -> MemoryDeployment:
        return self._deployment

    def allow_camera(self, camera_id: str) -> None:
        """Add a camera to the dry-run deployment (dry runs name their cameras after their sources)."""
        if camera_id not in self._deployment.cameras:
            from dataclasses import replace

            self._deployment = replace(self._deployment, cameras=(*self._deployment.cameras, camera_id))

    def check_can_scan(self, camera_id: str, at: datetime | None = None) -> None:
        check_can_scan(self._deployment, camera_id, at or self._clock())  # governance's rule 1, reused

    def watchlist(self) -> tuple[WatchlistIndex, Mapping[str, Any]]:
        return self._index, dict(self._subjects)

    def reference_image(self, subject_id: str, template_index: int) -> bytes:
        return self._references[template_index]

    def raise_alert(self, alert: NewAlert) -> str:
        stored = MemoryAlert(
            id=str(uuid4()),
            alert=alert,
            reference_image=self.reference_image(alert.subject_id, alert.template_index),
            raised_at=self._clock(),
        )
        with self._lock:
            self.alerts.append(stored)
        if self._on_alert is not None:
            self._on_alert(stored)
        return stored.id

    def record_counters(self, camera_id: str, counts: Counts) -> None:
        with self._lock:
            c = self.counters.setdefault(camera_id, Counts().as_dict())
            for k, v in counts.as_dict().items():
                c[k] += v
