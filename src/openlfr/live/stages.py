"""The live pipeline's stages, in the order a frame goes through them, each a function over its tracks.

:meth:`openlfr.live.pipeline.CameraWorker.process` calls them once each, in this order (the frame is
prepared by :meth:`openlfr.live.sources.Frame.prepare` and tracked by
:meth:`openlfr.live.tracker.FaceTracker.update` in between):

1. :func:`detect`: faces on the working-resolution copy, in full-resolution coordinates;
2. :func:`assess_quality`: the quality of the faces where it can change a decision
   (:func:`choose_to_assess`), with a new best shot's crops where one improved;
3. :func:`choose_to_embed`: which assessed faces are due an embedding and search (the quality gate, then
   new tracks, unconfirmed matches, faces that grew or improved; :func:`rank_to_embed`), as many as the
   frame has room for (:func:`embed_room`; fewer when the worker is behind, :class:`EmbedBudget`), and how
   many were shed;
4. :func:`embed`: those faces embedded in one batch (small faces' landmarks found again first,
   :func:`refine`), flip-tested only where the probe comes near the threshold (:func:`near_threshold`,
   ``live.flip_screen``);
5. :func:`search`: the watchlist searched once for all of them.

They read the alert policy's per-track evidence, taken once for the frame's tracks
(:class:`~openlfr.live.evidence.FrameEvidence`, from :meth:`AlertPolicy.known`), and never write it: what
they find goes back as :class:`~openlfr.live.evidence.Assessed` and
:class:`~openlfr.live.evidence.Searched` results, which the policy takes once per frame
(:meth:`AlertPolicy.take`) and turns into its decisions. They call nothing back in the policy.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import cv2
import numpy as np
import numpy.typing as npt

from openlfr.config import LiveSettings, VisionSettings
from openlfr.live.evidence import (
    NO_EVIDENCE,
    Assessed,
    FrameEvidence,
    Searched,
    Shot,
    TrackEvidence,
    fuse,
    keep_heaviest,
)
from openlfr.live.metrics import StageClock
from openlfr.live.motion import Region
from openlfr.live.sources import Frame
from openlfr.live.tracker import Track
from openlfr.matching.watchlist_index import WatchlistIndex
from openlfr.vision import Face, FaceEngine, iou_matrix
from openlfr.vision.embedders import MirrorScreen

REFINE_INPUT = 320
"""Largest side of the square (3 face widths) a small face is detected again in, in pixels."""

EWMA = 0.3
"""Weight of the newest sample in the running estimates of a face's embedding time and the frame interval."""


# -- 1. detect ------------------------------------------------------------------------------------------------
def detect(
    frame: Frame, engine: FaceEngine, vision: VisionSettings, regions: Sequence[Region] | None = None
) -> list[Face]:
    """The faces on the frame's working-resolution copy (made by :meth:`Frame.prepare`), in full-resolution
    coordinates, clipped to the frame; the full-resolution frame itself is not needed, nor converted, here.
    With ``regions`` (:class:`~openlfr.live.motion.MotionGate`), only those parts of the working copy are
    detected, each at the same scale. Faces below ``detection_score`` or ``min_detect_px`` are left out; the
    detector's order is kept within a region."""
    work = frame.work if frame.work is not None else frame.image
    h, w = frame.shape
    scale = w / work.shape[1]
    bound = np.array([w, h, w, h], np.float32)
    if regions is None:
        found = engine.detector.detect(work)
    else:
        found = [
            f.scaled(1.0, (float(x1), float(y1)))
            for x1, y1, x2, y2 in regions
            for f in engine.detector.detect(np.ascontiguousarray(work[y1:y2, x1:x2]))
        ]
    out = []
    for f in found:
        f = f.scaled(scale) if scale != 1.0 else f
        if f.detector_score >= vision.detection_score and f.size >= vision.min_detect_px:
            out.append(replace(f, box=np.clip(f.box, 0, bound).astype(np.float32)))
    return out


# -- 2. assess quality ------------------------------------------------------------------------------------------
def choose_to_assess(
    tracks: Sequence[Track],
    known: FrameEvidence,
    live: LiveSettings,
    min_face_px: float,
    *,
    behind: bool = False,
) -> list[Track]:
    """Tracks whose face quality is worth measuring in this frame.

    Tracks not yet searched, tracks with an unconfirmed match, and faces that grew are measured every
    frame; others every ``reassess_every_frames``, except while the worker is ``behind`` (frames wait for
    it): that periodic re-measure only refreshes a searched face's best shot, and waits for a quieter frame.
    Faces below the size bar are skipped unmeasured.
    """
    out = []
    for tr in tracks:
        if tr.face.size < min_face_px:
            continue
        ev = known.evidence.get(tr.id, NO_EVIDENCE)
        if (
            ev.searches == 0
            or tr.id in known.pending
            or tr.face.size >= 1.1 * ev.assessed_size
            or (not behind and tr.frames % live.reassess_every_frames == 0)
        ):
            out.append(tr)
    return out


