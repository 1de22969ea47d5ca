"""The one typed settings object.

Every threshold, retention period, path and limit that a force may want to change lives here, read from
(highest priority first) keyword arguments, environment variables ``OPENLFR_*`` (nested with ``__``, e.g.
``OPENLFR_QUALITY__MIN_FACE_PX=48``), a TOML file (``OPENLFR_CONFIG`` or ``./openlfr.toml``; nested
sections as TOML tables), then the defaults below.

Unknown keys are errors, never ignored: a typo such as ``[retention] alert_retention_hour = 24`` would
otherwise leave a safeguard at its default without a word. The error names the key and the nearest valid
one. The same holds for environment variables that address a setting (``OPENLFR_<SECTION>__<KEY>``, or a name
close to a setting's); the project's other variables (:data:`OTHER_ENV_VARS`) are left alone.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from openlfr.errors import OpenLFRError
from openlfr.ranks import RANKS, UnknownRank, parse_rank

ENV_PREFIX = "OPENLFR_"
OTHER_ENV_VARS = frozenset({"OPENLFR_CONFIG", "OPENLFR_TEST_POSTGRES_URL", "OPENLFR_CHROMIUM"})
"""``OPENLFR_*`` variables the project reads that are not settings: the TOML file's path, the test
database, the Chromium binary for PDF signage. (``OPENLFR_DATA`` is the ``dataset_dir`` setting.)"""


class SettingsError(OpenLFRError, ValueError):
    """The configuration (TOML file, ``OPENLFR_*`` variables or arguments) has an unknown key or a bad value."""


def _default_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "openlfr"


def _toml_path() -> Path:
    return Path(os.environ.get("OPENLFR_CONFIG", "openlfr.toml"))


def _nearest(name: str, valid: Iterable[str], cutoff: float = 0.6) -> str:
    """`` (did you mean X?)`` for the closest valid name, or ``""`` when none is close."""
    match = difflib.get_close_matches(name, list(valid), n=1, cutoff=cutoff)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _keys(model: type[BaseModel]) -> dict[str, str]:
    """Every key a model accepts -> its field name (field names and their validation aliases)."""
    out: dict[str, str] = {}
    for name, field in model.model_fields.items():
        out[name] = name
        if isinstance(field.validation_alias, str):
            out[field.validation_alias] = name
    return out


def _section_of(field: FieldInfo) -> type[BaseModel] | None:
    """The section model a field holds, or None for a plain value (a path, a dict of cameras, ...)."""
    t = field.annotation
    return t if isinstance(t, type) and issubclass(t, BaseModel) else None


def _refuse_unknown_keys(model: type[BaseModel], data: Any) -> Any:
    """``data`` unchanged if it has only keys ``model`` knows; else a ValueError naming the first unknown
    key and the nearest valid one (pydantic's own "extra inputs" error names no alternative)."""
    if isinstance(data, Mapping):
        valid = _keys(model)
        for key, value in data.items():
            if key not in valid:
                what = "section" if model is Settings and isinstance(value, Mapping) else "setting"
                raise ValueError(f"unknown {what} {key!r}{_nearest(str(key), valid)}")
    return data


class _Section(BaseModel):
    """A settings section (a TOML table): unknown keys are refused, naming the nearest valid one."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _known_keys_only(cls, data: Any) -> Any:
        return _refuse_unknown_keys(cls, data)


class VisionSettings(_Section):
    """Detection and embedding."""

    pack: str = Field("opencv-zoo", description="Model pack used unless a deployment names another.")
    threads: int = Field(2, ge=1, le=64, description="Inference threads (ONNX Runtime / OpenCV / dlib).")
    detection_score: float = Field(0.6, ge=0.05, le=0.99, description="Minimum detector confidence.")
    nms_iou: float = Field(
        0.3,
        ge=0.05,
        le=0.95,
        description="Overlap (IoU) above which two detections are one face (non-maximum suppression).",
    )
    working_width: int = Field(
        640,
        ge=160,
        le=4096,
        description="Frames wider than this are detected at this width, then mapped back.",
    )
    shared_working_width: int = Field(
        512,
        ge=160,
        le=4096,
        description="With two or more sources in one process, each is detected at most this wide (the "
        "detector is most of a frame's cost: two 1080p25 cameras at 640 px need more than two cores).",
    )
    min_detect_px: int = Field(
        16, ge=8, description="Faces narrower than this (full-resolution pixels) are not reported."
    )
    flip_augment: bool = Field(
        True, description="Embed the aligned face and its mirror image and average them (more accurate)."
    )
    max_image_pixels: int = Field(
        60_000_000, ge=1_000_000, description="Larger images are refused (decompression-bomb guard)."
    )
    max_image_bytes: int = Field(
        50 * 1024 * 1024, ge=1024, description="Larger image files are refused before they are decoded."
    )


class QualitySettings(_Section):
    """The quality bar: a face below any of these is reported with the reason, and not enrolled."""

    min_face_px: float = Field(32.0, description="Shorter side of the face box, in full-resolution pixels.")
    min_inter_eye_px: float = Field(
        16.0, description="Distance between the eye landmarks, in full-resolution pixels."
    )
    max_yaw_deg: float = Field(
        40.0, description="Largest head turn left or right, estimated from the landmarks."
    )
    max_pitch_deg: float = Field(
        35.0, description="Largest head tilt up or down, estimated from the landmarks."
    )
    max_roll_deg: float = Field(
        35.0, description="Largest in-plane tilt of the head, from the eye landmarks."
    )
    min_sharpness: float = Field(40.0, description="Variance of the Laplacian of the aligned 112x112 face.")
    min_brightness: float = Field(40.0, description="Mean grey level of the aligned face, 0-255.")
    max_brightness: float = Field(
        220.0, description="Mean grey level of the aligned face above which it is overexposed."
    )
    enrol_min_score: float = Field(0.5, ge=0.0, le=1.0, description="Quality score needed to enrol.")


class StoreSettings(_Section):
    """The database, the key files and the audit log's checkpoints."""

    database_url: str | None = Field(
        None, description="SQLAlchemy URL. Default: SQLite (WAL) in the data directory."
    )
    master_key_file: Path | None = Field(
        None, description="File holding the 32-byte master key (base64). Default: <data_dir>/master.key."
    )
    audit_key_file: Path | None = Field(
        None,
        description="Secret that keys the audit chain and signs its checkpoints (0600, kept outside the "
        "database; every writer needs the same file). Default: audit.key next to the master key.",
    )
    audit_checkpoint_dir: Path | None = Field(
        None,
        description="Append-only folder for the signed audit checkpoints (outside the database; may be a "
        "separate, append-only mount). Default: <data_dir>/audit-checkpoints.",
    )
    audit_witness_file: Path | None = Field(
        None,
        description="The audit log's witness: a file OUTSIDE the data folder to which every signed checkpoint "
        "is also appended, on a location the service cannot rewrite (another mount or host, or a file made "
        "append-only with `chattr +a`). `openlfr audit verify` reads it and fails when the log or the "
        "checkpoint log is behind it or has forked from it. Unset: no witness (an insider holding the data "
        "folder can then rewrite the log undetected).",
    )
    audit_witness_syslog: str | None = Field(
        None,
        description="Also send every signed checkpoint to this remote syslog collector, `host:port` (UDP), "
        "kept by another host; write-only: verify cannot read it back, a person compares it.",
    )


class RetentionSettings(_Section):
    """How long alert data is kept, and the purge that removes it."""

    alert_retention_hours: float = Field(720.0, gt=0, description="How long alert data is kept (30 days).")
    purge_interval_minutes: float = Field(15.0, gt=0, description="How often the server runs the purge.")
    auto_close_ended_deployments: bool = Field(
        True, description="The purge closes deployments left open past their end (destroying the watchlist)."
    )
    max_adjudication_hours: float = Field(
        72.0,
        gt=0,
        description="An alert still undecided this long after it was raised goes to a supervisor.",
    )
    escalation_hours: float = Field(
        24.0, gt=0, description="An escalated alert still undecided this long after escalation is purged."
    )
    evidence_review_days: float = Field(
        30.0, gt=0, description="An evidence hold lapses after this unless renewed with a reason."
    )
    service_identity: str = Field(
        "retention-service",
        min_length=1,
        max_length=100,
        description="The name the server's scheduled purge acts and is audited as (role `service`). A manual "
        "`openlfr purge` acts as the logged-in user. The retention periods above are fixed into each "
        "deployment when it opens: changing them later changes only deployments opened afterwards.",
    )


class GovernanceSettings(_Section):
    """Deployments and watchlists."""

    max_deployment_hours: float = Field(
        168.0, gt=0, description="Longest window a deployment may be authorised for."
    )
    ambiguous_face_ratio: float = Field(
        0.7,
        gt=0,
        le=1,
        description="An enrolment image whose second face is at least this share of the "
        "largest face's size is refused as ambiguous.",
    )
    duplicate_similarity: dict[str, float] = Field(
        # Measured on LFW (one image per person, 45k-245k different-person pairs per pack): each value is
        # above the highest different-person score seen, because a 1:1 threshold (~1% false matches)
        # would refuse most of a 10,000-subject watchlist as "duplicates". Packs not listed fall back to
        # their 1:1 verification threshold.
        {"opencv-zoo": 0.55, "insightface-s": 0.40, "dlib": 0.96},
        description="Per pack: similarity at which an enrolment image is refused as the same person as "
        "another enrolled subject.",
    )
    attraction_check: bool = Field(
        True,
        description="At enrolment, compare each reference template with the pack's reference crowd "
        "(written by `openlfr evaluate`) and give a template that attracts strangers its own higher threshold.",
    )
    attraction_fmr: float = Field(
        1e-3,
        gt=0.0,
        lt=0.1,
        description="Reference level of the attraction check: the share of strangers an ordinary template "
        "matches at the pack's reference threshold.",
    )
    attraction_factor: float = Field(
        5.0, gt=1.0, description="A template matching this many times the expected strangers is an attractor."
    )
    attraction_min_hits: int = Field(
        5, ge=1, description="...and at least this many reference-crowd faces (few hits prove nothing)."
    )
    attraction_p_value: float = Field(
        1e-3, gt=0.0, lt=0.5, description="...and significantly so (one-sided binomial test at this level)."
    )
    template_offsets: Literal["attractors", "normalised"] = Field(
        "normalised",
        description="Which templates `openlfr evaluate` gives offsets against the reference crowd and "
        "validates the minimum with: only attractors (raised), or every template (normalised, signed: each "
        "matches the same share of the crowd at the threshold). It is written into the reference crowd, and "
        "enrolment applies the rule the crowd carries (matching/attraction.py).",
    )
    normalisation_max_lowering: float = Field(
        # Normalised offsets learnt on UTKFace run from about -0.15 to +0.3 (benchmarks, issue 12 round 5); the
        # cap keeps a template whose crowd scores are low only because its kind of face is scarce in the
        # reference crowd from being eased far below the deployment's bar.
        0.1,
        ge=0.0,
        le=0.3,
        description="Under normalised offsets: the most a template's own threshold may sit below the "
        "deployment's.",
    )
    template_fusion: Literal["max", "mean"] = Field(
        # Measured (benchmarks/enrolment_fusion.py, opencv-zoo, LFW people with 3+ images enrolled from 2):
        # FNIR at the validated minimum 26.5% with one reference, 14.9% with max over two, 10.0% fused.
        "mean",
        description="How a subject's several reference templates are scored against a probe: the best "
        "single reference (max) or their normalised mean (a fused template). Chosen by "
        "benchmarks/enrolment_fusion.py.",
    )
    max_document_bytes: int = Field(
        20 * 1024 * 1024,
        ge=1024,
        description="Largest deployment document (DPIA, EIA, policy: PDF or HTML) that may be stored and "
        "published with `openlfr deployment document`.",
    )
    notice_hours: float = Field(
        24.0,
        gt=0,
        description="A deployment is announced at least this long before it opens, unless a short-notice "
        "reason is given (audited, published as short notice).",
    )
    target_fpir: float = Field(
        0.001,
        gt=0,
        lt=1,
        description="FPIR the opening threshold must meet for the watchlist's actual size (from the pack's "
        "calibration); below it an override reason is needed.",
    )
    min_authorising_rank: str = Field(
        "superintendent",
        description="Lowest police rank that may authorise (open) a deployment; the authorising officer is "
        "the logged-in user who opens it, with the rank an admin recorded for them (`openlfr user rank`). "
        "One of: " + ", ".join(r.key for r in RANKS) + ".",
    )

    @field_validator("min_authorising_rank")
    @classmethod
    def _known_rank(cls, value: str) -> str:
        try:
            return parse_rank(value).key
        except UnknownRank as exc:
            raise ValueError(str(exc)) from None


class LiveSettings(_Section):
    """Live pipeline and alert policy."""

    min_hits: int = Field(2, ge=1, description="Searches above threshold a track needs before it alerts.")
    cooldown_seconds: float = Field(60.0, ge=0, description="One alert per subject per camera per this.")
    track_iou: float = Field(
        0.3, ge=0.0, le=1.0, description="Least overlap (IoU, with motion) for a face to continue a track."
    )
    track_max_age_s: float = Field(1.0, gt=0, description="A track unseen for this long has ended.")
    reembed_quality_gain: float = Field(
        0.1, ge=0.0, description="Re-embed a track only when its best shot improves by this much."
    )
    max_queue_frames: int = Field(
        4,
        ge=1,
        description="Frames waiting per source; more are dropped (the oldest first). Its cost is latency: in a "
        "burst of work a frame may wait up to this many frame intervals (160 ms at 25 fps) before it is "
        "processed; its room is also the time budget that `shed_when_behind` fits a frame's embeddings into.",
    )
    shed_when_behind: bool = Field(
        True,
        description="Where frames can be dropped (cameras, paced files), shed a burst's work rather than "
        "frames: a frame embeds only as many faces as fit, at the measured cost of one, before its frame slot "
        "would overflow (new tracks first; the others stay eligible on the next frames); a frame with no room "
        "for one measures no face's quality either, and while frames wait, already searched faces are not "
        "re-measured on the periodic `reassess_every_frames`. A worker whose frames take longer than the frame "
        "interval even without embeddings (it drops frames whatever it sheds) sheds nothing. Files "
        "played as fast as possible (nothing is dropped there) are never shed.",
    )
    shed_max_wait_s: float = Field(
        0.3,
        gt=0,
        description="With `shed_when_behind`, a frame still embeds one face when faces wait and none was "
        "embedded for this long, so a worker that cannot keep up still searches (and drops frames instead).",
    )
    reconnect_initial_s: float = Field(
        0.5, gt=0, description="First wait before reconnecting a lost stream; doubled at each failed try."
    )
    reconnect_max_s: float = Field(
        30.0, gt=0, description="Longest wait between reconnection tries of a lost stream."
    )
    open_timeout_s: float = Field(5.0, gt=0, description="Give up opening or reading a stream after this.")
    scan_check_interval_s: float = Field(
        5.0, gt=0, description="How often a running source re-checks that its deployment allows scanning."
    )
    counters_interval_s: float = Field(
        5.0,
        gt=0,
        description="How often counters go to the deployment (also before each alert and at shutdown), so a "
        "killed worker loses at most this long of faces seen.",
    )
    confirm_every_frames: int = Field(
        2, ge=1, description="A track with an unconfirmed match above threshold is searched again this often."
    )
    max_embeds_per_frame: int = Field(
        3, ge=1, description="Best shots embedded per frame at most; the rest wait for the next frames."
    )
    search_top_k: int = Field(3, ge=1, description="Candidates per search kept in a track's evidence.")
    aggregation: Literal["fused", "weighted_top", "max"] = Field(
        "fused",
        description="How a track's searches make one score per subject: 'fused' searches the weighted mean "
        "of its best shots' embeddings, 'weighted_top' averages the scores of its heaviest searches, 'max' "
        "takes the best single search (chosen by benchmarks/live_ablation.py).",
    )
    evidence_shots: int = Field(
        3, ge=1, description="Heaviest shots (face size x quality) a track's aggregate is made of."
    )
    reembed_growth: float = Field(
        1.25,
        ge=1.0,
        description="Re-embed a track when its face is this many times wider than the largest shot embedded "
        "so far (people walk towards the camera: the close-up matters most); a large value turns it off.",
    )
    refine_below_px: float = Field(
        96.0,
        ge=0,
        description="Faces narrower than this (full-resolution px) that are about to be embedded get their "
        "landmarks found again at full resolution, for a sharper alignment (0: off).",
    )
    research_every_frames: int = Field(
        2,
        ge=0,
        description="Also re-embed a track's face every this many frames (0: only when new, grown, improved "
        "or awaiting confirmation); more shots for the fused template (chosen by benchmarks/live_ablation.py).",
    )
    search_blurred: bool = Field(
        True,
        description="Also search a face that fails the quality bar only for sharpness (the still-image "
        "calibration includes such faces; a soft reference-quality face is otherwise never searched).",
    )
    research_margin: float = Field(
        0.15,
        ge=0.0,
        description="The periodic re-embed is only for tracks whose best subject scores within this of the "
        "threshold (1.0: every track).",
    )
    reassess_every_frames: int = Field(
        5, ge=1, description="Quality of an already searched track's face is re-measured this often."
    )
    flip_augment: bool = Field(
        True,
        description=(
            "Embed live probes with their mirror image too, as enrolment and the evaluation do, so the "
            "calibrated thresholds hold for live scores (measured cost: 54 -> 49 fps unpaced on the crowd clip)."
        ),
    )
    paced_files: bool = Field(
        True, description="Play video files at their own frame rate (drops counted), not as fast as possible."
    )
    folder_fps: float = Field(1.0, gt=0, description="Frame rate a folder of images is treated as having.")
    decode_threads: int = Field(
        0,
        ge=0,
        le=64,
        description="FFmpeg decoding threads per video source. 0: automatic: FFmpeg's own choice for one "
        "source; with several, the machine's cores shared among them (as `vision.threads` is), so that two "
        "1080p cameras on a small computer do not oversubscribe its cores.",
    )
    crop_margin: float = Field(0.3, ge=0, description="Margin around the face box in an alert's face crop.")
    frame_crop_scale: float = Field(4.0, ge=1, description="Width of an alert's scene crop, in face widths.")
    jpeg_quality: int = Field(90, ge=50, le=100, description="JPEG quality of alert images.")


class ServerSettings(_Section):
    """The server (`openlfr serve`): login, sessions, limits, the public pages and what it runs."""

    host: str = Field("127.0.0.1", description="Address `openlfr serve` listens on.")
    port: int = Field(8765, ge=1, le=65535, description="Port `openlfr serve` listens on.")
    public_base_url: str = Field("http://127.0.0.1:8765", description="Used in signage QR codes.")
    session_hours: float = Field(8.0, gt=0, description="Lifetime of a console login (the session cookie).")
    login_attempts_per_minute: int = Field(
        5, ge=1, description="Failed logins for one user from one address before that pair is locked."
    )
    secure_cookies: bool = Field(
        True, description="Mark cookies Secure (turn off only for plain-HTTP tests)."
    )
    login_lockout_seconds: float = Field(
        60.0,
        gt=0,
        description="First lock of a (user, address) pair, doubled by each further failure; also the window "
        "over which an address's failures for any usernames are counted.",
    )
    token_hours: float = Field(12.0, gt=0, description="Lifetime of an API bearer token.")
    cli_token_hours: float = Field(
        8.0, gt=0, description="Lifetime of the token `openlfr login` keeps for the command line."
    )
    cli_token_file: Path | None = Field(
        None, description="Where `openlfr login` keeps its token (0600). Default: <data_dir>/cli-token."
    )
    public_requests_per_minute: int = Field(
        60, ge=1, description="Per-address limit on the public transparency pages and feeds."
    )
    public_cache_seconds: int = Field(
        300, ge=0, description="Cache-Control max-age of public pages and feeds."
    )
    webhook_url: str | None = Field(
        None, description="If set, every alert is also POSTed here (JSON, signed with HMAC-SHA256)."
    )
    webhook_secret: str | None = Field(None, description="Shared secret for the webhook's HMAC signature.")
    webhook_timeout_s: float = Field(5.0, gt=0, description="Give up one webhook delivery after this.")
    run_live: bool = Field(True, description="Run the live pipeline for open deployments inside `serve`.")
    run_purge: bool = Field(True, description="Run the scheduled purge inside `serve`.")
    camera_sources: dict[str, str] = Field(
        default_factory=dict,
        description="camera id -> source (file, folder, rtsp://..., webcam 0). `serve` runs the live pipeline "
        "for every open deployment's cameras found here.",
    )
    live_check_seconds: float = Field(
        5.0, gt=0, description="How often `serve` looks for deployments to run."
    )
    force_name: str = Field(
        "the police force", description="Who runs the deployments (signage, public page)."
    )
    contact: str = Field("", description="How the public can ask questions (signage, public page).")
    privacy_notice_url: str = Field(
        "",
        description="Link to the force's privacy notice for facial recognition (signage, leaflet, public "
        "pages). Empty: the pages say it is available on request.",
    )
    postal_address: str = Field(
        "",
        description="Postal address for subject access, erasure requests and complaints (signage, leaflet, "
        "public pages); lines separated by commas.",
    )
    accessibility_statement_url: str = Field(
        "",
        description="Link to the force's accessibility statement (public pages); accessible versions of the "
        "documents are offered on request at the contact and postal address.",
    )
    regulator_complaint_route: str = Field(
        "If you are not satisfied with our answer about your personal data, you can complain to the "
        "Information Commissioner's Office (ico.org.uk/make-a-complaint, 0303 123 1113). A complaint about "
        "an officer's conduct goes to the force first, then to the Independent Office for Police Conduct "
        "(policeconduct.gov.uk).",
        description="The route to the regulator, printed under the force's contact on every public "
        "deployment page (how to complain beyond the force).",
    )
    data_controller: str = Field(
        "", description="Default data controller of new deployments (each deployment must name one)."
    )
    legal_basis_summary: str = Field(
        "Common-law policing powers, with sensitive processing under Part 3 of the Data Protection Act 2018 "
        "(strictly necessary for law enforcement)",
        description="Legal basis shown for a deployment recorded without one of its own (before migration 0003).",
    )
    login_attempts_per_address: int = Field(
        20,
        ge=1,
        description="Failed logins from one address, for any usernames, within login_lockout_seconds before "
        "that address is refused for the window (password spraying).",
    )
    login_max_lockout_seconds: float = Field(
        3600.0, gt=0, description="Longest lock of one (user, address) pair: the back-off doubles up to this."
    )
    max_request_bytes: int = Field(
        16 * 1024 * 1024,
        ge=1024,
        description="Largest request body accepted; a larger one is refused with 413 before it is parsed.",
    )
    max_json_bytes: int = Field(
        1024 * 1024, ge=1024, description="Largest JSON request body accepted (413 beyond it)."
    )
    hsts_seconds: int = Field(
        31_536_000,
        ge=0,
        description="Strict-Transport-Security max-age sent with every response (0: no header). Browsers "
        "heed it only over HTTPS.",
    )


class BusSettings(_Section):
    """The stream bus between camera workers and the central service (Redis Streams). Off by default:
    without ``url`` everything runs in one process (the embedded mode)."""

    url: str | None = Field(
        None, description="Redis URL, e.g. redis://127.0.0.1:6379/0. Set: `serve` also runs the central side."
    )
    prefix: str = Field("openlfr", description="Prefix of every key and stream name on the bus.")
    alerts_stream: str = Field("alerts", description="Stream the workers publish alerts on.")
    events_stream: str = Field("events", description="Stream of counter updates and heartbeats.")
    group: str = Field("central", description="Consumer group of the central service.")
    heartbeat_s: float = Field(
        1.0, gt=0, description="How often a worker reports and re-reads its lease; the central tick."
    )
    lease_s: float = Field(
        15.0,
        gt=0,
        description="Lease a worker scans under; renewed by the central service while the deployment is "
        "open and in its window, never past the window's end. An unreachable central service stops "
        "the worker when it runs out.",
    )
    claim_idle_s: float = Field(
        5.0, gt=0, description="A delivered but unacknowledged entry idle this long is reclaimed."
    )
    max_stream_len: int = Field(
        100_000, ge=1000, description="Approximate cap of each stream (XADD MAXLEN ~)."
    )
    reconnect_max_s: float = Field(10.0, gt=0, description="Longest back-off between reconnection tries.")
    outbox_max: int = Field(
        10_000, ge=1, description="Alerts and counts a worker holds while the bus is unreachable."
    )
    forget_worker_hours: float = Field(
        24.0, gt=0, description="A worker silent this long is dropped from the health list."
    )
    credential_file: Path | None = Field(
        None,
        description="A camera worker's credential (written by `openlfr enrol-worker`). Set: the worker "
        "fetches its deployment's kit from the central service over the bus, and needs no database or "
        "master key. Unset: it reads the kit from the store (only on the central service's own machine).",
    )
    central_key_file: Path | None = Field(
        None,
        description="The central service's X25519 key for worker kits. Default: <data_dir>/bus-central.key.",
    )
    kit_timeout_s: float = Field(
        30.0, gt=0, description="How long a worker waits for its kit, and how long a kit request is valid."
    )


class EvaluationSettings(_Section):
    """Accuracy and equitability evaluation (``openlfr evaluate``) and the calibration it writes."""

    fpir_targets: list[float] = Field(
        [0.01, 0.001], description="False-positive identification rates that thresholds are calibrated for."
    )
    watchlist_sizes: list[int] = Field(
        [100, 300, 1000, 10000],
        description="Watchlist sizes calibrated; sizes above the data are extrapolated.",
    )
    subsample_repeats: int = Field(5, ge=1, description="Random watchlists drawn per measured size.")
    lfw_holdout_fraction: float = Field(
        0.25, gt=0.0, lt=1.0, description="Share of single-image LFW people left out as non-mated searches."
    )
    age_bands: list[int] = Field(
        [0, 18, 25, 35, 45, 55, 65],
        description="Lower edges of the age bands (0-17 is children, its own band).",
    )
    alpha: float = Field(0.05, gt=0.0, lt=0.5, description="Family-wise significance level (Holm-corrected).")
    hygiene_fmr: float = Field(
        1e-6,
        gt=0.0,
        lt=0.01,
        description="Crowd hygiene: strict threshold = score exceeded by this share of known-different LFW pairs.",
    )
    hygiene_max_per_subject: int = Field(
        5,
        ge=1,
        description="Crowd hygiene: an enrolled person reached by more crowd faces than this attracts strangers "
        "(a lookalike-prone template), so those pairs are kept as false alerts, not excluded.",
    )
    assumed_prevalence: float = Field(
        0.001, gt=0.0, lt=1.0, description="Share of faces passing a camera that are on the watchlist."
    )
    seed: int = Field(
        2019,
        description="Seed of the random draws (held-out people, watchlist samples, crowd folds): same seed, same figures.",
    )


class RetroSettings(_Section):
    """The gallery, retrospective (RFR) and operator-initiated (OIFR) searches (issue 13)."""

    gallery: str = Field("custody", description="Gallery searched and imported into unless one is named.")
    index: str = Field(
        "ivf", pattern="^(ivf|exact)$", description="Gallery index: ivf (inverted lists + re-rank) or exact."
    )
    index_codes: Literal["pq4", "sq8"] = Field(
        "pq4",
        description="How the IVF lists store a template: pq4 (4-bit product-quantised fast-scan codes, the "
        "fastest to scan) or sq8 (int8 per dimension). Either is re-ranked exactly; see the benchmark.",
    )
    probe_share: float = Field(
        0.3,
        gt=0.0,
        le=1.0,
        description="Share of the IVF lists a search visits: recall against speed, the same at any gallery "
        "size (benchmarks/gallery_index.py measures it at 1M and 10M).",
    )
    refine_factor: int = Field(
        200,
        ge=0,
        description="Shortlist of refine_factor x k found by the codes, re-scored with fp16 copies (at 10M, "
        "80 kept recall@20 at 0.988, 200 at 0.996: benchmarks/gallery_index.py).",
    )
    train_after: int = Field(
        50_000, ge=1000, description="Templates searched exactly until the IVF quantiser is trained on them."
    )
    rfr_top_k: int = Field(20, ge=1, le=200, description="Candidates per face in a retrospective search.")
    oifr_top_k: int = Field(
        6, ge=1, le=50, description="Candidates returned by an operator-initiated search."
    )
    case_retention_days: float = Field(
        365.0, gt=0, description="How long an RFR case, its probe images and candidate lists are kept."
    )
    video_frame_budget: int = Field(
        3000,
        ge=10,
        description="Most frames of one video that are analysed; a longer video is sampled evenly.",
    )
    best_shots_per_track: int = Field(3, ge=1, description="Best shots of a video track that are searched.")
    import_checkpoint: int = Field(
        200, ge=1, description="Gallery import commits (and saves the index) every this many images."
    )
    rfr_enabled: bool = Field(
        True,
        description="Whether this force uses retrospective facial recognition (RFR). Off: every RFR path (CLI, "
        "API, page) refuses with a message saying so, and the public page says RFR is not in use.",
    )
    oifr_enabled: bool = Field(
        True,
        description="Whether this force uses operator-initiated facial recognition (OIFR). Off: every OIFR path "
        "(CLI, API, page) refuses with a message saying so, and the public page says OIFR is not in use.",
    )
    policy_ref: str = Field(
        "",
        max_length=200,
        description="Reference of the force's RFR policy document, recorded with every case that names none; "
        "a case is refused when neither gives one.",
    )
    dpia_ref: str = Field(
        "",
        max_length=200,
        description="Reference of the data protection impact assessment covering RFR, recorded with every "
        "case that names none; a case is refused when neither gives one.",
    )
    people_choice_minutes: float = Field(
        10.0,
        gt=0,
        le=60,
        description="How long the people found in uploaded RFR media (thumbnails and templates, in memory only) "
        "wait for the officer to choose whom to search before they are wiped.",
    )
    dominant_face_margin: float = Field(
        1.5,
        ge=1.0,
        description="Gallery import: a custody image with several faces enrols the most prominent (area x "
        "centrality); when it is less than this many times as prominent as the next face the record is "
        "also flagged 'subject unclear' for the reviewer.",
    )
    oifr_outcome_chase_hours: float = Field(
        24.0,
        gt=0,
        description="An OIFR list whose officer has recorded no outcome after this many hours is listed on the "
        "supervisor view to be chased.",
    )
    evaluation_gallery_sizes: list[PositiveInt] = Field(
        [10_000, 100_000, 1_000_000],
        description="Gallery sizes at which `openlfr evaluate` measures rank-k identification rates: the real "
        "gallery, then real plus synthetic distractors up to each size larger than it.",
    )
    evaluation_max_gallery: int = Field(
        1_000_000,
        ge=0,
        description="Largest gallery `openlfr evaluate` builds for rank-k rates (0: the real gallery only); "
        "the CLI's --max-gallery overrides it.",
    )
    evaluation_ranks: list[PositiveInt] = Field(
        [1, 6, 20], description="Ranks k at which `openlfr evaluate` reports rank-k identification rates."
    )


class Settings(BaseSettings):
    """All of openlfr's configuration."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        populate_by_name=True,
        toml_file=None,
    )

    data_dir: Path = Field(default_factory=_default_home, description="Where the embedded store lives.")
    dataset_dir: Path = Field(
        Path("../shared/data"),
        validation_alias="OPENLFR_DATA",
        description="Shared evaluation data (LFW, UTKFace, ...). Env: OPENLFR_DATA.",
    )
    vision: VisionSettings = Field(default_factory=VisionSettings)
    quality: QualitySettings = Field(default_factory=QualitySettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    governance: GovernanceSettings = Field(default_factory=GovernanceSettings)
    live: LiveSettings = Field(default_factory=LiveSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    evaluation: EvaluationSettings = Field(default_factory=EvaluationSettings)
    bus: BusSettings = Field(default_factory=BusSettings)
    retro: RetroSettings = Field(default_factory=RetroSettings)

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            toml_path = _toml_path()
            where = (
                f" (read from {toml_path}, OPENLFR_* variables and arguments)" if toml_path.is_file() else ""
            )
            raise SettingsError(f"bad configuration{where}: {_describe(exc)}") from None

    @model_validator(mode="before")
    @classmethod
    def _known_keys_only(cls, data: Any) -> Any:
        return _refuse_unknown_keys(cls, data)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = _toml_path()
        _check_env(os.environ)
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_path.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)

    @property
    def database_url(self) -> str:
        if self.store.database_url:
            return self.store.database_url
        return f"sqlite:///{self.data_dir / 'openlfr.db'}"

    @property
    def master_key_file(self) -> Path:
        return self.store.master_key_file or self.data_dir / "master.key"

    @property
    def bus_central_key_file(self) -> Path:
        return self.bus.central_key_file or self.data_dir / "bus-central.key"

    @property
    def audit_key_file(self) -> Path:
        return self.store.audit_key_file or self.master_key_file.parent / "audit.key"

    @property
    def audit_checkpoint_dir(self) -> Path:
        return self.store.audit_checkpoint_dir or self.data_dir / "audit-checkpoints"

    @property
    def cli_token_file(self) -> Path:
        return self.server.cli_token_file or self.data_dir / "cli-token"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"


def _describe(exc: ValidationError) -> str:
    """One line per problem, each naming where it is (``retention.alert_retention_hour``)."""
    lines = []
    for e in exc.errors():
        where = ".".join(str(p) for p in e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: {msg}" if where else msg)
    return "; ".join(lines)


def _check_env(environ: Mapping[str, str]) -> None:
    """Refuse ``OPENLFR_*`` variables that address no setting.

    pydantic-settings reads only the names it knows, so ``OPENLFR_RETENTON__ALERT_RETENTION_HOURS`` (section
    misspelt) or ``OPENLFR_DATADIR`` would be ignored. A name with ``__`` always addresses a setting and
    is checked in full; a plain name is checked only when it is close to a setting's name, since the
    project (and a force's own scripts) may use other ``OPENLFR_*`` variables."""
    fields = Settings.model_fields
    top: dict[str, str] = {}  # the variable's suffix (lower case) -> field name
    for name, field in fields.items():
        alias = field.validation_alias
        if isinstance(alias, str):
            top[alias.lower().removeprefix(ENV_PREFIX.lower())] = name
        else:
            top[name] = name
    for var in environ:
        if not var.upper().startswith(ENV_PREFIX) or var.upper() in OTHER_ENV_VARS:
            continue
        parts = var[len(ENV_PREFIX) :].lower().split("__")
        if len(parts) == 1 and (parts[0] in top or not _nearest(parts[0], top, cutoff=0.8)):
            # A setting, or a variable not within a typo of any setting's name (OPENLFR_TOKEN is not
            # OPENLFR_STORE misspelt): a script's own variable, not meant as a setting.
            continue
        model: type[BaseModel] = Settings
        valid: Mapping[str, str] = top
        for depth, part in enumerate(parts):
            if part not in valid:
                close = difflib.get_close_matches(part, list(valid), n=1, cutoff=0.6)
                hint = ""
                if close:
                    meant = ENV_PREFIX + "__".join([*parts[:depth], close[0], *parts[depth + 1 :]]).upper()
                    hint = f" (did you mean {meant}?)"
                where = ".".join(parts[: depth + 1])
                raise SettingsError(
                    f"environment variable {var} names no setting: {where!r} is unknown{hint}"
                )
            section = _section_of(model.model_fields[valid[part]])
            if section is None:
                break  # a plain value, or a dict whose keys are the user's (camera ids, pack names)
            model, valid = section, _keys(section)


@lru_cache(maxsize=1)
def get_settings(**overrides: Any) -> Settings:
    """The process-wide settings (cached). Tests build their own ``Settings(...)`` instead."""
    return Settings(**overrides)
