"""Audit rows as sentences a person reads ("operator recorded the operator review: False alert."), for the
alert's decisions and the audit log pages. The row itself (action, details as JSON) stays what is verified."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from openlfr.api.audit_view import AuditRow, visible_row
from openlfr.store import Store
from openlfr.store.auth_models import Role
from openlfr.store.models import AuditEntry

_PLAIN = {
    "alert.raise": "The system raised the alert",
    "alert.image_read": "viewed an image of the alert",
    "alert.evidence_hold": "held the alert as evidence",
    "alert.evidence_renew": "renewed the evidence hold",
    "alert.evidence_release": "released the alert from evidence",
    "alert.evidence_lapse": "The evidence hold lapsed at its review date",
    "alert.escalate": "The alert was sent to a supervisor: undecided past the adjudication period",
    "alert.purge": "The alert's images and personal data were purged",
    "alert.retention_kept": "The alert was kept past its retention period",
    "auth.login": "logged in",
    "auth.logout": "logged out",
    "auth.login_failed": "A login failed",
    "auth.login_throttled": "Logins were throttled",
    "deployment.create": "planned the deployment",
    "deployment.open": "opened the deployment",
    "deployment.close": "closed the deployment and destroyed its watchlist",
    "deployment.signage_in_place": "recorded that the signage is in place",
    "deployment.threshold_override": "ran the deployment below the validated threshold",
    "deployment.short_notice": "recorded a short-notice reason",
    "watchlist.enrol": "enrolled a watchlist entry",
    "watchlist.approve": "approved a watchlist entry",
    "watchlist.reject": "rejected a watchlist entry",
    "watchlist.image_read": "viewed a watchlist image",
    "watchlist.load": "loaded the watchlist into a camera worker",
    "report.deployment": "generated the deployment record",
    "report.period": "generated the period totals",
    "audit.verify": "verified the audit log",
}
# Actions whose subject is not a person (the sentence starts with them, without "who").
_IMPERSONAL = {
    "alert.raise",
    "alert.evidence_lapse",
    "alert.escalate",
    "alert.purge",
    "alert.retention_kept",
    "auth.login_failed",
    "auth.login_throttled",
}
_STEP = {"review": "operator review", "engagement": "engagement outcome", "disposal": "disposal"}
_VALUES = {
    "false_alert": "False alert",
    "engage": "Pass to engagement",
    "confirmed_true": "Confirmed: it is the person",
    "confirmed_false": "Confirmed: not the person",
    "not_engaged": "Not engaged",
    "arrest": "Arrest",
    "advice": "Words of advice",
    "no_action": "No action",
}


def _value(v: Any) -> str:
    return _VALUES.get(str(v), str(v).replace("_", " "))


def _yes_no(v: Any) -> str:
    return "yes" if v else "no"


def _who(e: AuditEntry | AuditRow) -> str:
    return f"{e.actor} ({e.role.replace('_', ' ')})" if e.role else e.actor


def sentence(e: AuditEntry | AuditRow) -> dict[str, Any]:
    """The row as ``{"at", "who", "text", "action", "details"}``; ``text`` is a whole sentence."""
    try:
        d = json.loads(e.details) if e.details else {}
    except ValueError:
        d = {}
    if not isinstance(d, dict):
        d = {}
    step = e.action.removeprefix("alert.")
    if step in _STEP:
        text = f"{_who(e)} recorded the {_STEP[step]}: {_value(d.get('decision'))}."
        if "reason_explained" in d:
            text += f" Reason for the stop explained: {_yes_no(d['reason_explained'])}."
        if "leaflet_given" in d:
            text += f" Leaflet given: {_yes_no(d['leaflet_given'])}."
        if d.get("note"):
            text += f" Note: {d['note']}"
    elif e.action == "alert.amend":
        text = (
            f"{_who(e)} amended the {_STEP.get(str(d.get('step')), d.get('step'))} from "
            f"{_value(d.get('from'))} (recorded by {d.get('originally_by')}) to {_value(d.get('to'))}. "
            f"Reason: {d.get('reason')}"
        )
    elif e.action in _IMPERSONAL:
        text = _PLAIN[e.action] + "."
        if e.action == "alert.raise" and isinstance(d.get("score"), int | float):
            text = f"{_PLAIN[e.action]} (score {float(d['score']):.3f}"
            text += f", threshold {float(d['threshold']):.3f})." if "threshold" in d else ")."
    elif e.action in _PLAIN:
        text = f"{_who(e)} {_PLAIN[e.action]}."
        if d.get("reason"):
            text += f" Reason: {d['reason']}"
    else:
        facts = "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in d.items() if v not in (None, "", [], {}))
        text = f"{_who(e)}: {e.action.replace('.', ' ').replace('_', ' ')}" + (
            f" ({facts})." if facts else "."
        )
    return {
        "at": e.at,
        "who": _who(e),
        "text": text,
        "action": e.action,
        "details": d,
        "raw": e.details,
        "seq": e.seq,
        "target": e.target,
        "deployment_id": e.deployment_id,
    }


AUDIT_AREAS = {
    "": "Everything",
    "alert.*": "Alerts and decisions",
    "deployment.*": "Deployments",
    "watchlist.*": "Watchlists",
    "auth.*": "Logins",
    "report.*": "Published records",
    "retro.*": "Retrospective searches",
    "oifr.*": "Operator-initiated searches",
    "gallery.*": "Gallery",
    "keys.*": "Keys",
    "audit.*": "Audit checks",
}
"""The audit log page's "what" filter: areas of the log by action prefix."""


@dataclass(frozen=True)
class AuditPage:
    rows: list[dict[str, Any]]
    total: int
    page: int
    pages: int
    per_page: int


def audit_page_rows(
    store: Store,
    *,
    deployment_id: str = "",
    area: str = "",
    actor: str = "",
    page: int = 1,
    per_page: int = 50,
    role: Role | None = None,
) -> AuditPage:
    """One page of the audit log, newest first, filtered by deployment, area (``AUDIT_AREAS``) and who.
    With ``role``, each row reads as that role may see it (issue 25: alert details redacted for a role that
    may not see alerts)."""
    conditions = []
    if deployment_id:
        conditions.append(AuditEntry.deployment_id == deployment_id)
    if area in AUDIT_AREAS and area:
        conditions.append(AuditEntry.action.like(area.replace("*", "%")))
    if actor:
        conditions.append(AuditEntry.actor.like(f"%{actor}%"))
    with store.sessions() as s:
        total = s.scalar(select(func.count()).select_from(AuditEntry).where(*conditions)) or 0
        pages = max(1, -(-total // per_page))
        page = min(max(1, page), pages)
        q = (
            select(AuditEntry)
            .where(*conditions)
            .order_by(AuditEntry.seq.desc())
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
        rows = [sentence(e if role is None else visible_row(e, role)) for e in s.scalars(q)]
    return AuditPage(rows, total, page, pages, per_page)
