"""Face embedders: aligned faces in, L2-normalised embeddings out, in batches.

With ``flip_augment`` each face is embedded together with its mirror image and the two are summed before
normalising ("flip test"), which makes the template less sensitive to pose and lighting asymmetry.
:meth:`Embedder.embed_screened` embeds the faces alone first and the mirror images only of those a screen
picks (the live pipeline's ``live.flip_screen``): a picked face gets exactly the flip-tested embedding, at
the same cost, and the others cost half.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from openlfr.vision.alignment import align_face
from openlfr.vision.face import Face, FloatArray, l2_normalise

Chip = npt.NDArray[np.uint8]

MirrorScreen = Callable[[FloatArray], Sequence[bool]]
"""Given the faces' embeddings without their mirror images (L2-normalised, one row a face), which faces
also get their mirror image embedded (:meth:`Embedder.embed_screened`)."""


def _mirrors(chips: Sequence[Chip]) -> list[Chip]:
    return [np.ascontiguousarray(c[:, ::-1]) for c in chips]


def _flip_tested(faces: np.ndarray, mirrors: np.ndarray) -> FloatArray:
    """The flip test: each face's and its mirror image's embeddings normalised, summed and normalised."""
    return l2_normalise(l2_normalise(faces) + l2_normalise(mirrors))


class Embedder:
    """What the embedders share: a face chip per face (:meth:`_chips`: ArcFace alignment unless the model
    has its own), the model run on a batch of chips (:meth:`_forward`), and the flip test around them."""

    size: int
    _flip: bool

    def _chips(self, image: npt.NDArray[np.uint8], faces: Sequence[Face]) -> list[Chip]:
        """112x112 chips aligned to the ArcFace template from each face's five landmarks."""
        return [align_face(image, f.landmarks) for f in faces]

    def _forward(self, chips: list[Chip]) -> np.ndarray:
        """The model's raw output for a batch of chips, one row each."""
        raise NotImplementedError

    def embed(self, image: npt.NDArray[np.uint8], faces: Sequence[Face]) -> FloatArray:
        """The faces' embeddings, each flip-tested with ``flip_augment`` (chips and mirrors in one batch)."""
        if not faces:
            return np.zeros((0, self.size), dtype=np.float32)
        chips = self._chips(image, faces)
        if not self._flip:
            return l2_normalise(self._forward(chips))
        out = self._forward(chips + _mirrors(chips))
        return _flip_tested(out[: len(faces)], out[len(faces) :])

    def embed_screened(
        self, image: npt.NDArray[np.uint8], faces: Sequence[Face], needs_mirror: MirrorScreen
    ) -> FloatArray:
        """As :meth:`embed`, but with ``flip_augment`` the faces are embedded alone first and only those
        ``needs_mirror`` picks (from those embeddings) are flip-tested: their embeddings are what
        :meth:`embed` gives, the others' are of the face alone, at half the cost."""
        if not faces or not self._flip:
            return self.embed(image, faces)
        chips = self._chips(image, faces)
        out = l2_normalise(self._forward(chips))
        picked = np.flatnonzero(np.asarray(needs_mirror(out), dtype=bool))
        if picked.size:
            out[picked] = _flip_tested(out[picked], self._forward(_mirrors([chips[i] for i in picked])))
        return out


class SFaceEmbedder(Embedder):
    """OpenCV Zoo SFace (int8) through OpenCV's DNN module; 112x112 ArcFace-aligned RGB input."""

    size = 128

    def __init__(self, model: Path, flip: bool) -> None:
        self._net = cv2.dnn.readNetFromONNX(str(model))
        self._flip = flip

    def _forward(self, chips: list[Chip]) -> np.ndarray:
        blob = cv2.dnn.blobFromImages(chips, 1.0, (112, 112), (0, 0, 0), swapRB=True, crop=False)
        self._net.setInput(blob, "data")
        return np.asarray(self._net.forward(), dtype=np.float32).reshape(len(chips), -1)


class MobileFaceNetEmbedder(Embedder):
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

    def _forward(self, chips: list[Chip]) -> np.ndarray:
        blob = cv2.dnn.blobFromImages(chips, 1.0 / 127.5, (112, 112), (127.5, 127.5, 127.5), swapRB=True)
        return np.asarray(self._sess.run(None, {self._input: blob})[0], dtype=np.float32)


class DlibResNetEmbedder(Embedder):
    """dlib's ResNet on its own 150x150 face chip (dlib's alignment from the 5-point shape)."""

    size = 128

    def __init__(self, model: Path, shape_model: Path, flip: bool) -> None:
        import dlib

        self._net = dlib.face_recognition_model_v1(str(model))
        self._shape = dlib.shape_predictor(str(shape_model))
        self._flip = flip

    def _chips(self, image: npt.NDArray[np.uint8], faces: Sequence[Face]) -> list[Chip]:
        import dlib

        rgb = np.ascontiguousarray(image[:, :, ::-1])
        chips = []
        for f in faces:
            rect = dlib.rectangle(int(f.box[0]), int(f.box[1]), int(f.box[2]), int(f.box[3]))
            chips.append(np.asarray(dlib.get_face_chip(rgb, self._shape(rgb, rect), size=150, padding=0.25)))
        return chips

    def _forward(self, chips: list[Chip]) -> np.ndarray:
        return np.asarray(self._net.compute_face_descriptor(chips), dtype=np.float32)
