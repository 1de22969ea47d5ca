"""End to end on real video with the real default pack: the watchlisted performer in the Hamilton clip
alerts once per cooldown (not once per frame), nobody else alerts, and the alert carries its images."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from openlfr.config import LiveSettings, Settings
from openlfr.live.memory_gateway import InMemoryGateway
from openlfr.live.pipeline import LivePipeline
from openlfr.live.sources import parse_source
from openlfr.vision import FaceEngine, best_face, cosine_similarity, load_image
from tests.conftest import require_data
from tests.live.conftest import ABSENT, MIRANDA, THRESHOLD, open_stored_deployment


def test_watchlisted_performer_alerts_once_per_cooldown_and_nobody_else(
    hamilton: Path, settings: Settings, engine: FaceEngine
) -> None:
    """Through governance's real DeploymentGateway: SQLite store, encrypted watchlist and alert blobs."""
    from sqlalchemy import select

    from openlfr.governance.live_gateway import DeploymentGateway
    from openlfr.store.models import Alert, CameraCounter

    settings = settings.model_copy(update={"live": LiveSettings(cooldown_seconds=60.0, min_hits=2)})
    store, dep_id = open_stored_deployment(
        settings, {"lin_manuel_miranda": MIRANDA, **ABSENT}, ["stage"], engine
    )
    gateway = DeploymentGateway(store, dep_id, settings)  # type: ignore[arg-type]
    spec = parse_source(f"stage={hamilton}")
    result = LivePipeline([spec], gateway, settings, paced=False, engine_factory=lambda: engine).run()
    (m,) = result.metrics
    assert m["state"] == "ended" and m["frames_processed"] == 275 and m["frames_dropped"] == 0
    assert m["embeds_shed"] == 0  # played as fast as possible nothing can be dropped, so nothing is shed

    # Miranda is on screen for most of the clip in more than one track (the cuts split him), yet there is
    # exactly one alert: the other tracks' alerts fell inside the cooldown and were suppressed and counted.
    with store.session() as s:  # type: ignore[attr-defined]
        alerts = list(s.scalars(select(Alert).where(Alert.deployment_id == dep_id)))
        counters = s.scalars(select(CameraCounter).where(CameraCounter.deployment_id == dep_id)).one()
        assert [a.subject_id for a in alerts] == ["lin_manuel_miranda"]
        alert = alerts[0]
        assert alert.threshold == THRESHOLD and alert.score >= THRESHOLD and alert.camera_id == "stage"
        assert counters.frames_processed == 275 and counters.tracks == m["tracks"]
        assert counters.faces_seen == m["faces_seen"]
        key = store.keys.get(s, dep_id, "alerts")  # type: ignore[attr-defined]
        probe_bytes, scene_bytes, reference_bytes = (
            store.blobs.get(dep_id, blob, key)  # type: ignore[attr-defined]
            for blob in (alert.probe_blob, alert.frame_blob, alert.candidate_blob)
        )
    assert m["alerts"] == 1 and m["alerts_suppressed"] >= 1
    # Not every face of every frame: new, grown or improved faces, confirmations, and every
    # ``research_every_frames`` (4) frames a track.
    assert m["searches"] < m["faces_seen"] / 2

    probe, scene = load_image(probe_bytes), load_image(scene_bytes)
    assert scene.shape[0] > probe.shape[0] and scene.shape[1] > probe.shape[1]
    # The best-shot crop is Miranda's face: it matches his enrolled reference photo, stored with the alert.
    reference = load_image(reference_bytes)
    assert reference.shape == load_image(require_data(*MIRANDA)).shape
    ref_face = best_face(engine.analyse(reference, pad=0.25), reference.shape)
    probe_face = best_face(engine.analyse(probe, pad=0.25), probe.shape)
    assert ref_face is not None and probe_face is not None
    assert ref_face.embedding is not None and probe_face.embedding is not None
    assert cosine_similarity(ref_face.embedding, probe_face.embedding) >= THRESHOLD
    assert np.isfinite(result.alerts[0].latency_s) and result.alerts[0].latency_s > 0


def test_without_cooldown_each_track_alerts_once_not_each_frame(
    hamilton: Path, settings: Settings, engine: FaceEngine, watchlist_with_miranda: Path
) -> None:
    settings = settings.model_copy(update={"live": LiveSettings(cooldown_seconds=0.0, min_hits=2)})
    gateway = InMemoryGateway.from_folder(watchlist_with_miranda, engine, threshold=THRESHOLD)
    spec = parse_source(f"stage={hamilton}")
    gateway.allow_camera(spec.camera_id)
    result = LivePipeline([spec], gateway, settings, paced=False, engine_factory=lambda: engine).run()
    (m,) = result.metrics
    subjects = {a.subject_id for a in gateway.alerts}
    assert subjects == {"lin_manuel_miranda"}
    # One alert per track at most: far fewer alerts than frames in which he is seen.
    assert 2 <= len(gateway.alerts) <= m["tracks"]
    assert len({a.alert.track_id for a in gateway.alerts}) == len(gateway.alerts)
