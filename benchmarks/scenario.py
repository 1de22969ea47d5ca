"""Generate a walk-by test video with ground truth: real faces composited onto a scene.

People (real face photographs from the shared data) enter the scene far away, walk towards the camera and
grow as they approach, several at once, then leave. Some are on a watchlist (one *other* photo of them is
enrolled), most are not (other LFW people and UTKFace faces: the crowd). Writes into the folder given:

- ``scenario.mp4``: H.264 video (default 1280x720, 25 fps, 40 s);
- ``ground_truth.json``: the watchlist (subject id, the photo enrolled), every pass (identity, the photo
  shown, whether watchlisted, first and last frame, its face box on each frame), the settings, and the
  stranger hygiene (below) with every candidate it dropped.

**Stranger hygiene.** UTKFace draws on celebrity photographs, and some of those celebrities are LFW people
on the scenario's watchlist, so a "stranger" can be a photo of a wanted person; an alert on it is a true
match that the labels would count as false. Before a crowd candidate (UTKFace or LFW) is used as a stranger,
an independently trained model (:data:`HYGIENE_PACK`, never the pack under test, benchmark only) searches
its photo against the photo enrolled for every watchlist subject (watchlisted and distractors). A candidate
whose best score reaches that model's own calibrated threshold for FPIR :data:`HYGIENE_FPIR` (0.1 %) at the
smallest calibrated watchlist at least as large as the scenario's (0.406 at 300 for 212 subjects) is the same
person by that model and is not used; the next candidate takes its place (the random draws, so every
watchlisted pass, are unchanged). At that threshold about one candidate in 1,000 is dropped by chance, so
look-alikes stay in the crowd. As in the evaluation's hygiene, a match with a template that attracts strangers
proves nothing (an infant photo draws other infants): when the matched subject's enrolled photo is an
attractor for the independent model too (the enrolment attraction rule, ``matching.attraction``, at that
threshold and its per-comparison rate, on a fixed sample of :data:`HYGIENE_CROWD` UTKFace faces), the
candidate stays a stranger. Every drop and every such keep is printed and recorded; nothing about a file
is special-cased.
The evaluation's own crowd hygiene (``openlfr.evaluation.hygiene``) needs the whole evaluation's score
matrices (its strict threshold is set from every known-different LFW pair); this is the same rule at the
scale of one scenario, with the threshold taken from the calibration that evaluation wrote.

:func:`score_alerts` turns a run's alerts into per-pass TPIR, false alerts per 1,000 faces, alert precision
(with a Clopper-Pearson 95 % interval), duplicate alerts and alert latency from a person's entry.

    .venv/bin/python benchmarks/scenario.py OUT_DIR [--seed 0] [--width 1280] [--height 720] [--duration 40]
        [--watchlisted 12] [--crowd 48] [--distractors 200] [--no-hygiene]

Faces are placed with a feathered ellipse around the face (hair and chin included) above a plain torso,
with a little sway and JPEG-like blur from the encoder; the scene is a procedurally drawn concourse, so no
unlabelled face is in it. The composited faces are frontal-ish LFW/UTKFace photos: easier than a real
street (no occlusion, no motion blur); use the crowd clip for realism of the detector's load.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
import sys
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
from scipy.stats import beta

from _common import ROOT, data_dir
from openlfr.config import Settings
from openlfr.matching.attraction import Attraction, AttractionPolicy, attraction_of
from openlfr.matching.calibration import load_calibration
from openlfr.vision import best_face, load_engine, load_image

HYGIENE_PACK = "insightface-s"
"""The independent model of the stranger hygiene: trained apart from the default pack, benchmark only."""
HYGIENE_FPIR = 0.001
"""The hygiene's threshold: that model's calibrated threshold for this FPIR (per search of the watchlist)."""
HYGIENE_CROWD = 400
"""UTKFace faces (evenly spread over the manifest) on which a matched template's attraction is measured."""


