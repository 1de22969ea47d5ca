"""The published deployment record: what a force publishes after each deployment.

``deployment_record`` gathers it (date, place, times, purpose and its category, legal basis, who authorised
it by role, watchlist size and whether it held anyone under 18, faces seen, alerts and their outcomes, threshold and pack, and both measures: alert precision
with its 95% interval and false alerts per 1,000 faces). ``write_record`` writes it as JSON, CSV and a
readable HTML page. The record holds no personal data: counts only, and the authorising officer by role,
never by name.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from openlfr.config import Settings
from openlfr.governance.alerts import truth
from openlfr.governance.audit import ActorLike, latest_checkpoint, record
from openlfr.governance.deployments import DeploymentInfo, load, watchlist_age_counts
from openlfr.governance.measures import alert_precision, false_alerts_per_1000
from openlfr.store import Store, utcnow
from openlfr.store.models import (
    DEPLOYMENT_PURPOSE_CATEGORIES,
    WATCHLIST_CATEGORIES,
    Alert,
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
    """Who authorised the deployment, by rank or role (the officer's name is never published)."""
    return dep.authorising_role or GENERIC_AUTHORISING_ROLE


def purpose_category_label(dep: Deployment | DeploymentInfo) -> str | None:
    """The purpose category in words (None for a deployment recorded before categories existed)."""
    if dep.purpose_category is None:
        return None
    return DEPLOYMENT_PURPOSE_CATEGORIES.get(dep.purpose_category, dep.purpose_category)


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
                    .where(WatchlistSubject.deployment_id == dep.id)
                    .group_by(WatchlistSubject.category)
                )
                .tuples()
                .all()
            )
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
            "starts_at": dep.starts_at.isoformat(),
            "ends_at": dep.ends_at.isoformat(),
            "opened_at": dep.opened_at.isoformat() if dep.opened_at else None,
            "closed_at": dep.closed_at.isoformat() if dep.closed_at else None,
            "cameras": len(dep.cameras),
            "watchlist_size": size,
            "watchlist_under_18": under,
            "watchlist_holds_under_18": under > 0,
            "watchlist_date_of_birth_unknown": unknown,
            "watchlist_by_category": (
                {WATCHLIST_CATEGORIES.get(k, k): v for k, v in sorted(by_category.items())}
                if by_category
                else None
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
            "generated_at": now.isoformat(),
        }
        if actor is not None:
            record(
                s, actor, "report.deployment", deployment_id=dep.id, at=now, details={"alerts": len(alerts)}
            )
    # The external anchor of the audit log (rule 6): anyone holding this record can later check that the
    # log still has these rows, unchanged (`openlfr audit verify --min-rows ROWS --expect-head HEAD`).
    rec["audit_checkpoint"] = latest_checkpoint(store)
    return rec


# (key, label) in the order of the published table.
FIELDS: list[tuple[str, str]] = [
    ("deployment_id", "Deployment"),
    ("date", "Date"),
    ("location", "Place"),
    ("purpose", "Purpose"),
    ("purpose_category", "Purpose category"),
    ("legal_basis", "Legal basis"),
    ("authorised_by_role", "Authorised by"),
    ("starts_at", "Starts"),
    ("ends_at", "Ends"),
    ("opened_at", "Opened"),
    ("closed_at", "Closed"),
    ("status", "Status"),
    ("cameras", "Cameras"),
    ("watchlist_size", "Watchlist size"),
    ("watchlist_holds_under_18", "Watchlist holds anyone under 18"),
    ("watchlist_under_18", "Watchlist entries under 18"),
    ("watchlist_date_of_birth_unknown", "Watchlist entries with no date of birth"),
    ("faces_seen", "Faces seen"),
    ("alerts", "Alerts"),
    ("true_alerts", "True alerts (confirmed)"),
    ("false_alerts", "False alerts"),
    ("unadjudicated_alerts", "Alerts not adjudicated"),
    ("engagements", "Engagements"),
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


def record_csv(rec: dict[str, Any]) -> str:
    """One header row and one data row (so records of many deployments concatenate into one table)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([k for k, _ in FIELDS])
    w.writerow([_cell(rec.get(k)) for k, _ in FIELDS])
    return buf.getvalue()


def record_html(rec: dict[str, Any]) -> str:
    rows = "\n".join(
        f'<tr><th scope="row">{html.escape(label)}</th><td>{html.escape(_cell(rec.get(key)))}</td></tr>'
        for key, label in FIELDS
    )
    p = rec.get("alert_precision")
    summary = (
        f"{rec['alerts']} alert(s) from {rec['faces_seen']:,} faces seen; "
        + (
            f"{rec['true_alerts']} of {rec['alert_precision_adjudicated']} adjudicated alerts were true "
            f"(precision {p:.0%}, 95% interval {rec['alert_precision_ci95'][0]:.0%} to "
            f"{rec['alert_precision_ci95'][1]:.0%})"
            if p is not None
            else "no alert was adjudicated"
        )
        + f"; {rec['unadjudicated_alerts']} not adjudicated."
    )
    title = f"Live facial recognition deployment record: {rec['location']}, {rec['date']}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: system-ui, sans-serif; max-width: 48rem; margin: 2rem auto; padding: 0 1rem; color: #111; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #ccc; vertical-align: top; }}
th {{ width: 45%; font-weight: 600; }}
</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p>{html.escape(summary)}</p>
<table>
{rows}
</table>
{_checkpoint_html(rec.get("audit_checkpoint"))}
<p><small>Alert precision counts alerts whose truth was established by people (confirmed true, confirmed
false, or dismissed by the operator). The system never decides that a match is true.</small></p>
</body></html>
"""


def _checkpoint_html(cp: dict[str, Any] | None) -> str:
    if not cp:
        return ""
    return (
        "<h2>Audit log checkpoint</h2><p>When this record was made, the audit log held "
        f"{int(cp['rows'])} rows; the last row's hash was <code>{html.escape(str(cp['head']))}</code> "
        f"(signed {html.escape(str(cp['at']))}, signature <code>{html.escape(str(cp['signature']))}</code>, "
        f"public key <code>{html.escape(str(cp['public_key']))}</code>). A later check that finds fewer rows "
        "or another hash shows that the log was cut short or rewritten.</p>"
    )


def write_record(rec: dict[str, Any], out_dir: Path) -> list[Path]:
    """Write ``deployment-<id>.json``, ``.csv`` and ``.html`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"deployment-{rec['deployment_id']}"
    paths = [stem.with_suffix(".json"), stem.with_suffix(".csv"), stem.with_suffix(".html")]
    paths[0].write_text(json.dumps(rec, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    paths[1].write_text(record_csv(rec), encoding="utf-8")
    paths[2].write_text(record_html(rec), encoding="utf-8")
    return paths
