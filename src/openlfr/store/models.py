"""Governance tables: deployments and their keys, watchlists, alerts, counters and the audit log.

Biometric data never sits here in clear: templates are AES-GCM ciphertext under the deployment's
watchlist key, and images are encrypted blob files referenced by id (``openlfr.store.blobs``).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from openlfr.store.base import Base, UTCDateTime, new_id

# Deployment statuses only move forward: planned -> open -> closed.
DEPLOYMENT_STATUSES = ("planned", "open", "closed")

# The closed list of watchlist categories (DESIGN.md "Words": never an open-ended category).
WATCHLIST_CATEGORIES: dict[str, str] = {
    "wanted_by_court": "wanted by a court",
    "suspected_offence": "suspected of an offence",
    "bail_conditions": "bail or court conditions",
    "missing_at_risk": "missing and at increased risk",
    "risk_of_harm": "risk of harm to self or others",
}

# The closed list of deployment purpose categories, published with each deployment (issue 8 §3) beside the
# free-text purpose. Keys are stored; the words are what the public page shows.
DEPLOYMENT_PURPOSE_CATEGORIES: dict[str, str] = {
    "wanted_offenders": "locating people wanted by the courts or police",
    "serious_crime_prevention": "preventing and detecting serious crime",
    "missing_persons": "finding missing people who are at risk",
    "protection_from_harm": "protecting people at risk of harm to themselves or others",
    "public_event_safety": "keeping a public event or gathering safe",
}

# Trial or operational (issue 15 §2): required on every deployment and published. "unknown" is only for
# deployments recorded before revision 0007, and is published as such.
DEPLOYMENT_PHASES: dict[str, str] = {
    "trial": "trial",
    "operational": "operational",
}
PHASE_UNKNOWN = "unknown"

# Key purposes: a deployment's watchlist and its alerts are kept for different periods (rule 5 vs
# rule 4), so each has its own data key and each key is destroyed when its data must be gone.
KEY_PURPOSES = ("watchlist", "alerts")


class Deployment(Base):
    __tablename__ = "deployments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    purpose: Mapped[str] = mapped_column(Text)
    location: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    authorising_officer: Mapped[str] = mapped_column(String(200))
    """The authorising officer's name: internal (audit, console), never published."""
    # Nullable only for deployments recorded before revision 0003; create_deployment requires all three.
    purpose_category: Mapped[str | None] = mapped_column(String(32), nullable=True)
    """A key of :data:`DEPLOYMENT_PURPOSE_CATEGORIES`."""
    legal_basis: Mapped[str | None] = mapped_column(Text, nullable=True)
    """A short summary of the legal basis, as published."""
    authorising_role: Mapped[str | None] = mapped_column(String(200), nullable=True)
    """The authorising officer's rank or role as published (e.g. "Superintendent")."""
    cameras: Mapped[list[str]] = mapped_column(JSON)
    pack: Mapped[str] = mapped_column(String(64))
    threshold: Mapped[float] = mapped_column(Float)
    threshold_override_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    validated_min_threshold: Mapped[float | None] = mapped_column(Float, nullable=True)
    """The pack's validated minimum as read when the deployment was opened (None: no calibration)."""
    status: Mapped[str] = mapped_column(String(16), default="planned")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    opened_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Issue 25 (revision 0012): planning only proposes an authorising officer; opening binds the deployment to
    # the logged-in user who opened it (``authorising_officer``/``authorising_role`` then hold that user's name
    # and rank from the user table).
    proposed_officer: Mapped[str | None] = mapped_column(String(200), nullable=True)
    """The authorising officer named at planning (internal; None when none was proposed)."""
    proposed_role: Mapped[str | None] = mapped_column(String(200), nullable=True)
    """The proposed officer's rank or role as typed at planning."""
    authorised_by_user: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """Username of the user who opened, and so authorised, the deployment; None until it opens, and for a
    deployment opened before revision 0012 (its authoriser was typed in at planning)."""
    authorised_rank: Mapped[str | None] = mapped_column(String(32), nullable=True)
    """That user's rank key (:mod:`openlfr.ranks`) when they opened it."""
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # What the published record needs after the watchlist is destroyed, frozen at close.
    watchlist_size_at_close: Mapped[int | None] = mapped_column(Integer, nullable=True)
    watchlist_under_18_at_close: Mapped[int | None] = mapped_column(Integer, nullable=True)
    watchlist_dob_unknown_at_close: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Issue 15 (revision 0007). Nullable only for deployments recorded before it; create_deployment requires
    # them. ``phase`` of such a deployment is "unknown", stated as such wherever it is published.
    phase: Mapped[str | None] = mapped_column(String(16), nullable=True)
    """A key of :data:`DEPLOYMENT_PHASES` (trial or operational), or "unknown" (recorded before 0007)."""
    dpia_ref: Mapped[str | None] = mapped_column(Text, nullable=True)
    """Data protection impact assessment: identifier or link (published)."""
    eia_ref: Mapped[str | None] = mapped_column(Text, nullable=True)
    """Equality impact assessment: identifier or link (published)."""
    policy_ref: Mapped[str | None] = mapped_column(Text, nullable=True)
    """Appropriate policy document: identifier or link (published)."""
    intelligence_case: Mapped[str | None] = mapped_column(Text, nullable=True)
    """Summary of the intelligence case for the place and time (internal, never published)."""
    data_controller: Mapped[str | None] = mapped_column(Text, nullable=True)
    public_contact: Mapped[str | None] = mapped_column(Text, nullable=True)
    """How the public can ask questions or complain about this deployment (published)."""
    short_notice_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    """Why it was announced less than ``governance.notice_hours`` ahead (audited; shown as "short notice")."""
    signage_in_place_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    signage_in_place_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    watchlist_composition_at_close: Mapped[dict[str, dict[str, int]] | None] = mapped_column(
        JSON, nullable=True
    )
    """Counts by category, image source and offence seriousness, frozen when the watchlist is destroyed."""
    # Issue 25 (revision 0013): the retention promise, fixed when the deployment opens and published. The
    # purge applies these, never the settings of whoever runs it. NULL: opened before 0013 (the first purge
    # after it fixes them, audited).
    alert_retention_hours: Mapped[float | None] = mapped_column(Float, nullable=True)
    max_adjudication_hours: Mapped[float | None] = mapped_column(Float, nullable=True)
    escalation_hours: Mapped[float | None] = mapped_column(Float, nullable=True)
    # Issue 27 (revision 0015): what the deployment is meant to achieve, and for whom.
    objective: Mapped[str | None] = mapped_column(Text, nullable=True)
    """The stated objective (published, and reported against in the record)."""
    success_measures: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    """How success is judged (published); the record sets the outcomes beside them."""
    on_behalf_of: Mapped[str | None] = mapped_column(Text, nullable=True)
    """The force the deployment is run for, when it is not the force running it (published)."""
    on_behalf_of_controller: Mapped[str | None] = mapped_column(Text, nullable=True)
    """That force's data controller (published beside this force's own)."""

    subjects: Mapped[list[WatchlistSubject]] = relationship(
        back_populates="deployment", cascade="all, delete-orphan", passive_deletes=True
    )


