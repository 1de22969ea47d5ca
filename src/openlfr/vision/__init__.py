"""Pixels to faces: model packs, detection, alignment, quality and embedding."""

from openlfr.vision.engine import FaceEngine, best_face, load_engine
from openlfr.vision.face import Face, Quality, cosine_similarity, iou_matrix, l2_normalise
from openlfr.vision.image_io import ImageError, load_image
from openlfr.vision.packs import DEFAULT_PACK, PACKS, ModelPack, ModelPackError, get_pack, pack_status

__all__ = [
    "DEFAULT_PACK",
    "PACKS",
    "Face",
    "FaceEngine",
    "ImageError",
    "ModelPack",
    "ModelPackError",
    "Quality",
    "best_face",
    "cosine_similarity",
    "get_pack",
    "iou_matrix",
    "l2_normalise",
    "load_engine",
    "load_image",
    "pack_status",
]