class IdentityCheck:
    """Does an independently trained model take two photos for the same person? (benchmark only)

    Its threshold is the model's own calibrated threshold for FPIR ``fpir`` at the smallest calibrated
    watchlist size of at least ``watchlist_size`` (the largest calibrated one when none is that large):
    a stranger searched against that many subjects reaches it with probability about ``fpir``.
    """

    def __init__(self, watchlist_size: int, pack: str = HYGIENE_PACK, fpir: float = HYGIENE_FPIR) -> None:
        self.pack, self.fpir = pack, fpir
        self.engine = load_engine(pack, Settings())
        cal = load_calibration(pack)
        points = [p for p in (cal.points if cal else ()) if abs(p.fpir - fpir) < 1e-12]
        if not points:
            raise SystemExit(f"{pack} has no calibrated threshold for FPIR {fpir}: no identity check")
        big = [p for p in points if p.watchlist_size >= watchlist_size]
        point = (
            min(big, key=lambda p: p.watchlist_size) if big else max(points, key=lambda p: p.watchlist_size)
        )
        self.threshold, self.point_size = float(point.threshold), int(point.watchlist_size)
        self.root = data_dir()
        self._cache: dict[str, np.ndarray | None] = {}

    def attraction(self, photo: str) -> Attraction | None:
        """The enrolment attraction rule for ``photo``'s template by this model, on a fixed UTKFace sample,
        at this check's threshold and per-comparison rate (FPIR / watchlist size)."""
        t = self.template(photo)
        if t is None:
            return None
        gov = Settings().governance
        policy = AttractionPolicy(
            reference_threshold=self.threshold,
            fmr=self.fpir / self.point_size,
            factor=gov.attraction_factor,
            min_hits=gov.attraction_min_hits,
            p_value=gov.attraction_p_value,
        )
        return attraction_of(t, self._crowd(), policy)

    def _crowd(self) -> np.ndarray:
        path = ROOT / "test-artifacts" / f"identity-check-{self.pack}-utkface{HYGIENE_CROWD}.npz"
        if path.is_file():
            with np.load(path) as z:
                return np.asarray(z["templates"], np.float32)
        utk = _utk(self.root)
        step = max(1, len(utk) // HYGIENE_CROWD)
        rows = [self.template(rel) for rel in utk[::step][:HYGIENE_CROWD]]
        templates = np.stack([r for r in rows if r is not None]).astype(np.float32)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, templates=templates)
        return templates

    def describe(self) -> str:
        return (
            f"{self.pack} at {self.threshold:.3f} (its calibrated threshold for FPIR {self.fpir:.1%} at a "
            f"watchlist of {self.point_size})"
        )

    def template(self, rel: str) -> np.ndarray | None:
        """The unit template of a photo's main face (UTKFace crops are tight, so they get a wider pad)."""
        if rel not in self._cache:
            img = load_image(self.root / rel)
            pad = 0.5 if rel.startswith("utkface/") else 0.25
            f = best_face(self.engine.analyse(img, pad=pad), img.shape)
            emb = None if f is None or f.embedding is None else f.embedding / np.linalg.norm(f.embedding)
            self._cache[rel] = emb
        return self._cache[rel]

    def score(self, a: str, b: str) -> float | None:
        ta, tb = self.template(a), self.template(b)
        return None if ta is None or tb is None else float(ta @ tb)

    def best(self, rel: str, references: dict[str, str]) -> tuple[str, float] | None:
        """(subject, score) of the best of ``references`` (subject -> photo) for the photo ``rel``."""
        t = self.template(rel)
        if t is None:
            return None
        found: tuple[str, float] | None = None
        for subject, ref in references.items():
            r = self.template(ref)
            if r is not None and (found is None or float(t @ r) > found[1]):
                found = (subject, float(t @ r))
        return found


@dataclass
class Pass:
    pass_id: int
    identity: str
    image: str
    """Photo composited into the video (relative to the data folder)."""
    watchlisted: bool
    first_frame: int
    last_frame: int
    boxes: dict[int, list[float]] = field(default_factory=dict)
    """Frame -> face box (x1, y1, x2, y2) in video pixels."""


def _lfw_people(root: Path) -> dict[str, list[str]]:
    people: dict[str, list[str]] = {}
    with (root / "lfw" / "manifest.csv").open() as f:
        for row in csv.DictReader(f):
            people.setdefault(row["identity"], []).append("lfw/" + row["path"])
    return people


