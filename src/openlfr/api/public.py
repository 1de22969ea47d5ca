"""The public transparency feeds (no login): deployments announced in advance and past deployments'
published records with both accuracy measures, as JSON and CSV.

What is public is built field by field from an allow-list below, never by dumping a row: no image, no
template, no watchlist entry, no alert detail, no officer's name (who authorised is given by role). Each
deployment carries its own purpose category, legal basis summary and authorising role; the setting
``server.legal_basis_summary`` stands in only for a deployment recorded before it had one. The
feeds are rate-limited per address and cacheable (``Cache-Control: public, max-age``, ``ETag``).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import deque
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response

from openlfr.api.deps import client_address, get_store
from openlfr.api.public_rights import RECORD_KEYS, plan_view
from openlfr.governance import deployments
from openlfr.governance.audit_checkpoints import latest_checkpoint
from openlfr.governance.deployments import DeploymentInfo
from openlfr.governance.measures import alert_precision
from openlfr.governance.report import (
    deployment_record,
    period_totals,
    published_legal_basis,
    published_role,
)
from openlfr.safetext import csv_text
from openlfr.store import Store

router = APIRouter(prefix="/public", tags=["public"])

CSV_COLUMNS = (
    "id",
    "status",
    "location",
    "date",
    "starts_at",
    "ends_at",
    "purpose",
    "purpose_category",
    "authorised_by_role",
    "legal_basis",
    "cameras",
    "watchlist_size",
    "watchlist_holds_under_18",
    "watchlist_under_18",
    "watchlist_date_of_birth_unknown",
    "alerts",
    "adjudicated",
    "confirmed_true",
    "unadjudicated",
    "alert_precision",
    "precision_ci95_low",
    "precision_ci95_high",
    "false_alerts",
    "faces_seen",
    "false_alerts_per_1000_faces",
    "phase",
    "short_notice",
    "announced_at",
    "dpia_ref",
    "eia_ref",
    "policy_ref",
    "data_controller",
    "public_contact",
)


class RateLimiter:
    """A sliding-window limit per client address (in memory: one server process answers the public)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._hits) > 10_000:  # forget idle addresses so the table cannot grow without bound
                self._hits = {a: q for a, q in self._hits.items() if q and now - q[-1] < 60}
            q = self._hits.setdefault(address, deque())
            while q and now - q[0] >= 60:
                q.popleft()
            if len(q) >= self.per_minute:
                retry = int(60 - (now - q[0])) + 1
                raise HTTPException(
                    429, "too many requests: please slow down", headers={"Retry-After": str(retry)}
                )
            q.append(now)


def rate_limited(request: Request) -> None:
    limiter: RateLimiter | None = getattr(request.app.state, "public_limiter", None)
    if limiter is None:
        limiter = RateLimiter(request.app.state.settings.server.public_requests_per_minute)
        request.app.state.public_limiter = limiter
    limiter.check(client_address(request))


def measures_for(store: Store, dep: DeploymentInfo) -> dict[str, Any]:
    """Both measures, always together: alert precision with its 95% interval and the unadjudicated
    count, and false alerts per 1,000 faces seen; counted once, by the published deployment record. With
    them, whether the watchlist held anyone under 18 by recorded date of birth, and how many entries had no
    date of birth (so "no one under 18" is read with what was unknown)."""
    rec = deployment_record(store, dep.id)
    adjudicated = rec["true_alerts"] + rec["false_alerts"]
    return {
        "watchlist_size": rec["watchlist_size"],
        "watchlist_holds_under_18": rec["watchlist_holds_under_18"],
        "watchlist_under_18": rec["watchlist_under_18"],
        "watchlist_date_of_birth_unknown": rec["watchlist_date_of_birth_unknown"],
        "alerts": rec["alerts"],
        "alert_precision": alert_precision(
            rec["true_alerts"], adjudicated, rec["unadjudicated_alerts"]
        ).as_dict(),
        "false_alerts": rec["false_alerts"],
        "faces_seen": rec["faces_seen"],
        "false_alerts_per_1000_faces": rec["false_alerts_per_1000_faces"],
        "watchlist_by_category": rec["watchlist_by_category"],
        "watchlist_by_image_source": rec["watchlist_by_image_source"],
        "watchlist_by_offence_seriousness": rec["watchlist_by_offence_seriousness"],
        "engagements": rec["engagements"],
        "engagements_reason_explained": rec["engagements_reason_explained"],
        "engagements_leaflet_given": rec["engagements_leaflet_given"],
        "alerts_escalated": rec["alerts_escalated"],
        "alerts_purged_undecided": rec["alerts_purged_undecided"],
        "confirmed_false_purged": rec["confirmed_false_purged"],
        "evidence_holds_lapsed": rec["evidence_holds_lapsed"],
        **{k: rec[k] for k in RECORD_KEYS},
        "amendments_by_kind": rec["amendments_by_kind"],
    }


