"""Rule 1 (scan only inside an open deployment's window, only its cameras) and rule 3 (a face that matches
no one leaves nothing behind: no image, crop or template on disk, in the database or in the logs)."""

from __future__ import annotations

import logging
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from openlfr.config import LiveSettings, Settings
from openlfr.live.memory_gateway import InMemoryGateway
from openlfr.live.pipeline import CameraWorker, LivePipeline, RaisedAlert
from openlfr.live.policy import TrackEvidence
from openlfr.live.sources import Frame, parse_source
from openlfr.live.tracker import Track
from openlfr.vision import Face, FaceEngine, get_pack
from openlfr.vision.embedders import MirrorScreen
from tests.live.conftest import ABSENT, THRESHOLD, open_stored_deployment


class _Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def _stage_gateway(folder: Path, engine: FaceEngine, clock: _Clock) -> InMemoryGateway:
    """A one-hour deployment, starting now on ``clock``, whose only camera is "stage"."""
    return InMemoryGateway.from_folder(
        folder, engine, threshold=THRESHOLD, cameras=["stage"], clock=clock, duration=timedelta(hours=1)
    )


def test_a_closed_window_or_a_foreign_camera_is_not_scanned(
    hamilton: Path, settings: Settings, engine: FaceEngine, watchlist_of_absent_people: Path
) -> None:
    clock = _Clock()
    gateway = _stage_gateway(watchlist_of_absent_people, engine, clock)
    foreign = CameraWorker(parse_source(f"lobby={hamilton}"), gateway, settings, engine=engine)
    foreign.run(threading.Event())
    assert foreign.metrics.state == "refused" and "not one of" in foreign.metrics.message
    assert foreign.metrics.frames_in == 0

    clock.now += timedelta(hours=2)  # the deployment's window has closed
    late = CameraWorker(parse_source(f"stage={hamilton}"), gateway, settings, engine=engine)
    late.run(threading.Event())
    assert late.metrics.state == "refused" and late.metrics.frames_in == 0


def test_scanning_stops_when_the_window_closes_mid_run(
    hamilton: Path, settings: Settings, engine: FaceEngine, watchlist_of_absent_people: Path
) -> None:
    clock = _Clock()
    gateway = _stage_gateway(watchlist_of_absent_people, engine, clock)
    settings = settings.model_copy(update={"live": LiveSettings(scan_check_interval_s=0.2)})
    worker = CameraWorker(parse_source(f"stage={hamilton}"), gateway, settings, engine=engine, paced=True)
    thread = threading.Thread(target=worker.run, args=(threading.Event(),), daemon=True)
    thread.start()
    time.sleep(1.0)
    clock.now += timedelta(hours=2)
    closed_at = time.monotonic()
    thread.join(10)
    assert not thread.is_alive() and time.monotonic() - closed_at < 2.0
    snap = worker.metrics.snapshot()
    assert snap["state"] == "refused"
    assert 0 < snap["frames_processed"] < 100  # the clip has 275 frames (9 s); it stopped after about 1 s
    assert gateway.counters["stage"]["frames_processed"] == snap["frames_processed"]


class _RecordingEngine(FaceEngine):
    """The real engine, keeping a copy of every embedding it makes so the test can look for them."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(get_pack("opencv-zoo"), settings.vision, settings.quality)
        self.embeddings: list[npt.NDArray[np.float32]] = []

    def embed(  # type: ignore[override]
        self, image: npt.NDArray[np.uint8], faces: list[Face], needs_mirror: MirrorScreen | None = None
    ) -> list[Face]:
        out = super().embed(image, faces, needs_mirror)
        self.embeddings += [f.embedding.copy() for f in out if f.embedding is not None]
        return out


class _EvidenceWatch:
    """Watches a worker's policy: every piece of track evidence it hands out, and after each frame whether
    it still holds evidence of a track the tracker has ended."""

    def __init__(self) -> None:
        self.evidence: list[TrackEvidence] = []
        self.leaks: list[tuple[int, set[int]]] = []


def _watch_evidence(worker: CameraWorker) -> _EvidenceWatch:
    watch = _EvidenceWatch()
    policy, process, evidence = worker.policy, worker.process, worker.policy.evidence

    def recording_evidence(track: Track) -> TrackEvidence:
        ev = evidence(track)
        if not any(ev is e for e in watch.evidence):
            watch.evidence.append(ev)
        return ev

    def checked_process(frame: Frame) -> list[RaisedAlert]:
        out = process(frame)
        stale = policy.held_track_ids() - set(worker.tracker.tracks)
        if stale:
            watch.leaks.append((frame.index, stale))
        return out

    policy.evidence = recording_evidence  # type: ignore[method-assign]
    worker.process = checked_process  # type: ignore[method-assign]
    return watch


def test_the_evidence_watch_catches_a_policy_that_keeps_ended_tracks(
    hamilton: Path, settings: Settings, engine: FaceEngine, watchlist_of_absent_people: Path
) -> None:
    """The check above can fail: with ``AlertPolicy.end`` broken, the ended tracks' evidence is seen."""
    clock = _Clock()
    gateway = _stage_gateway(watchlist_of_absent_people, engine, clock)
    worker = CameraWorker(parse_source(f"stage={hamilton}"), gateway, settings, engine=engine, paced=False)
    worker.policy.end = lambda tracks: None  # type: ignore[method-assign]
    held = _watch_evidence(worker)
    worker.run(threading.Event())
    assert held.leaks and any(ev.holds_biometrics for ev in held.evidence)


