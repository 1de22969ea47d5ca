"""How much does the flip test move a live search's score, and how many searches can the flip screen leave
without their mirror image? (Issue 29, ``live.flip_screen``.)

    .venv/bin/python benchmarks/flip_screen.py [--seed 0] [--duration 60] [--scenario DIR]
                                               [--cameras-on-machine 4] [--margins 0.05 0.1 0.15 0.2]

One camera plays the walk-by of ``benchmarks/cameras.py`` (same folder, watchlist and threshold: 0.511, the
validated default) unpaced, with every face flip-tested as before the screen (``live.flip_screen=false``).
For every search, the face is also embedded alone (the same pack without the flip test, the same refined
landmarks), and its probe made as the search makes it (fused with the track's kept shots). Printed:

- the change of the best subject's score between the probe alone and the flip-tested probe, for the shot
  alone and for the fused probe (median, 95th and 99th percentile, largest): the margin must exceed it;
- per margin, the share of searches the screen would leave without the mirror image (the probe alone
  scores below threshold - margin for every subject), and how many of those the flip-tested probe would
  have taken to within 0.05 of the threshold, or over it (the second must be 0).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from cameras import PACK, run_cameras, walkby
from openlfr.live import pipeline
from openlfr.live.stages import track_probes
from openlfr.vision import load_engine


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0, help="Seed of the generated walk-by (default 0).")
    ap.add_argument("--duration", type=float, default=60.0, help="Seconds of the generated walk-by.")
    ap.add_argument("--scenario", type=Path, default=None, help="A walk-by folder (benchmarks/scenario.py).")
    ap.add_argument(
        "--cameras-on-machine",
        type=int,
        default=4,
        help="live.sources_on_machine: detect as each of this many cameras on one box does (default 4).",
    )
    ap.add_argument("--margins", type=float, nargs="+", default=[0.05, 0.1, 0.15, 0.2])
    a = ap.parse_args()
    args = argparse.Namespace(
        scenario=a.scenario,
        seed=a.seed,
        duration=a.duration,
        set=["live.flip_screen=false", f"live.sources_on_machine={a.cameras_on_machine}"],
    )
    truth, video, settings, _engine, gw = walkby(args)
    threshold = float(gw.deployment.threshold)
    alone_engine = load_engine(
        PACK,
        settings.model_copy(update={"vision": settings.vision.model_copy(update={"flip_augment": False})}),
    )
    alone: dict[int, Any] = {}
    rows: list[tuple[float, float, float, float]] = []

    embed, search = pipeline.embed, pipeline.search

    def embed_both(
        frame: Any, tracks: Any, engine: Any, refine_below_px: float, needs_mirror: Any = None
    ) -> Any:
        faces = embed(frame, tracks, engine, refine_below_px, needs_mirror)
        for tr, f in zip(tracks, alone_engine.embed(frame.image, faces), strict=True):
            alone[tr.id] = f.embedding
        return faces

    def search_both(tracks: Any, embedded: Any, index: Any, known: Any, top_k: int) -> Any:
        out = search(tracks, embedded, index, known, top_k)
        if not out:
            return out
        shots = [alone[tr.id] for tr in tracks]
        _kept, probes = track_probes(tracks, shots, [s.weight for s in out], known)
        _t, fused_alone = index.search_with_scores(probes, k=1)
        _t, single_flip = index.search_with_scores(np.stack([s.embedding for s in out]), k=1)
        _t, single_alone = index.search_with_scores(np.stack(shots), k=1)
        for i, s in enumerate(out):
            rows.append(
                (
                    float(single_flip[i].max()),
                    float(single_alone[i].max()),
                    float(s.subject_scores.max()),
                    float(fused_alone[i].max()),
                )
            )
        return out

    pipeline.embed, pipeline.search = embed_both, search_both  # type: ignore[assignment]
    try:
        run_cameras(1, video, gw, settings, float(truth["fps"]), paced=False)
    finally:
        pipeline.embed, pipeline.search = embed, search  # type: ignore[assignment]
    if not rows:
        raise SystemExit("no searches: nothing to measure")
    single_flip, single_alone, fused_flip, fused_alone = np.array(rows).T
    print(
        f"walk-by {video.name}, seed {a.seed}: {len(rows)} searches, threshold {threshold:.3f} (the validated "
        f"default), detected as one of {a.cameras_on_machine} cameras on a box"
    )
    for name, d in (
        ("shot alone vs flip-tested, best score", single_alone - single_flip),
        ("fused probe, this shot alone vs flip-tested", fused_alone - fused_flip),
    ):
        ad = np.abs(d)
        print(
            f"  {name}: change median {np.median(ad):.3f}, p95 {np.percentile(ad, 95):.3f}, "
            f"p99 {np.percentile(ad, 99):.3f}, largest {ad.max():.3f} (mean signed {d.mean():+.4f})"
        )
    for m in a.margins:
        left = fused_alone < threshold - m
        near = int((fused_flip[left] >= threshold - 0.05).sum())
        over = int((fused_flip[left] >= threshold).sum())
        print(
            f"  margin {m:.2f}: {left.mean():.0%} of searches without the mirror image; of those, flip-tested "
            f"within 0.05 of the threshold: {near}, at or over it: {over}"
        )


if __name__ == "__main__":
    main()
