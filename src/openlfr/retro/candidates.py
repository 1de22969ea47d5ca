"""One ranked candidate list entry and what the pack's calibration says about its score (which FPIR
thresholds it reaches at this gallery's size), with the gallery record's import flags shown beside it;
shared by RFR and OIFR results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from openlfr.matching.calibration import Calibration, CalibrationError, load_calibration
from openlfr.store import Store
from openlfr.store.models import (
    Gallery,
    GalleryTemplate,
)

# --- what the calibration says about a score ---------------------------------------------------------


def describe_score(cal: Calibration | None, score: float, gallery_size: int) -> str:
    """In words: which calibrated thresholds (FPIR targets at this gallery's size) the score reaches."""
    if cal is None:
        return "no calibration for this pack: the score cannot be interpreted"
    fpirs = sorted({p.fpir for p in cal.points}, reverse=True)
    parts = []
    largest = max((p.watchlist_size for p in cal.points), default=0)
    for fpir in fpirs:
        try:
            t = cal.threshold_for(fpir, max(gallery_size, 1))
        except CalibrationError:
            continue
        side = "above" if score >= t else "below"
        parts.append(f"{side} the FPIR {fpir:.2%} threshold ({t:.3f})")
    if parts and gallery_size > largest:
        # A larger gallery needs a stricter threshold than any calibrated: the words must not overstate.
        parts.append(f"calibrated up to {largest:,} entries, the gallery holds {gallery_size:,}")
    if not parts:
        side = "above" if score >= cal.validated_min_threshold else "below"
        return f"{side} the validated minimum threshold ({cal.validated_min_threshold:.3f})"
    return "; ".join(parts)


def _calibration(store: Store, gallery: Gallery) -> Calibration | None:
    try:
        return load_calibration(gallery.pack, store.settings.data_dir)
    except CalibrationError:
        return None


def _gallery_size(store: Store, gallery: Gallery) -> int:
    from sqlalchemy import func

    with store.session() as s:
        return int(
            s.scalar(
                select(func.count(func.distinct(GalleryTemplate.record_id))).where(
                    GalleryTemplate.gallery_id == gallery.id
                )
            )
            or 0
        )


@dataclass(frozen=True)
class CandidateOut:
    id: str | None
    record_id: str
    score: float
    rank: int
    calibration: str
    template_id: int
    flags: tuple[str, ...] = ()
    """The gallery record's import flags (several faces, low quality): shown beside the candidate."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "record_id": self.record_id,
            "score": round(self.score, 4),
            "rank": self.rank,
            "calibration": self.calibration,
            "flags": list(self.flags),
        }


@dataclass
class FaceOut:
    probe_id: str | None
    media: str
    face_index: int
    frame_index: int | None
    box: list[float]
    quality: float
    low_quality: tuple[str, ...]
    candidates: list[CandidateOut] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "probe_id": self.probe_id,
            "media": self.media,
            "face_index": self.face_index,
            "frame_index": self.frame_index,
            "box": self.box,
            "quality": round(self.quality, 3),
            "low_quality": list(self.low_quality),
            "candidates": [c.as_dict() for c in self.candidates],
        }


def template_flags(store: Store, template_ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
    """The import flags of gallery templates (``GalleryTemplate.flags``), by template id."""
    if not template_ids:
        return {}
    with store.session() as s:
        return _flags_in(s, template_ids)


def _flags_in(s: Any, template_ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
    rows = s.execute(
        select(GalleryTemplate.id, GalleryTemplate.flags).where(GalleryTemplate.id.in_(set(template_ids)))
    ).all()
    return {int(i): tuple(f or ()) for i, f in rows}
