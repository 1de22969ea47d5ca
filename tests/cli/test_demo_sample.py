"""The demo's sample: generated from public-domain images when the shared data is absent, matched by the real
detector and embedder at the pack's validated threshold, with neutral demonstration-only entries; and
``openlfr demo`` end to end, as from a bare clone (no OPENLFR_DATA) and with the shared data."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import av
import numpy as np

from openlfr.cli.demo_sample import DEMO_CATEGORY, DEMONSTRATION_NOTE, DemoSample, shared_sample
from openlfr.config import Settings
from openlfr.matching.calibration import load_calibration
from openlfr.store.models import WATCHLIST_CATEGORIES
from openlfr.vision import load_engine, load_image
from tests.conftest import require_data

ROOT = Path(__file__).resolve().parents[2]
# How far above the validated threshold the stand-in must score in every sampled frame, and the bystanders
# below it: the demo must alert at any threshold recalibration is likely to settle on.
MARGIN = 0.1


def _frames(clip: Path, every: int) -> list[np.ndarray]:
    with av.open(str(clip)) as c:
        return [f.to_ndarray(format="bgr24") for i, f in enumerate(c.decode(video=0)) if i % every == 0]


def test_generated_sample_is_a_short_clip_with_one_neutral_demonstration_entry(
    demo_sample: DemoSample,
) -> None:
    assert demo_sample.kind == "generated"
    with av.open(str(demo_sample.clip)) as c:
        stream = c.streams.video[0]
        frames = sum(1 for _ in c.decode(video=0))
        assert stream.average_rate == 25
    assert 50 <= frames <= 200  # a few seconds at 25 fps
    assert [s.subject_id for s in demo_sample.subjects] == ["DEMO-0001"]
    for s in demo_sample.subjects:
        assert s.category == DEMO_CATEGORY in WATCHLIST_CATEGORIES and "DEMONSTRATION" in s.reason
        assert s.image.is_file()


def test_the_detector_finds_and_matches_the_stand_in_well_above_the_validated_threshold(
    demo_sample: DemoSample, tmp_path: Path
) -> None:
    engine = load_engine("opencv-zoo", Settings())
    cal = load_calibration("opencv-zoo", tmp_path)
    assert cal is not None, "opencv-zoo ships a calibration"
    # With no shared data the demo has no reference crowd, so it runs at the minimum validated without the
    # attraction check (Calibration.minimum_for): the stricter of the two.
    threshold = cal.minimum_for({None})
    ref = engine.analyse(load_image(demo_sample.subjects[0].image))
    assert len(ref) == 1 and ref[0].quality is not None and ref[0].quality.acceptable
    reference = ref[0].embedding
    assert reference is not None
    matched, bystanders = [], []
    frames = _frames(demo_sample.clip, every=8)
    for frame in frames:
        scores = sorted(
            (float(np.dot(f.embedding, reference)) for f in engine.analyse(frame) if f.embedding is not None),
            reverse=True,
        )
        assert scores, "no face found in a frame of the generated clip"
        matched.append(scores[0])
        bystanders.extend(scores[1:])
    assert min(matched) >= threshold + MARGIN, (matched, threshold)
    assert bystanders, "the bystanders are detected too"
    assert max(bystanders) <= threshold - MARGIN, (bystanders, threshold)


# The demo's reference crowd with the shared data: 2,000 UTKFace faces by default, embedded on a first run.
# A smaller crowd takes the same path (built, saved, the watchlist checked against it) in a fraction of the
# time; its size is the demo's option, not what these tests are about.
TEST_CROWD = 200


def _demo(
    tmp_path: Path, data: Path, *extra: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, object]]:
    """``openlfr demo`` in its own process, as a user runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENLFR_")}
    env.update(
        OPENLFR_DATA=str(data),
        OPENLFR_DATA_DIR=str(tmp_path / "var"),
        PYTHONPATH=str(ROOT / "src"),
        COLUMNS="200",
    )
    out = tmp_path / "record"
    proc = subprocess.run(
        [sys.executable, "-c", "from openlfr.cli import app; app()", "demo", "--out", str(out), *extra],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (record,) = out.glob("deployment-*.json")
    return proc, json.loads(record.read_text())


def _assert_demonstration(proc: subprocess.CompletedProcess[str], record: dict[str, object]) -> None:
    text = " ".join(proc.stdout.split())
    assert DEMONSTRATION_NOTE in text
    assert re.search(r"ALERT camera stage: watchlist subject DEMO-0001, score", text), proc.stdout
    assert record["alerts"] == 1 and record["unadjudicated_alerts"] == 1
    assert record["demonstration"] == DEMONSTRATION_NOTE
    assert "Demonstration" in str(record["purpose"])


def test_demo_from_a_bare_clone_builds_its_sample_and_raises_its_alert(tmp_path: Path) -> None:
    proc, record = _demo(tmp_path, tmp_path / "no-shared-data")
    assert "public-domain" in proc.stdout
    _assert_demonstration(proc, record)
    assert record["watchlist_size"] == 1


def test_demo_with_the_shared_data_keeps_its_richer_clip_under_neutral_ids(tmp_path: Path) -> None:
    data = require_data("videos").parent
    sample = shared_sample(data)
    assert sample is not None and sample.kind == "shared"
    assert [s.subject_id for s in sample.subjects] == [f"DEMO-{i:04d}" for i in range(1, 5)]
    proc, record = _demo(tmp_path, data, "--reference-crowd", str(TEST_CROWD))
    assert "hamilton" in proc.stdout
    # With UTKFace in the shared data the demo builds its reference crowd and runs at the minimum validated
    # for a watchlist that passed the attraction check.
    text = " ".join(proc.stdout.split())
    assert "reference crowd written to" in text, text
    assert "attraction check with normalised offsets (reference crowd of" in text, text
    _assert_demonstration(proc, record)
    assert record["watchlist_size"] == 4
