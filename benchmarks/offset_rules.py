"""Template offset rules compared on the calibration's own protocol (issue 12, round 5).

For each rule (no offsets, attractor offsets, every template normalised) and, for ``normalised``, each cap on
how far a template may be eased (``governance.normalisation_max_lowering``), this runs
``evaluation.power.analyse_power`` exactly as ``openlfr evaluate`` does (LFW enrolled once each, every other
photo a mated search, the UTKFace crowd after hygiene, offsets cross-fitted over 2 crowd folds, Holm-corrected
Fisher tests by race, sex and age band) and prints, per row: the validated minimum, crowd FPIR and TPIR there,
still-image FNIR with 1,000-person watchlists, the largest group ratios with their intervals and the
under-18 rate. Embeddings come from the evaluation's cache (``openlfr evaluate`` fills it).

    OPENLFR_DATA_DIR=var .venv/bin/python benchmarks/offset_rules.py [--caps 0.05 0.1 0.2] [--max-lfw-people N]
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np

from _common import data_dir  # noqa: F401  (puts src/ on the path)
from openlfr.config import Settings
from openlfr.evaluation.embeddings import embed_records
from openlfr.evaluation.hygiene import crowd_hygiene
from openlfr.evaluation.power import analyse_power
from openlfr.evaluation.power_report import at_threshold
from openlfr.evaluation.protocol import build_scores
from openlfr.evaluation.runner import select_records
from openlfr.vision import load_engine


def describe(point: dict[str, Any] | None) -> str:
    if point is None:
        return "-"
    ratios = "; ".join(
        f"{r['attribute']} {r['high']}/{r['low']} {r['ratio']:.1f}x [{r['ci_low']:.1f}, {r['ci_high']:.1f}]"
        for r in point["ratios"]
    )
    u18 = point["groups"].get("age", {}).get("0-17")
    fp, tp = point["crowd_fpir"], point["tpir"]
    return f"crowd FPIR {fp['k']}/{fp['n']}, TPIR {tp['k']}/{tp['n']} = {tp['rate']:.3f}; {ratios}" + (
        f"; under-18 {u18['k']}/{u18['n']}" if u18 is not None else ""
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pack", default="opencv-zoo")
    ap.add_argument("--caps", type=float, nargs="+", default=[0.05, 0.1, 0.2])
    ap.add_argument("--max-lfw-people", type=int, default=None, help="A quick look; figures need all.")
    a = ap.parse_args()
    settings = Settings()
    cfg = settings.evaluation
    lfw, crowd = select_records(settings, a.max_lfw_people)
    engine = load_engine(a.pack, settings)
    print(f"embedding {len(lfw) + len(crowd)} images (cached in {settings.cache_dir})", file=sys.stderr)
    es = embed_records(engine, lfw + crowd, settings)
    data = build_scores(es.subset("lfw"), es.subset("utkface"), cfg)
    hyg = crowd_hygiene({a.pack: data}, cfg.hygiene_fmr, cfg.hygiene_max_per_subject)
    excluded = {x.crowd_rel for x in hyg.exclusions}
    keep = np.array([r.rel not in excluded for r in data.crowd.records], dtype=bool)
    print(
        f"{a.pack}: {len(data.subjects)} enrolled, {data.mated.scores.shape[0]} mated searches, "
        f"{int(keep.sum())} crowd faces after hygiene\n"
    )
    print("| offsets | validated minimum | still-image FNIR at 1,000 | at that minimum |")
    print("|---|---:|---:|---|")
    for i, cap in enumerate(a.caps):
        gov = settings.governance.model_copy(update={"normalisation_max_lowering": cap})
        p = analyse_power(data, keep, cfg, gov).as_dict()
        ok = {True: "validated", False: "NOT validated"}
        si = p["still_image"]
        rows = [
            ("none", "without_check", "validated_min_without", "validated_without", "without_check"),
            ("attractors", "with_check", "validated_min_with", "validated_with", "with_check"),
        ]
        rows = rows if i == 0 else []
        rows.append(
            (
                f"normalised, easing capped at {cap:g} (offsets {p['normalised_offsets']['min']:+.3f} .. "
                f"{p['normalised_offsets']['max']:+.3f}, {100 * p['normalised_offsets']['share_capped']:.1f}% capped)",
                "normalised",
                "validated_min_normalised",
                "validated_normalised",
                "normalised",
            )
        )
        for name, grid, vmin, vok, still in rows:
            print(
                f"| {name} | {p[vmin]:.4f} ({ok[p[vok]]}) | {100 * si[still]['fnir']:.1f}% | "
                f"{describe(at_threshold(p[grid], p[vmin]))} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
