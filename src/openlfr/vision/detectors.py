"""Face detectors. Each returns ``Face`` objects (box, five ArcFace-order landmarks, score) in the
coordinates of the image it was given; the engine handles working resolution and padding."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from openlfr.vision.face import Face


def _faces_from_arrays(boxes: np.ndarray, kps: np.ndarray, scores: np.ndarray) -> list[Face]:
    return [
        Face(
            box=boxes[i].astype(np.float32),
            landmarks=kps[i].reshape(5, 2).astype(np.float32),
            detector_score=float(scores[i]),
        )
        for i in range(len(scores))
    ]


class YuNetDetector:
    """OpenCV Zoo's YuNet through ``cv2.FaceDetectorYN``."""

    def __init__(self, model: Path, score_threshold: float, nms_iou: float) -> None:
        self._net = cv2.FaceDetectorYN.create(str(model), "", (320, 320), score_threshold, nms_iou, 5000)
        self._size: tuple[int, int] = (320, 320)

    def detect(self, image: npt.NDArray[np.uint8]) -> list[Face]:
        h, w = image.shape[:2]
        if (w, h) != self._size:
            self._net.setInputSize((w, h))
            self._size = (w, h)
        _, rows = self._net.detect(image)
        if rows is None or len(rows) == 0:
            return []
        rows = np.asarray(rows, dtype=np.float32)
        boxes = np.stack([rows[:, 0], rows[:, 1], rows[:, 0] + rows[:, 2], rows[:, 1] + rows[:, 3]], axis=1)
        return _faces_from_arrays(boxes, rows[:, 4:14], rows[:, 14])


def _nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    idx = cv2.dnn.NMSBoxes(
        [[float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])] for b in boxes],
        [float(s) for s in scores],
        0.0,
        iou,
    )
    return [int(i) for i in np.asarray(idx).reshape(-1)]


class SCRFDDetector:
    """InsightFace SCRFD (with keypoints) in ONNX Runtime; the input is letterboxed to a multiple of 32."""

    _STRIDES = (8, 16, 32)
    _ANCHORS = 2

    def __init__(self, model: Path, score_threshold: float, nms_iou: float, threads: int) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self._sess = ort.InferenceSession(str(model), sess_options=opts, providers=["CPUExecutionProvider"])
        self._input = self._sess.get_inputs()[0].name
        self._outputs = [o.name for o in self._sess.get_outputs()]
        self._score = score_threshold
        self._nms = nms_iou
        self._centres: dict[tuple[int, int, int], np.ndarray] = {}

    def _anchor_centres(self, h: int, w: int, stride: int) -> np.ndarray:
        key = (h, w, stride)
        if key not in self._centres:
            ys, xs = np.mgrid[:h, :w]
            c = (np.stack([xs, ys], axis=-1).astype(np.float32) * stride).reshape(-1, 2)
            self._centres[key] = np.repeat(c, self._ANCHORS, axis=0)
        return self._centres[key]

    def detect(self, image: npt.NDArray[np.uint8]) -> list[Face]:
        h, w = image.shape[:2]
        in_w, in_h = ((w + 31) // 32) * 32, ((h + 31) // 32) * 32
        canvas = np.zeros((in_h, in_w, 3), dtype=np.uint8)
        canvas[:h, :w] = image
        blob = cv2.dnn.blobFromImage(canvas, 1.0 / 128.0, (in_w, in_h), (127.5, 127.5, 127.5), swapRB=True)
        outs = self._sess.run(self._outputs, {self._input: blob})
        by_name = dict(zip(self._outputs, outs, strict=True))
        all_boxes, all_kps, all_scores = [], [], []
        for stride in self._STRIDES:
            scores = by_name[f"score_{stride}"].reshape(-1)
            keep = np.where(scores >= self._score)[0]
            if keep.size == 0:
                continue
            centres = self._anchor_centres(in_h // stride, in_w // stride, stride)[keep]
            d = by_name[f"bbox_{stride}"].reshape(-1, 4)[keep] * stride
            k = by_name[f"kps_{stride}"].reshape(-1, 10)[keep] * stride
            boxes = np.concatenate([centres - d[:, :2], centres + d[:, 2:]], axis=1)
            kps = np.tile(centres, 5) + k
            all_boxes.append(boxes)
            all_kps.append(kps)
            all_scores.append(scores[keep])
        if not all_scores:
            return []
        boxes = np.concatenate(all_boxes)
        kps = np.concatenate(all_kps)
        scores = np.concatenate(all_scores)
        keep_idx = _nms(boxes, scores, self._nms)
        return _faces_from_arrays(boxes[keep_idx], kps[keep_idx], scores[keep_idx])


def dlib_landmarks_to_arcface(points: np.ndarray) -> np.ndarray:
    """dlib's 5-point model (two corners of each eye, base of the nose) to ArcFace's five points.

    dlib gives no mouth corners; they are placed below the nose where the ArcFace template has them,
    relative to the eyes, so that pose and alignment have the five points they expect.
    """
    p = np.asarray(points, dtype=np.float32)
    # dlib order: right eye outer, right eye inner, left eye outer, left eye inner, nose (person's sides).
    eye_img_right = (p[0] + p[1]) / 2
    eye_img_left = (p[2] + p[3]) / 2
    nose = p[4]
    eye_mid = (eye_img_left + eye_img_right) / 2
    across = eye_img_right - eye_img_left
    down = np.array([-across[1], across[0]], dtype=np.float32)
    # On the template the mouth line is 1.156 inter-eye distances below the eyes, corners 0.83 apart.
    mouth_mid = eye_mid + down * 1.156
    mouth_l = mouth_mid - across * 0.414
    mouth_r = mouth_mid + across * 0.414
    return np.stack([eye_img_left, eye_img_right, nose, mouth_l, mouth_r]).astype(np.float32)


class DlibHOGDetector:
    """dlib's HOG frontal detector with the 5-point shape predictor for landmarks."""

    def __init__(self, shape_model: Path) -> None:
        import dlib

        self._detector = dlib.get_frontal_face_detector()
        self._shape = dlib.shape_predictor(str(shape_model))

    def shape(self, rgb: npt.NDArray[np.uint8], box: np.ndarray) -> object:
        import dlib

        rect = dlib.rectangle(int(box[0]), int(box[1]), int(box[2]), int(box[3]))
        return self._shape(rgb, rect)

    def detect(self, image: npt.NDArray[np.uint8]) -> list[Face]:
        rgb = np.ascontiguousarray(image[:, :, ::-1])
        rects, scores, _ = self._detector.run(rgb, 1, -0.2)
        faces = []
        for rect, score in zip(rects, scores, strict=True):
            box = np.array([rect.left(), rect.top(), rect.right(), rect.bottom()], dtype=np.float32)
            shape = self._shape(rgb, rect)
            pts = np.array([[shape.part(i).x, shape.part(i).y] for i in range(5)], dtype=np.float32)
            # HOG scores are margins around 0; squash to 0..1 so one score scale serves every pack.
            prob = float(1.0 / (1.0 + np.exp(-2.0 * (score + 0.5))))
            faces.append(Face(box=box, landmarks=dlib_landmarks_to_arcface(pts), detector_score=prob))
        return faces
