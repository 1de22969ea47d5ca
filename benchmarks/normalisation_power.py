"""Per-template score normalisation, validated the way ``openlfr evaluate`` validates the attraction check.

Issue 12, round 4; offline evidence only: nothing here changes the live system, its scores or its
calibration. The question: would shifting *every* template's scores so that its high crowd quantile equals
the crowd's reference threshold (the attraction check's offsets, which today only ever raise an attractor's
bar, generalised to every template and both directions) separate mated from non-mated searches better, once
the validated minimum is re-derived honestly?

The still-image protocol is the calibration's own (``evaluation.protocol.build_scores``: LFW enrolled once
each, every other photo a mated search, held-out LFW and UTKFace non-mated; the single-pack crowd hygiene;
``evaluation.power``'s grid, Holm-corrected Fisher tests by race, sex and age band, and FNIR at a
1,000-person watchlist). The crowd is split in folds: offsets are learnt on the other folds and false alerts
counted on the held fold (the normalisation crowd is never the crowd that measures FPIR), and mated searches
get the offsets the whole crowd gives, as ``power.analyse_power`` does for the check. Rows:

- ``attraction check (shipped)``: ``analyse_power`` itself; it must reproduce the shipped calibration
  (validated minimum 0.512, FNIR 7.8 % at 1,000), which checks this set-up;
- ``normalised, k at share s``: offset of template t = its k-th highest crowd score minus the score the
  same share of all crowd comparisons reaches, k = s x the crowd's size (s = the check's 0.1 %, where that
  score is the check's reference threshold, or 1 % for a steadier quantile).

    OPENLFR_DATA_DIR=var .venv/bin/python benchmarks/normalisation_power.py

LFW templates are embedded once into the evaluation's cache (``<data_dir>/cache``). The UTKFace templates are
read from the reference crowd in the data folder when it holds every UTKFace face in manifest order (as
``openlfr demo --reference-crowd 8000`` writes it): the few faces without a detection are located by
embedding a handful of records and bisecting, so the 8,000 faces are not embedded a second time.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np
import numpy.typing as npt

from _common import data_dir  # noqa: F401  (puts src/ on the path)
from openlfr.config import EvaluationSettings, GovernanceSettings, Settings
from openlfr.evaluation.datasets import ImageRecord
from openlfr.evaluation.embeddings import EmbeddingSet, embed_one, embed_records
from openlfr.evaluation.hygiene import crowd_hygiene
from openlfr.evaluation.metrics import Rate
from openlfr.evaluation.power import (
    ATTRIBUTES,
    STILL_IMAGE_WATCHLIST,
    _grid,
    analyse_power,
    fnir_at_size,
    policy_for,
    validated_minimum,
)
from openlfr.evaluation.protocol import ScoreData, build_scores, group_labels
from openlfr.evaluation.runner import select_records
from openlfr.matching.reference_crowd import load_reference_crowd
from openlfr.vision import FaceEngine, load_engine

PACK = "opencv-zoo"


def crowd_from_reference(
    engine: FaceEngine, records: list[ImageRecord], settings: Settings
) -> EmbeddingSet | None:
    """The UTKFace EmbeddingSet rebuilt from the reference crowd file (rows = detected records in order)."""
    crowd = load_reference_crowd(PACK, settings.data_dir)
    if crowd is None:
        return None
    ref = crowd.templates
    missing = len(records) - ref.shape[0]
    if missing < 0 or missing > 20:
        return None
    cache: dict[int, npt.NDArray[np.float32] | None] = {}

    def emb(i: int) -> npt.NDArray[np.float32] | None:
        if i not in cache:
            det, _, _, v = embed_one(engine, records[i], settings)
            cache[i] = None if not det or v is None else (v / np.linalg.norm(v)).astype(np.float32)
        return cache[i]

    def failures_before(i: int) -> int:
        """How many records before ``i`` have no detection (the rows of the crowd file skip them)."""
        j = i
        while j < len(records) and emb(j) is None:
            j += 1
        if j == len(records):
            return missing - (j - i)
        v = emb(j)
        assert v is not None
        for s in range(missing + 1):
            if 0 <= j - s < ref.shape[0] and float(ref[j - s] @ v) > 0.999:
                return s - (j - i)
        raise SystemExit(f"UTKFace record {j} matches no reference-crowd row: the crowd is not every face")

    failures: set[int] = set()

    def bisect(lo: int, f_lo: int, hi: int, f_hi: int) -> None:
        # Records [lo, hi) hold f_hi - f_lo faces without a detection.
        if f_hi == f_lo:
            return
        if hi - lo == f_hi - f_lo:
            failures.update(range(lo, hi))
            return
        mid = (lo + hi) // 2
        f_mid = failures_before(mid)
        bisect(lo, f_lo, mid, f_mid)
        bisect(mid, f_mid, hi, f_hi)

    edges = [*range(0, len(records), 500), len(records)]
    counts = [failures_before(i) if i < len(records) else missing for i in edges]
    for lo, hi, f_lo, f_hi in zip(edges, edges[1:], counts, counts[1:], strict=False):
        bisect(lo, f_lo, hi, f_hi)
    if len(failures) != missing:
        raise SystemExit(f"found {len(failures)} UTKFace faces without a detection, expected {missing}")
    detected = np.ones(len(records), bool)
    detected[sorted(failures)] = False
    embeddings = np.zeros((len(records), ref.shape[1]), np.float32)
    embeddings[detected] = ref
    print(
        f"UTKFace templates from the reference crowd ({crowd.source}); {missing} without a face, located "
        f"with {len(cache)} embeddings",
        file=sys.stderr,
    )
    return EmbeddingSet(
        PACK, records, embeddings, detected, detected.copy(), np.zeros(len(records), np.float32)
    )


def normalisation_offsets(train: npt.NDArray[np.float32], gov: GovernanceSettings, share: float) -> Any:
    """Per template: its k-th highest score on ``train`` (k = share x faces) minus the score that the same
    share of all single comparisons on ``train`` reaches (at the check's share, its reference threshold)."""
    t_ref = (
        policy_for(train, gov).reference_threshold
        if share == gov.attraction_fmr
        else float(np.quantile(train.ravel(), 1.0 - share))
    )
    k = max(1, int(np.floor(share * train.shape[0])))
    top = -np.partition(-train, k - 1, axis=0)[k - 1]
    return top.astype(np.float64) - t_ref


def analyse_normalised(
    data: ScoreData,
    keep: npt.NDArray[np.bool_],
    cfg: EvaluationSettings,
    gov: GovernanceSettings,
    share: float,
) -> dict[str, Any]:
    """The power analysis's ``with check`` branch with every template normalised (cross-fitted, 2 folds)."""
    crowd = data.crowd.scores[keep]
    records = [r for r, k in zip(data.crowd.records, keep, strict=True) if k]
    labels = {a: np.array(group_labels(records, a, cfg.age_bands)) for a in ATTRIBUTES}
    folds = 2
    fold = np.random.default_rng(cfg.seed).permutation(crowd.shape[0]) % folds
    held_offsets = np.zeros(crowd.shape)
    for f in range(folds):
        held_offsets[fold == f] = normalisation_offsets(crowd[fold != f], gov, share)
    adjusted = (crowd - held_offsets).astype(np.float32)
    full = normalisation_offsets(crowd, gov, share)
    mated = (data.mated.scores - full[None, :]).astype(np.float32)
    rows = np.arange(mated.shape[0])
    mate = mated[rows, data.mate_column]
    rank1 = mated.argmax(axis=1) == data.mate_column

    def tpir_at(t: float) -> Rate:
        return Rate.of(int(np.sum(rank1 & (mate >= t))), int(mate.size), cfg.alpha)

    best, col = adjusted.max(axis=1), adjusted.argmax(axis=1)
    grid = _grid(best, col, labels, tpir_at, data.subjects, cfg.alpha)
    vmin, ok = validated_minimum(grid, float(best.max()))
    at = next((p for p in grid if p.threshold == vmin), None)
    return {
        "offsets": (float(full.min()), float(np.median(full)), float(full.max())),
        "k_full": max(1, int(np.floor(share * crowd.shape[0]))),
        "validated_min": vmin,
        "validated": ok,
        "fnir_1000": fnir_at_size(
            mated, data.mate_column, vmin, STILL_IMAGE_WATCHLIST, cfg.subsample_repeats, cfg.seed
        ),
        "at": at,
        "full_offsets": full,
    }


def describe(point: Any) -> str:
    if point is None:
        return "-"
    ratios = "; ".join(
        f"{r.attribute} {r.high}/{r.low} {r.ratio:.1f}x [{r.ci_low:.1f}, {r.ci_high:.1f}]"
        for r in point.ratios
    )
    u18 = point.groups.get("age", {}).get("0-17")
    return (
        f"crowd FPIR {point.crowd_fpir.k}/{point.crowd_fpir.n}, TPIR {point.tpir.k}/{point.tpir.n} "
        f"= {point.tpir.k / point.tpir.n:.3f}, any significant difference: {point.significant}; {ratios}"
        + (f"; under-18 {u18.k}/{u18.n}" if u18 is not None else "")
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shares", type=float, nargs="+", default=[0.001, 0.01])
    ap.add_argument(
        "--max-lfw-people",
        type=int,
        default=None,
        help="Only the first N LFW people by name (a quick look at the code path; figures need all).",
    )
    a = ap.parse_args()
    settings = Settings()
    cfg, gov = settings.evaluation, settings.governance
    lfw_records, crowd_records = select_records(settings, a.max_lfw_people)
    engine = load_engine(PACK, settings)
    crowd_set = crowd_from_reference(engine, crowd_records, settings)
    if crowd_set is None:
        print("no full reference crowd in the data folder: embedding UTKFace (cached)", file=sys.stderr)
        crowd_set = embed_records(engine, crowd_records, settings)
    print(
        f"embedding {len(lfw_records)} LFW images (cached in {settings.cache_dir})",
        file=sys.stderr,
        flush=True,
    )
    lfw_set = embed_records(engine, lfw_records, settings)
    data = build_scores(lfw_set, crowd_set, cfg)
    hyg = crowd_hygiene({PACK: data}, cfg.hygiene_fmr, cfg.hygiene_max_per_subject)
    excluded = {x.crowd_rel for x in hyg.exclusions}
    keep = np.array([r.rel not in excluded for r in data.crowd.records], dtype=bool)
    print(
        f"{PACK}: {len(data.subjects)} enrolled, {data.mated.scores.shape[0]} mated searches, "
        f"{int(keep.sum())} crowd faces after hygiene ({len(excluded)} excluded)"
    )
    power = analyse_power(data, keep, cfg, gov)
    shipped_at = next((p for p in power.with_check if p.threshold == power.validated_min_with), None)
    print("\n| scores | validated minimum | still-image FNIR at 1,000 | at that minimum |")
    print("|---|---:|---:|---|")
    print(
        f"| attraction check (shipped) | {power.validated_min_with:.3f} "
        f"({'validated' if power.validated_with else 'NOT validated'}) | "
        f"{power.still_image['with_check']['fnir']:.3f} | {describe(shipped_at)} |"
    )
    results = {}
    for share in a.shares:
        r = analyse_normalised(data, keep, cfg, gov, share)
        results[share] = r
        lo, med, hi = r["offsets"]
        print(
            f"| normalised, share {share:g} (k={r['k_full']} of the whole crowd; offsets {lo:+.3f} .. {hi:+.3f}, "
            f"median {med:+.3f}) | {r['validated_min']:.3f} ({'validated' if r['validated'] else 'NOT validated'})"
            f" | {r['fnir_1000']:.3f} | {describe(r['at'])} |"
        )


if __name__ == "__main__":
    main()