def _utk(root: Path) -> list[str]:
    with (root / "utkface" / "manifest.csv").open() as f:
        return ["utkface/" + row["path"] for row in csv.DictReader(f)]


def _background(w: int, h: int, rng: np.random.Generator) -> np.ndarray:
    """A concourse: floor in perspective, walls, pillars, lights, textured noise (no faces)."""
    img = np.zeros((h, w, 3), np.float32)
    horizon = int(h * 0.35)
    top = np.linspace(0.25, 0.45, horizon)[:, None, None] * np.array([190, 180, 170], np.float32)
    img[:horizon] = top
    floor = np.linspace(0.45, 0.8, h - horizon)[:, None, None] * np.array([140, 150, 160], np.float32)
    img[horizon:] = floor
    vx = w // 2
    for i in range(-8, 9):  # floor tiles converging on the vanishing point
        x_far = vx + i * w * 0.03
        x_near = vx + i * w * 0.25
        cv2.line(img, (int(x_far), horizon), (int(x_near), h), (90, 95, 100), 2, cv2.LINE_AA)
    for k in range(1, 12):
        y = horizon + int((h - horizon) * (k / 12) ** 1.8)
        cv2.line(img, (0, y), (w, y), (100, 105, 110), 1, cv2.LINE_AA)
    for side in (-1, 1):  # pillars
        for k in range(4):
            x = vx + side * w * (0.12 + 0.11 * k) * (1 + k * 0.6)
            pw = int(w * 0.015 * (1 + k * 0.9))
            cv2.rectangle(
                img,
                (int(x - pw), int(horizon * (0.2 - 0.05 * k))),
                (int(x + pw), int(horizon + (h - horizon) * (0.15 + 0.25 * k))),
                (150 - 10 * k, 140, 130),
                -1,
            )
    for k in range(6):  # ceiling lights
        cv2.circle(img, (int(w * (0.1 + 0.16 * k)), int(h * 0.06)), int(h * 0.015), (250, 250, 240), -1)
    img += rng.normal(0, 6, img.shape).astype(np.float32)
    return np.clip(cv2.GaussianBlur(img, (3, 3), 0), 0, 255).astype(np.uint8)


@dataclass
class _Sprite:
    image: np.ndarray
    face_box: np.ndarray  # in the sprite's own pixels
    torso: tuple[int, int, int]


def _sprite(path: Path, engine: Any, rng: random.Random) -> _Sprite | None:
    img = load_image(path)
    face = best_face(engine.detect(img, pad=0.5), img.shape)
    if face is None or face.size < 40:
        return None
    colour = (rng.randrange(20, 200), rng.randrange(20, 200), rng.randrange(20, 200))
    return _Sprite(img, face.box.copy(), colour)


