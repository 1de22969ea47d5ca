"""A small real gallery for the search tests: celebrity example photos plus LFW distractors."""

from __future__ import annotations

from pathlib import Path

from openlfr.retro.gallery_import import GalleryRow, import_gallery
from openlfr.store import Store
from openlfr.vision.engine import FaceEngine
from tests.cli_login import cli_env, cli_log_in  # noqa: F401  (re-exported for the retro tests)
from tests.conftest import require_data
from tests.retro.conftest import lfw_people

CELEB = "small_celeb_examples/face_recognition/examples"
KNOWN = {
    "OB-1": f"{CELEB}/knn_examples/train/obama/obama.jpg",
    "BI-1": f"{CELEB}/knn_examples/train/biden/biden.jpg",
    "KH-1": f"{CELEB}/knn_examples/train/kit_harington/john1.jpeg",
    "RL-1": f"{CELEB}/knn_examples/train/rose_leslie/img1.jpg",
    "AL-1": f"{CELEB}/knn_examples/train/alex_lacamoire/img1.jpg",
}


def celeb(rel: str) -> Path:
    return require_data(*rel.split("/"))


def small_gallery(store: Store, engine: FaceEngine, distractors: int = 5) -> int:
    rows = [GalleryRow(i + 2, rec, celeb(p)) for i, (rec, p) in enumerate(KNOWN.items())]
    for j, (_, imgs) in enumerate(lfw_people(min_images=1, people=distractors + 40)[40:]):
        rows.append(GalleryRow(100 + j, f"LFW-{j}", require_data("lfw", *imgs[0].split("/"))))
    rep = import_gallery(store, engine, rows, "ann (custody)")
    assert {r[1] for r in rep.refused}.isdisjoint(KNOWN), rep.refused
    return rep.imported


CASE_REFS = {"policy_ref": "POL-RFR-2026/1", "dpia_ref": "DPIA-RFR-2026/1"}


def open_test_case(store: Store, reference: str, actor: str = "ivy (investigator)", **kw: object) -> None:
    """A case under the test policy and DPIA references, counted as robbery unless said otherwise."""
    from openlfr.retro.cases import open_case

    args: dict[str, object] = {"crime_category": "robbery", **CASE_REFS, **kw}
    open_case(store, reference, "robbery at the bank, 12 Nov", actor, **args)  # type: ignore[arg-type]


def three_people_video(path: Path, frames: int = 24) -> Path:
    """A short clip of three real people side by side (Obama from the celebrity examples, two LFW people),
    each drifting a little from frame to frame so the tracker follows them."""
    import av
    import cv2
    import numpy as np

    panels = [cv2.imread(str(celeb(f"{CELEB}/knn_examples/test/obama1.jpg")))]
    for _, imgs in lfw_people(min_images=1, people=3)[1:3]:
        panels.append(cv2.imread(str(require_data("lfw", *imgs[0].split("/")))))
    side = 320
    tiles = []
    for p in panels:
        h, w = p.shape[:2]
        s = side / max(h, w)
        tile = np.full((side, side, 3), 90, np.uint8)
        r = cv2.resize(p, (int(w * s), int(h * s)))
        tile[: r.shape[0], : r.shape[1]] = r
        tiles.append(tile)
    with av.open(str(path), "w") as out:
        st = out.add_stream("mpeg4", rate=25)
        st.width, st.height = side * 3 + 16, side + 16
        st.pix_fmt = "yuv420p"
        st.bit_rate = 6_000_000
        for i in range(frames):
            frame = np.full((st.height, st.width, 3), 90, np.uint8)
            dx, dy = i % 8, (i // 2) % 8
            for j, tile in enumerate(tiles):
                frame[dy : dy + side, j * side + dx : (j + 1) * side + dx] = tile
            for pkt in st.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
    return path