class DeploymentKey(Base):
    """A deployment's data key for one purpose, wrapped (AES-GCM) by the master key.

    Destroying it sets ``wrapped_key`` to NULL: the row stays to show when and by whom it was destroyed.
    """

    __tablename__ = "deployment_keys"

    deployment_id: Mapped[str] = mapped_column(
        ForeignKey("deployments.id", ondelete="CASCADE"), primary_key=True
    )
    purpose: Mapped[str] = mapped_column(String(16), primary_key=True)
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    destroyed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class DataKeyGeneration(Base):
    """A data key started by a master key rotation (generation 1, 2, ...), wrapped by the master key.

    ``label`` is the key's wrapping label (``openlfr/<deployment>/<purpose>``, ``openlfr/gallery/<id>``,
    ``openlfr/case/<id>``); generation 0 is the key stored where it always was (``deployment_keys``,
    ``galleries.wrapped_key``, ``retro_cases.wrapped_key``). Ciphertext names its generation in its header
    (``openlfr.store.crypto``), so new data goes under the newest key and old data stays readable until
    ``keys rotate --reencrypt`` moves it and destroys the old generations."""

    __tablename__ = "data_key_generations"

    label: Mapped[str] = mapped_column(String(200), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, primary_key=True)
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    destroyed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class WatchlistSubject(Base):
    __tablename__ = "watchlist_subjects"
    __table_args__ = (UniqueConstraint("deployment_id", "subject_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"), index=True)
    subject_id: Mapped[str] = mapped_column(String(200))
    """The force's own reference for the subject (unique within the deployment)."""
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    category: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    image_source: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(Text)
    approved_by: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    date_of_birth: Mapped[date | None] = mapped_column(Date, nullable=True)
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime())
    enrolled_by: Mapped[str] = mapped_column(String(200))
    offence_seriousness: Mapped[str | None] = mapped_column(String(32), nullable=True)
    """A key of ``openlfr.governance.closed_lists.OFFENCE_SERIOUSNESS`` (None: recorded before 0007)."""
    pending_approval: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    """Enrolled by one person, not yet approved by a second: never searched (migration 0005)."""
    approved_by_user: Mapped[str | None] = mapped_column(String(200), nullable=True)
    """The authenticated user who approved it (``approved_by`` is who authorised it, as entered)."""
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    deployment: Mapped[Deployment] = relationship(back_populates="subjects")
    templates: Mapped[list[WatchlistTemplate]] = relationship(
        back_populates="subject",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="WatchlistTemplate.position",
    )


