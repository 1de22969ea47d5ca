"""The pipeline's choices, as small functions over a frame's tracks (in the manner of supervision's tools).

Each takes the tracks seen in a frame and returns the ones a costly step should run on:

- :func:`choose_to_assess`: whose quality to measure (only where it can change a decision);
- :func:`rank_to_embed`: which assessed faces are due an embedding and search (the quality gate, then new
  tracks, unconfirmed matches, faces that grew or improved), most urgent first;
- :func:`choose_to_embed`: the first of those, at most ``max_embeds_per_frame`` a frame, or fewer when the
  worker is behind (:func:`embeds_that_fit`, :func:`embed_room`). The pipeline ranks once and slices
  itself, so that it can also count what it sheds.

They read the policy's per-track evidence (what was searched when) and the ``[live]`` settings; they
compute nothing about pixels themselves.
"""

from __future__ import annotations

from collections.abc import Sequence

from openlfr.config import LiveSettings
from openlfr.live.policy import AlertPolicy, TrackEvidence
from openlfr.live.tracker import Track


def choose_to_assess(
    tracks: Sequence[Track],
    policy: AlertPolicy,
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
        ev = policy.evidence(tr)
        if (
            ev.searches == 0
            or policy.pending(tr)
            or tr.face.size >= 1.1 * ev.assessed_size
            or (not behind and tr.frames % live.reassess_every_frames == 0)
        ):
            out.append(tr)
    return out


def _near_threshold(ev: TrackEvidence, floor: float) -> bool:
    """Whether any subject's aggregated score for the track reaches ``floor``."""
    return any(se.score >= floor for se in ev.subjects.values())


def _only_blurred(reasons: Sequence[str]) -> bool:
    """Whether sharpness is the only measure of the quality bar that a face fails."""
    return bool(reasons) and all(r.startswith("blurred") for r in reasons)


def rank_to_embed(
    tracks: Sequence[Track],
    policy: AlertPolicy,
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
        ev = policy.evidence(tr)
        since = frame_index - ev.last_search_frame
        pending = policy.pending(tr)
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
                and _near_threshold(ev, policy.threshold - live.research_margin)
            )
        ):
            chosen.append(tr)
    if behind:
        chosen.sort(key=lambda t: (not policy.pending(t), policy.evidence(t).searches > 0, -t.face.size))
    else:
        chosen.sort(key=lambda t: (policy.evidence(t).searches > 0, not policy.pending(t), -t.face.size))
    return chosen


def embed_room(live: LiveSettings, limit: int | None) -> int:
    """Faces a frame may embed: ``max_embeds_per_frame``, or fewer when a worker that is behind has room for
    only ``limit`` (:func:`embeds_that_fit`)."""
    return live.max_embeds_per_frame if limit is None else max(0, min(limit, live.max_embeds_per_frame))


def choose_to_embed(
    tracks: Sequence[Track],
    policy: AlertPolicy,
    live: LiveSettings,
    frame_index: int,
    *,
    limit: int | None = None,
) -> list[Track]:
    """The tracks :func:`rank_to_embed` ranks first, as many as :func:`embed_room` allows. Bounded work per
    frame: a burst of new faces would otherwise stall the worker for several frame intervals and drop
    frames; those left out stay eligible on the next frames (a shed one too: nothing here records it)."""
    ranked = rank_to_embed(tracks, policy, live, frame_index, behind=limit is not None)
    return ranked[: embed_room(live, limit)]


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
