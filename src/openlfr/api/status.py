"""Deployment status for the supervisor: camera counters from the store and live metrics from the runner."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from openlfr.store import Store
from openlfr.store.models import CameraCounter


def camera_counters(store: Store, deployment_id: str) -> list[dict[str, Any]]:
    """What the live pipeline recorded per camera: counts only (rule 3)."""
    with store.session() as s:
        rows = s.scalars(
            select(CameraCounter)
            .where(CameraCounter.deployment_id == deployment_id)
            .order_by(CameraCounter.camera_id)
        )
        return [
            {
                "camera_id": r.camera_id,
                "faces_seen": r.faces_seen,
                "tracks": r.tracks,
                "frames_processed": r.frames_processed,
                "frames_dropped": r.frames_dropped,
                "updated_at": r.updated_at.isoformat(),
            }
            for r in rows
        ]