class WatchlistTemplate(Base):
    """One reference image of a subject: its encrypted image blob and encrypted template."""

    __tablename__ = "watchlist_templates"
    __table_args__ = (
        UniqueConstraint("deployment_id", "image_sha256"),
        UniqueConstraint("deployment_id", "position"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    subject_pk: Mapped[str] = mapped_column(
        ForeignKey("watchlist_subjects.id", ondelete="CASCADE"), index=True
    )
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    """Enrolment order within the deployment (the index is built in this order)."""
    image_sha256: Mapped[str] = mapped_column(String(64))
    image_blob: Mapped[str] = mapped_column(String(64))
    template: Mapped[bytes] = mapped_column(LargeBinary)
    """AES-GCM ciphertext of the float32 embedding."""
    embedding_size: Mapped[int] = mapped_column(Integer)
    quality_score: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    subject: Mapped[WatchlistSubject] = relationship(back_populates="templates")
    attraction_offset: Mapped[float | None] = mapped_column(Float, nullable=True)
    """The template's own higher threshold over the deployment's, when it attracted a reference crowd of
    strangers at enrolment (``matching/attraction.py``); 0 when it did not; NULL when the check could not run
    (no reference crowd). Under the ``normalised`` rule every template has one, and it may be negative.
    Searches subtract it from its scores."""
    offset_rule: Mapped[str | None] = mapped_column(String(16), nullable=True)
    """The rule that set ``attraction_offset`` (``attractors`` or ``normalised``); NULL when no check ran.
    The deployment's validated minimum is the one validated for the rules its templates got."""


class Alert(Base):
    """A track whose best candidate passed the threshold, and the human decisions on it.

    ``seq`` orders alerts for polling (:func:`openlfr.governance.alerts.list_alerts` ``after_seq``). Once
    purged (rule 4) the row is kept without personal data or images, so the published record can still
    count it: ``purged_at`` is set and the subject, track and blob columns are emptied.
    """

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_deployment_seq", "deployment_id", "seq"),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(32), unique=True, default=new_id)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"))
    camera_id: Mapped[str] = mapped_column(String(200))
    track_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    subject_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    category: Mapped[str | None] = mapped_column(String(32), nullable=True)
    template_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    score: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    probe_blob: Mapped[str | None] = mapped_column(String(64), nullable=True)
    frame_blob: Mapped[str | None] = mapped_column(String(64), nullable=True)
    candidate_blob: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """A copy of the matched reference image, so the alert can be adjudicated after the watchlist is gone."""
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Adjudication: each step is set once, by a person, in order.
    review: Mapped[str | None] = mapped_column(String(32), nullable=True)
    reviewed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    review_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    engagement: Mapped[str | None] = mapped_column(String(32), nullable=True)
    engaged_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    engaged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    engagement_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    disposal: Mapped[str | None] = mapped_column(String(32), nullable=True)
    disposed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    disposed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    disposal_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Retention hold (rule 4): kept past its period until released.
    evidence_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    evidence_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Issue 15 (revision 0007): what the engaging officer did, and bounded keeping.
    reason_explained: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    """Engagement: the person was told why they were stopped (None: not met, or recorded before 0007)."""
    leaflet_given: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    """Engagement: the person was given the leaflet."""
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    """Undecided past ``retention.max_adjudication_hours``: passed to a supervisor."""
    evidence_review_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    """An evidence hold lapses at this time unless renewed with a reason."""
    evidence_renewals: Mapped[int | None] = mapped_column(Integer, nullable=True, default=0)
    evidence_lapsed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    purge_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    """Why the images went: ``retention``, ``confirmed_false``, ``adjudication_overdue`` or ``erasure``
    (a data protection officer's erasure on the stopped person's request)."""
    # Issue 27 (revision 0015): the stopped person's reference and the outcome in detail.
    engagement_reference: Mapped[str | None] = mapped_column(
        String(16), nullable=True, unique=True, index=True
    )
    """Given when an officer meets the person (``governance/subject_access.py``): printed on their leaflet,
    the only key by which what is held about the encounter can be found."""
    arrest_for_watchlist_reason: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    """Disposal ``arrest``: whether it was for the reason the person was on the watchlist."""
    other_offences: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    """Disposal ``arrest``: other offences it was for (keys of ``governance.outcomes.OTHER_OFFENCES``)."""
    use_of_force: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    """Disposal: whether force was used (yes or no; None only for disposals before revision 0015)."""
    custody_reference: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    """Custody or crime reference, encrypted under the deployment's alerts key; never published."""


