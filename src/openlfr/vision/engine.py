"""The face engine: one model pack's detector, quality assessment and embedder behind one interface."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import cv2
import numpy as np
import numpy.typing as npt

from openlfr.config import QualitySettings, Settings, VisionSettings
from openlfr.vision.alignment import ARCFACE_TEMPLATE
from openlfr.vision.detectors import DlibHOGDetector, SCRFDDetector, YuNetDetector
from openlfr.vision.embedders import (
    DlibResNetEmbedder,
    Embedder,
    MirrorScreen,
    MobileFaceNetEmbedder,
    SFaceEmbedder,
)
from openlfr.vision.face import Face
from openlfr.vision.packs import ModelPack, get_pack, verified_path
from openlfr.vision.quality import assess_quality

BGRImage = npt.NDArray[np.uint8]


class FaceEngine:
    """Detect, assess and embed faces with one verified model pack."""

    def __init__(self, pack: ModelPack, vision: VisionSettings, quality: QualitySettings) -> None:
        self.pack = pack
        self.vision = vision
        self.quality_bar = quality
        cv2.setNumThreads(vision.threads)
        # OpenCV 5 warns on every net about targets it ignores on the CPU; nothing for a user to act on.
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
        det_file = verified_path(pack.file("detector")) if pack.name != "dlib" else None
        emb_file = verified_path(pack.file("embedder"))
        if pack.name == "opencv-zoo":
            assert det_file is not None
            self.detector: YuNetDetector | SCRFDDetector | DlibHOGDetector = YuNetDetector(
                det_file, vision.detection_score, vision.nms_iou
            )
            self.embedder: Embedder = SFaceEmbedder(emb_file, vision.flip_augment)
        elif pack.name == "insightface-s":
            assert det_file is not None
            self.detector = SCRFDDetector(det_file, vision.detection_score, vision.nms_iou, vision.threads)
            self.embedder = MobileFaceNetEmbedder(emb_file, vision.flip_augment, vision.threads)
        elif pack.name == "dlib":
            import dlib

            dlib.set_num_threads(vision.threads) if hasattr(dlib, "set_num_threads") else None
            shape_file = verified_path(pack.file("landmarks"))
            self.detector = DlibHOGDetector(shape_file)
            self.embedder = DlibResNetEmbedder(emb_file, shape_file, vision.flip_augment)
        else:  # pragma: no cover - get_pack rejects unknown names first
            raise ValueError(pack.name)

    @property
    def embedding_size(self) -> int:
        return self.embedder.size

    def detect(self, image: BGRImage, *, working_width: int | None = None, pad: float = 0.0) -> list[Face]:
        """Faces in ``image`` (full-resolution coordinates), most confident first.

        The image is detected at ``working_width`` (default: the settings') when wider, and padded by
        ``pad`` of its size on every side first when given (tight face crops need it).
        """
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an HxWx3 uint8 BGR image, got shape {image.shape} {image.dtype}")
        h, w = image.shape[:2]
        off = (0.0, 0.0)
        work: BGRImage = image
        if pad > 0:
            py, px = round(h * pad), round(w * pad)
            work = np.asarray(cv2.copyMakeBorder(image, py, py, px, px, cv2.BORDER_CONSTANT, value=(0, 0, 0)))
            off = (-float(px), -float(py))
        target = working_width or self.vision.working_width
        scale = 1.0
        ww = work.shape[1]
        if ww > target:
            scale = target / ww
            size = (target, max(1, round(work.shape[0] * scale)))
            work = np.asarray(cv2.resize(work, size, interpolation=cv2.INTER_AREA))
        faces = self.detector.detect(work)
        faces = [f.scaled(1.0 / scale, off) if (scale != 1.0 or pad > 0) else f for f in faces]
        faces = [
            replace(f, box=np.clip(f.box, [0, 0, 0, 0], [w, h, w, h]).astype(np.float32))
            for f in faces
            if f.detector_score >= self.vision.detection_score and f.size >= self.vision.min_detect_px
        ]
        return sorted(faces, key=lambda f: -f.detector_score)

    def assess(self, image: BGRImage, faces: Sequence[Face]) -> list[Face]:
        """The faces with their quality measured against the bar."""
        return [f.with_quality(assess_quality(image, f, self.quality_bar)) for f in faces]

    def embed(
        self, image: BGRImage, faces: Sequence[Face], needs_mirror: MirrorScreen | None = None
    ) -> list[Face]:
        """The faces with their embeddings, computed in one batch; with ``needs_mirror``, only the faces it
        picks are flip-tested (:meth:`~openlfr.vision.embedders.Embedder.embed_screened`)."""
        if not faces:
            return []
        emb = (
            self.embedder.embed(image, faces)
            if needs_mirror is None
            else self.embedder.embed_screened(image, faces, needs_mirror)
        )
        return [f.with_embedding(e) for f, e in zip(faces, emb, strict=True)]

    def warm_up(self, width: int | None = None, height: int | None = None) -> None:
        """Run every model once on a blank frame, so that lazy initialisation does not delay (and, live,
        drop) the first real frames."""
        w = width or self.vision.working_width
        h = height or w * 9 // 16
        frame = np.zeros((h, w, 3), dtype=np.uint8)
        self.detect(frame)
        off = np.array([w / 2 - 56, h / 2 - 56], dtype=np.float32)
        face = Face(
            box=np.array([off[0], off[1], off[0] + 112, off[1] + 112], dtype=np.float32),
            landmarks=(ARCFACE_TEMPLATE + off).astype(np.float32),
            detector_score=1.0,
        )
        self.embed(frame, self.assess(frame, [face]))

    def analyse(self, image: BGRImage, *, pad: float = 0.0, embed: bool = True) -> list[Face]:
        """Detect, assess and (by default) embed every face in an image."""
        faces = self.assess(image, self.detect(image, pad=pad))
        return self.embed(image, faces) if embed else faces


def best_face(faces: Sequence[Face], image_shape: tuple[int, ...] | None = None) -> Face | None:
    """The face a single-subject photo is about: the largest, preferring good quality and the centre."""
    if not faces:
        return None

    def key(f: Face) -> float:
        q = f.quality.score if f.quality else 0.5
        k = f.size * (0.5 + q)
        if image_shape is not None:
            h, w = image_shape[:2]
            cx, cy = f.centre
            off = np.hypot((cx - w / 2) / w, (cy - h / 2) / h)
            k *= 1.0 - min(off, 0.5)
        return k

    return max(faces, key=key)


_engines: dict[tuple[str, str, str], FaceEngine] = {}


def load_engine(pack_name: str | None = None, settings: Settings | None = None) -> FaceEngine:
    """A verified engine for a pack (cached per pack and settings: model loading takes a moment)."""
    from openlfr.config import get_settings

    settings = settings or get_settings()
    pack = get_pack(pack_name or settings.vision.pack)
    key = (pack.name, settings.vision.model_dump_json(), settings.quality.model_dump_json())
    if key not in _engines:
        _engines[key] = FaceEngine(pack, settings.vision, settings.quality)
    return _engines[key]
