"""Several reference images per subject: one reference, the best of several (max), or a fused template (the
normalised mean). Measured on the shared LFW data with the evaluation's protocol (issue 12 item 2).

    .venv/bin/python benchmarks/enrolment_fusion.py --pack opencv-zoo

Who: LFW people with at least three images with a face. Each is enrolled from their first two images (by
file name) and searched with the others; everyone else enrolled by the evaluation (one image each) is on
the watchlist too, so the watchlist is as large as the evaluation's. Non-mated searches: the evaluation's
held-out LFW people and every detected UTKFace face. For each way of enrolling, the threshold for each FPIR
target is set on those non-mated searches (more templates per subject raise the non-mated scores, so each
way gets its own threshold), and the FNIR of the same mated searches is compared; also at the pack's
validated minimum threshold. Embeddings come from the evaluation cache (run ``openlfr evaluate`` first or
let this embed them).
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import numpy as np

from openlfr.config import get_settings
from openlfr.evaluation.embeddings import embed_records
from openlfr.evaluation.metrics import threshold_for_fpir
from openlfr.evaluation.protocol import split_lfw
from openlfr.evaluation.runner import select_records
from openlfr.matching.calibration import load_calibration
from openlfr.matching.watchlist_index import WatchlistIndex
from openlfr.vision import load_engine


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pack", default="opencv-zoo")
    ap.add_argument("--references", type=int, default=2, help="reference images per multi-image subject")
    ap.add_argument("--max-crowd", type=int, default=None, help="only the first N crowd faces (quick look)")
    args = ap.parse_args()
    settings = get_settings()
    started = time.monotonic()
    lfw, crowd = select_records(settings, max_crowd=args.max_crowd)
    engine = load_engine(args.pack, settings)
    es = embed_records(engine, lfw + crowd, settings)
    lfw_es, crowd_es = es.subset("lfw"), es.subset("utkface")
    enrolled, held = split_lfw(
        lfw_es.records, settings.evaluation.lfw_holdout_fraction, settings.evaluation.seed
    )
    rows_of: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(lfw_es.records):
        if lfw_es.detected[i]:
            rows_of[r.subject].append(i)
    k = args.references
    multi = sorted(p for p in enrolled if len(rows_of[p]) > k)
    single = sorted(p for p in enrolled if 0 < len(rows_of[p]) <= k)
    probes = [i for p in multi for i in rows_of[p][k:]]
    probe_subject = [lfw_es.records[i].subject for i in probes]
    nonmated = np.concatenate(
        [
            lfw_es.embeddings[[i for p in held for i in rows_of[p]]],
            crowd_es.embeddings[crowd_es.detected],
        ]
    )
    cal = load_calibration(args.pack, settings.data_dir)
    vmin = cal.validated_min_threshold if cal else None

    def index_for(refs: int, fusion: str) -> WatchlistIndex:
        rows, ids = [], []
        for p in multi:
            for i in rows_of[p][:refs]:
                rows.append(i)
                ids.append(p)
        for p in single:
            rows.append(rows_of[p][0])
            ids.append(p)
        return WatchlistIndex(lfw_es.embeddings[rows], ids, fusion=fusion)

    def fnir_at(index: WatchlistIndex, t: float) -> float:
        scores = index.subject_scores(lfw_es.embeddings[probes])
        col = {s: j for j, s in enumerate(index.subjects)}
        mate = np.array([col[s] for s in probe_subject])
        hit = (scores.argmax(axis=1) == mate) & (scores[np.arange(len(probes)), mate] >= t)
        return 1.0 - float(hit.mean())

    print(
        f"{args.pack}: watchlist {len(multi) + len(single)} people ({len(multi)} with {k} references), "
        f"{len(probes)} mated searches of those {len(multi)}, {len(nonmated)} non-mated searches"
    )
    print("| enrolment | FNIR @ FPIR 1% (threshold) | FNIR @ FPIR 0.1% (threshold) | FNIR @ validated min |")
    print("| --- | ---: | ---: | ---: |")
    for name, refs, fusion in (
        ("one reference", 1, "max"),
        (f"{k} references, max", k, "max"),
        (f"{k} references, fused (mean)", k, "mean"),
    ):
        index = index_for(refs, fusion)
        best = index.subject_scores(nonmated).max(axis=1)
        cells = []
        for target in (0.01, 0.001):
            t = threshold_for_fpir(best, target)
            cells.append(f"{100 * fnir_at(index, t):.1f}% ({t:.3f})")
        at_v = f"{100 * fnir_at(index, vmin):.1f}% ({vmin:.3f})" if vmin is not None else "n/a"
        print(f"| {name} | {cells[0]} | {cells[1]} | {at_v} |")
    print(f"took {time.monotonic() - started:.0f} s (loaded machine; embeddings cached)")


if __name__ == "__main__":
    main()