def _crop(image: npt.NDArray[np.uint8], box: npt.NDArray[np.float32], scale: float) -> npt.NDArray[np.uint8]:
    """A copy of the region ``scale`` times the box's size around its centre, clipped to the image."""
    h, w = image.shape[:2]
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    half_w = (box[2] - box[0]) * scale / 2
    half_h = (box[3] - box[1]) * scale / 2
    x1, x2 = int(max(0, cx - half_w)), int(min(w, cx + half_w))
    y1, y2 = int(max(0, cy - half_h)), int(min(h, cy + half_h))
    return image[y1:y2, x1:x2].copy()


def assess_quality(
    frame: Frame,
    tracks: Sequence[Track],
    engine: FaceEngine,
    known: FrameEvidence,
    live: LiveSettings,
    min_face_px: float,
    limit: int | None = None,
    behind: bool = False,
    clock: StageClock | None = None,
) -> list[Assessed]:
    """Measure the quality of the faces :func:`choose_to_assess` picks; each track's face becomes its
    assessed face, and a face that passes the bar and beats the track's best shot so far comes back with
    its crops (the face with a margin and the scene around it, at full resolution).

    With no room to embed anything (``limit`` 0, the worker far behind) nothing is measured: it would be
    measured again when the faces are embedded. The full-resolution conversion this needs is charged to the
    ``convert`` stage on ``clock``.
    """
    chosen = [] if limit == 0 else choose_to_assess(tracks, known, live, min_face_px, behind=behind)
    if not chosen:
        return []
    if not frame.converted:
        frame.image  # noqa: B018 - the full-resolution conversion, charged to its own stage
        if clock is not None:
            clock.lap("convert")
    img = frame.image
    out = []
    for tr, assessed in zip(chosen, engine.assess(img, [tr.face for tr in chosen]), strict=True):
        tr.face = assessed
        q = assessed.quality
        if q is not None and q.acceptable and q.score > known.evidence.get(tr.id, NO_EVIDENCE).best_quality:
            box = assessed.box
            crop = _crop(img, box, 1 + 2 * live.crop_margin)
            out.append(Assessed(tr, assessed.size, q.score, crop, _crop(img, box, live.frame_crop_scale)))
        else:
            out.append(Assessed(tr, assessed.size))
    return out


# -- 3. choose what to embed --------------------------------------------------------------------------------------
def _near_threshold(ev: TrackEvidence, floor: float) -> bool:
    """Whether any subject's aggregated score for the track reaches ``floor``."""
    return any(se.score >= floor for se in ev.subjects.values())


def _only_blurred(reasons: Sequence[str]) -> bool:
    """Whether sharpness is the only measure of the quality bar that a face fails."""
    return bool(reasons) and all(r.startswith("blurred") for r in reasons)


def rank_to_embed(
    tracks: Sequence[Track],
    known: FrameEvidence,
    live: LiveSettings,
    frame_index: int,
    *,
    behind: bool = False,
) -> list[Track]:
    """Every assessed track due an embedding and search now, most urgent first: new tracks, then matches
    awaiting confirmation, then the rest, larger faces first; ``behind`` (the worker sheds work), matches
    awaiting confirmation first: one is a search away from an alert, and in a burst new tracks keep coming
    and would hold it back for seconds (measured: 3.5 s on a clip's restart with two cameras).

    A face below the quality bar is never searched (one that fails it only for sharpness is, with
    ``search_blurred``: the still-image calibration includes soft faces). Otherwise a track is searched when it never was, when
    a match above threshold awaits confirmation (every ``confirm_every_frames``), when its face is
    ``reembed_growth`` times the largest shot embedded or its quality improved by ``reembed_quality_gain``,
    or every ``research_every_frames`` while its best subject's score is within ``research_margin`` of the
    threshold (a face that matches no one closely is not searched over and over). A track that has alerted is not searched again
    unless another subject awaits confirmation.
    """
    chosen: list[Track] = []
    for tr in tracks:
        q = tr.face.quality
        if q is None or not (q.acceptable or (live.search_blurred and _only_blurred(q.reasons))):
            continue
        ev = known.evidence.get(tr.id, NO_EVIDENCE)
        since = frame_index - ev.last_search_frame
        pending = tr.id in known.pending
        if ev.alerted and not pending:
            continue  # the track has alerted: more shots of it change nothing
        if (
            ev.searches == 0
            or (pending and since >= live.confirm_every_frames)
            or tr.face.size >= live.reembed_growth * ev.embedded_size
            or q.score >= ev.embedded_quality + live.reembed_quality_gain
            or (
                live.research_every_frames > 0
                and since >= live.research_every_frames
                and _near_threshold(ev, known.threshold - live.research_margin)
            )
        ):
            chosen.append(tr)
    searched = {tr.id for tr in chosen if known.evidence.get(tr.id, NO_EVIDENCE).searches > 0}
    if behind:
        chosen.sort(key=lambda t: (t.id not in known.pending, t.id in searched, -t.face.size))
    else:
        chosen.sort(key=lambda t: (t.id in searched, t.id not in known.pending, -t.face.size))
    return chosen


