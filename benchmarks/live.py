"""Live pipeline benchmark: openlfr against the loops users write with face_recognition, deepface and
insightface, on the 1080p crowd clip and on a generated walk-by scenario with ground truth.

    .venv-bench/bin/python benchmarks/live.py [--seed 0] [--duration 40] [--scenario DIR] [--peers all|none|...]

(``.venv-bench``: see benchmarks/requirements-peers.txt; with ``.venv/bin/python`` the face_recognition peer
is skipped.) For each system it prints frames/s, faces/s, CPU (cores busy), per-pass TPIR, false alerts
per 1,000 faces AND alert precision (true / all alerts, Clopper-Pearson 95 %), duplicate alerts, latency.

How each is run (all on the same video, on the same machine, one at a time):
- openlfr "live": the real pipeline, the file played at its own frame rate like a camera (newest frame
  wins, drops counted): what it achieves in real time. openlfr "max": as fast as possible, no drops.
- Peers run in the same real-time emulation: the video plays at its frame rate, the loop takes the newest
  frame whenever it is free (frames that arrive while it is busy are missed, as with a live camera).
  Their "max fps" is frames processed / time spent processing. A match becomes an alert with the same
  de-duplication as openlfr (one per subject per 60 s), which those loops would otherwise lack.
  * face_recognition 1.3 (dlib HOG + ResNet), the library's own "facerec_from_webcam_faster" loop: frame
    scaled (--fr-scale, 0.5; the example uses 0.25, which misses small faces), RGB, face_locations,
    face_encodings, compare_faces with the default tolerance 0.6, best distance wins.
  * deepface stream: DeepFace.stream's structure (detector every frame; after 5 consecutive frames with
    a face, freeze and search each face wider than 130 px; then show the result for 5 s, during which no
    frame is analysed). TensorFlow is not installable here, so VGG-Face is replaced by SFace (opencv-zoo
    pack) with deepface's SFace cosine threshold (distance 0.593), and the detector is deepface's "yunet"
    backend (OpenCV 5 here has no Haar cascade for the default "opencv" one). NOT the real library.
  * insightface FaceAnalysis(name="buffalo_sc", det_size 640x640) per frame: detect every face and embed
    every face, every frame. The insightface package needs a C++ build here, so the same buffalo_sc ONNX
    files (SCRFD-500M, MobileFaceNet w600k_mbf, = the insightface-s pack) run through ONNX Runtime with
    FaceAnalysis's letterbox to 640x640 and no flip. NOT the real library, same models and loop.

``--pack insightface-s --threshold 0.40 --peers none`` runs openlfr with the very models of the insightface
loop (non-commercial licence), for a comparison of the pipelines alone at equal accuracy.

The CPU is shared with other work on this machine: figures measured while others run are pessimistic.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from _common import ROOT, data_dir
from openlfr.config import LiveSettings, Settings
from openlfr.live.memory_gateway import CrowdCheck, InMemoryGateway
from openlfr.live.pipeline import LivePipeline
from openlfr.live.sources import parse_source
from openlfr.matching.calibration import load_calibration
from openlfr.matching.watchlist_index import WatchlistIndex
from openlfr.vision import FaceEngine, best_face, get_pack, load_engine, load_image
from scenario import generate, score_alerts

COOLDOWN_S = 60.0


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


@dataclass
class Row:
    system: str
    video: str
    frames_total: int = 0
    frames_processed: int = 0
    frames_dropped: int = 0
    wall_s: float = 0.0
    busy_s: float = 0.0
    cpu_s: float = 0.0
    faces: int = 0
    alerts: list[tuple[str, int]] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)
    note: str = ""
    searches: int = 0

    def figures(self, truth: dict[str, Any] | None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "system": self.system,
            "video": self.video,
            "frames": self.frames_total,
            "processed": self.frames_processed,
            "dropped": self.frames_dropped,
            "fps_processed": round(self.frames_processed / self.wall_s, 1) if self.wall_s else None,
            "max_fps": round(self.frames_processed / self.busy_s, 1) if self.busy_s else None,
            "faces_per_s": round(self.faces / self.wall_s, 1) if self.wall_s else None,
            "cpu_cores": round(self.cpu_s / self.wall_s, 2) if self.wall_s else None,
            "alert_latency_ms_p50": round(float(np.percentile(self.latency_ms, 50)), 1)
            if self.latency_ms
            else None,
            "alert_latency_ms_p95": round(float(np.percentile(self.latency_ms, 95)), 1)
            if self.latency_ms
            else None,
            "note": self.note,
        }
        if truth is not None:
            out.update(score_alerts(truth, self.alerts))
        return out


# -- openlfr ------------------------------------------------------------------------------------------------


def watchlist_gateway(
    truth: dict[str, Any],
    engine: FaceEngine,
    threshold: float,
    check: CrowdCheck | None = None,
    references: int = 1,
    fusion: str = "max",
) -> tuple[InMemoryGateway, int]:
    """The scenario's watchlist enrolled in memory as a dry run would (with the attraction check when
    ``check`` is given); returns the gateway and how many reference photos failed to enrol.

    With ``references`` > 1 every subject also gets up to that many photos in all: further LFW photos of the
    person, never the one shown in the video (custody records often hold several), combined by ``fusion``."""
    root = data_dir()
    shown = {p["image"] for p in truth["passes"]}
    people: dict[str, list[str]] = {}
    if references > 1:
        import csv

        with (root / "lfw" / "manifest.csv").open() as f:
            for row in csv.DictReader(f):
                people.setdefault(row["identity"], []).append("lfw/" + row["path"])
    templates, ids, images = [], [], []
    failed = 0
    for entry in truth["watchlist"]:
        extra = [
            x for x in sorted(people.get(entry["subject_id"], [])) if x != entry["image"] and x not in shown
        ]
        for rel in [entry["image"], *extra][:references]:
            img = load_image(root / rel)
            face = best_face(engine.analyse(img, pad=0.25), img.shape)
            if face is None or face.embedding is None:
                failed += 1
                continue
            templates.append(face.embedding)
            ids.append(entry["subject_id"])
            images.append(cv2.imencode(".jpg", img)[1].tobytes())
    gw = InMemoryGateway.from_templates(
        templates,
        ids,
        images,
        pack=engine.pack.name,
        threshold=threshold,
        deployment_id="benchmark",
        duration=timedelta(hours=6),
        check=check,
        fusion=fusion,
    )
    return gw, failed


def run_openlfr(
    video: Path, gw: InMemoryGateway, settings: Settings, paced: bool, fps: float, label: str
) -> Row:
    spec = parse_source(f"cam={video}")
    gw.allow_camera(spec.camera_id)
    gw.alerts.clear()
    pipeline = LivePipeline([spec], gw, settings, paced=paced)
    c0, t0 = cpu_s(), time.monotonic()
    result = pipeline.run()
    wall, cpu = time.monotonic() - t0, cpu_s() - c0
    (m,) = result.metrics
    row = Row(
        label,
        video.name,
        m["frames_in"],
        m["frames_processed"],
        m["frames_dropped"],
        wall,
        wall,
        cpu,
        m["faces_seen"],
    )
    row.searches = m["searches"]
    row.alerts = [(a.subject_id, round(a.media_s * fps)) for a in result.alerts]
    row.latency_ms = [a.latency_s * 1000 for a in result.alerts]
    if paced:
        row.busy_s = 0.0  # max fps is measured by the unpaced run
    return row


# -- real-time emulation for the peers ----------------------------------------------------------------------


def realtime_frames(video: Path, row: Row) -> Iterator[tuple[int, np.ndarray]]:
    """Frames as a live camera would give them to a loop that is busy between ``next()`` calls: each
    decoded frame is offered only if its time has not passed; missed frames count as dropped."""
    with av.open(str(video)) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        fps = float(s.average_rate)
        start = time.monotonic()
        for i, vf in enumerate(c.decode(s)):
            row.frames_total += 1
            due = start + i / fps
            now = time.monotonic()
            if now > due + 1.0 / fps:
                row.frames_dropped += 1
                continue
            if due > now:
                time.sleep(due - now)
            yield i, vf.to_ndarray(format="bgr24")


def run_peer(
    name: str, video: Path, step: Callable[[int, np.ndarray], list[str]], fps: float, note: str
) -> Row:
    row = Row(name, video.name, note=note)
    last_alert: dict[str, float] = {}
    c0, t0 = cpu_s(), time.monotonic()
    for i, frame in realtime_frames(video, row):
        b0 = time.monotonic()
        matched = step(i, frame)
        row.busy_s += time.monotonic() - b0
        row.frames_processed += 1
        for subject in matched:
            t = i / fps
            if subject not in last_alert or t - last_alert[subject] >= COOLDOWN_S:
                last_alert[subject] = t
                row.alerts.append((subject, i))
                row.latency_ms.append((time.monotonic() - (t0 + t)) * 1000)
    row.wall_s, row.cpu_s = time.monotonic() - t0, cpu_s() - c0
    return row


class FaceRecognitionLoop:
    """face_recognition's facerec_from_webcam_faster example, minus the drawing."""

    def __init__(self, truth: dict[str, Any], scale: float) -> None:
        import face_recognition

        self.fr = face_recognition
        self.scale = scale
        self.names: list[str] = []
        self.known: list[np.ndarray] = []
        for entry in truth["watchlist"]:
            img = face_recognition.load_image_file(str(data_dir() / entry["image"]))
            enc = face_recognition.face_encodings(img)
            if enc:
                self.known.append(enc[0])
                self.names.append(entry["subject_id"])
        self.faces = 0

    def __call__(self, i: int, frame: np.ndarray) -> list[str]:
        small = cv2.resize(frame, (0, 0), fx=self.scale, fy=self.scale)
        rgb = np.ascontiguousarray(small[:, :, ::-1])
        locations = self.fr.face_locations(rgb)
        encodings = self.fr.face_encodings(rgb, locations)
        self.faces += len(locations)
        out = []
        for enc in encodings:
            matches = self.fr.compare_faces(self.known, enc)  # tolerance 0.6, the library's default
            d = self.fr.face_distance(self.known, enc)
            best = int(np.argmin(d))
            if matches[best]:
                out.append(self.names[best])
        return out


