"""A worker that cannot keep up sheds a burst's embeddings rather than hiding anything: on a real clip played
paced faster than the machine can process, every frame read is processed or counted as dropped, in the
metrics and in the store alike, the faces left out are counted, the watchlisted performer still alerts, and
every alert raised is stored with its images."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from openlfr.config import LiveSettings, Settings
from openlfr.live.pipeline import LivePipeline
from openlfr.live.sources import parse_source
from openlfr.vision import FaceEngine
from tests.live.conftest import ABSENT, MIRANDA, encode_clip, open_stored_deployment

FPS = 75
"""Three times the clip's own rate: no 2-core machine detects 640x360 frames and embeds faces this fast."""


@pytest.fixture(scope="module")
def hamilton_fast(hamilton: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """All 275 frames of the Hamilton clip, as a camera sending 75 frames a second would (3.7 s)."""
    with av.open(str(hamilton)) as c:
        frames = [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]
    return encode_clip(frames, tmp_path_factory.mktemp("clip") / "hamilton-75fps.mp4", (640, 360), FPS)


def test_a_worker_behind_sheds_embeddings_and_loses_no_frame_count_and_no_alert(
    hamilton_fast: Path, settings: Settings, engine: FaceEngine
) -> None:
    from sqlalchemy import select

    from openlfr.governance.live_gateway import DeploymentGateway
    from openlfr.store.models import Alert, CameraCounter

    settings = settings.model_copy(update={"live": LiveSettings(cooldown_seconds=0.0)})
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
    # Behind, frames embedded fewer faces than they wanted, and said so.
    assert m["embeds_shed"] > 0 and m["searches"] > 0
    # Yet the performer on stage alerts (faces shed are searched on later frames), and nobody else does.
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