def embed_room(live: LiveSettings, limit: int | None) -> int:
    """Faces a frame may embed: ``max_embeds_per_frame``, or fewer when a worker that is behind has room for
    only ``limit`` (:func:`embeds_that_fit`)."""
    return live.max_embeds_per_frame if limit is None else max(0, min(limit, live.max_embeds_per_frame))


def _due(track: Track, known: FrameEvidence, min_face_px: float) -> bool:
    """Whether a track left unmeasured by a frame with no room was due a search: it awaits confirmation,
    or it was never searched and not (when last measured) below the quality bar."""
    if track.face.size < min_face_px:
        return False  # never measured nor searched at this size
    ev = known.evidence.get(track.id, NO_EVIDENCE)
    return track.id in known.pending or (ev.searches == 0 and (ev.assessed_size == 0 or ev.best_quality >= 0))


@dataclass(frozen=True)
class EmbedChoice:
    """The tracks a frame embeds, most urgent first, and how many it left unembedded for lack of room."""

    tracks: list[Track]
    shed: int = 0


def choose_to_embed(
    tracks: Sequence[Track],
    known: FrameEvidence,
    live: LiveSettings,
    frame_index: int,
    *,
    limit: int | None = None,
    min_face_px: float = 0.0,
) -> EmbedChoice:
    """The tracks :func:`rank_to_embed` ranks first, as many as :func:`embed_room` allows. Bounded work per
    frame: a burst of new faces would otherwise stall the worker for several frame intervals and drop
    frames; those left out stay eligible on the next frames (nothing here records them).

    ``shed`` counts what a worker behind (``limit`` not ``None``) left out: those due beyond the room, or,
    in a frame with no room at all (whose faces were not even measured), the tracks due a search
    (awaiting confirmation, or never searched and not below the bar when last measured)."""
    ranked = rank_to_embed(tracks, known, live, frame_index, behind=limit is not None)
    room = embed_room(live, limit)
    shed = max(0, min(len(ranked), live.max_embeds_per_frame) - room)
    if limit == 0:
        shed += sum(_due(tr, known, min_face_px) for tr in tracks)
    return EmbedChoice(ranked[:room], shed)


