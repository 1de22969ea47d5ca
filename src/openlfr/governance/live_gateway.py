"""What the live pipeline needs of governance for one open deployment (the contract with ``openlfr.live``).

The pipeline is handed a :class:`DeploymentGateway` and never touches the store itself:

* :meth:`DeploymentGateway.check_can_scan` before scanning (rule 1; it re-reads the deployment, so a close
  made elsewhere takes effect at the next check);
* :meth:`DeploymentGateway.watchlist` once, for the in-memory index and the subjects (audited);
* :meth:`DeploymentGateway.raise_alert` for a track that passed the alert policy (rule 1 is checked again,
  the threshold in force is recorded, the crops are stored encrypted, the alert is audited);
* :meth:`DeploymentGateway.record_counters` now and then: counts are all that non-matching faces leave (rule 3).

Rule 8 (issue 25): whoever starts the cameras is named. ``openlfr run`` hands the gateway the logged-in
officer as ``actor`` and calls :meth:`DeploymentGateway.start_scan` / :meth:`DeploymentGateway.stop_scan`
around the run; every audit row the gateway writes in between names that officer and carries the scan's id
(``details.scan_id``), so the log says who scanned, from when to when, and what each scan did.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from openlfr.config import Settings
from openlfr.governance.audit import SYSTEM, ActorLike, as_actor, record
from openlfr.governance.deployments import DeploymentInfo, check_can_scan, info, load
from openlfr.governance.errors import GovernanceError, NotFound, ScanRefused
from openlfr.governance.live_contract import Counts, NewAlert
from openlfr.governance.watchlists import SubjectInfo, decode_template
from openlfr.matching.watchlist_index import WatchlistIndex
from openlfr.store import Store, utcnow
from openlfr.store.models import Alert, CameraCounter, WatchlistSubject, WatchlistTemplate

__all__ = ["Counts", "DeploymentGateway", "DeploymentInfo", "NewAlert", "ScanRefused", "SubjectInfo"]


class DeploymentGateway:
    """What the live pipeline needs of governance for one open deployment.

    ``template_index`` (in :meth:`reference_image` and :meth:`raise_alert`) is the row of the
    :class:`WatchlistIndex` that :meth:`watchlist` returned, i.e. ``Candidate.template_index``.
    Actions are audited as ``actor`` (default: the system, for an unattended camera worker).
    """

    def __init__(
        self,
        store: Store,
        deployment_id: str,
        settings: Settings | None = None,
        clock: Callable[[], datetime] | None = None,
        *,
        actor: ActorLike = SYSTEM,
    ) -> None:
        self.store = store
        self.deployment_id = deployment_id
        self.settings = settings or store.settings
        self.clock = clock or utcnow
        self.actor = as_actor(actor)
        self.scan_id: str | None = None
        """The scan in progress (between :meth:`start_scan` and :meth:`stop_scan`), named in every row."""
        self._rows: list[str] | None = None  # template ids in index row order, from the last watchlist()
        self.deployment  # noqa: B018  (fail now, clearly, for an unknown id)

    def _details(self, details: dict[str, Any]) -> dict[str, Any]:
        return {**details, "scan_id": self.scan_id} if self.scan_id else details

    def start_scan(self, sources: Sequence[str]) -> str:
        """Record ``deployment.scan_start``: this gateway's actor starts scanning ``sources``. Returns the scan
        id, which every later row of this gateway carries until :meth:`stop_scan`."""
        if self.scan_id is not None:
            raise GovernanceError(f"scan {self.scan_id} is already running on this gateway")
        scan_id = uuid.uuid4().hex[:16]
        now = self.clock()
        with self.store.session() as s:
            dep = load(s, self.deployment_id)
            record(
                s,
                self.actor,
                "deployment.scan_start",
                deployment_id=dep.id,
                target=scan_id,
                at=now,
                details={
                    "scan_id": scan_id,
                    "sources": list(sources),
                    "status": dep.status,
                    "threshold": dep.threshold,
                },
            )
        self.scan_id = scan_id
        return scan_id

    def stop_scan(self, details: dict[str, Any] | None = None) -> None:
        """Record ``deployment.scan_stop`` for the running scan (``details``: e.g. alerts raised, why it
        stopped); nothing when no scan is running."""
        if self.scan_id is None:
            return
        with self.store.session() as s:
            record(
                s,
                self.actor,
                "deployment.scan_stop",
                deployment_id=self.deployment_id,
                target=self.scan_id,
                at=self.clock(),
                details=self._details(dict(details or {})),
            )
        self.scan_id = None

    @property
    def deployment(self) -> DeploymentInfo:
        """The deployment as it is now in the store: id, pack, threshold, cameras, window, status."""
        with self.store.session() as s:
            return info(load(s, self.deployment_id))

    def check_can_scan(self, camera_id: str, at: datetime | None = None) -> None:
        """Raise :class:`ScanRefused` unless ``camera_id`` may scan at ``at`` (default: now)."""
        check_can_scan(self.deployment, camera_id, at or self.clock())

    def _index_rows(self, s: Session) -> list[tuple[WatchlistTemplate, WatchlistSubject]]:
        now = self.clock()
        return [
            (t, subj)
            for t, subj in s.execute(
                select(WatchlistTemplate, WatchlistSubject)
                .join(WatchlistSubject, WatchlistTemplate.subject_pk == WatchlistSubject.id)
                .where(
                    WatchlistTemplate.deployment_id == self.deployment_id,
                    WatchlistSubject.expires_at > now,
                    # Rule: an entry one person enrolled is searched only once a second person approved it.
                    WatchlistSubject.pending_approval.is_(False),
                )
                .order_by(WatchlistTemplate.position)
            ).tuples()
        ]

    def watchlist(self) -> tuple[WatchlistIndex, dict[str, SubjectInfo]]:
        """The deployment's watchlist, decrypted in memory (audited). Expired entries are left out.

        Refused (:class:`ScanRefused`) unless the deployment is open and its window has not ended: a
        planned or closed deployment's watchlist is not for searching. Loading before the window starts is
        allowed (to warm up); :meth:`check_can_scan` still refuses every scan until then.
        """
        now = self.clock()
        with self.store.session() as s:
            dep = load(s, self.deployment_id)
            if dep.status != "open":
                raise ScanRefused(
                    f"deployment {dep.id} is {dep.status}, not open: its watchlist cannot be loaded"
                )
            if now >= dep.ends_at:
                raise ScanRefused(
                    f"deployment {dep.id}'s window ended at {dep.ends_at.isoformat()}: its watchlist "
                    "cannot be loaded"
                )
            key = self.store.keys.get(s, dep.id, "watchlist")
            rows = self._index_rows(s)
            dim = rows[0][0].embedding_size if rows else 0
            templates = (
                np.stack([decode_template(key, t) for t, _ in rows])
                if rows
                else np.zeros((0, max(dim, 1)), np.float32)
            )
            subjects: dict[str, SubjectInfo] = {}
            counts: dict[str, int] = {}
            for _, subj in rows:
                counts[subj.subject_id] = counts.get(subj.subject_id, 0) + 1
            for _, subj in rows:
                subjects[subj.subject_id] = SubjectInfo(
                    subj.subject_id,
                    subj.category,
                    subj.reason,
                    subj.name,
                    subj.expires_at,
                    counts[subj.subject_id],
                )
            self._rows = [t.id for t, _ in rows]
            record(
                s,
                self.actor,
                "watchlist.load",
                deployment_id=dep.id,
                at=now,
                details=self._details(
                    {"subjects": len(subjects), "templates": len(rows), "purpose": "live search"}
                ),
            )
        return (
            WatchlistIndex(
                templates,
                [subj.subject_id for _, subj in rows],
                fusion=self.settings.governance.template_fusion,
                offsets=[t.attraction_offset or 0.0 for t, _ in rows],
            ),
            subjects,
        )

    def _template_id(self, s: Session, template_index: int) -> str:
        # Uses the caller's session: a second one opened inside it would wait for the first one's write
        # lock on SQLite (BEGIN IMMEDIATE) and fail with "database is locked".
        if self._rows is None:
            self._rows = [t.id for t, _ in self._index_rows(s)]
        if not 0 <= template_index < len(self._rows):
            raise NotFound(
                f"template index {template_index} is not in deployment {self.deployment_id}'s watchlist"
            )
        return self._rows[template_index]

    def _reference(self, s: Session, subject_id: str, template_index: int) -> bytes:
        tid = self._template_id(s, template_index)
        row = s.execute(
            select(WatchlistTemplate, WatchlistSubject.subject_id)
            .join(WatchlistSubject, WatchlistTemplate.subject_pk == WatchlistSubject.id)
            .where(WatchlistTemplate.id == tid)
        ).first()
        if row is None:
            raise NotFound(f"template {template_index} of deployment {self.deployment_id} no longer exists")
        if row[1] != subject_id:
            raise GovernanceError(f"template {template_index} belongs to subject {row[1]}, not {subject_id}")
        key = self.store.keys.get(s, self.deployment_id, "watchlist")
        return self.store.blobs.get(self.deployment_id, row[0].image_blob, key)

    def reference_image(self, subject_id: str, template_index: int) -> bytes:
        """The enrolled reference image (JPEG/PNG bytes as enrolled); audited."""
        with self.store.session() as s:
            data = self._reference(s, subject_id, template_index)
            record(
                s,
                self.actor,
                "watchlist.image_read",
                deployment_id=self.deployment_id,
                target=subject_id,
                at=self.clock(),
                details=self._details({"template_index": template_index}),
            )
        return data

    def raise_alert(
        self, alert: NewAlert | None = None, *, alert_id: str | None = None, **fields: Any
    ) -> str:
        """Store an alert and return its id.

        ``alert`` is what the pipeline sends (:class:`NewAlert`); the same fields as keywords still work.
        Checks rule 1 at ``observed_at``; refuses a threshold below the deployment's or a score below the
        threshold (rule 2: the threshold in force is recorded with the alert). The probe crop, the scene
        crop and a copy of the matched reference image are stored encrypted under the alerts key. Giving
        ``alert_id`` makes the call idempotent (a retried delivery returns the same alert).
        """
        a = alert if alert is not None else NewAlert(**fields)
        camera_id, track_id, subject_id = a.camera_id, a.track_id, a.subject_id
        template_index, score, threshold, observed_at = a.template_index, a.score, a.threshold, a.observed_at
        probe_crop, frame_crop = a.probe_crop, a.frame_crop
        now = self.clock()
        with self.store.session() as s:
            dep = load(s, self.deployment_id)
            if alert_id is not None:
                existing = s.scalars(select(Alert).where(Alert.id == alert_id)).first()
                if existing is not None:
                    if existing.deployment_id != dep.id:
                        raise GovernanceError(f"alert id {alert_id} belongs to another deployment")
                    return existing.id
            check_can_scan(info(dep), camera_id, observed_at)
            if threshold < dep.threshold - 1e-9:
                raise GovernanceError(
                    f"alert threshold {threshold:.3f} is below deployment {dep.id}'s threshold {dep.threshold:.3f}"
                )
            if score < threshold:
                raise GovernanceError(
                    f"score {score:.3f} is below the threshold {threshold:.3f}: not an alert"
                )
            subject = s.scalars(
                select(WatchlistSubject).where(
                    WatchlistSubject.deployment_id == dep.id, WatchlistSubject.subject_id == subject_id
                )
            ).first()
            if subject is None:
                raise NotFound(f"subject {subject_id} is not on deployment {dep.id}'s watchlist")
            if subject.expires_at <= observed_at:
                raise ScanRefused(
                    f"subject {subject_id}'s watchlist entry expired at {subject.expires_at.isoformat()}"
                )
            reference = self._reference(s, subject_id, template_index)
            key = self.store.keys.get(s, dep.id, "alerts")
            blobs: list[str] = []
            try:
                for data in (probe_crop, frame_crop, reference):
                    blobs.append(self.store.blobs.put(dep.id, key, data))
                stored = Alert(
                    deployment_id=dep.id,
                    camera_id=camera_id,
                    track_id=track_id,
                    subject_id=subject_id,
                    category=subject.category,
                    template_index=template_index,
                    score=float(score),
                    threshold=float(threshold),
                    probe_blob=blobs[0],
                    frame_blob=blobs[1],
                    candidate_blob=blobs[2],
                    observed_at=observed_at,
                    raised_at=now,
                    evidence_hold=False,
                )
                if alert_id is not None:
                    stored.id = alert_id
                s.add(stored)
                s.flush([stored])
                record(
                    s,
                    self.actor,
                    "alert.raise",
                    deployment_id=dep.id,
                    target=stored.id,
                    at=now,
                    details=self._details(
                        {
                            "camera_id": camera_id,
                            "track_id": track_id,
                            "subject_id": subject_id,
                            "score": round(score, 6),
                            "threshold": threshold,
                            "observed_at": observed_at.isoformat(),
                        }
                    ),
                )
                return stored.id
            except BaseException:
                self.store.blobs.delete_many(dep.id, blobs)
                raise

    def record_counters(
        self,
        camera_id: str,
        counts: Counts | None = None,
        *,
        faces_seen: int = 0,
        tracks: int = 0,
        frames_processed: int = 0,
        frames_dropped: int = 0,
    ) -> None:
        """Add to the camera's counters (what the published record reports as faces seen).

        ``counts`` is what the pipeline sends; the four counts as keywords still work.
        """
        c = counts if counts is not None else Counts(faces_seen, tracks, frames_processed, frames_dropped)
        with self.store.session() as s:
            dep = load(s, self.deployment_id)
            if camera_id not in dep.cameras:
                raise ScanRefused(f"camera {camera_id!r} is not one of deployment {dep.id}'s cameras")
            row = s.scalars(
                select(CameraCounter)
                .where(CameraCounter.deployment_id == dep.id, CameraCounter.camera_id == camera_id)
                .with_for_update()
            ).first()
            if row is None:
                row = CameraCounter(
                    deployment_id=dep.id,
                    camera_id=camera_id,
                    faces_seen=0,
                    tracks=0,
                    frames_processed=0,
                    frames_dropped=0,
                    updated_at=self.clock(),
                )
                s.add(row)
            row.faces_seen += c.faces_seen
            row.tracks += c.tracks
            row.frames_processed += c.frames_processed
            row.frames_dropped += c.frames_dropped
            row.updated_at = self.clock()