def _draw(frame: np.ndarray, sp: _Sprite, cx: float, cy: float, face_px: float) -> list[float]:
    """Composite the sprite so its face is ``face_px`` wide, centred at (cx, cy); returns the face box."""
    fb = sp.face_box
    fw = float(fb[2] - fb[0])
    s = face_px / fw
    h, w = frame.shape[:2]
    # Torso first (behind the face): a rounded shape below the chin.
    tw, th = int(face_px * 2.4), int(face_px * 3.0)
    cv2.ellipse(
        frame,
        (int(cx), int(cy + face_px * 0.55 + th / 2)),
        (tw // 2, th // 2),
        0,
        180,
        360,
        sp.torso,
        -1,
        cv2.LINE_AA,
    )
    cv2.rectangle(
        frame, (int(cx - tw / 2), int(cy + face_px * 0.55 + th / 2)), (int(cx + tw / 2), h), sp.torso, -1
    )
    # Region of the photo around the face (hair and chin), scaled.
    fcx, fcy = (fb[0] + fb[2]) / 2, (fb[1] + fb[3]) / 2
    half = fw * 0.95
    x1, y1 = int(max(0, fcx - half)), int(max(0, fcy - half * 1.15))
    x2, y2 = int(min(sp.image.shape[1], fcx + half)), int(min(sp.image.shape[0], fcy + half * 1.05))
    patch = sp.image[y1:y2, x1:x2]
    pw, ph = max(2, round(patch.shape[1] * s)), max(2, round(patch.shape[0] * s))
    patch = cv2.resize(patch, (pw, ph), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    ox, oy = round(cx - (fcx - x1) * s), round(cy - (fcy - y1) * s)
    mask = np.zeros((ph, pw), np.float32)
    cv2.ellipse(
        mask,
        (int((fcx - x1) * s), int((fcy - y1) * s)),
        (int(fw * 0.62 * s), int(fw * 0.85 * s)),
        0,
        0,
        360,
        1.0,
        -1,
    )
    k = max(3, int(face_px * 0.12) | 1)
    mask = cv2.GaussianBlur(mask, (k, k), 0)[..., None]
    # Clip to the frame.
    fx1, fy1, fx2, fy2 = max(0, ox), max(0, oy), min(w, ox + pw), min(h, oy + ph)
    if fx2 > fx1 and fy2 > fy1:
        sub = patch[fy1 - oy : fy2 - oy, fx1 - ox : fx2 - ox].astype(np.float32)
        m = mask[fy1 - oy : fy2 - oy, fx1 - ox : fx2 - ox]
        dst = frame[fy1:fy2, fx1:fx2].astype(np.float32)
        frame[fy1:fy2, fx1:fx2] = (sub * m + dst * (1 - m)).astype(np.uint8)
    box = [cx - fw * s / 2, cy - (fcy - fb[1]) * s, cx + fw * s / 2, cy + (fb[3] - fcy) * s]
    return [round(float(v), 1) for v in box]


def generate(
    out: Path,
    *,
    seed: int = 0,
    width: int = 1280,
    height: int = 720,
    fps: int = 25,
    duration: float = 40.0,
    watchlisted: int = 12,
    crowd: int = 48,
    distractors: int = 200,
    hygiene: bool = True,
) -> dict[str, Any]:
    """Write ``scenario.mp4`` and ``ground_truth.json`` into ``out``; returns the ground truth.

    With ``hygiene`` a crowd candidate that the independent model takes for a watchlist subject is not used
    (module docstring)."""
    root = data_dir()
    rng = random.Random(seed)
    nprng = np.random.default_rng(seed)
    engine = load_engine("opencv-zoo", Settings())
    people = _lfw_people(root)
    multi = sorted(p for p, imgs in people.items() if len(imgs) >= 2)
    rng.shuffle(multi)
    singles = sorted(p for p, imgs in people.items() if len(imgs) == 1)
    rng.shuffle(singles)

    # Watchlisted passers: enrol one photo, show another. Distractor subjects: enrolled, never shown.
    watch: list[tuple[str, str, _Sprite]] = []  # (identity, enrolled photo, sprite shown)
    enrolled: list[dict[str, str]] = []
    for person in multi:
        if len(watch) >= watchlisted:
            break
        imgs = sorted(people[person])
        sp = _sprite(root / imgs[1], engine, rng)
        if sp is not None:
            watch.append((person, imgs[1], sp))
            enrolled.append({"subject_id": person, "image": imgs[0]})
    used = {w[0] for w in watch}
    for person in multi[len(used) * 2 :]:
        if len(enrolled) >= watchlisted + distractors:
            break
        if person not in used:
            enrolled.append({"subject_id": person, "image": sorted(people[person])[0]})
    enrolled_ids = {e["subject_id"] for e in enrolled}
    # The crowd: LFW people not on the watchlist, and UTKFace faces (no identity: each its own person).
    crowd_paths = [(p, people[p][0]) for p in singles if p not in enrolled_ids][: crowd // 2]
    utk = _utk(root)
    rng.shuffle(utk)
    crowd_paths += [(f"utk:{Path(u).name}", u) for u in utk[: crowd * 2]]
    crowd_sprites: list[tuple[str, str, _Sprite]] = []
    check = IdentityCheck(len(enrolled)) if hygiene else None
    references = {e["subject_id"]: e["image"] for e in enrolled}
    checked, dropped, kept = 0, [], []
    for ident, rel in crowd_paths:
        if len(crowd_sprites) >= crowd:
            break
        if check is not None:
            checked += 1
            best = check.best(rel, references)
            attracts = None
            if best is not None and best[1] >= check.threshold:
                attracts = check.attraction(references[best[0]])
            if best is not None and attracts is not None and attracts.attractor:
                kept.append({"identity": ident, "image": rel, "subject": best[0], "score": round(best[1], 3)})
                print(
                    f"stranger hygiene: {rel} kept as a stranger although {check.pack} scores it "
                    f"{best[1]:.3f} against {best[0]}: that template {attracts.describe()}",
                    file=sys.stderr,
                )
            elif best is not None and best[1] >= check.threshold:
                dropped.append(
                    {"identity": ident, "image": rel, "subject": best[0], "score": round(best[1], 3)}
                )
                print(
                    f"stranger hygiene: {rel} not used as a stranger: {check.pack} scores it {best[1]:.3f} "
                    f"against {best[0]}'s enrolled photo {references[best[0]]}",
                    file=sys.stderr,
                )
                continue
        sp = _sprite(root / rel, engine, rng)
        if sp is not None:
            crowd_sprites.append((ident, rel, sp))

    if check is not None:
        print(
            f"stranger hygiene ({check.describe()}): {checked} crowd candidates checked against "
            f"{len(references)} watchlist subjects, {len(dropped)} not used, {len(kept)} kept (attractor)",
            file=sys.stderr,
        )
    n_frames = round(duration * fps)
    walkers = [(i, r, s, True) for i, r, s in watch] + [(i, r, s, False) for i, r, s in crowd_sprites]
    rng.shuffle(walkers)
    # Pass length 3-6 s, starts uniform over the video: (watchlisted + crowd) x 4.5 s / duration in view at once.
    passes: list[Pass] = []
    plans = []
    for k, (ident, rel, sp, listed) in enumerate(walkers):
        length = int(rng.uniform(3.0, 6.0) * fps)
        start = int(rng.uniform(0, max(1, n_frames - length)))
        lane = rng.uniform(0.15, 0.85)
        end_x = lane + rng.uniform(-0.15, 0.15)
        near = rng.uniform(0.10, 0.16) * height  # face width when nearest
        far = rng.uniform(0.025, 0.035) * height
        sway = rng.uniform(0, 0.01) * width
        passes.append(Pass(k, ident, rel, listed, start, min(n_frames - 1, start + length - 1)))
        plans.append((sp, lane, end_x, near, far, sway))
    mean_conc = sum(p.last_frame - p.first_frame + 1 for p in passes) / n_frames
    print(f"{mean_conc:.1f} people in view on average", file=sys.stderr)

    background = _background(width, height, nprng)
    out.mkdir(parents=True, exist_ok=True)
    video = out / "scenario.mp4"
    with av.open(str(video), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "23", "preset": "veryfast"}
        for f in range(n_frames):
            frame = background.copy()
            active = [
                (p, plan) for p, plan in zip(passes, plans, strict=True) if p.first_frame <= f <= p.last_frame
            ]
            # Farther (smaller) people are drawn first, so nearer ones occlude them.
            drawn = []
            for p, (sp, lane, end_x, near, far, sway) in active:
                t = (f - p.first_frame) / max(1, p.last_frame - p.first_frame)
                ease = t**1.6  # approach speeds up in image terms as they come closer
                face_px = far + (near - far) * ease
                x = (lane + (end_x - lane) * t) * width + sway * math.sin(f / fps * 2 * math.pi * 0.9)
                y = height * 0.33 + (height * 0.42) * ease
                drawn.append((face_px, p, sp, x, y))
            for face_px, p, sp, x, y in sorted(drawn, key=lambda d: d[0]):
                box = _draw(frame, sp, x, y, face_px)
                p.boxes[f] = box
            vf = av.VideoFrame.from_ndarray(frame, format="bgr24")
            vf.pts, vf.time_base = f, Fraction(1, fps)
            for packet in stream.encode(vf):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    truth = {
        "video": video.name,
        "seed": seed,
        "width": width,
        "height": height,
        "fps": fps,
        "frames": n_frames,
        "watchlist": enrolled,
        "passes": [asdict(p) for p in passes],
        "stranger_hygiene": (
            {
                "pack": check.pack,
                "threshold": round(check.threshold, 4),
                "fpir": check.fpir,
                "calibrated_watchlist_size": check.point_size,
                "checked": checked,
                "not_used": dropped,
                "kept_attractor_matches": kept,
            }
            if check is not None
            else None
        ),
    }
    (out / "ground_truth.json").write_text(json.dumps(truth))
    return truth


def clopper_pearson(k: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Exact binomial confidence interval for k successes in n trials."""
    if n == 0:
        return 0.0, 1.0
    lo = 0.0 if k == 0 else float(beta.ppf(alpha / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - alpha / 2, k + 1, n - k))
    return lo, hi


def score_alerts(
    truth: dict[str, Any], alerts: list[tuple[str, int]], tolerance_frames: int = 12
) -> dict[str, Any]:
    """Score ``(subject_id, frame index)`` alerts against the ground truth.

    An alert is true when a pass of that identity is in view at its frame (within ``tolerance_frames``);
    it is attributed to that pass. Per-pass TPIR = watchlisted passes with at least one true alert /
    watchlisted passes. A second true alert for the same pass is a duplicate. Faces seen = passes.
    """
    passes = truth["passes"]
    fps = truth["fps"]
    by_id: dict[str, list[dict[str, Any]]] = {}
    for p in passes:
        by_id.setdefault(p["identity"], []).append(p)
    hit: dict[int, list[int]] = {}
    true_alerts = false_alerts = 0
    for subject, frame in alerts:
        match = [
            p
            for p in by_id.get(subject, [])
            if p["first_frame"] - tolerance_frames <= frame <= p["last_frame"] + tolerance_frames
        ]
        if match:
            true_alerts += 1
            hit.setdefault(match[0]["pass_id"], []).append(frame)
        else:
            false_alerts += 1
    listed = [p for p in passes if p["watchlisted"]]
    found = [p for p in listed if p["pass_id"] in hit]
    duplicates = sum(len(v) - 1 for v in hit.values())
    latencies = sorted((min(hit[p["pass_id"]]) - p["first_frame"]) / fps for p in found)
    n_alerts = true_alerts + false_alerts
    lo, hi = clopper_pearson(true_alerts, n_alerts)
    tp_lo, tp_hi = clopper_pearson(len(found), len(listed))
    return {
        "passes": len(passes),
        "watchlisted_passes": len(listed),
        "tpir_per_pass": round(len(found) / len(listed), 3) if listed else None,
        "tpir_ci95": [round(tp_lo, 3), round(tp_hi, 3)],
        "alerts": n_alerts,
        "true_alerts": true_alerts,
        "false_alerts": false_alerts,
        "false_alerts_per_1000_faces": round(1000 * false_alerts / len(passes), 1) if passes else None,
        "alert_precision": round(true_alerts / n_alerts, 3) if n_alerts else None,
        "alert_precision_ci95": [round(lo, 3), round(hi, 3)],
        "duplicate_alerts": duplicates,
        "time_from_entry_to_alert_s_median": round(float(np.median(latencies)), 2) if latencies else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--fps", type=int, default=25)
    ap.add_argument("--duration", type=float, default=40.0)
    ap.add_argument("--watchlisted", type=int, default=12, help="People on the watchlist who walk by.")
    ap.add_argument("--crowd", type=int, default=48, help="People not on the watchlist who walk by.")
    ap.add_argument("--distractors", type=int, default=200, help="Watchlist entries who never appear.")
    ap.add_argument(
        "--no-hygiene",
        action="store_true",
        help="Use crowd candidates as strangers even when an independent model takes them for a watchlist "
        "subject (the scenarios before issue 12's round 4).",
    )
    a = ap.parse_args()
    truth = generate(
        a.out,
        seed=a.seed,
        width=a.width,
        height=a.height,
        fps=a.fps,
        duration=a.duration,
        watchlisted=a.watchlisted,
        crowd=a.crowd,
        distractors=a.distractors,
        hygiene=not a.no_hygiene,
    )
    listed = sum(p["watchlisted"] for p in truth["passes"])
    print(
        f"{a.out / truth['video']}: {truth['frames']} frames {a.width}x{a.height} @ {a.fps} fps, "
        f"{len(truth['passes'])} passes ({listed} watchlisted), watchlist of {len(truth['watchlist'])}"
    )


if __name__ == "__main__":
    main()
