"""Closing a deployment (rule 5): it moves to ``closed``; its watchlist rows, images and key are destroyed,
with the watchlist's size and composition kept in its record.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select

from openlfr.governance.audit import ActorLike, as_actor, record
from openlfr.governance.blob_sweep import sweep_blobs
from openlfr.governance.deployments import Clock, DeploymentInfo, info, load
from openlfr.governance.errors import GovernanceError
from openlfr.governance.watchlist_composition import watchlist_age_counts, watchlist_composition
from openlfr.store import Store, utcnow
from openlfr.store.models import (
    Alert,
    WatchlistSubject,
    WatchlistTemplate,
)


@dataclass(frozen=True)
class CloseResult:
    deployment: DeploymentInfo
    subjects_destroyed: int
    templates_destroyed: int
    blobs_deleted: int


def close_deployment(
    store: Store, actor: ActorLike, deployment_id: str, *, reason: str | None = None, clock: Clock = utcnow
) -> CloseResult:
    """-> closed. Rule 5: the watchlist rows, their image blobs and the watchlist key are destroyed.

    Alerts stay (rule 4 keeps them for the retention period) under the separate alerts key, which the
    purge destroys once the last of them is gone.
    """
    now = clock()
    who = as_actor(actor)
    with store.session() as s:
        dep = load(s, deployment_id, for_update=True)
        if dep.status == "closed":
            raise GovernanceError(f"deployment {dep.id} is already closed")
        size, under, unknown = watchlist_age_counts(s, dep)
        composition = watchlist_composition(s, dep.id)
        blob_ids = list(
            s.scalars(select(WatchlistTemplate.image_blob).where(WatchlistTemplate.deployment_id == dep.id))
        )
        n_templates = len(blob_ids)
        s.execute(delete(WatchlistTemplate).where(WatchlistTemplate.deployment_id == dep.id))
        s.execute(delete(WatchlistSubject).where(WatchlistSubject.deployment_id == dep.id))
        store.keys.destroy(s, dep.id, "watchlist", now)
        live_alerts = (
            s.scalar(select(func.count()).where(Alert.deployment_id == dep.id, Alert.purged_at.is_(None)))
            or 0
        )
        if live_alerts == 0:
            store.keys.destroy(s, dep.id, "alerts", now)
        previous = dep.status
        dep.status = "closed"
        dep.closed_at = now
        dep.closed_by = str(who)
        dep.watchlist_size_at_close = size
        dep.watchlist_under_18_at_close = under
        dep.watchlist_dob_unknown_at_close = unknown
        if dep.watchlist_composition_at_close is None:
            dep.watchlist_composition_at_close = composition
        record(
            s,
            who,
            "deployment.close",
            deployment_id=dep.id,
            at=now,
            details={
                "previous_status": previous,
                "reason": reason,
                "subjects_destroyed": size,
                "templates_destroyed": n_templates,
                "watchlist_key_destroyed": True,
                "alerts_key_destroyed": live_alerts == 0,
                "alerts_kept": live_alerts,
            },
        )
        result_info = info(dep)
    # Files go after the commit: had the transaction failed, rows would otherwise point at missing files.
    # The key is already destroyed, so any file a crash leaves behind is unreadable ciphertext.
    deleted = store.blobs.delete_many(deployment_id, blob_ids)
    sweep_blobs(store, who, trigger="close", deployment_id=deployment_id)
    return CloseResult(result_info, size, n_templates, deleted)
