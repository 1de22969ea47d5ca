"""LFW verification accuracy, failure-to-enrol and speed for each model pack.

    .venv/bin/python benchmarks/verification.py [--packs opencv-zoo,insightface-s,dlib] [--no-flip]

Protocol: the pairs in ``lfw/pairs_dev.txt`` (LFW's own pairs restricted to the people in the shared
data), 10 folds in file order; for each fold the threshold that maximises accuracy on the other nine is
applied to it. A pair with an image where no face is found counts as "different" (and so as an error when
it is a same-person pair): failure to enrol is not hidden. Speed: median milliseconds per image for detection
on a 1280x720 frame of the crowd clip and on an LFW image, and per face for embedding, with the thread
settings the engine uses (``OPENLFR_VISION__THREADS``, default 2).
"""

from __future__ import annotations

import argparse

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from _common import data_dir, median_ms
from openlfr.config import Settings
from openlfr.vision import FaceEngine, best_face, load_image
from openlfr.vision.packs import PACKS, get_pack


def read_pairs(path):  # type: ignore[no-untyped-def]
    pairs = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 3:
            pairs.append(((parts[0], int(parts[1])), (parts[0], int(parts[2])), True))
        elif len(parts) == 4:
            pairs.append(((parts[0], int(parts[1])), (parts[2], int(parts[3])), False))
    return pairs


def lfw_path(root, name, idx):  # type: ignore[no-untyped-def]
    return root / "lfw" / "images" / name / f"{name}_{idx:04d}.jpg"


def embed_lfw_face(engine: FaceEngine, image: np.ndarray) -> np.ndarray | None:
    """The central face of an LFW image (retrying with padding when the face touches the border)."""
    for pad in (0.0, 0.5):
        faces = engine.detect(image, pad=pad)
        face = best_face(engine.assess(image, faces), image.shape)
        if face is not None:
            return engine.embed(image, [face])[0].embedding
    return None


def ten_fold_accuracy(scores: np.ndarray, same: np.ndarray, folds: int = 10) -> tuple[float, float, float]:
    """Mean and standard deviation of accuracy over folds, and the mean threshold chosen."""
    idx = np.arange(len(scores))
    fold_of = np.array_split(idx, folds)
    candidates = np.unique(np.concatenate([scores, [-1.0, 1.0]]))
    accs, thresholds = [], []
    for test in fold_of:
        train = np.setdiff1d(idx, test)
        s, y = scores[train], same[train]
        acc_per = [np.mean((s >= t) == y) for t in candidates]
        best = candidates[int(np.argmax(acc_per))]
        thresholds.append(best)
        accs.append(np.mean((scores[test] >= best) == same[test]))
    return float(np.mean(accs)), float(np.std(accs)), float(np.mean(thresholds))


def speed(
    engine: FaceEngine, frames: list[np.ndarray], lfw_img: np.ndarray, repeats: int
) -> tuple[float, ...]:
    """Median ms: detection on a 1280x720 frame, detection on an LFW image, embedding of one face."""
    fi = iter(frames * 1000)
    det_hd, _ = median_ms(lambda: engine.detect(next(fi)), repeats)
    det_lfw, _ = median_ms(lambda: engine.detect(lfw_img), repeats)
    face = engine.detect(lfw_img)[0]
    emb_ms, _ = median_ms(lambda: engine.embed(lfw_img, [face]), repeats)
    return det_hd, det_lfw, emb_ms


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--packs", default=",".join(PACKS), help="comma-separated model packs")
    ap.add_argument("--no-flip", action="store_true", help="embed without the mirror-image average")
    ap.add_argument("--limit", type=int, default=0, help="use only the first N pairs (quick check)")
    ap.add_argument("--speed-repeats", type=int, default=30)
    args = ap.parse_args()
    root = data_dir()
    pairs = read_pairs(root / "lfw" / "pairs_dev.txt")
    if args.limit:
        pairs = pairs[: args.limit]
    console = Console(width=150)
    settings = Settings()
    vision = settings.vision.model_copy(update={"flip_augment": not args.no_flip})
    table = Table(
        title=f"LFW verification on pairs_dev.txt ({len(pairs)} pairs, 10 folds), {vision.threads} threads"
    )
    for col in (
        "pack",
        "accuracy",
        "± sd",
        "threshold",
        "FTE images",
        "det 1280x720 ms",
        "det LFW ms",
        "embed ms/face",
        "licence",
    ):
        table.add_column(col)

    import cv2

    frames = []
    cap = cv2.VideoCapture(str(root / "videos" / "facenet_pytorch__video.mp4"))
    for _ in range(10):
        ok, frame = cap.read()
        if ok:
            frames.append(cv2.resize(frame, (1280, 720), interpolation=cv2.INTER_AREA))
    cap.release()

    for name in args.packs.split(","):
        pack = get_pack(name)
        engine = FaceEngine(pack, vision, settings.quality)
        needed = sorted({p[0] for p in pairs} | {p[1] for p in pairs})
        emb: dict[tuple[str, int], np.ndarray | None] = {}
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"{name}: embedding {len(needed)} LFW images", total=len(needed))
            for key in needed:
                emb[key] = embed_lfw_face(engine, load_image(lfw_path(root, *key)))
                progress.advance(task)
        fte = sum(v is None for v in emb.values())
        scores = np.array(
            [
                float(np.dot(emb[a], emb[b])) if emb[a] is not None and emb[b] is not None else -1.0  # type: ignore[arg-type]
                for a, b, _ in pairs
            ]
        )
        same = np.array([s for _, _, s in pairs])
        acc, sd, thr = ten_fold_accuracy(scores, same)

        det_hd, det_lfw, emb_ms = speed(
            engine, frames, load_image(lfw_path(root, *needed[0])), args.speed_repeats
        )
        table.add_row(
            name,
            f"{acc * 100:.2f}%",
            f"{sd * 100:.2f}",
            f"{thr:.3f}",
            str(fte),
            f"{det_hd:.1f}",
            f"{det_lfw:.1f}",
            f"{emb_ms:.1f}",
            "commercial use OK" if pack.commercial_use else "NON-COMMERCIAL",
        )
        console.print(f"{name}: accuracy {acc * 100:.2f}% ± {sd * 100:.2f}, FTE {fte}, threshold {thr:.3f}")
    console.print(table)
    console.print(
        f"flip augmentation: {'on' if vision.flip_augment else 'off'}; detection at working width "
        f"{vision.working_width}px; a pair with a failure to enrol counts as 'different'."
    )


if __name__ == "__main__":
    main()