def reference_index(engine: FaceEngine, truth: dict[str, Any]) -> WatchlistIndex:
    """The scenario's watchlist enrolled with a peer loop's own engine (one reference photo each)."""
    embs, ids = [], []
    for entry in truth["watchlist"]:
        img = load_image(data_dir() / entry["image"])
        f = best_face(engine.analyse(img, pad=0.25), img.shape)
        if f is not None and f.embedding is not None:
            embs.append(f.embedding)
            ids.append(entry["subject_id"])
    return WatchlistIndex(np.stack(embs), ids)


class DeepFaceStreamLoop:
    """DeepFace.stream's loop structure (see the module docstring for what is substituted)."""

    def __init__(self, truth: dict[str, Any], fps: float, min_face: int = 130) -> None:
        self.engine = load_engine("opencv-zoo", Settings())
        self.fps = fps
        self.min_face = min_face
        self.threshold = 1 - 0.593  # deepface's SFace cosine-distance threshold, as a similarity
        self.index = reference_index(self.engine, truth)
        self.consecutive = 0
        self.frozen_until = -1.0
        self.faces = 0

    def __call__(self, i: int, frame: np.ndarray) -> list[str]:
        t = i / self.fps
        if t < self.frozen_until:  # deepface shows the frozen result for time_threshold seconds
            return []
        # detector_backend="yunet" (deepface resizes to at most 640 px for it).
        detected = self.engine.detect(frame, working_width=640)
        boxes = [(int(f.box[0]), int(f.box[1]), int(f.width), int(f.height)) for f in detected]
        big = [b for b in boxes if b[2] > self.min_face]
        self.faces += len(boxes)
        self.consecutive = self.consecutive + 1 if len(big) else 0
        if self.consecutive < 5:  # frame_threshold
            return []
        self.consecutive = 0
        self.frozen_until = t + 5.0  # time_threshold
        out = []
        for x, y, w, h in big:
            faces = self.engine.analyse(
                frame[max(0, y - h // 4) : y + h + h // 4, max(0, x - w // 4) : x + w + w // 4], pad=0.25
            )
            f = best_face(faces)
            if f is None or f.embedding is None:
                continue
            cands = self.index.search(f.embedding, k=1, threshold=self.threshold)[0]
            if cands:
                out.append(cands[0].subject_id)
        return out


class FaceAnalysisLoop:
    """insightface FaceAnalysis("buffalo_sc").get(frame) per frame, with the same model files."""

    def __init__(self, truth: dict[str, Any], threshold: float) -> None:
        s = Settings()
        vision = s.vision.model_copy(update={"flip_augment": False, "detection_score": 0.5})
        self.engine = FaceEngine(get_pack("insightface-s"), vision, s.quality)
        self.threshold = threshold
        self.index = reference_index(self.engine, truth)
        self.faces = 0

    def __call__(self, i: int, frame: np.ndarray) -> list[str]:
        # FaceAnalysis.get: letterbox into det_size (640x640), detect, then every model on every face.
        h, w = frame.shape[:2]
        scale = min(640 / w, 640 / h)
        resized = cv2.resize(frame, (round(w * scale), round(h * scale)))
        canvas = np.zeros((640, 640, 3), np.uint8)
        canvas[: resized.shape[0], : resized.shape[1]] = resized
        faces = [f.scaled(1 / scale) for f in self.engine.detector.detect(canvas) if f.detector_score >= 0.5]
        self.faces += len(faces)
        if not faces:
            return []
        embedded = self.engine.embed(frame, faces)
        probes = np.stack([f.embedding for f in embedded if f.embedding is not None])
        return [c[0].subject_id for c in self.index.search(probes, k=1, threshold=self.threshold) if c]


def calibrated(pack: str, fpir: float, watchlist_size: int, given: float | None) -> tuple[float, str]:
    """The threshold a pack's calibration measured for an FPIR target at the nearest watchlist size at or
    above this one (or the one given). Deliberately without the equitability floor
    (``validated_min_threshold``) that ``Calibration.threshold_for`` adds: the floor is printed separately,
    because a deployment must run at or above it unless an override is recorded."""
    if given is not None:
        return given, "given"
    cal = load_calibration(pack)
    if cal is None:
        return 0.40, "no calibration: 0.40"
    pts = sorted(
        (p for p in cal.points if abs(p.fpir - fpir) < 1e-12 and p.watchlist_size >= watchlist_size),
        key=lambda p: p.watchlist_size,
    )
    if not pts:
        return 0.40, f"no calibrated point at FPIR {fpir:g}: 0.40"
    return pts[0].threshold, (
        f"calibrated at FPIR {fpir:g} for a watchlist of {pts[0].watchlist_size}; the pack's validated "
        f"minimum for deployments is {cal.validated_min_threshold:.3f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--duration", type=float, default=40.0, help="Scenario length in seconds.")
    ap.add_argument("--scenario", type=Path, default=None, help="Reuse a scenario folder (else generated).")
    ap.add_argument(
        "--peers", default="all", help="all, none, or a comma list of: face_recognition,deepface,insightface"
    )
    ap.add_argument("--pack", default=None, help="openlfr's model pack (default: the configured one).")
    ap.add_argument("--fpir", type=float, default=0.01, help="FPIR target the thresholds are taken at.")
    ap.add_argument(
        "--threshold", type=float, default=None, help="openlfr threshold (default: calibrated at --fpir)."
    )
    ap.add_argument(
        "--peer-threshold",
        type=float,
        default=None,
        help="insightface loop threshold (default: calibrated, else 0.40).",
    )
    ap.add_argument("--fr-scale", type=float, default=0.5)
    ap.add_argument("--json", type=Path, default=None, help="Also write the figures here.")
    a = ap.parse_args()

    root = data_dir()
    crowd = root / "videos" / "facenet_pytorch__video.mp4"
    folder = a.scenario or ROOT / "test-artifacts" / f"scenario-seed{a.seed}-{int(a.duration)}s"
    if not (folder / "ground_truth.json").is_file():
        print(f"generating the scenario into {folder} ...", flush=True)
        generate(folder, seed=a.seed, duration=a.duration)
    truth = json.loads((folder / "ground_truth.json").read_text())
    scenario = folder / truth["video"]

    settings = Settings(live=LiveSettings(cooldown_seconds=COOLDOWN_S))
    pack = a.pack or settings.vision.pack
    settings = settings.model_copy(update={"vision": settings.vision.model_copy(update={"pack": pack})})
    size = len(truth["watchlist"])
    threshold, how = calibrated(pack, a.fpir, size, a.threshold)
    peer_threshold, peer_how = calibrated("insightface-s", a.fpir, size, a.peer_threshold)
    engine = load_engine(pack, settings)
    gw, fte = watchlist_gateway(truth, engine, threshold)
    print(
        f"openlfr pack {pack}, threshold {threshold:.3f} ({how}); insightface loop threshold {peer_threshold:.3f} "
        f"({peer_how}); watchlist {gw.watchlist()[0].subject_count} subjects ({fte} failed to enrol); scenario "
        f"{len(truth['passes'])} passes, {sum(p['watchlisted'] for p in truth['passes'])} watchlisted",
        flush=True,
    )

    rows: list[tuple[Row, dict[str, Any] | None]] = []
    for video, t, vfps in ((crowd, None, 25.0), (scenario, truth, float(truth["fps"]))):
        live = run_openlfr(video, gw, settings, True, vfps, "openlfr live (paced)")
        fast = run_openlfr(video, gw, settings, False, vfps, "openlfr max (unpaced)")
        rows += [(live, t), (fast, t)]
        print(f"  done: openlfr on {video.name}", flush=True)

    peers = (
        []
        if a.peers == "none"
        else (["face_recognition", "deepface", "insightface"] if a.peers == "all" else a.peers.split(","))
    )
    fps = float(truth["fps"])
    for name in peers:
        if name == "face_recognition":
            try:
                loop: Any = FaceRecognitionLoop(truth, a.fr_scale)
            except ImportError:
                print(
                    "  face_recognition is not installed: run with .venv-bench (see requirements-peers.txt)"
                )
                continue
            note = f"face_recognition {getattr(loop.fr, '__version__', '?')} (dlib), scale {a.fr_scale}"
        elif name == "deepface":
            loop, note = (
                DeepFaceStreamLoop(truth, fps),
                "deepface.stream structure; yunet + SFace, not VGG-Face",
            )
        elif name == "insightface":
            loop, note = (
                FaceAnalysisLoop(truth, peer_threshold),
                "FaceAnalysis(buffalo_sc) loop via ONNX Runtime",
            )
        else:
            raise SystemExit(f"unknown peer {name!r}")
        row = run_peer(name, scenario, loop, fps, note)
        row.faces = loop.faces
        rows.append((row, truth))
        print(f"  done: {name}", flush=True)

    figures = [r.figures(t) for r, t in rows]
    cols = [
        "system",
        "video",
        "frames",
        "processed",
        "dropped",
        "fps_processed",
        "max_fps",
        "faces_per_s",
        "cpu_cores",
        "alert_latency_ms_p50",
        "alert_latency_ms_p95",
        "tpir_per_pass",
        "tpir_ci95",
        "false_alerts_per_1000_faces",
        "alert_precision",
        "alert_precision_ci95",
        "alerts",
        "false_alerts",
        "duplicate_alerts",
        "time_from_entry_to_alert_s_median",
    ]
    print("\n| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for f in figures:
        print(
            "| "
            + " | ".join(
                ""
                if f.get(c) is None
                else (
                    f"{f[c]:.3f}"
                    if isinstance(f.get(c), float) and c in ("tpir_per_pass", "alert_precision")
                    else str(f[c])
                )
                for c in cols
            )
            + " |"
        )
    ours = next(f for f in figures if f["system"].startswith("openlfr max") and f["video"] == scenario.name)
    ours_live = next(
        f for f in figures if f["system"].startswith("openlfr live") and f["video"] == scenario.name
    )
    peer_figs = [f for f in figures if not f["system"].startswith("openlfr")]
    for p in peer_figs:
        ratio = ours["max_fps"] / p["max_fps"] if p["max_fps"] else float("inf")
        print(
            f"vs {p['system']}: throughput {ratio:.1f}x (openlfr {ours['max_fps']} fps unpaced, "
            f"{ours_live['fps_processed']} fps live; {p['system']} {p['max_fps']} fps); per-pass TPIR openlfr "
            f"live {ours_live['tpir_per_pass']:.3f} vs {p['tpir_per_pass']:.3f}; faces/s {ours['faces_per_s']} "
            f"vs {p['faces_per_s']}"
        )
    for f in figures:
        if f["note"]:
            print(f"note {f['system']}: {f['note']}")
    print("The CPU is shared with other processes on this machine: throughput figures are pessimistic.")
    if a.json:
        a.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    sys.exit(main())