def public_deployment(store: Store, dep: DeploymentInfo) -> dict[str, Any]:
    """The public view of one deployment: an allow-list of fields."""
    out: dict[str, Any] = {
        "id": dep.id,
        "status": dep.status,
        "location": dep.location,
        "date": dep.starts_at.date().isoformat(),
        "starts_at": dep.starts_at.isoformat(),
        "ends_at": dep.ends_at.isoformat(),
        "purpose": dep.purpose,
        "purpose_category": dep.purpose_category_label,
        "authorised_by_role": published_role(dep),
        "legal_basis": published_legal_basis(dep, store.settings),
        "cameras": len(dep.cameras),
        "threshold": dep.threshold,
        "pack": dep.pack,
        # Issue 15: announced ahead (or at short notice), trial or operational, the assessments (never the
        # intelligence case), and who answers for the data.
        "phase": dep.phase_label,
        "short_notice": dep.short_notice,
        "announced_at": dep.created_at.isoformat(),
        "signage_in_place": dep.signage_in_place_at is not None,
        "dpia_ref": dep.dpia_ref or "not recorded",
        "eia_ref": dep.eia_ref or "not recorded",
        "policy_ref": dep.policy_ref or "not recorded",
        "data_controller": dep.data_controller or store.settings.server.data_controller or "not recorded",
        "public_contact": dep.public_contact or store.settings.server.contact or "not recorded",
    }
    out.update(plan_view(dep, store.settings))
    if dep.status != "planned":
        out["record"] = measures_for(store, dep)
    return out


def public_listing(store: Store) -> dict[str, Any]:
    deps = deployments.list_deployments(store)
    return {
        "announced": [public_deployment(store, d) for d in deps if d.status in ("planned", "open")],
        "past": [public_deployment(store, d) for d in reversed(deps) if d.status == "closed"],
        # The audit log's latest signed checkpoint: an anchor outside the force's reach, for anyone who keeps
        # a copy (`openlfr audit verify --min-rows ROWS --expect-head HEAD` later shows a cut or rewrite).
        "audit_checkpoint": latest_checkpoint(store),
    }


def _cached(request: Request, body: bytes, media_type: str) -> Response:
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    max_age = request.app.state.settings.server.public_cache_seconds
    headers = {"Cache-Control": f"public, max-age={max_age}", "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


@router.get("/deployments.json", dependencies=[Depends(rate_limited)], summary="Public feed (JSON)")
def feed_json(request: Request, store: Store = Depends(get_store)) -> Response:
    """Announced and past deployments with both accuracy measures. No login; rate-limited; cacheable."""
    listing = public_listing(store)
    listing["generated_at"] = datetime.now().astimezone().isoformat(timespec="seconds")
    body = json.dumps(listing, indent=1, sort_keys=True).encode()
    return _cached(request, body, "application/json")


def csv_rows(listing: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for dep in listing["announced"] + listing["past"]:
        rec = dep.get("record") or {}
        prec = rec.get("alert_precision") or {}
        row = {k: dep.get(k, "") for k in CSV_COLUMNS}
        row.update(
            {
                "alerts": rec.get("alerts", ""),
                "adjudicated": prec.get("adjudicated", ""),
                "confirmed_true": prec.get("confirmed_true", ""),
                "unadjudicated": prec.get("unadjudicated", ""),
                "alert_precision": _num(prec.get("precision")),
                "precision_ci95_low": _num(prec.get("ci95_low")),
                "precision_ci95_high": _num(prec.get("ci95_high")),
                "false_alerts": rec.get("false_alerts", ""),
                "faces_seen": rec.get("faces_seen", ""),
                "watchlist_size": rec.get("watchlist_size", ""),
                "watchlist_holds_under_18": _yes_no(rec.get("watchlist_holds_under_18")),
                "watchlist_under_18": rec.get("watchlist_under_18", ""),
                "watchlist_date_of_birth_unknown": rec.get("watchlist_date_of_birth_unknown", ""),
                "false_alerts_per_1000_faces": _num(rec.get("false_alerts_per_1000_faces")),
                "short_notice": _yes_no(dep.get("short_notice")),
            }
        )
        rows.append(row)
    return rows


def _yes_no(v: Any) -> str:
    return "" if v is None or v == "" else ("yes" if v else "no")


def _num(v: Any) -> str:
    return "" if v is None or v == "" else f"{float(v):.4f}"


def yearly_totals(store: Store, year: int) -> dict[str, Any]:
    """The published totals of one calendar year (UTC), as ``openlfr report period`` gives them."""
    if not 2000 <= year <= 9998:
        raise HTTPException(400, f"year {year} is out of range")
    totals = period_totals(store, datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC))
    totals.pop("deployment_ids", None)
    totals["year"] = year
    return totals


@router.get("/totals.json", dependencies=[Depends(rate_limited)], summary="Yearly totals (JSON)")
def totals_json(request: Request, year: int | None = None, store: Store = Depends(get_store)) -> Response:
    """The figures a force publishes yearly: deployments, faces seen, alerts, true and false alerts, arrests,
    both measures, short-notice deployments and threshold overrides. No login; rate-limited; cacheable."""
    totals = yearly_totals(store, year or datetime.now(UTC).year)
    return _cached(request, json.dumps(totals, indent=1, sort_keys=True).encode(), "application/json")


@router.get("/deployments.csv", dependencies=[Depends(rate_limited)], summary="Public feed (CSV)")
def feed_csv(request: Request, store: Store = Depends(get_store)) -> Response:
    """The same as the JSON feed, one row per deployment (both measures in every row)."""
    body = csv_text(list(CSV_COLUMNS), csv_rows(public_listing(store)))
    return _cached(request, body.encode(), "text/csv; charset=utf-8")
