"""Fixtures for the live pipeline's tests: real clips, real reference photos, the real default engine."""

from __future__ import annotations

import shutil
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from openlfr.config import Settings
from openlfr.vision import FaceEngine, load_engine
from tests.authorisers import authoriser
from tests.conftest import require_data

EXAMPLES = ("small_celeb_examples", "face_recognition", "examples")
# Reference photos of people who are NOT in the Hamilton clip (it shows Lin-Manuel Miranda and the audience,
# the Obamas among them).
ABSENT = {
    "biden": (*EXAMPLES, "biden.jpg"),
    "kit_harington": (*EXAMPLES, "knn_examples", "train", "kit_harington", "john1.jpeg"),
    "rose_leslie": (*EXAMPLES, "knn_examples", "train", "rose_leslie", "img1.jpg"),
    "alex_lacamoire": (*EXAMPLES, "knn_examples", "train", "alex_lacamoire", "img1.jpg"),
}
MIRANDA = (*EXAMPLES, "lin-manuel-miranda.png")
# Cosine threshold for the opencv-zoo pack used by these tests: between the Miranda track's scores
# (about 0.5) and the best impostor score seen on this clip (about 0.3).
THRESHOLD = 0.4


@pytest.fixture(scope="session")
def hamilton() -> Path:
    return require_data("videos", "face_recognition__short_hamilton_clip.mp4")


@pytest.fixture(scope="session")
def crowd_clip() -> Path:
    return require_data("videos", "facenet_pytorch__video.mp4")


def _make_watchlist(folder: Path, subjects: dict[str, tuple[str, ...]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, parts in subjects.items():
        src = require_data(*parts)
        shutil.copy(src, folder / f"{name}{src.suffix}")
    return folder


@pytest.fixture
def watchlist_with_miranda(tmp_path: Path) -> Path:
    return _make_watchlist(tmp_path / "watchlist", {"lin_manuel_miranda": MIRANDA, **ABSENT})


@pytest.fixture
def watchlist_of_absent_people(tmp_path: Path) -> Path:
    return _make_watchlist(tmp_path / "watchlist", ABSENT)


@pytest.fixture(scope="session")
def engine() -> FaceEngine:
    return load_engine("opencv-zoo", Settings())


def open_stored_deployment(
    settings: Settings, subjects: dict[str, tuple[str, ...]], cameras: list[str], engine: FaceEngine
) -> tuple[object, str]:
    """A real store (SQLite in the settings' data directory) with an open deployment whose watchlist holds
    ``subjects``, enrolled through governance. Returns ``(store, deployment_id)``."""
    from datetime import timedelta

    from openlfr.governance.deployment_opening import open_deployment, record_signage
    from openlfr.governance.deployment_planning import create_deployment
    from openlfr.governance.watchlists import SubjectEntry, enrol_subject
    from openlfr.matching.calibration import Calibration, local_calibration_path, save_calibration
    from openlfr.store import open_store, utcnow
    from tests.governance.deployment_fields import ASSESSMENTS

    save_calibration(
        Calibration(pack="opencv-zoo", validated_min_threshold=THRESHOLD),
        local_calibration_path("opencv-zoo", settings.data_dir),
    )
    store = open_store(settings)
    now = utcnow()
    dep = create_deployment(
        store,
        "planner (supervisor)",
        purpose="test of the live pipeline",
        location="test venue",
        starts_at=now - timedelta(minutes=5),
        ends_at=now + timedelta(hours=2),
        authorising_officer="Supt. Test",
        authorising_role="Superintendent",
        purpose_category="wanted_offenders",
        legal_basis="test",
        cameras=cameras,
        pack="opencv-zoo",
        threshold=THRESHOLD,
        **ASSESSMENTS,
        short_notice_reason="test of the live pipeline: opened at once",
    )
    for name, parts in subjects.items():
        entry = SubjectEntry(
            subject_id=name,
            category="wanted_by_court",
            reason="test",
            image_source="sample_image",
            offence_seriousness="summary",
            legal_basis="test",
            approved_by="Insp. Test",
            expires_at=now + timedelta(days=1),
        )
        enrol_subject(store, "officer", dep.id, entry, [require_data(*parts)], engine=engine)
    record_signage(store, "officer", dep.id)
    open_deployment(store, authoriser(store), dep.id)
    return store, dep.id


def encode_clip(frames: list[np.ndarray], path: Path, size: tuple[int, int], fps: int = 25) -> Path:
    """BGR frames as an H.264 file at ``size`` (bicubic upscaling by swscale), ``fps``, high quality."""
    with av.open(str(path), "w") as out:
        st = out.add_stream("libx264", rate=fps)
        st.width, st.height, st.pix_fmt = size[0], size[1], "yuv420p"
        st.options = {"preset": "ultrafast", "crf": "12"}
        for i, bgr in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(bgr, format="bgr24").reformat(
                width=size[0], height=size[1], format="yuv420p", interpolation="BICUBIC"
            )
            vf.pts, vf.time_base = i, Fraction(1, fps)
            for packet in st.encode(vf):
                out.mux(packet)
        for packet in st.encode():
            out.mux(packet)
    return path
