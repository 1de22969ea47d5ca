"""Settings for the live pipeline: tracking, pacing and shedding, re-embedding, search and the alert policy."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from openlfr.config.strict import _Section


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
        8,
        ge=1,
        description="Frames waiting per source; more are dropped (the oldest first). Its cost is latency: in a "
        "burst of work a frame may wait up to this many frame intervals (320 ms at 25 fps) before it is "
        "processed. `shed_when_behind` plans a frame's embeddings into this room less "
        "`shed_headroom_frames`.",
    )
    shed_headroom_frames: int = Field(
        4,
        ge=0,
        description="With `shed_when_behind`, the frames of the slot that no frame's embeddings are planned "
        "into: room for embeddings that take longer than their measured cost (several cameras embedding on "
        "the same cores at the same moment), so that they delay frames rather than drop them. Less than "
        "`max_queue_frames`. At four 1080p cameras on two cores, in step (benchmarks/cameras.py, interleaved "
        "A/B), a slot of 8 with 4 kept back dropped 0-0.27% of frames per camera where a slot of 4 with none "
        "kept back dropped 0.67-2.80%; the price is up to 4 more frame intervals of delay in such a burst.",
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
    detect_every_frames: int = Field(
        2,
        ge=1,
        le=8,
        description="Run the face detector on one frame in this many; on the frames between, the tracker "
        "carries each face's box and nothing is embedded (a walking person's face moves a few pixels in a "
        "frame interval). The detector is most of a frame's cost, so 2 halves it: four 1080p25 cameras fit two "
        "cores with room to spare, with the walk-by's recall unchanged (benchmarks/cameras.py, "
        "benchmarks/live_ablation.py). A frame not detected is processed, not dropped; the metrics count "
        "frames detected apart. 1: every frame.",
    )
    motion_gate: bool = Field(
        True,
        description="Detect only where the picture changed since the last detected frame and around the faces "
        "being tracked, at the scale the whole frame would be detected at (a fixed camera's background costs "
        "nothing); the whole frame is still detected every `full_detect_every_s` and whenever the changes "
        "cover more than `motion_full_share` of it. Measured: the walk-by's recall unchanged at a fraction of "
        "the detector's cost (benchmarks/live_ablation.py, benchmarks/cameras.py).",
    )
    motion_threshold: float = Field(
        10.0,
        gt=0,
        le=255,
        description="With `motion_gate`, the change in mean grey level (0-255) of an 8x8 block of the working "
        "frame that counts as motion.",
    )
    full_detect_every_s: float = Field(
        1.0,
        gt=0,
        description="With `motion_gate`, the whole frame is detected at least this often, so a face that "
        "neither moves nor is tracked is found within this long.",
    )
    motion_full_share: float = Field(
        0.5,
        gt=0,
        le=1,
        description="With `motion_gate`, when the regions to detect would cover more than this share of the "
        "frame, the whole frame is detected instead.",
    )
    sources_on_machine: int = Field(
        0,
        ge=0,
        le=64,
        description="Video sources this machine runs in all, across its processes (e.g. four `openlfr worker` "
        "processes of one camera each): each source's inference and decoding threads, and its detection "
        "width (`vision.shared_working_width`), are set for that many, as they are for the sources of one "
        "process. 0: the sources of this process only.",
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
    flip_screen: bool = Field(
        True,
        description="With `flip_augment`, embed each face alone first and its mirror image only when the "
        "probe (fused with the track's kept shots, as searched) scores within `flip_screen_margin` of the "
        "threshold for some subject: every search that can reach the threshold is of a flip-tested shot, as "
        "calibrated, and a face that matches no one closely (most passers-by) costs half, which is most of "
        "the embedding's cost in the bursts when new faces reach every camera at once "
        "(benchmarks/cameras.py, benchmarks/live_ablation.py).",
    )
    flip_screen_margin: float = Field(
        0.1,
        gt=0,
        le=1,
        description="With `flip_screen`, how far below the threshold a probe without the mirror image may "
        "score and still be flip-tested. The flip test moves a face's score by at most 0.04 on the walk-bys.",
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

    @model_validator(mode="after")
    def _headroom_inside_the_slot(self) -> LiveSettings:
        if self.shed_headroom_frames >= self.max_queue_frames:
            raise ValueError(
                f"live.shed_headroom_frames ({self.shed_headroom_frames}) must be less than "
                f"live.max_queue_frames ({self.max_queue_frames}): shedding plans a frame's embeddings into "
                "the slot less its headroom, and none would be left"
            )
        return self
