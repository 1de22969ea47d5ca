"""Accuracy on real faces as the gallery grows: rank-k identification rates (95% Clopper-Pearson intervals,
overall and by every demographic attribute that mated people are labelled with), exactly as
``openlfr evaluate`` reports them (``openlfr.evaluation.identification``), without the rest of the
evaluation (no FPIR analysis, no calibration files).

Protocol (see that module): one mated search per LFW person with two or more images (first image with a
face in the gallery, the next one searched); real distractors = the other LFW people and the UTKFace faces
kept after crowd hygiene; then synthetic distractors (Gaussian with the real distractors' mean and
covariance, L2-normalised) up to each size. Exact search.

    python benchmarks/gallery_accuracy.py --sizes 100000 1000000 [--max-lfw-people N] [--max-crowd N]

Writes ``identification.md`` and the PNGs into ``--out`` (default ``gallery_accuracy/``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _common import data_dir
from openlfr.config import Settings
from openlfr.evaluation import identification_report
from openlfr.evaluation.embeddings import embed_records
from openlfr.evaluation.hygiene import crowd_hygiene
from openlfr.evaluation.identification import build_identification, evaluate_identification
from openlfr.evaluation.protocol import build_scores
from openlfr.evaluation.runner import select_records
from openlfr.vision.engine import load_engine


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    settings = Settings(OPENLFR_DATA=str(data_dir()))
    ap.add_argument("--sizes", type=int, nargs="+", default=settings.retro.evaluation_gallery_sizes)
    ap.add_argument("--ranks", type=int, nargs="+", default=settings.retro.evaluation_ranks)
    ap.add_argument("--max-lfw-people", type=int, default=None)
    ap.add_argument("--max-crowd", type=int, default=None)
    ap.add_argument("--pack", default=None)
    ap.add_argument("--out", type=Path, default=Path("gallery_accuracy"))
    args = ap.parse_args()
    engine = load_engine(args.pack or settings.vision.pack, settings)
    lfw_records, crowd_records = select_records(settings, args.max_lfw_people, args.max_crowd)
    print(
        f"embedding {len(lfw_records) + len(crowd_records)} real images with {engine.pack.name} (cached)..."
    )
    es = embed_records(engine, lfw_records + crowd_records, settings)
    lfw, crowd = es.subset("lfw"), es.subset("utkface")
    cfg = settings.evaluation
    hygiene = crowd_hygiene(
        {engine.pack.name: build_scores(lfw, crowd, cfg)}, cfg.hygiene_fmr, cfg.hygiene_max_per_subject
    )
    data = build_identification(lfw, crowd, {x.crowd_rel for x in hygiene.exclusions})
    result = evaluate_identification(
        data,
        args.sizes,
        args.ranks,
        max_gallery=max(args.sizes),
        age_edges=cfg.age_bands,
        alpha=cfg.alpha,
        seed=cfg.seed,
        progress=lambda done, total: print(
            f"  synthetic distractors {done:,}/{total:,}", end="\r", flush=True
        ),
    )
    print(
        f"\n{result.mated_searches} mated searches (+{result.failed_to_detect} no face); real gallery "
        f"{result.real_gallery:,} = {result.mates} mates + {result.lfw_distractors} LFW + "
        f"{result.crowd_distractors} UTKFace ({result.crowd_excluded} UTKFace faces excluded by hygiene)"
    )
    groups = [
        (a, g)
        for a in result.group_counts
        if a not in result.not_measurable
        for g in result.group_counts[a]
        if g != "unknown"
    ]
    head = " ".join(f"{'rank-' + str(k):>22}" for k in result.ranks)
    print(f"{'gallery':>10} {head} " + " ".join(f"{g + ' r1':>10}" for _, g in groups))
    for size in result.sizes:
        cells = []
        for k in result.ranks:
            q = result.row(size, k).overall
            cells.append(f"{q.value:.3f} [{q.lo:.3f},{q.hi:.3f}]")
        by_group = [result.row(size, result.ranks[0]).groups[a][g] for a, g in groups]
        print(
            f"{size:>10,} "
            + " ".join(f"{c:>22}" for c in cells)
            + " "
            + " ".join(f"{q.value:>10.3f}" for q in by_group)
        )
    for a, why in result.not_measurable.items():
        print(f"by {a}: not measurable: {why}")
    args.out.mkdir(parents=True, exist_ok=True)
    images = identification_report.images(result)
    for name, png in images.items():
        (args.out / (name.replace(":", "_") + ".png")).write_bytes(png)
    md = identification_report.write_markdown({result.pack: result}, images, args.out)
    print(f"report: {md}")


if __name__ == "__main__":
    main()
