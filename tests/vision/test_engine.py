"""The real models on real images: faces where there are faces, none where there are none, same person
scoring above different people."""

from __future__ import annotations

import numpy as np
import pytest

from openlfr.config import Settings, VisionSettings
from openlfr.vision import best_face, cosine_similarity, load_engine, load_image
from openlfr.vision.packs import PACKS
from tests.conftest import require_data

SAME = [("Abel_Pacheco", 1, 2), ("Ann_Veneman", 1, 3), ("Akhmed_Zakayev", 1, 3)]
DIFFERENT = [
    (("Abel_Pacheco", 1), ("Ann_Veneman", 1)),
    (("Akhmed_Zakayev", 1), ("AJ_Cook", 1)),
    (("Ann_Veneman", 3), ("AJ_Cook", 1)),
]


def lfw(name: str, i: int) -> np.ndarray:
    return load_image(require_data("lfw", "images", name, f"{name}_{i:04d}.jpg"))


@pytest.mark.parametrize("pack", list(PACKS))
def test_same_person_scores_above_different_people(engine_factory, pack: str) -> None:  # type: ignore[no-untyped-def]
    engine = engine_factory(pack)

    def emb(name: str, i: int) -> np.ndarray:
        img = lfw(name, i)
        face = best_face(engine.analyse(img), img.shape)
        assert face is not None and face.embedding is not None, f"{pack}: no face in {name}_{i}"
        assert face.embedding.shape == (PACKS[pack].embedding_size,)
        assert abs(float(np.linalg.norm(face.embedding)) - 1.0) < 1e-4
        return face.embedding

    same = [cosine_similarity(emb(n, a), emb(n, b)) for n, a, b in SAME]
    diff = [cosine_similarity(emb(*a), emb(*b)) for a, b in DIFFERENT]
    assert min(same) > max(diff), (same, diff)
    threshold = PACKS[pack].verification_threshold
    assert all(s >= threshold for s in same) and all(d < threshold for d in diff), (same, diff, threshold)


@pytest.mark.parametrize("pack", list(PACKS))
def test_faces_found_in_scenes_and_none_in_a_face_free_image(engine_factory, pack: str) -> None:  # type: ignore[no-untyped-def]
    engine = engine_factory(pack)
    couple = load_image(require_data("deepface_testset", "images", "couple.jpg"))
    faces = engine.assess(couple, engine.detect(couple))
    assert len(faces) == 2
    for f in faces:
        assert f.quality is not None and f.quality.acceptable, f.quality
        # Landmarks sit inside their box, eyes above the mouth.
        x1, x2 = f.box[0], f.box[2]
        assert np.all((f.landmarks[:, 0] >= x1 - 5) & (f.landmarks[:, 0] <= x2 + 5))
        assert f.landmarks[0, 1] < f.landmarks[3, 1] and f.landmarks[1, 1] < f.landmarks[4, 1]
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:480, :640]
    scene = np.stack([(xx * 0.4) % 256, (yy * 0.5) % 256, ((xx + yy) * 0.3) % 256], axis=2).astype(np.uint8)
    scene = np.clip(scene.astype(int) + rng.integers(-20, 20, scene.shape), 0, 255).astype(np.uint8)
    assert engine.detect(scene) == []


def test_many_faces_and_detection_in_full_resolution_coordinates(engine_factory) -> None:  # type: ignore[no-untyped-def]
    engine = engine_factory("opencv-zoo")
    crowd = load_image(require_data("deepface_testset", "images", "selfie-many-people.jpg"))
    faces = engine.detect(crowd)
    assert len(faces) >= 5
    # A wide image detected at a reduced working width reports boxes in the original's pixels.
    wide = np.concatenate([crowd, crowd, crowd], axis=1)
    assert wide.shape[1] > engine.vision.working_width
    wide_faces = engine.detect(wide)
    assert max(f.box[2] for f in wide_faces) > crowd.shape[1] * 2


def test_quality_reports_reasons_for_a_tiny_blurred_face(engine_factory) -> None:  # type: ignore[no-untyped-def]
    import cv2

    engine = engine_factory("opencv-zoo")
    img = lfw("Ann_Veneman", 1)
    good = engine.assess(img, engine.detect(img))[0]
    assert good.quality is not None and good.quality.acceptable
    small = cv2.resize(img, (60, 60), interpolation=cv2.INTER_AREA)
    canvas = np.full((300, 300, 3), 127, np.uint8)
    canvas[120:180, 120:180] = cv2.GaussianBlur(small, (5, 5), 2)
    faces = engine.assess(canvas, engine.detect(canvas, pad=0.5))
    if faces:  # the detector may or may not find so small a face; if it does, quality must say why it is poor
        q = faces[0].quality
        assert q is not None and not q.acceptable
        assert any("small" in r or "blurred" in r or "eyes" in r for r in q.reasons)
        assert q.score < good.quality.score


@pytest.mark.parametrize("pack", list(PACKS))
def test_the_flip_screen_flip_tests_exactly_the_faces_it_picks(engine_factory, pack: str) -> None:  # type: ignore[no-untyped-def]
    """``embed_screened`` (live.flip_screen): the screen is shown each face embedded alone (what the pack
    gives without the flip test); a face it picks gets exactly the flip-tested embedding ``embed`` gives, a
    face it leaves keeps its own, and picking every face is ``embed``."""
    engine = engine_factory(pack)
    alone = load_engine(pack, Settings(vision=VisionSettings(flip_augment=False)))
    img = np.ascontiguousarray(np.hstack([lfw("Abel_Pacheco", 1), lfw("Ann_Veneman", 1)]))
    half = img.shape[1] / 2
    found = engine.detect(img)
    faces = [
        max((f for f in found if (f.centre[0] < half) == left), key=lambda f: f.size)
        for left in (True, False)
    ]
    flip_tested = engine.embedder.embed(img, faces)
    plain = alone.embedder.embed(img, faces)
    assert not np.allclose(plain, flip_tested, atol=1e-3), "the flip test changes an embedding"
    shown: list[np.ndarray] = []

    def screen(embeddings: np.ndarray) -> list[bool]:
        shown.append(embeddings.copy())
        return [True, False]

    out = engine.embedder.embed_screened(img, faces, screen)
    np.testing.assert_allclose(shown[0], plain, atol=1e-5)
    np.testing.assert_allclose(out[0], flip_tested[0], atol=1e-5)
    np.testing.assert_allclose(out[1], plain[1], atol=1e-5)
    every = engine.embedder.embed_screened(img, faces, lambda e: [True] * len(e))
    np.testing.assert_allclose(every, flip_tested, atol=1e-5)
