"""Alert summaries as the console and the API show them (never an image: only URLs to fetch them)."""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import func, select

from openlfr.governance.alerts import AlertInfo, get_alert, list_alerts
from openlfr.governance.errors import NotFound
from openlfr.governance.watchlists import SubjectInfo, list_subjects
from openlfr.store import Store
from openlfr.store.models import WATCHLIST_CATEGORIES, Alert, AuditEntry

_STATE_LABELS = {
    "raised": "awaiting operator review",
    "false_alert": "false alert (operator)",
    "passed_to_engagement": "passed to engagement",
    "confirmed_true": "confirmed true (engagement)",
    "confirmed_false": "confirmed false (engagement)",
    "not_engaged": "not engaged",
}


class SubjectCache:
    """Watchlist entries' category and reason by deployment, refreshed when an unknown subject appears.

    Entries are re-read at most every ``ttl_s`` seconds, so a closed deployment's destroyed watchlist
    disappears from the console soon after it is closed.
    """

    def __init__(self, ttl_s: float = 30.0) -> None:
        self.ttl_s = ttl_s
        self._cache: dict[str, tuple[float, dict[str, SubjectInfo]]] = {}
        self._lock = threading.Lock()

    def get(self, store: Store, deployment_id: str, subject_id: str | None) -> SubjectInfo | None:
        if subject_id is None:
            return None
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(deployment_id)
        if hit is None or now - hit[0] > self.ttl_s or subject_id not in hit[1]:
            try:
                subjects = {s.subject_id: s for s in list_subjects(store, deployment_id)}
            except NotFound:
                subjects = {}
            with self._lock:
                self._cache[deployment_id] = (now, subjects)
            hit = (now, subjects)
        return hit[1].get(subject_id)


subject_cache = SubjectCache()


def state_label(state: str) -> str:
    if state.startswith("disposed:"):
        return f"disposed: {state.split(':', 1)[1].replace('_', ' ')}"
    return _STATE_LABELS.get(state, state.replace("_", " "))


def alert_message(store: Store, a: AlertInfo) -> dict[str, Any]:
    """The alert's facts for a console, with its images' URLs (fetching them is checked and audited)."""
    subject = subject_cache.get(store, a.deployment_id, a.subject_id)
    out: dict[str, Any] = a.as_dict()
    out["category_label"] = WATCHLIST_CATEGORIES.get(a.category or "", a.category)
    out["reason"] = subject.reason if subject else None
    out["state_label"] = state_label(a.state)
    out["url"] = f"/alerts/{a.id}"
    out["images"] = (
        {kind: f"/api/alerts/{a.id}/images/{kind}" for kind in ("probe", "candidate", "frame")}
        if a.has_images
        else {}
    )
    return out


def latest_alert_seq(store: Store) -> int:
    """The newest alert's ``seq`` (0 if none): where a freshly started broker begins."""
    with store.session() as s:
        return int(s.scalar(select(func.max(Alert.seq))) or 0)


def alert_messages_after(
    store: Store, after_seq: int, deployment_id: str | None = None, limit: int = 500
) -> list[dict[str, Any]]:
    return [
        alert_message(store, a) for a in list_alerts(store, deployment_id, after_seq=after_seq, limit=limit)
    ]


DECISION_ACTIONS = ("alert.review", "alert.engagement", "alert.disposal", "alert.amend")
"""Audit actions that change an alert's state: open consoles are told of them (issue 24 item 5)."""


def latest_audit_seq(store: Store) -> int:
    with store.session() as s:
        return int(s.scalar(select(func.max(AuditEntry.seq))) or 0)


def decision_updates_after(store: Store, after_seq: int) -> tuple[int, list[dict[str, Any]]]:
    """Alerts decided (by anyone, in any process) since audit row ``after_seq``: the newest audit seq seen,
    and each such alert's current summary once, with ``decided_by`` naming who decided last. Read from the
    audit log, where every decision is appended, so a decision taken elsewhere reaches every console."""
    with store.session() as s:
        rows = s.execute(
            select(AuditEntry.seq, AuditEntry.target, AuditEntry.actor)
            .where(AuditEntry.seq > after_seq, AuditEntry.action.in_(DECISION_ACTIONS))
            .order_by(AuditEntry.seq)
            .limit(500)
        ).all()
        last = int(s.scalar(select(func.max(AuditEntry.seq))) or after_seq)
    if rows and len(rows) == 500:
        last = int(rows[-1][0])
    latest: dict[str, str] = {}
    for _seq, target, actor in rows:
        if target:
            latest[target] = actor
    out = []
    for alert_id, actor in latest.items():
        try:
            message = alert_message(store, get_alert(store, alert_id))
        except NotFound:
            continue
        message["decided_by"] = actor
        out.append(message)
    return last, out
