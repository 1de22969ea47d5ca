"""Face embedders: aligned faces in, L2-normalised embeddings out, in batches.

With ``flip_augment`` each face is embedded together with its mirror image and the two are summed before
normalising ("flip test"), which makes the template less sensitive to pose and lighting asymmetry.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from openlfr.vision.alignment import align_face
from openlfr.vision.face import Face, FloatArray, l2_normalise


def _with_mirrors(chips: list[npt.NDArray[np.uint8]], flip: bool) -> list[npt.NDArray[np.uint8]]:
    return chips + [np.ascontiguousarray(c[:, ::-1]) for c in chips] if flip else chips


def _fold_mirrors(emb: np.ndarray, n: int, flip: bool) -> FloatArray:
    if flip:
        emb = l2_normalise(emb[:n]) + l2_normalise(emb[n:])
    return l2_normalise(emb)


class SFaceEmbedder:
    """OpenCV Zoo SFace (int8) through OpenCV's DNN module; 112x112 ArcFace-aligned RGB input."""

    size = 128

    def __init__(self, model: Path, flip: bool) -> None:
        self._net = cv2.dnn.readNetFromONNX(str(model))
        self._flip = flip

    def embed(self, image: npt.NDArray[np.uint8], faces: Sequence[Face]) -> FloatArray:
        if not faces:
            return np.zeros((0, self.size), dtype=np.float32)
        chips = _with_mirrors([align_face(image, f.landmarks) for f in faces], self._flip)
        blob = cv2.dnn.blobFromImages(chips, 1.0, (112, 112), (0, 0, 0), swapRB=True, crop=False)
        self._net.setInput(blob, "data")
        out = np.asarray(self._net.forward(), dtype=np.float32).reshape(len(chips), -1)
        return _fold_mirrors(out, len(faces), self._flip)


class MobileFaceNetEmbedder:
    """InsightFace MobileFaceNet (w600k_mbf) in ONNX Runtime; input (x - 127.5) / 127.5, RGB."""

    size = 512

    def __init__(self, model: Path, flip: bool, threads: int) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self._sess = ort.InferenceSession(str(model), sess_options=opts, providers=["CPUExecutionProvider"])
        self._input = self._sess.get_inputs()[0].name
        self._flip = flip

    def embed(self, image: npt.NDArray[np.uint8], faces: Sequence[Face]) -> FloatArray:
        if not faces:
            return np.zeros((0, self.size), dtype=np.float32)
        chips = _with_mirrors([align_face(image, f.landmarks) for f in faces], self._flip)
        blob = cv2.dnn.blobFromImages(chips, 1.0 / 127.5, (112, 112), (127.5, 127.5, 127.5), swapRB=True)
        out = np.asarray(self._sess.run(None, {self._input: blob})[0], dtype=np.float32)
        return _fold_mirrors(out, len(faces), self._flip)


class DlibResNetEmbedder:
    """dlib's ResNet on its own 150x150 face chip (dlib's alignment from the 5-point shape)."""

    size = 128

    def __init__(self, model: Path, shape_model: Path, flip: bool) -> None:
        import dlib

        self._net = dlib.face_recognition_model_v1(str(model))
        self._shape = dlib.shape_predictor(str(shape_model))
        self._flip = flip

    def embed(self, image: npt.NDArray[np.uint8], faces: Sequence[Face]) -> FloatArray:
        import dlib

        if not faces:
            return np.zeros((0, self.size), dtype=np.float32)
        rgb = np.ascontiguousarray(image[:, :, ::-1])
        chips = []
        for f in faces:
            rect = dlib.rectangle(int(f.box[0]), int(f.box[1]), int(f.box[2]), int(f.box[3]))
            chips.append(np.asarray(dlib.get_face_chip(rgb, self._shape(rgb, rect), size=150, padding=0.25)))
        chips = _with_mirrors(chips, self._flip)
        out = np.asarray(self._net.compute_face_descriptor(chips), dtype=np.float32)
        return _fold_mirrors(out, len(faces), self._flip)
