"""The published deployment record: what a force publishes after each deployment.

``deployment_record`` gathers it (date, place, times, purpose and its category, legal basis, who authorised
it by role, watchlist size and whether it held anyone under 18, faces seen, alerts and their outcomes, threshold and pack, and both measures: alert precision
with its 95% interval and false alerts per 1,000 faces). ``write_record`` writes it as JSON, CSV and a
readable HTML page. The record holds no personal data: counts only, and the authorising officer by role,
never by name.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from openlfr.config import Settings
from openlfr.governance import rights_report
from openlfr.governance.alerts import amendments_by_kind, truth
from openlfr.governance.audit import ActorLike, record
from openlfr.governance.audit_checkpoints import latest_checkpoint
from openlfr.governance.closed_lists import IMAGE_SOURCES, OFFENCE_SERIOUSNESS
from openlfr.governance.deployments import DeploymentInfo, info, load
from openlfr.governance.errors import GovernanceError
from openlfr.governance.measures import alert_precision, false_alerts_per_1000
from openlfr.governance.retention_promise import stored_retention_promise
from openlfr.governance.templates import render_template
from openlfr.governance.watchlist_composition import watchlist_age_counts, watchlist_composition
from openlfr.safetext import csv_text
from openlfr.store import Store, utcnow
from openlfr.store.models import (
    CRIME_CATEGORIES,
    DEPLOYMENT_PHASES,
    DEPLOYMENT_PURPOSE_CATEGORIES,
    OIFR_OUTCOMES,
    OIFR_REASONS,
    WATCHLIST_CATEGORIES,
    Alert,
    AuditEntry,
    CameraCounter,
    Deployment,
    WatchlistSubject,
)
from openlfr.vision import get_pack

Clock = Callable[[], datetime]

# Published for deployments recorded before the role was asked for (schema revision 0003).
GENERIC_AUTHORISING_ROLE = "authorising officer"


def published_legal_basis(dep: Deployment | DeploymentInfo, settings: Settings) -> str:
    """The deployment's legal basis summary; ``server.legal_basis_summary`` only for a deployment that has none
    (recorded before the deployment carried its own)."""
    return dep.legal_basis or settings.server.legal_basis_summary


def published_role(dep: Deployment | DeploymentInfo) -> str:
    """Who authorised the deployment, by rank or role (the officer's name is never published).

    Issue 25: once open, the rank of the user who opened it, from the user table. A planned deployment is
    not yet authorised: the officer proposed at planning is published as only that."""
    if dep.authorised_by_user is None and dep.status == "planned":
        proposed = dep.proposed_role or dep.authorising_role
        return f"not yet authorised (proposed: {proposed})" if proposed else "not yet authorised"
    return dep.authorising_role or GENERIC_AUTHORISING_ROLE


def published_authorisation(dep: Deployment | DeploymentInfo) -> str:
    """How the published "authorised by" was established, in words (issue 25)."""
    if dep.authorised_by_user is not None:
        return "the rank of the user who opened the deployment, from the user table"
    if dep.status == "planned":
        return "not yet authorised: opening the deployment authorises it"
    return "as entered when the deployment was planned (opened before authorisation was tied to the user who opens)"


def purpose_category_label(dep: Deployment | DeploymentInfo) -> str | None:
    """The purpose category in words (None for a deployment recorded before categories existed)."""
    if dep.purpose_category is None:
        return None
    return DEPLOYMENT_PURPOSE_CATEGORIES.get(dep.purpose_category, dep.purpose_category)


def _labelled(
    composition: dict[str, dict[str, int]] | None, part: str, words: dict[str, str]
) -> dict[str, int] | None:
    """One part of a watchlist's composition with its keys in words (as published), or None if unknown."""
    counts = (composition or {}).get(part)
    if not counts:
        return None
    return {words.get(k, k): v for k, v in sorted(counts.items())}


def _promise_dict(dep: Deployment) -> dict[str, float] | None:
    promise = stored_retention_promise(dep)
    return promise.as_dict() if promise is not None else None


def deployment_record(
    store: Store, deployment_id: str, actor: ActorLike | None = None, *, clock: Clock = utcnow
) -> dict[str, Any]:
    """The record as a JSON-friendly dict (audited when ``actor`` is given)."""
    now = clock()
    with store.session() as s:
        dep = load(s, deployment_id)
        if dep.status == "closed" and dep.watchlist_size_at_close is not None:
            size = dep.watchlist_size_at_close
            under = dep.watchlist_under_18_at_close or 0
            unknown = dep.watchlist_dob_unknown_at_close or 0
            by_category: dict[str, int] | None = None
        else:
            size, under, unknown = watchlist_age_counts(s, dep)
            by_category = dict(
                s.execute(
                    select(WatchlistSubject.category, func.count())
                    .where(
                        WatchlistSubject.deployment_id == dep.id,
                        WatchlistSubject.pending_approval.is_(False),
                    )
                    .group_by(WatchlistSubject.category)
                )
                .tuples()
                .all()
            )
        if dep.watchlist_composition_at_close is not None:
            composition = dep.watchlist_composition_at_close
        elif dep.status == "closed":
            composition = None  # closed before revision 0007: only the totals were frozen
        else:
            composition = watchlist_composition(s, dep.id)
        counters = list(s.scalars(select(CameraCounter).where(CameraCounter.deployment_id == dep.id)))
        alerts = list(s.scalars(select(Alert).where(Alert.deployment_id == dep.id)))
        # "Faces seen" counts people (tracks), not per-frame detections: dividing false alerts by detections
        # would shrink the false-alert rate by the frames each face stays in view, the very move the
        # public objected to ("0.1% of faces processed"). Detections are published beside it.
        faces_seen = sum(c.tracks for c in counters)
        true_alerts = sum(1 for a in alerts if truth(a) is True)
        false_alerts = sum(1 for a in alerts if truth(a) is False)
        unadjudicated = len(alerts) - true_alerts - false_alerts
        precision = alert_precision(true_alerts, true_alerts + false_alerts, unadjudicated)
        try:
            licence = get_pack(dep.pack).licence
        except Exception:  # a pack removed since: the record still stands
            licence = "unknown"
        rec: dict[str, Any] = {
            "deployment_id": dep.id,
            "status": dep.status,
            "date": dep.starts_at.date().isoformat(),
            "location": dep.location,
            "purpose": dep.purpose,
            "purpose_category": purpose_category_label(dep),
            "legal_basis": published_legal_basis(dep, store.settings),
            "authorised_by_role": published_role(dep),
            "authorisation": published_authorisation(dep),
            "starts_at": dep.starts_at.isoformat(),
            "ends_at": dep.ends_at.isoformat(),
            "opened_at": dep.opened_at.isoformat() if dep.opened_at else None,
            "closed_at": dep.closed_at.isoformat() if dep.closed_at else None,
            # Issue 25: the retention promise fixed when it opened (None: not open yet), which the purge keeps.
            "retention_promise": _promise_dict(dep),
            "cameras": len(dep.cameras),
            "watchlist_size": size,
            "watchlist_pending_approval": _pending_count(s, dep.id) if dep.status != "closed" else 0,
            "watchlist_under_18": under,
            "watchlist_holds_under_18": under > 0,
            "watchlist_date_of_birth_unknown": unknown,
            "watchlist_by_category": (
                {WATCHLIST_CATEGORIES.get(k, k): v for k, v in sorted(by_category.items())}
                if by_category
                else None
            ),
            "watchlist_by_image_source": _labelled(composition, "image_source", IMAGE_SOURCES),
            "watchlist_by_offence_seriousness": _labelled(
                composition, "offence_seriousness", OFFENCE_SERIOUSNESS
            ),
            "faces_seen": faces_seen,
            "face_detections": sum(c.faces_seen for c in counters),
            "frames_processed": sum(c.frames_processed for c in counters),
            "frames_dropped": sum(c.frames_dropped for c in counters),
            "alerts": len(alerts),
            "true_alerts": true_alerts,
            "false_alerts": false_alerts,
            "unadjudicated_alerts": unadjudicated,
            "engagements": sum(1 for a in alerts if a.engagement in ("confirmed_true", "confirmed_false")),
            "arrests": sum(1 for a in alerts if a.disposal == "arrest"),
            "advice": sum(1 for a in alerts if a.disposal == "advice"),
            "threshold": dep.threshold,
            "validated_min_threshold": dep.validated_min_threshold,
            "threshold_override_reason": dep.threshold_override_reason,
            "pack": dep.pack,
            "pack_licence": licence,
            "alert_precision": precision.value,
            "alert_precision_ci95": [precision.ci_low, precision.ci_high],
            "alert_precision_adjudicated": precision.adjudicated,
            "false_alerts_per_1000_faces": false_alerts_per_1000(false_alerts, faces_seen),
            "phase": info(dep).phase_label,
            "announced_at": dep.created_at.isoformat(),
            "short_notice": dep.short_notice_reason is not None,
            "signage_in_place_at": dep.signage_in_place_at.isoformat() if dep.signage_in_place_at else None,
            "dpia_ref": dep.dpia_ref,
            "eia_ref": dep.eia_ref,
            "policy_ref": dep.policy_ref,
            "data_controller": dep.data_controller or store.settings.server.data_controller or None,
            "public_contact": dep.public_contact or store.settings.server.contact or None,
            "engagements_reason_explained": sum(1 for a in alerts if a.reason_explained),
            "engagements_leaflet_given": sum(1 for a in alerts if a.leaflet_given),
            "alerts_escalated": sum(1 for a in alerts if a.escalated_at is not None),
            "alerts_purged_undecided": sum(1 for a in alerts if a.purge_reason == "adjudication_overdue"),
            "confirmed_false_purged": sum(1 for a in alerts if a.purge_reason == "confirmed_false"),
            "evidence_holds": sum(1 for a in alerts if a.evidence_hold),
            "evidence_holds_lapsed": sum(1 for a in alerts if a.evidence_lapsed_at is not None),
            "evidence_hold_renewals": sum(a.evidence_renewals or 0 for a in alerts),
            # Rule 7: a decision recorded in error is amended by a supervisor, never rewritten; counted by kind.
            "amendments_by_kind": amendments_by_kind(s, dep.id) or None,
            "generated_at": now.isoformat(),
        }
        if by_category is None and composition is not None:
            rec["watchlist_by_category"] = _labelled(composition, "category", WATCHLIST_CATEGORIES)
        rec.update(rights_report.deployment_section(dep, alerts, rec))
        if actor is not None:
            record(
                s, actor, "report.deployment", deployment_id=dep.id, at=now, details={"alerts": len(alerts)}
            )
    # The external anchor of the audit log (rule 6): anyone holding this record can later check that the
    # log still has these rows, unchanged (`openlfr audit verify --min-rows ROWS --expect-head HEAD`).
    rec.update(rights_report.complaint_counts(store, deployment_id=deployment_id))
    rec["audit_checkpoint"] = latest_checkpoint(store)
    return rec


def _pending_count(s: Any, deployment_id: str) -> int:
    """Entries enrolled but not yet approved: never searched, so counted apart from the watchlist."""
    return int(
        s.scalar(
            select(func.count())
            .select_from(WatchlistSubject)
            .where(
                WatchlistSubject.deployment_id == deployment_id, WatchlistSubject.pending_approval.is_(True)
            )
        )
        or 0
    )


# (key, label) in the order of the published table.
FIELDS: list[tuple[str, str]] = [
    ("deployment_id", "Deployment"),
    ("date", "Date"),
    ("location", "Place"),
    ("purpose", "Purpose"),
    ("purpose_category", "Purpose category"),
    ("legal_basis", "Legal basis"),
    ("authorised_by_role", "Authorised by"),
    ("authorisation", "How the authoriser is known"),
    ("phase", "Trial or operational"),
    ("announced_at", "Announced"),
    ("short_notice", "Short notice (announced less than the notice period ahead)"),
    ("signage_in_place_at", "Signage recorded in place"),
    ("dpia_ref", "Data protection impact assessment"),
    ("eia_ref", "Equality impact assessment"),
    ("policy_ref", "Policy document"),
    ("data_controller", "Data controller"),
    ("public_contact", "Questions and complaints"),
    ("starts_at", "Starts"),
    ("ends_at", "Ends"),
    ("opened_at", "Opened"),
    ("closed_at", "Closed"),
    ("status", "Status"),
    ("cameras", "Cameras"),
    ("watchlist_size", "Watchlist size (approved entries)"),
    ("watchlist_pending_approval", "Entries awaiting approval (not searched)"),
    ("watchlist_holds_under_18", "Watchlist holds anyone under 18"),
    ("watchlist_under_18", "Watchlist entries under 18"),
    ("watchlist_date_of_birth_unknown", "Watchlist entries with no date of birth"),
    ("watchlist_by_category", "Watchlist by category"),
    ("watchlist_by_image_source", "Watchlist by image source"),
    ("watchlist_by_offence_seriousness", "Watchlist by offence seriousness"),
    ("faces_seen", "Faces seen"),
    ("alerts", "Alerts"),
    ("true_alerts", "True alerts (confirmed)"),
    ("false_alerts", "False alerts"),
    ("unadjudicated_alerts", "Alerts not adjudicated"),
    ("engagements", "Engagements"),
    ("engagements_reason_explained", "Engagements where the reason was explained"),
    ("engagements_leaflet_given", "Engagements where the leaflet was given"),
    ("alerts_escalated", "Alerts undecided past the adjudication period (sent to a supervisor)"),
    ("alerts_purged_undecided", "Alerts purged still undecided after escalation"),
    ("confirmed_false_purged", "Confirmed-false alerts whose images were purged"),
    ("evidence_holds", "Alerts held as evidence"),
    ("evidence_holds_lapsed", "Evidence holds lapsed at review"),
    ("evidence_hold_renewals", "Evidence hold renewals"),
    ("amendments_by_kind", "Decisions amended by a supervisor, by kind"),
    ("arrests", "Arrests"),
    ("advice", "Words of advice"),
    ("alert_precision", "Alert precision"),
    ("alert_precision_ci95", "Alert precision, 95% interval"),
    ("false_alerts_per_1000_faces", "False alerts per 1,000 faces seen"),
    ("threshold", "Threshold"),
    ("validated_min_threshold", "Validated minimum threshold"),
    ("threshold_override_reason", "Reason for running below it"),
    ("pack", "Model pack"),
    ("pack_licence", "Model pack licence"),
    ("frames_dropped", "Frames dropped under load"),
    *rights_report.RECORD_FIELDS,
    ("generated_at", "Record generated"),
]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return " - ".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


def write_csv(fields: list[tuple[str, str]], rows: list[dict[str, Any]]) -> str:
    """The one place published records become CSV: a header of the field keys, one row per record, each
    cell neutralised against spreadsheet formulas (:func:`openlfr.safetext.csv_text`)."""
    return csv_text([k for k, _ in fields], [[_cell(rec.get(k)) for k, _ in fields] for rec in rows])


def record_csv(rec: dict[str, Any]) -> str:
    """One header row and one data row (so records of many deployments concatenate into one table)."""
    return write_csv(FIELDS, [rec])


def record_summary(rec: dict[str, Any]) -> str:
    """The record's one-sentence summary: alerts, faces seen and alert precision with its interval."""
    p = rec.get("alert_precision")
    adjudicated = (
        f"{rec['true_alerts']} of {rec['alert_precision_adjudicated']} adjudicated alerts were true "
        f"(precision {p:.0%}, 95% interval {rec['alert_precision_ci95'][0]:.0%} to "
        f"{rec['alert_precision_ci95'][1]:.0%})"
        if p is not None
        else "no alert was adjudicated"
    )
    return (
        f"{rec['alerts']} alert(s) from {rec['faces_seen']:,} faces seen; {adjudicated}; "
        f"{rec['unadjudicated_alerts']} not adjudicated."
    )


def record_html(rec: dict[str, Any]) -> str:
    """The record as a readable page (``governance/templates/record.html``)."""
    title = f"Live facial recognition deployment record: {rec['location']}, {rec['date']}"
    rows = [(label, _cell(rec.get(key))) for key, label in FIELDS]
    return render_template(
        "record.html",
        title=title,
        summary=record_summary(rec),
        rows=rows,
        checkpoint=rec.get("audit_checkpoint"),
    )


def write_record(rec: dict[str, Any], out_dir: Path) -> list[Path]:
    """Write ``deployment-<id>.json``, ``.csv`` and ``.html`` into ``out_dir``. Nothing is published without
    a data controller and a public contact (issue 15 §3): a record lacking either is refused, naming it."""
    missing = [k for k in ("data_controller", "public_contact") if not rec.get(k)]
    if missing:
        raise GovernanceError(
            f"deployment {rec['deployment_id']}'s record cannot be published without "
            + " and ".join(m.replace("_", " ") for m in missing)
            + " (set server.data_controller / server.contact)"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"deployment-{rec['deployment_id']}"
    paths = [stem.with_suffix(".json"), stem.with_suffix(".csv"), stem.with_suffix(".html")]
    paths[0].write_text(json.dumps(rec, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    paths[1].write_text(record_csv(rec), encoding="utf-8")
    paths[2].write_text(record_html(rec), encoding="utf-8")
    return paths


# --- Totals over a period (issue 15 §8): the figures a force publishes yearly. -----------------------------


# (key, label) in the order of the published table.
PERIOD_FIELDS: list[tuple[str, str]] = [
    ("period_from", "From"),
    ("amendments_by_kind", "Decisions amended by a supervisor, by kind"),
    ("period_to", "To (not included)"),
    ("deployments", "Deployments"),
    ("trial_deployments", "Of which trials"),
    ("operational_deployments", "Of which operational"),
    ("phase_not_recorded", "Of which trial or operational not recorded"),
    ("short_notice_deployments", "Deployments at short notice"),
    ("threshold_overrides", "Deployments run below the validated threshold (overrides)"),
    ("faces_seen", "Faces seen"),
    ("alerts", "Alerts"),
    ("true_alerts", "True alerts (confirmed)"),
    ("false_alerts", "False alerts"),
    ("unadjudicated_alerts", "Alerts not adjudicated"),
    ("arrests", "Arrests"),
    ("engagements", "Engagements"),
    ("engagements_reason_explained", "Engagements where the reason was explained"),
    ("engagements_leaflet_given", "Engagements where the leaflet was given"),
    ("alert_precision", "Alert precision"),
    ("alert_precision_ci95", "Alert precision, 95% interval"),
    ("false_alerts_per_1000_faces", "False alerts per 1,000 faces seen"),
    ("alerts_escalated", "Alerts undecided past the adjudication period"),
    ("alerts_purged_undecided", "Alerts purged still undecided"),
    ("confirmed_false_purged", "Confirmed-false alerts whose images were purged"),
    ("evidence_holds_lapsed", "Evidence holds lapsed at review"),
    *rights_report.PERIOD_FIELDS,
    ("generated_at", "Totals generated"),
]

_SUMMED = (
    "faces_seen",
    "alerts",
    "true_alerts",
    "false_alerts",
    "unadjudicated_alerts",
    "arrests",
    "engagements",
    "engagements_reason_explained",
    "engagements_leaflet_given",
    "alerts_escalated",
    "alerts_purged_undecided",
    "confirmed_false_purged",
    "evidence_holds_lapsed",
)


# RFR and OIFR totals (issue 26): flat keys for the CSV; the JSON also holds them by category and reason.
RETRO_PERIOD_FIELDS: list[tuple[str, str]] = [
    ("rfr_enabled", "Retrospective facial recognition (RFR) in use"),
    ("rfr_searches", "RFR searches"),
    ("rfr_people_searched", "RFR people searched"),
    ("rfr_possible_matches_reported", "RFR possible matches reported by two reviewers"),
    ("rfr_confirmed_by_investigation", "RFR possible matches confirmed by the investigation"),
    ("oifr_enabled", "Operator-initiated facial recognition (OIFR) in use"),
    ("oifr_searches", "OIFR searches"),
    ("oifr_identified", "OIFR outcome: identified"),
    ("oifr_not_identified", "OIFR outcome: not identified"),
    ("oifr_inconclusive", "OIFR outcome: inconclusive"),
    ("oifr_no_outcome", "OIFR searches with no outcome recorded"),
]

_RETRO_ACTIONS = ("retro.search", "retro.review", "retro.investigation", "oifr.search", "oifr.outcome")


def retro_period_totals(store: Store, start: datetime, end: datetime) -> dict[str, Any]:
    """RFR and OIFR counts over ``[start, end)``, from the audit log (so a closed or purged case still
    counts): RFR searches, people searched, possible matches reported by two reviewers and confirmed by the
    investigation, each by crime category; OIFR searches by reason and their recorded outcomes. Counts and
    category words only: no image, record id, case reference or name."""
    with store.session() as s:
        rows = s.execute(
            select(AuditEntry.action, AuditEntry.details).where(
                AuditEntry.action.in_(_RETRO_ACTIONS), AuditEntry.at >= start, AuditEntry.at < end
            )
        ).all()
    rfr: dict[str, dict[str, int]] = {}
    oifr: dict[str, dict[str, int]] = {}

    def bump(table: dict[str, dict[str, int]], group: str, key: str, n: int = 1) -> None:
        row = table.setdefault(group, {})
        row[key] = row.get(key, 0) + n

    searched_oifr: set[str] = set()
    answered: set[str] = set()
    for action, text in rows:
        d = json.loads(text)
        if action.startswith("retro."):
            cat = CRIME_CATEGORIES.get(d.get("crime_category") or "", "not recorded")
            if action == "retro.search":
                bump(rfr, cat, "searches")
                bump(rfr, cat, "people_searched", int(d.get("faces", 0)))
            elif action == "retro.review" and d.get("newly_reported"):
                bump(rfr, cat, "possible_matches_reported")
            elif action == "retro.investigation" and d.get("outcome") == "confirmed":
                bump(rfr, cat, "confirmed_by_investigation")
        else:
            reason = OIFR_REASONS.get(d.get("reason") or "", d.get("reason") or "not recorded")
            if action == "oifr.search":
                bump(oifr, reason, "searches")
                searched_oifr.add(str(d.get("search")))
            else:
                bump(oifr, reason, d.get("outcome", "?"))
                answered.add(str(d.get("search")))
    for group in oifr.values():
        group.setdefault("searches", 0)

    def total(table: dict[str, dict[str, int]], key: str) -> int:
        return sum(g.get(key, 0) for g in table.values())

    rs = store.settings.retro
    return {
        "rfr_enabled": rs.rfr_enabled,
        "rfr_searches": total(rfr, "searches"),
        "rfr_people_searched": total(rfr, "people_searched"),
        "rfr_possible_matches_reported": total(rfr, "possible_matches_reported"),
        "rfr_confirmed_by_investigation": total(rfr, "confirmed_by_investigation"),
        "rfr_by_crime_category": dict(sorted(rfr.items())),
        "oifr_enabled": rs.oifr_enabled,
        "oifr_searches": total(oifr, "searches"),
        **{f"oifr_{k}": total(oifr, k) for k in OIFR_OUTCOMES},
        "oifr_no_outcome": len(searched_oifr - answered),
        "oifr_by_reason": {
            r: {"searches": g.get("searches", 0), **{OIFR_OUTCOMES[k]: g.get(k, 0) for k in OIFR_OUTCOMES}}
            for r, g in sorted(oifr.items())
        },
    }


def period_totals(
    store: Store, start: datetime, end: datetime, actor: ActorLike | None = None, *, clock: Clock = utcnow
) -> dict[str, Any]:
    """Totals over the deployments that opened and whose window starts in ``[start, end)``: counts summed,
    alert precision pooled over all adjudicated alerts (with its 95% interval), false alerts per 1,000
    faces over all faces seen. Audited when ``actor`` is given."""
    for name, t in (("--from", start), ("--to", end)):
        if t.tzinfo is None or t.utcoffset() is None:
            raise GovernanceError(f"{name} needs a time zone (e.g. 2030-01-01T00:00Z)")
    if end <= start:
        raise GovernanceError(f"the period ends ({end.isoformat()}) before it starts ({start.isoformat()})")
    now = clock()
    with store.session() as s:
        ids = list(
            s.scalars(
                select(Deployment.id)
                .where(
                    Deployment.starts_at >= start,
                    Deployment.starts_at < end,
                    Deployment.opened_at.is_not(None),
                )
                .order_by(Deployment.starts_at)
            )
        )
    recs = [deployment_record(store, i, clock=clock) for i in ids]
    totals: dict[str, Any] = {
        "period_from": start.isoformat(),
        "period_to": end.isoformat(),
        "deployments": len(recs),
        "trial_deployments": sum(1 for r in recs if r["phase"] == DEPLOYMENT_PHASES["trial"]),
        "operational_deployments": sum(1 for r in recs if r["phase"] == DEPLOYMENT_PHASES["operational"]),
        "short_notice_deployments": sum(1 for r in recs if r["short_notice"]),
        "threshold_overrides": sum(1 for r in recs if r["threshold_override_reason"]),
    }
    totals["phase_not_recorded"] = (
        totals["deployments"] - totals["trial_deployments"] - totals["operational_deployments"]
    )
    for key in _SUMMED:
        totals[key] = sum(int(r[key]) for r in recs)
    amended: dict[str, int] = {}
    for r in recs:
        for kind, n in (r.get("amendments_by_kind") or {}).items():
            amended[kind] = amended.get(kind, 0) + n
    totals["amendments_by_kind"] = dict(sorted(amended.items()))
    precision = alert_precision(
        totals["true_alerts"], totals["true_alerts"] + totals["false_alerts"], totals["unadjudicated_alerts"]
    )
    totals["alert_precision"] = precision.value
    totals["alert_precision_ci95"] = [precision.ci_low, precision.ci_high]
    totals["alert_precision_adjudicated"] = precision.adjudicated
    totals["false_alerts_per_1000_faces"] = false_alerts_per_1000(
        totals["false_alerts"], totals["faces_seen"]
    )
    totals.update(rights_report.period_section(store, start, end, recs))
    totals.update(retro_period_totals(store, start, end))
    totals["deployment_ids"] = ids
    totals["generated_at"] = now.isoformat()
    if actor is not None:
        with store.session() as s:
            record(
                s,
                actor,
                "report.period",
                at=now,
                details={"from": start.isoformat(), "to": end.isoformat(), "deployments": len(ids)},
            )
    return totals


def period_html(totals: dict[str, Any]) -> str:
    title = f"Live facial recognition: totals {totals['period_from'][:10]} to {totals['period_to'][:10]}"
    summary = f"{totals['deployments']} deployment(s). " + record_summary(totals)
    rows = [(label, _cell(totals.get(key))) for key, label in PERIOD_FIELDS + RETRO_PERIOD_FIELDS]
    return render_template("period.html", title=title, summary=summary, rows=rows)


def write_period(totals: dict[str, Any], out_dir: Path) -> list[Path]:
    """Write ``totals-<from>-<to>.json``, ``.csv`` and ``.html`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"totals-{totals['period_from'][:10]}-{totals['period_to'][:10]}"
    paths = [stem.with_suffix(".json"), stem.with_suffix(".csv"), stem.with_suffix(".html")]
    paths[0].write_text(json.dumps(totals, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    paths[1].write_text(write_csv(PERIOD_FIELDS + RETRO_PERIOD_FIELDS, [totals]), encoding="utf-8")
    paths[2].write_text(period_html(totals), encoding="utf-8")
    return paths
