"""A stopped person's reference, and what the data protection role does with it (issue 27 §1).

When an officer meets a person after an alert (engagement confirmed true or confirmed false), the alert gets
a short reference: ten characters from an alphabet without look-alike characters (no 0/O, 1/I/L, 2/Z, 5/S,
8/B, U/V pairs...), printed as ``XXXXX-XXXXX`` on the leaflet and shown to the officer to write down. Nine are
random (23^9, about 41 bits: a guess succeeds about once in two million million tries, and only the data
protection role can try, every try audited); the tenth is a check character that catches one misheard
character or two swapped ones.

With it, and nothing else, the data protection role can look up what is held about that encounter,
export a subject access response and erase it where the law allows. Nothing is findable by face: no
function here takes an image, and the reference is not derived from one.

What the export holds, and why:
  * the times, the camera, the score and threshold, each decision (step, outcome, time, the deciding
    officer's role; officers' names are staff data and are left out) and the outcome detail;
  * the deployment's published facts (purpose, place, window, legal basis, controller(s), contact);
  * the probe crop (the person's own face) while it is retained; the matched watchlist image and the
    watchlist category only when the engagement confirmed it was this person (otherwise they are another
    person's data); never the scene crop (it may show bystanders), the watchlist subject's id or name,
    or officers' free-text notes (reviewed by the data protection officer before any release).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openlfr.governance.alerts import alert_state, forget_alert, under_adjudication
from openlfr.governance.audit import ActorLike, as_actor, record
from openlfr.governance.deployments import info
from openlfr.governance.errors import GovernanceError, NotFound
from openlfr.governance.outcomes import OTHER_OFFENCES, custody_reference
from openlfr.governance.references import parse_reference
from openlfr.store import Store, utcnow
from openlfr.store.models import WATCHLIST_CATEGORIES, Alert, Deployment, SubjectRequest

Clock = Callable[[], datetime]


def _find(s: Session, reference: str) -> Alert | None:
    return s.scalars(select(Alert).where(Alert.engagement_reference == reference).with_for_update()).first()


def _role(who: str | None) -> str | None:
    return as_actor(who).role or "officer" if who else None


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t else None


def _deployment_facts(dep: Deployment) -> dict[str, Any]:
    d = info(dep)
    return {
        "id": d.id,
        "purpose": d.purpose,
        "purpose_category": d.purpose_category_label,
        "location": d.location,
        "starts_at": _iso(d.starts_at),
        "ends_at": _iso(d.ends_at),
        "legal_basis": d.legal_basis,
        "authorised_by_role": d.authorising_role,
        "trial_or_operational": d.phase_label,
        "data_controller": d.data_controller,
        "run_on_behalf_of": dep.on_behalf_of,
        "data_controller_of_that_force": dep.on_behalf_of_controller,
        "public_contact": d.public_contact,
        "dpia": d.dpia_ref,
        "equality_impact_assessment": d.eia_ref,
        "policy": d.policy_ref,
    }


@dataclass(frozen=True)
class Encounter:
    """What is held about one encounter, as the data protection role sees it."""

    reference: str
    alert_id: str
    facts: dict[str, Any]
    """What a subject access response gives the person (see the module's docstring)."""
    withheld: dict[str, Any]
    """What the data protection officer sees but the export leaves out, and why."""
    images: dict[str, bytes]
    """The images the export includes (only while retained)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "alert_id": self.alert_id,
            **self.facts,
            "images_included": sorted(self.images),
            "withheld": self.withheld,
        }


def _encounter(store: Store, s: Session, a: Alert, reference: str, with_images: bool) -> Encounter:
    dep = s.get(Deployment, a.deployment_id)
    assert dep is not None
    confirmed = a.engagement == "confirmed_true"
    retained = a.purged_at is None
    facts: dict[str, Any] = {
        "observed_at": _iso(a.observed_at),
        "alert_raised_at": _iso(a.raised_at),
        "camera": a.camera_id,
        "similarity_score": round(a.score, 4),
        "threshold_in_force": round(a.threshold, 4),
        "state": alert_state(a),
        "decisions": [
            {"step": step, "outcome": value, "at": _iso(at), "by_role": _role(by)}
            for step, value, at, by in (
                ("operator review", a.review, a.reviewed_at, a.reviewed_by),
                ("engagement", a.engagement, a.engaged_at, a.engaged_by),
                ("disposal", a.disposal, a.disposed_at, a.disposed_by),
            )
            if value is not None
        ],
        "reason_for_stop_explained": a.reason_explained,
        "leaflet_given": a.leaflet_given,
        "use_of_force": a.use_of_force,
        "arrest_for_watchlist_reason": a.arrest_for_watchlist_reason,
        "other_offences": [OTHER_OFFENCES.get(o, o) for o in (a.other_offences or [])],
        "custody_or_crime_reference": custody_reference(store, s, a) if retained else None,
        "watchlist_category": WATCHLIST_CATEGORIES.get(a.category or "", a.category) if confirmed else None,
        "images_retained": retained,
        "images_deleted_at": _iso(a.purged_at),
        "images_deleted_because": a.purge_reason,
        "held_as_evidence": a.evidence_hold,
        "deployment": _deployment_facts(dep),
    }
    withheld: dict[str, Any] = {
        "scene_image": "may show other people" if retained and a.frame_blob else None,
        "watchlist_image": (
            "another person's image (the engagement found it was not this person)"
            if retained and a.candidate_blob and not confirmed
            else None
        ),
        "watchlist_subject": a.subject_id,
        "officers": [who for who in (a.reviewed_by, a.engaged_by, a.disposed_by) if who],
        "notes": [n for n in (a.review_note, a.engagement_note, a.disposal_note) if n],
    }
    images: dict[str, bytes] = {}
    if with_images and retained:
        key = store.keys.get(s, a.deployment_id, "alerts")
        if a.probe_blob:
            images["face"] = store.blobs.get(a.deployment_id, a.probe_blob, key)
        if confirmed and a.candidate_blob:
            images["watchlist_image"] = store.blobs.get(a.deployment_id, a.candidate_blob, key)
    return Encounter(reference, a.id, facts, withheld, images)


def _not_found(s: Session, who: ActorLike, reference: str, kind: str, now: datetime) -> NotFound:
    s.add(SubjectRequest(kind=kind, outcome="not_found", handled_at=now, handled_by=str(as_actor(who))))
    record(s, who, "subject_access.not_found", target=reference, at=now, details={"request": kind})
    return NotFound(f"nothing is held under reference {reference}")


def look_up(store: Store, actor: ActorLike, reference: str, *, clock: Clock = utcnow) -> Encounter:
    """What is held under a reference (facts, and what an export would leave out); audited."""
    ref = parse_reference(reference)
    now = clock()
    with store.session() as s:
        a = _find(s, ref)
        if a is None:
            err = _not_found(s, actor, ref, "lookup", now)
        else:
            enc = _encounter(store, s, a, ref, with_images=False)
            record(
                s,
                actor,
                "subject_access.lookup",
                deployment_id=a.deployment_id,
                target=a.id,
                at=now,
                details={"reference": ref},
            )
            return enc
    raise err


def _image_name(label: str, data: bytes) -> str:
    ext = "png" if data[:8] == b"\x89PNG\r\n\x1a\n" else "jpg"
    return f"{label}.{ext}"


def export_response(store: Store, actor: ActorLike, reference: str, *, clock: Clock = utcnow) -> bytes:
    """A subject access response for one encounter: a zip of ``response.json`` and the images it may hold
    (see the module's docstring); audited and counted."""
    ref = parse_reference(reference)
    now = clock()
    with store.session() as s:
        a = _find(s, ref)
        if a is None:
            err = _not_found(s, actor, ref, "access", now)
        else:
            enc = _encounter(store, s, a, ref, with_images=True)
            response = {
                "reference": ref,
                "prepared_at": now.isoformat(),
                "controller": enc.facts["deployment"]["data_controller"],
                **enc.facts,
                "images": [_image_name(k, v) for k, v in sorted(enc.images.items())],
                "not_included": [
                    "images of other people (the scene around the face, and a watchlist image that was "
                    "found not to be you)",
                    "officers' names and notes (ask the data protection officer if you need them)",
                ],
            }
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
                z.writestr("response.json", json.dumps(response, indent=2, ensure_ascii=False))
                for label, data in sorted(enc.images.items()):
                    z.writestr(_image_name(label, data), data)
            s.add(
                SubjectRequest(
                    kind="access",
                    outcome="answered",
                    deployment_id=a.deployment_id,
                    handled_at=now,
                    handled_by=str(as_actor(actor)),
                )
            )
            record(
                s,
                actor,
                "subject_access.export",
                deployment_id=a.deployment_id,
                target=a.id,
                at=now,
                details={"reference": ref, "images": sorted(enc.images)},
            )
            return buf.getvalue()
    raise err


def erasure_refusal(a: Alert) -> str | None:
    """Why the law does not allow erasing this encounter now, or None when it may be erased."""
    if a.evidence_hold:
        return (
            "it is held as evidence (criminal proceedings; DPA 2018 s.47(3): processing is restricted "
            "instead, and the hold has a review date)"
        )
    if under_adjudication(a):
        return "the officers' decisions on it are not finished; ask again once the disposal is recorded"
    if a.disposal == "arrest":
        return (
            "it led to an arrest, and the record is needed for the criminal proceedings (DPA 2018 s.47(3)); "
            "it is deleted with the alert's retention or the case's own rules"
        )
    return None


@dataclass(frozen=True)
class ErasureResult:
    reference: str
    erased: bool
    reason: str
    """What was done, or why it was refused."""
    images_deleted: int = 0


def erase(
    store: Store, actor: ActorLike, reference: str, reason: str, *, clock: Clock = utcnow
) -> ErasureResult:
    """Erase an encounter where the law allows: its images, the watchlist link, the track, the notes and the
    custody reference go now; what the published record counts (that an alert was raised and decided)
    stays, without anything that identifies the person. A refusal says the exemption. Audited, counted."""
    if not (reason or "").strip():
        raise GovernanceError("an erasure needs the request's reason or reference (audited)")
    ref = parse_reference(reference)
    now = clock()
    who = as_actor(actor)
    blobs: list[str] = []
    with store.session() as s:
        a = _find(s, ref)
        if a is None:
            err = _not_found(s, actor, ref, "erasure", now)
        else:
            refusal = erasure_refusal(a)
            if refusal is None and a.purge_reason == "erasure":
                refusal = f"it was already erased at {_iso(a.purged_at)}"
            if refusal is not None:
                s.add(
                    SubjectRequest(
                        kind="erasure",
                        outcome="refused",
                        deployment_id=a.deployment_id,
                        reason=refusal,
                        handled_at=now,
                        handled_by=str(who),
                    )
                )
                record(
                    s,
                    actor,
                    "subject_access.erase_refused",
                    deployment_id=a.deployment_id,
                    target=a.id,
                    at=now,
                    details={"reference": ref, "why": refusal, "request": reason.strip()},
                )
                return ErasureResult(ref, False, f"not erased: {refusal}")
            blobs = forget_alert(a)
            dep_id = a.deployment_id
            a.review_note = a.engagement_note = a.disposal_note = None
            if a.purged_at is None:
                a.purged_at = now
            a.purge_reason = "erasure"
            s.add(
                SubjectRequest(
                    kind="erasure",
                    outcome="erased",
                    deployment_id=dep_id,
                    reason=reason.strip(),
                    handled_at=now,
                    handled_by=str(who),
                )
            )
            record(
                s,
                actor,
                "subject_access.erase",
                deployment_id=dep_id,
                target=a.id,
                at=now,
                details={"reference": ref, "images_deleted": len(blobs), "request": reason.strip()},
            )
    if a is None:
        raise err
    # Files go after the commit, as the purge does: a failed transaction leaves the rows pointing at them.
    deleted = store.blobs.delete_many(dep_id, blobs)
    return ErasureResult(
        ref, True, "erased: images, watchlist link, notes and custody reference deleted", deleted
    )


def request_counts(store: Store, since: datetime, until: datetime) -> dict[str, int]:
    """Subject requests handled in ``[since, until)``, by kind and outcome (no reference, no ids)."""
    with store.session() as s:
        rows = s.execute(
            select(SubjectRequest.kind, SubjectRequest.outcome, func.count())
            .where(SubjectRequest.handled_at >= since, SubjectRequest.handled_at < until)
            .group_by(SubjectRequest.kind, SubjectRequest.outcome)
        ).tuples()
        out = {f"{k}_{o}": int(n) for k, o, n in rows}
    keys = ("access_answered", "access_not_found", "erasure_erased", "erasure_refused", "erasure_not_found")
    return {k: out.get(k, 0) for k in keys}