def _forms(e: npt.NDArray[np.float32]) -> list[bytes]:
    """Ways a template could be written as bytes: float32, float16, float64."""
    return [
        e[:8].astype(np.float32).tobytes(),
        e[:8].astype(np.float16).tobytes(),
        e[:4].astype(np.float64).tobytes(),
    ]


def _printed(e: npt.NDArray[np.float32], text: str) -> bool:
    """Whether any three consecutive values of ``e`` appear, in order, among the numbers printed in ``text``
    (as a list, a numpy repr, JSON...), to three decimals."""
    nums = np.array([float(x) for x in re.findall(r"-?\d*\.\d{3,}(?:e-?\d+)?", text)], np.float64)
    if nums.size < 3:
        return False
    windows = np.lib.stride_tricks.sliding_window_view(nums, 3)
    triples = np.lib.stride_tricks.sliding_window_view(e.astype(np.float64), 3)
    return bool((np.abs(windows[:, None, :] - triples[None, :, :]) < 5e-4).all(axis=2).any())


# JPEG (as OpenCV and PIL write it), PNG, and both in base64: long enough not to occur by chance in ciphertext.
IMAGE_MARKS = [b"\xff\xd8\xff\xe0\x00\x10JFIF", b"\x89PNG\r\n\x1a\n", b"/9j/4AAQSkZJRg", b"iVBORw0KGgo"]


def _files(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_non_matching_faces_leave_nothing_behind(
    hamilton: Path,
    settings: Settings,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Through the real gateway and store: a watchlist of people who are not in the clip, then look for
    any trace of the clip's faces in the database, the data directory, the logs and the console."""
    from sqlalchemy import func, select

    from openlfr.governance.live_gateway import DeploymentGateway
    from openlfr.store.models import Alert, CameraCounter

    caplog.set_level(logging.DEBUG)
    engine = _RecordingEngine(settings)
    store, dep_id = open_stored_deployment(settings, ABSENT, ["stage"], engine)
    enrolled = len(engine.embeddings)
    before = _files(tmp_path)
    gateway = DeploymentGateway(store, dep_id, settings)  # type: ignore[arg-type]
    pipeline = LivePipeline(
        [parse_source(f"stage={hamilton}")], gateway, settings, paced=False, engine_factory=lambda: engine
    )
    held = _watch_evidence(pipeline.workers[0])
    result = pipeline.run()

    probes = engine.embeddings[enrolled:]
    assert len(probes) >= 3, "the clip's faces (Miranda, the audience) were searched"
    assert result.alerts == []
    with store.session() as s:  # type: ignore[attr-defined]
        assert s.scalar(select(func.count()).select_from(Alert)) == 0
        counters = s.scalars(select(CameraCounter).where(CameraCounter.deployment_id == dep_id)).one()
        # Only counters reached the deployment.
        assert counters.faces_seen > 100 and counters.tracks >= 3 and counters.frames_processed == 275
    store.engine.dispose()  # type: ignore[attr-defined]  # checkpoint nothing away: read the files as they are
    # Nothing is held in memory once the tracks ended: not after the run, and not during it either (each
    # track's crops, embeddings and scores were dropped on the frame it ended, not at shutdown).
    assert held.evidence, "tracks were searched"
    assert held.leaks == [], f"evidence outlived its track: {held.leaks[:3]}"
    assert not [ev for ev in held.evidence if ev.holds_biometrics], "an ended track kept crops or scores"
    assert pipeline.workers[0].policy.held_track_ids() == set()

    after = _files(tmp_path)
    new_files = set(after) - set(before)
    assert not [p for p in new_files if "blobs" in p.parts], "a blob was written"
    changed = [data for p, data in after.items() if before.get(p) != data]  # the database, its WAL
    out, err = capfd.readouterr()
    logs = "\n".join(r.getMessage() for r in caplog.records) + out + err
    haystacks = [*changed, logs.encode()]
    for e in probes:
        for form in _forms(e):
            assert not any(form in h for h in haystacks), "a template of a non-matching face was written"
        assert not _printed(e, logs), "a template of a non-matching face was logged"
    for mark in IMAGE_MARKS:
        assert not any(mark in h for h in haystacks), "an image was written"


def test_the_dry_run_gateway_applies_governances_rule_1_check(
    settings: Settings, engine: FaceEngine, watchlist_of_absent_people: Path
) -> None:
    """The in-memory gateway refuses exactly as a stored deployment does (the same check, not a copy)."""
    from openlfr.governance.deployments import check_can_scan
    from openlfr.governance.errors import ScanRefused

    clock = _Clock()
    gateway = _stage_gateway(watchlist_of_absent_people, engine, clock)
    dep = gateway.deployment
    for at, camera in ((dep.starts_at - timedelta(minutes=5), "stage"), (clock.now, "lobby")):
        with pytest.raises(ScanRefused) as expected:
            check_can_scan(dep, camera, at)
        with pytest.raises(ScanRefused) as got:
            gateway.check_can_scan(camera, at)
        assert str(got.value) == str(expected.value)
    gateway.check_can_scan("stage", clock.now)