def embeds_that_fit(
    headroom_s: float, embed_s: float | None, since_embed_s: float, live: LiveSettings
) -> int | None:
    """How many faces a worker that can drop frames may embed in this frame (``None``: no limit).

    ``headroom_s`` is the time left before the worker's frame slot would overflow (a frame dropped), and
    ``embed_s`` the measured wall time one face's embedding takes (with its landmark refinement): a burst of
    new faces costs several frame intervals of embedding, so only as many as fit are embedded now, and the
    rest on the next frames, as the worker catches up. Nothing is measured yet: no limit. So that a worker
    that never catches up still searches, one face is embedded anyway once none was for ``shed_max_wait_s``
    (frames are then dropped instead).
    """
    if embed_s is None or embed_s <= 0:
        return None
    n = int(max(0.0, headroom_s) // embed_s)
    if n == 0 and since_embed_s >= live.shed_max_wait_s:
        n = 1
    return min(n, live.max_embeds_per_frame)


class EmbedBudget:
    """A worker's running estimates of its frame interval, a frame's cost without embeddings and one face's
    embedding, and from them how many faces a frame may embed (``live.shed_when_behind``).

    ``sheds``: whether the worker may shed at all (only where frames can be dropped: live or paced sources).
    """

    def __init__(self, live: LiveSettings, sheds: bool) -> None:
        self.live = live
        self.sheds = sheds
        self.embed_s: float | None = None
        """One face's embedding wall time (refinement included), seconds."""
        self.interval_s: float | None = None
        """The source's frame interval (from the frames' capture times), seconds."""
        self.base_s: float | None = None
        """A frame's wall time without its embeddings, seconds."""
        self._last_frame: tuple[int, float] | None = None
        self._last_embed_mono = time.monotonic()
        self._frame_start = 0.0
        self._frame_embed_s = 0.0

    def start(self, last_end: float | None) -> None:
        """A frame starts; the last one's stages ended at ``last_end`` (``time.perf_counter()``; ``None``:
        no frame yet), so its cost without embeddings goes into the estimate now."""
        if last_end is not None:
            base = last_end - self._frame_start - self._frame_embed_s
            self.base_s = base if self.base_s is None else self.base_s + EWMA * (base - self.base_s)
        self._frame_start, self._frame_embed_s = time.perf_counter(), 0.0

    def limit(self, frame: Frame, tracks: Sequence[Track]) -> int | None:
        """How many faces this frame may embed before the slot would overflow (``None``: no limit); notes
        the frame interval first.

        A slot of ``max_queue_frames``: the frame after them arrives ``max_queue_frames + 1`` intervals
        after this one was captured and would push out the oldest. The embeddings are planned into that room
        less ``shed_headroom_frames``, kept for embeddings that take longer than their estimate (four
        cameras' bursts on two cores make one face take twice its running mean), so that an overrun delays
        frames instead of dropping them. Half an interval is kept back for the rest of this frame (search,
        alert) and the next frame's start. A worker whose detected frames take
        longer than the interval between them (``detect_every_frames`` frame intervals: the frames between
        cost next to nothing) even without embeddings never catches up: it drops frames whatever it sheds,
        so it sheds nothing (searching as much as it did before).
        """
        if self._last_frame is not None:
            index, captured = self._last_frame
            if frame.index > index:
                dt = (frame.captured_mono - captured) / (frame.index - index)
                if 0 < dt <= 1.0:  # a reconnection's gap is no frame interval
                    prev = self.interval_s
                    self.interval_s = dt if prev is None else prev + EWMA * (dt - prev)
        self._last_frame = (frame.index, frame.captured_mono)
        if not tracks or not self.sheds or self.interval_s is None or self.base_s is None:
            return None
        if self.base_s >= self.interval_s * self.live.detect_every_frames:
            return None
        now = time.monotonic()
        planned = self.live.max_queue_frames - self.live.shed_headroom_frames
        deadline = frame.captured_mono + (planned + 0.5) * self.interval_s
        return embeds_that_fit(deadline - now, self.embed_s, now - self._last_embed_mono, self.live)

    def embedded(self, faces: int, seconds: float) -> None:
        """The frame embedded ``faces`` faces in ``seconds`` (nothing to note for none)."""
        if faces == 0:
            return
        self._frame_embed_s = seconds
        per_face = seconds / faces
        prev = self.embed_s
        self.embed_s = per_face if prev is None else prev + EWMA * (per_face - prev)
        self._last_embed_mono = time.monotonic()


# -- 4. embed --------------------------------------------------------------------------------------------------------
def refine(frame: Frame, faces: list[Face], engine: FaceEngine, refine_below_px: float) -> list[Face]:
    """Landmarks of small faces found again at full resolution, for a sharper alignment.

    Detection runs on a reduced copy of the frame, where a 40 px face's eyes are a few pixels apart, so
    its landmarks (and so the aligned face that is embedded) are off by a pixel or two of the full
    frame. A face narrower than ``refine_below_px`` that is about to be embedded is detected again on a
    full-resolution square around it (``REFINE_INPUT`` pixels a side); the nearest face found there
    replaces its landmarks. Only a few faces a frame are embedded, so this costs little.
    """
    h, w = frame.shape
    work_w = frame.work.shape[1] if frame.work is not None else w
    if refine_below_px <= 0 or w <= work_w * 1.05:
        return faces
    img = frame.image
    out = []
    for f in faces:
        if f.size >= refine_below_px:
            out.append(f)
            continue
        cx, cy = f.centre
        half = max(f.width, f.height) * 1.5
        x1, y1 = int(max(0, cx - half)), int(max(0, cy - half))
        x2, y2 = int(min(w, cx + half)), int(min(h, cy + half))
        side = max(x2 - x1, y2 - y1)
        square = np.zeros((side, side, 3), np.uint8)
        square[: y2 - y1, : x2 - x1] = img[y1:y2, x1:x2]
        k = min(1.0, REFINE_INPUT / side)
        if k < 1.0:
            square = np.asarray(cv2.resize(square, (round(side * k), round(side * k))), np.uint8)
        found = engine.detector.detect(square)
        found = [g.scaled(1 / k, (float(x1), float(y1))) for g in found]
        if found:
            best = max(found, key=lambda g: float(iou_matrix(g.box[None], f.box[None])[0, 0]))
            if float(iou_matrix(best.box[None], f.box[None])[0, 0]) >= 0.5:
                f = replace(f, landmarks=best.landmarks)
        out.append(f)
    return out


def embed(
    frame: Frame,
    tracks: Sequence[Track],
    engine: FaceEngine,
    refine_below_px: float,
    needs_mirror: MirrorScreen | None = None,
) -> list[Face]:
    """The tracks' faces embedded in one batch (small ones refined first, :func:`refine`), in their order;
    with ``needs_mirror`` (:func:`near_threshold`), only the faces it picks are flip-tested."""
    if not tracks:
        return []
    faces = refine(frame, [tr.face for tr in tracks], engine, refine_below_px)
    return engine.embed(frame.image, faces, needs_mirror)


def near_threshold(
    tracks: Sequence[Track], index: WatchlistIndex, known: FrameEvidence, floor: float
) -> MirrorScreen:
    """The flip test's screen (``live.flip_screen``): given the tracks' faces embedded without their mirror
    images, the faces whose probe, made as :func:`search` makes it (fused with the track's kept shots),
    scores at least ``floor`` for some subject.

    The threshold was calibrated on flip-tested embeddings, so every search that can reach it must be of a
    flip-tested shot; a face that matches no one within the margin (most passers-by) is searched as it is,
    at half the embedding's cost. Scores move by a few hundredths with the flip test (at most 0.04 on the
    walk-bys), well inside ``live.flip_screen_margin``."""

    def screen(embeddings: npt.NDArray[np.float32]) -> list[bool]:
        weights = [_weight(tr.face) for tr in tracks]
        _kept, probes = track_probes(tracks, list(embeddings), weights, known)
        _tops, scores = index.search_with_scores(probes, k=1)
        return [bool(row.max() >= floor) for row in scores]

    return screen


# -- 5. search -------------------------------------------------------------------------------------------------------
def _weight(face: Face) -> float:
    """A shot's weight in the aggregation: its face size times its quality score (0.5 unmeasured)."""
    return face.size * (face.quality.score if face.quality else 0.5)


def track_probes(
    tracks: Sequence[Track],
    shots: Sequence[npt.NDArray[np.float32]],
    weights: Sequence[float],
    known: FrameEvidence,
) -> tuple[list[list[Shot]], npt.NDArray[np.float32]]:
    """Each track's probe for its new shot, as :func:`search` searches it and the flip screen
    (:func:`near_threshold`) screens it: with ``fused`` aggregation the weighted mean of the track's kept
    shots with this one (those kept shots come back too), otherwise the shot itself."""
    fused = known.aggregation == "fused"
    kept = [
        keep_heaviest(known.evidence.get(tr.id, NO_EVIDENCE).shots, (w, e), known.keep) if fused else []
        for tr, e, w in zip(tracks, shots, weights, strict=True)
    ]
    # Each fused probe has at least this shot (the filter only narrows the type).
    probes = np.stack([p for p in map(fuse, kept) if p is not None] if fused else list(shots))
    return kept, probes


def search(
    tracks: Sequence[Track],
    embedded: Sequence[Face],
    index: WatchlistIndex,
    known: FrameEvidence,
    top_k: int,
) -> list[Searched]:
    """Search the watchlist once for all the embedded faces of ``tracks`` (in the same order).

    With ``fused`` aggregation the probe of each track is the weighted mean of its kept shots' embeddings
    with this one (:func:`~openlfr.live.evidence.keep_heaviest`, :func:`~openlfr.live.evidence.fuse`;
    the kept shots come back for the policy to hold); otherwise the shot itself. A shot's weight is its
    face size times its quality score.
    """
    if not tracks:
        return []
    weights = [_weight(f) for f in embedded]
    shots = []
    for f in embedded:
        assert f.embedding is not None
        shots.append(f.embedding)
    kept, probes = track_probes(tracks, shots, weights, known)
    tops, scores = index.search_with_scores(probes, k=top_k)
    return [
        Searched(tr, f.size, f.quality.score if f.quality else 0.0, w, e, top, row, k)
        for tr, f, w, e, top, row, k in zip(tracks, embedded, weights, shots, tops, scores, kept, strict=True)
    ]