class CameraCounter(Base):
    """What the live pipeline saw on one camera of one deployment: counts only (rule 3)."""

    __tablename__ = "camera_counters"

    deployment_id: Mapped[str] = mapped_column(
        ForeignKey("deployments.id", ondelete="CASCADE"), primary_key=True
    )
    camera_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    faces_seen: Mapped[int] = mapped_column(Integer, default=0)
    """Face detections summed over frames (one face in view for 10 frames counts 10). Published as
    "face detections"; the published "faces seen" is ``tracks``."""
    tracks: Mapped[int] = mapped_column(Integer, default=0)
    """Distinct faces followed (tracks that ended): the denominator of false alerts per 1,000 faces."""
    frames_processed: Mapped[int] = mapped_column(Integer, default=0)
    frames_dropped: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuditEntry(Base):
    """One append-only, hash-chained audit row (``openlfr.governance.audit``)."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64), index=True)
    deployment_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    target: Mapped[str | None] = mapped_column(String(200), nullable=True)
    details: Mapped[str] = mapped_column(Text)
    """Canonical JSON (sorted keys, no spaces): hashed exactly as stored."""
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


# --- Gallery (RFR / OIFR, issue 13) -------------------------------------------------------------------
# A gallery is long-lived (custody images), separate from deployment watchlists, with its own data key:
# images are encrypted blobs under ``gallery-<id>``, templates AES-GCM ciphertext in the row.

# The closed list of reasons an officer may run an operator-initiated search (OIFR).
OIFR_REASONS: dict[str, str] = {
    "unconscious": "the person is unconscious",
    "seriously_injured": "the person is seriously injured and cannot say who they are",
    "false_details": "the person is believed to be giving false details",
    "deceased": "the person has died and must be identified",
    "mental_incapacity": "the person lacks the capacity to say who they are",
}

# The conclusion an officer records on an OIFR candidate list (issue 26).
OIFR_OUTCOMES: dict[str, str] = {
    "identified": "identified as a record on the list",
    "not_identified": "not identified",
    "inconclusive": "inconclusive",
}

# Where RFR probe media came from (closed list, counted; issue 26).
MEDIA_PROVENANCE: dict[str, str] = {
    "cctv": "CCTV (public or private system)",
    "police_camera": "police camera (body-worn, vehicle or other)",
    "phone_victim_witness": "phone or camera of a victim or witness",
    "member_of_public": "submitted by a member of the public",
    "social_media": "social media or other open source",
    "other_agency": "provided by another agency",
}

# Crime categories an RFR case is counted under in the published totals (issue 26).
CRIME_CATEGORIES: dict[str, str] = {
    "violence": "violence against the person",
    "sexual": "sexual offences",
    "robbery": "robbery",
    "burglary_theft": "burglary and theft",
    "criminal_damage": "criminal damage and arson",
    "drugs_weapons": "drugs and weapons offences",
    "public_order": "public order offences",
    "fraud": "fraud",
    "missing_vulnerable": "missing or vulnerable person (no offence)",
    "other": "other offences",
}

# The investigation's outcome on a reported RFR possible match.
INVESTIGATION_OUTCOMES: dict[str, str] = {
    "confirmed": "confirmed by the investigation",
    "not_confirmed": "not confirmed by the investigation",
}

# A reviewer's decision on one RFR candidate.
REVIEW_DECISIONS: dict[str, str] = {
    "possible_match": "possible match",
    "no_match": "no match",
    "inconclusive": "inconclusive",
}


class Gallery(Base):
    __tablename__ = "galleries"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    pack: Mapped[str] = mapped_column(String(64))
    embedding_size: Mapped[int] = mapped_column(Integer)
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    """The gallery's data key, wrapped by the master key (label ``openlfr/gallery/<id>``)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))


