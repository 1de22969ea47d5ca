"""A worker that is behind sheds a burst's embeddings, not frames, and hides nothing: the faces it leaves out
are counted and searched on later frames, the watchlisted performer alerts as he does when nothing is shed,
and on a real clip played faster than the machine can process every frame read is processed or counted as
dropped (in the metrics and in the store alike) and every alert raised is stored with its images."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import av
import pytest

from openlfr.config import LiveSettings, Settings
from openlfr.live.memory_gateway import InMemoryGateway
from openlfr.live.pipeline import CameraWorker, LivePipeline
from openlfr.live.sources import FrameSource, parse_source
from openlfr.vision import FaceEngine
from tests.live.conftest import ABSENT, MIRANDA, THRESHOLD, encode_clip, open_stored_deployment

FPS = 150
"""Five times the clip's own rate: no 2-core machine detects every 640x360 frame and embeds faces this fast."""


@pytest.fixture(scope="module")
def hamilton_fast(hamilton: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """All 275 frames of the Hamilton clip, as a camera sending 150 frames a second would (1.8 s)."""
    with av.open(str(hamilton)) as c:
        frames = [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]
    return encode_clip(frames, tmp_path_factory.mktemp("clip") / "hamilton-150fps.mp4", (640, 360), FPS)


def test_a_worker_that_cannot_keep_up_loses_no_frame_count_and_no_alert(
    hamilton_fast: Path, settings: Settings, engine: FaceEngine
) -> None:
    from sqlalchemy import select

    from openlfr.governance.live_gateway import DeploymentGateway
    from openlfr.store.models import Alert, CameraCounter

    # Every frame detected whole (the default detects one in two, where motion is): at 150 fps a 2-core
    # machine cannot even detect every frame, so the worker is behind by more than its 8-frame slot holds.
    live = LiveSettings(cooldown_seconds=0.0, detect_every_frames=1, motion_gate=False)
    settings = settings.model_copy(update={"live": live})
    assert settings.live.shed_when_behind  # the default
    store, dep_id = open_stored_deployment(
        settings, {"lin_manuel_miranda": MIRANDA, **ABSENT}, ["stage"], engine
    )
    gateway = DeploymentGateway(store, dep_id, settings)  # type: ignore[arg-type]
    spec = parse_source(f"stage={hamilton_fast}")
    result = LivePipeline([spec], gateway, settings, paced=True, engine_factory=lambda: engine).run()
    (m,) = result.metrics
    assert m["state"] == "ended"
    # Every frame read is processed or counted as dropped (the slot's drops and what was left at the end).
    assert m["frames_in"] == 275 and m["frames_processed"] + m["frames_dropped"] == 275
    assert m["frames_dropped"] > 0  # the machine cannot keep up: the test does put the worker behind
    # A worker this far behind drops frames whatever it sheds, so it keeps searching; the performer on
    # stage alerts, and nobody else does.
    assert m["searches"] > 0
    assert {a.subject_id for a in result.alerts} == {"lin_manuel_miranda"}
    with store.session() as s:  # type: ignore[attr-defined]
        stored = list(s.scalars(select(Alert).where(Alert.deployment_id == dep_id)))
        counters = s.scalars(select(CameraCounter).where(CameraCounter.deployment_id == dep_id)).one()
        # Nothing stored is lost: every alert raised is in the store with its images, and the store's
        # counters are the metrics' own.
        assert sorted(a.id for a in stored) == sorted(a.alert_id for a in result.alerts)
        assert all(a.probe_blob and a.frame_blob for a in stored)
        assert counters.frames_processed == m["frames_processed"]
        assert counters.frames_dropped == m["frames_dropped"]
        assert counters.faces_seen == m["faces_seen"] and counters.tracks == m["tracks"]


def _run_frames(worker: CameraWorker, clip: Path, n: int, behind: int) -> list[int]:
    """Frames 0..n-1 of ``clip`` through ``worker.process``; the first ``behind`` come from a camera sending a
    frame every 0.9 s (longer than any frame's detection, however loaded the machine) and reach the worker
    200 s late (far past what its slot can hold), the others as they are captured. Returns the searches each
    frame made."""
    searches = []
    t0 = time.monotonic() - 200.0
    for frame in FrameSource(parse_source(str(clip))).frames(threading.Event()):
        if frame.index >= n:
            break
        frame.captured_mono = t0 + 0.9 * frame.index if frame.index < behind else time.monotonic()
        before = worker.metrics.searches
        worker.process(frame)
        searches.append(worker.metrics.searches - before)
    return searches


def test_a_worker_behind_embeds_what_fits_and_the_faces_it_left_out_are_searched_later(
    hamilton: Path, settings: Settings, engine: FaceEngine, watchlist_with_miranda: Path
) -> None:
    """Frame by frame on the real clip (Miranda alerts at frames 2 and 84 when nothing is shed)."""
    # No embedding "anyway" after shed_max_wait_s here: behind, nothing fits, so nothing is embedded. Every
    # frame detected whole: "on time" here is a source whose frames come as fast as the worker takes them,
    # so its frame interval is the worker's own pace, and a worker whose frames all cost the same (no frame
    # between detections, no motion gate) is never behind its own pace.
    # A long slot (16 frames): on time, a frame's room is then many of its own intervals, so a loaded machine's
    # slow frame does not make it shed (seen once in a full run: 55 shed); 200 s late, nothing fits anyway.
    live = LiveSettings(
        cooldown_seconds=0.0,
        shed_max_wait_s=1e6,
        detect_every_frames=1,
        motion_gate=False,
        max_queue_frames=16,
    )
    settings = settings.model_copy(update={"live": live})
    gateway = InMemoryGateway.from_folder(watchlist_with_miranda, engine, threshold=THRESHOLD)
    spec = parse_source(f"stage={hamilton}")
    gateway.allow_camera(spec.camera_id)
    on_time = CameraWorker(spec, gateway, settings, engine=engine, paced=True)
    wanted = _run_frames(on_time, hamilton, 120, behind=0)
    assert on_time.metrics.embeds_shed == 0

    late = CameraWorker(spec, gateway, settings, engine=engine, paced=True)
    searches = _run_frames(late, hamilton, 120, behind=60)
    # Behind, a frame embeds one face at most (nothing fits; one anyway when none was for
    # shed_max_wait_s), where on time up to max_embeds_per_frame (3) are; the rest are counted as shed.
    # Behind, nothing fits: after the first frame (nothing measured yet) no face is embedded, where on
    # time some are; the faces left out are counted.
    assert sum(searches[1:60]) == 0 < sum(wanted[1:60])
    assert late.metrics.embeds_shed > 0
    # Not left out for good: on time again, the worker searches the faces it left out besides the others,
    # and the performer alerts as he does when nothing is shed (his alerting track after frame 60 too).
    assert sum(searches[60:]) >= sum(wanted[60:])
    assert (
        {a.subject_id for a in late.alerts}
        == {a.subject_id for a in on_time.alerts}
        == {"lin_manuel_miranda"}
    )
    assert {a.track_id for a in late.alerts} >= {a.track_id for a in on_time.alerts if a.media_s > 60 / 29.97}