class GalleryTemplate(Base):
    """One custody image of one record: its encrypted image blob and template. The integer id is the
    template's id in the gallery index."""

    __tablename__ = "gallery_templates"
    __table_args__ = (
        UniqueConstraint("gallery_id", "image_sha256", name="uq_gallery_image"),
        Index("ix_gallery_templates_record", "gallery_id", "record_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    gallery_id: Mapped[str] = mapped_column(ForeignKey("galleries.id", ondelete="CASCADE"))
    record_id: Mapped[str] = mapped_column(String(200))
    custody_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    date_of_birth: Mapped[date | None] = mapped_column(Date, nullable=True)
    image_sha256: Mapped[str] = mapped_column(String(64))
    image_blob: Mapped[str] = mapped_column(String(64))
    template: Mapped[bytes] = mapped_column(LargeBinary)
    quality_score: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    flags: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    """Why a reviewer should look twice (several faces, low quality): kept and findable, not refused."""


class RetroCase(Base):
    """An RFR investigation: its reference, reason, who opened it; kept until ``retain_until``."""

    __tablename__ = "retro_cases"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    reference: Mapped[str] = mapped_column(String(200), unique=True)
    reason: Mapped[str] = mapped_column(Text)
    opened_by: Mapped[str] = mapped_column(String(200))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    retain_until: Mapped[datetime] = mapped_column(UTCDateTime())
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    """The case's data key for its probe images; destroyed when the case is purged."""
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    """Past its retention with candidates nobody decided on: passed to a supervisor (revision 0013)."""
    escalation_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    """An escalated case is kept at least until then (the escalation period fixed when it was escalated)."""
    policy_ref: Mapped[str | None] = mapped_column(String(200), nullable=True)
    """The force policy the search is made under (NULL only for cases opened before revision 0014)."""
    dpia_ref: Mapped[str | None] = mapped_column(String(200), nullable=True)
    crime_category: Mapped[str | None] = mapped_column(String(32), nullable=True)
    """A key of ``CRIME_CATEGORIES``: what the published totals count the case under."""
    closed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    close_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class RetroProbe(Base):
    """One face searched in a case: an image's face, or a video track's best shot."""

    __tablename__ = "retro_probes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    case_id: Mapped[str] = mapped_column(ForeignKey("retro_cases.id", ondelete="CASCADE"), index=True)
    media_name: Mapped[str] = mapped_column(Text)
    media_sha256: Mapped[str] = mapped_column(String(64))
    face_index: Mapped[int] = mapped_column(Integer)
    frame_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    box: Mapped[list[float]] = mapped_column(JSON)
    quality_score: Mapped[float] = mapped_column(Float)
    probe_blob: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """The face crop, encrypted under the case key."""
    reason: Mapped[str] = mapped_column(Text)
    searched_by: Mapped[str] = mapped_column(String(200))
    searched_at: Mapped[datetime] = mapped_column(UTCDateTime())
    provenance: Mapped[str | None] = mapped_column(String(32), nullable=True)
    """A key of ``MEDIA_PROVENANCE``."""
    all_faces_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    """Why everyone in the media was searched, not only the chosen person (NULL when they were chosen)."""


class RetroCandidate(Base):
    __tablename__ = "retro_candidates"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    probe_id: Mapped[str] = mapped_column(ForeignKey("retro_probes.id", ondelete="CASCADE"), index=True)
    rank: Mapped[int] = mapped_column(Integer)
    record_id: Mapped[str] = mapped_column(String(200))
    template_id: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    calibration: Mapped[str] = mapped_column(Text)
    """What the pack's calibration says about the score, in words."""
    investigation: Mapped[str | None] = mapped_column(String(32), nullable=True)
    """A key of ``INVESTIGATION_OUTCOMES`` once the investigation has concluded on a reported match."""
    investigation_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    investigation_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class RetroDecision(Base):
    """One reviewer's decision on one candidate; a possible match is reported once two people agree."""

    __tablename__ = "retro_decisions"
    __table_args__ = (UniqueConstraint("candidate_id", "reviewer", name="uq_retro_decision_reviewer"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    candidate_id: Mapped[str] = mapped_column(
        ForeignKey("retro_candidates.id", ondelete="CASCADE"), index=True
    )
    reviewer: Mapped[str] = mapped_column(String(200))
    decision: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OifrSearch(Base):
    """One operator-initiated search: who, why, when, the records shown, and the officer's conclusion.
    Never the face: the photo and its template are overwritten before the list is returned."""

    __tablename__ = "oifr_searches"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    gallery: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(32))
    officer: Mapped[str] = mapped_column(String(200))
    searched_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    candidates: Mapped[list[str]] = mapped_column(JSON)
    """Record ids shown, best first."""
    outcome: Mapped[str | None] = mapped_column(String(32), nullable=True)
    """A key of ``OIFR_OUTCOMES``; NULL while unanswered (chased on the supervisor view)."""
    outcome_record: Mapped[str | None] = mapped_column(String(200), nullable=True)
    outcome_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    outcome_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class BusWorker(Base):
    """A camera worker enrolled by a supervisor to fetch deployment kits over the stream bus (issue 16).

    Only the worker's X25519 public key is kept: the private half is in the credential file the enrolment
    wrote for the worker's machine. A revoked worker is refused every kit; the row stays as the record.
    """

    __tablename__ = "bus_workers"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    enrolled_by: Mapped[str] = mapped_column(String(200))
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class SubjectRequest(Base):
    """A stopped person's request under data protection law, handled by the data protection role (issue 27):
    counted in the published totals, never with the reference or anything that identifies the person."""

    __tablename__ = "subject_requests"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(16))
    """``access`` (a subject access response was exported) or ``erasure``."""
    outcome: Mapped[str] = mapped_column(String(32))
    """``answered``, ``not_found``, ``erased`` or ``refused``."""
    deployment_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    """Why an erasure was refused (the exemption), or the note given (internal)."""
    handled_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    handled_by: Mapped[str] = mapped_column(String(200))


class Complaint(Base):
    """The complaints register (issue 27): what was complained about and how it ended, with dates. The
    complainant's details stay in the force's own complaints system; this holds none."""

    __tablename__ = "complaints"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    category: Mapped[str] = mapped_column(String(32))
    """A key of ``governance.complaints.COMPLAINT_CATEGORIES``."""
    deployment_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    engagement_reference: Mapped[str | None] = mapped_column(String(16), nullable=True)
    """The stopped person's reference, when the complaint quotes one (internal, never published)."""
    external_ref: Mapped[str | None] = mapped_column(String(200), nullable=True)
    """The force's own complaint reference (internal)."""
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_by: Mapped[str] = mapped_column(String(200))
    outcome: Mapped[str | None] = mapped_column(String(32), nullable=True)
    """A key of ``governance.complaints.COMPLAINT_OUTCOMES``; None while open."""
    outcome_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    outcome_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
