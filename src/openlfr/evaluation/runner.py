"""``openlfr evaluate`` end to end: embed (cached), score, hygiene, analyse, report, calibration files."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from openlfr.config import Settings
from openlfr.evaluation import identification_report, power_report, report
from openlfr.evaluation.analysis import analyse_pack
from openlfr.evaluation.datasets import ImageRecord, load_lfw, load_utkface
from openlfr.evaluation.embeddings import EmbeddingSet, embed_records
from openlfr.evaluation.hygiene import Exclusion, crowd_hygiene
from openlfr.evaluation.identification import (
    IdentificationResult,
    build_identification,
    evaluate_identification,
)
from openlfr.evaluation.power import analyse_power
from openlfr.evaluation.protocol import ScoreData, build_scores
from openlfr.evaluation.provenance import describe_all, fingerprint
from openlfr.evaluation.results import PackResult
from openlfr.matching.calibration import Calibration, ThresholdPoint, save_calibration
from openlfr.matching.reference_crowd import ReferenceCrowd, save_reference_crowd
from openlfr.vision import load_engine

ProgressFn = Callable[[str, int, int], None]
"""Called with (what, done, total)."""

SCALING_STATEMENT = (
    "FPIR(N, t) = share of non-mated searches whose best score over N enrolled templates is >= t. Sizes up to "
    "the enrolled set: measured on random watchlists of N enrolled LFW people (thresholds averaged over draws). "
    "Larger sizes: extrapolated as FPIR(N, t) ~ 1 - (1 - p1(t))^N from the pooled single-comparison "
    "false-match rate p1 of non-mated probe x enrolled template pairs (assumes independent comparisons; "
    "checked against the measured sizes in the report). Thresholds are made non-decreasing in N."
)


@dataclass
class EvaluationOutcome:
    results: dict[str, PackResult]
    exclusions: list[Exclusion]
    strict: dict[str, float]
    report_path: Path
    calibrations: dict[str, Path] = field(default_factory=dict)
    reference_crowds: dict[str, Path] = field(default_factory=dict)
    identification: dict[str, IdentificationResult] = field(default_factory=dict)
    """Rank-k identification (RFR/OIFR) per pack; empty when not asked for."""


def select_records(
    settings: Settings, max_lfw_people: int | None = None, max_crowd: int | None = None
) -> tuple[list[ImageRecord], list[ImageRecord]]:
    """LFW and crowd records, optionally the first ``max_lfw_people`` people (by name) and ``max_crowd``
    crowd faces (manifest order): a small real subset for tests and quick looks."""
    lfw = load_lfw(settings.dataset_dir)
    crowd = load_utkface(settings.dataset_dir)
    if max_lfw_people is not None:
        people = sorted({r.subject for r in lfw})[:max_lfw_people]
        keep = set(people)
        lfw = [r for r in lfw if r.subject in keep]
    if max_crowd is not None:
        crowd = crowd[:max_crowd]
    return lfw, crowd


def calibration_from(result: PackResult, meta: dict[str, Any], n_exclusions: int) -> Calibration:
    points = tuple(
        ThresholdPoint(
            fpir=row.fpir_target,
            watchlist_size=row.watchlist_size,
            threshold=row.threshold,
            fnir=row.fnir,
            method=row.method,
        )
        for row in result.scaling
    )
    validated = result.at_validated_minimum
    at = validated.as_dict() if validated else None
    extra: dict[str, Any] = {
        "validated": result.validated,
        "validated_at": {
            "crowd_fpir": at["crowd_fpir"] if at else None,
            "groups": at["groups"] if at else None,
            "precision_on_mix": at["precision_on_mix"] if at else None,
            "false_alerts_per_1000": at["false_alerts_per_1000"] if at else None,
        },
        "measured_watchlist_size": result.watchlist_size,
        "rank1": result.rank1.as_dict(),
        "failed_to_enrol": result.failed_to_enrol,
        "failures_to_detect": {
            "mated": result.mated_failed_to_detect,
            "crowd": result.crowd_failed_to_detect,
            "lfw_nonmated": result.lfw_nonmated_failed_to_detect,
        },
        "crowd_excluded_by_hygiene": n_exclusions,
        "multiple_comparisons": "Fisher's exact between every pair of groups (race, sex, age band) at each "
        "threshold, Holm-corrected over those tests; minimum = lowest grid threshold "
        "with no significant difference there and at every higher grid threshold",
        "alpha": meta["alpha"],
        "command": meta["command"],
        "data": meta.get("data", []),
    }
    power = result.power
    minimum = result.validated_min_threshold
    if power:
        grid_key, min_key, ok_key = power_report.headline(power)
        at = power_report.at_threshold(power[grid_key], power[min_key])
        without = max(power["validated_min_without"], result.validated_min_threshold)
        extra["power"] = {
            "crowd_faces": power["crowd_faces"],
            "offset_rule": power["policy"]["rule"],
            "validated_min_by_rule": {
                # A rule whose grid found a difference at every threshold has its minimum above every crowd
                # score, so taking it from here is always on the safe side.
                "none": without,
                "attractors": power["validated_min_with"],
                "normalised": power["validated_min_normalised"],
            },
            "validated_by_rule": {
                "none": power["validated_without"],
                "attractors": power["validated_with"],
                "normalised": power["validated_normalised"],
            },
            # Kept beside validated_min_by_rule for readers of files written before the rules existed.
            "validated_min_without_attraction_check": without,
            "attraction_policy": power["policy"],
            "normalised_offsets": power.get("normalised_offsets", {}),
            "attractors_in_evaluation_watchlist": len(power["attractors"]),
            "still_image_fnir_1000": power["still_image"],
            "at_validated_min": {
                "tpir": at["tpir"],
                "crowd_fpir": at["crowd_fpir"],
                "ratios": at["ratios"],
                "groups": at["groups"],
            }
            if at
            else None,
        }
        if power[ok_key]:
            # Validated with power (every crowd face, offsets applied cross-fitted under the rule that the
            # reference crowd carries to enrolment): the minimum for a watchlist whose templates all got
            # that rule. Other watchlists are held to their own rule's minimum (Calibration.minimum_for).
            minimum = power[min_key]
            extra["validated"] = True
            extra["validated_min_plain_grid"] = result.validated_min_threshold
    return Calibration(
        pack=result.pack,
        validated_min_threshold=minimum,
        points=points,
        created_at=meta["created_at"],
        dataset=meta["dataset"],
        scaling=SCALING_STATEMENT,
        extra=extra,
    )


def run_evaluation(
    settings: Settings,
    packs: Sequence[str],
    out_dir: Path,
    *,
    calibration_dir: Path | None = None,
    max_lfw_people: int | None = None,
    max_crowd: int | None = None,
    use_cache: bool = True,
    progress: ProgressFn | None = None,
    command: str = "",
    identification: bool = True,
    max_gallery: int | None = None,
) -> EvaluationOutcome:
    """Evaluate each pack; write ``report.html`` (+ PNGs and ``results.json``) to ``out_dir`` and, when
    ``calibration_dir`` is given, ``<pack>.json`` calibration files there. With ``identification``, also
    the rank-k identification rates on galleries growing up to ``max_gallery`` (default
    ``retro.evaluation_max_gallery``), written into the report and to ``identification.md``."""
    cfg = settings.evaluation
    lfw_records, crowd_records = select_records(settings, max_lfw_people, max_crowd)
    scores: dict[str, ScoreData] = {}
    crowd_sets: dict[str, EmbeddingSet] = {}
    lfw_sets: dict[str, EmbeddingSet] = {}
    for pack in packs:
        engine = load_engine(pack, settings)

        def step(done: int, total: int, pack: str = pack) -> None:
            if progress is not None:
                progress(f"embedding ({pack})", done, total)

        es = embed_records(engine, lfw_records + crowd_records, settings, step, use_cache)
        crowd_sets[pack] = es.subset("utkface")
        lfw_sets[pack] = es.subset("lfw")
        scores[pack] = build_scores(lfw_sets[pack], crowd_sets[pack], cfg)

    hygiene = crowd_hygiene(scores, cfg.hygiene_fmr, cfg.hygiene_max_per_subject)
    exclusions, strict = hygiene.exclusions, hygiene.strict
    excluded = {x.crowd_rel for x in exclusions}
    results: dict[str, PackResult] = {}
    for i, (pack, data) in enumerate(scores.items()):
        if progress is not None:
            progress("analysing", i, len(scores))
        keep = np.array([r.rel not in excluded for r in data.crowd.records], dtype=bool)
        results[pack] = dataclasses.replace(
            analyse_pack(data, keep, cfg),
            power=analyse_power(data, keep, cfg, settings.governance).as_dict(),
        )
    if progress is not None:
        progress("analysing", len(scores), len(scores))
    ident = (
        _identification(settings, lfw_sets, crowd_sets, excluded, max_gallery, progress)
        if identification
        else {}
    )

    prints = [fingerprint("LFW", lfw_records), fingerprint("UTKFace", crowd_records)]
    meta = {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        # By name and content hash, never a path of this machine (issue 18).
        "dataset": describe_all(prints),
        "data": [p.as_dict() for p in prints],
        "command": command,
        "alpha": cfg.alpha,
        "hygiene_fmr": cfg.hygiene_fmr,
        "hygiene_max_per_subject": cfg.hygiene_max_per_subject,
        "hygiene_kept_subjects": hygiene.kept_subjects,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    images: dict[str, bytes] = {"det": report.det_plot(results)}
    for pack, r in results.items():
        images[f"hist:{pack}"] = report.histogram_plot(pack, r)
        images[f"scaling:{pack}"] = report.scaling_plot(pack, r)
        images.update(report.group_images(pack, r))
        images[f"top_grid:{pack}"] = report.pairs_grid(_top_pairs(scores[pack], excluded, 24))
        images.update(power_report.images(pack, r.power or {}))
        if pack in ident:
            images.update(identification_report.images(ident[pack]))
    enrol_path = {rec.subject: rec.path for d in scores.values() for rec in d.enrolment}
    crowd_path = {r.rel: r.path for r in crowd_records}
    if exclusions:
        images["excluded_grid"] = report.pairs_grid(
            [
                (
                    crowd_path[x.crowd_rel],
                    enrol_path[x.subject],
                    f"{x.subject[:22]} {max(x.scores.values()):.3f}",
                )
                for x in exclusions[:48]
            ]
        )
    for name, png in images.items():
        (out_dir / (name.replace(":", "_") + ".png")).write_bytes(png)
    page = report.render_html(results, images, exclusions, strict, meta, ident)
    if ident:
        identification_report.write_markdown(ident, [n for n in images if n.startswith("ident_")], out_dir)
    report_path = out_dir / "report.html"
    report_path.write_text(page, encoding="utf-8")
    (out_dir / "results.json").write_text(
        json.dumps(
            {
                "meta": meta,
                "strict_thresholds": {p: (t if np.isfinite(t) else None) for p, t in strict.items()},
                "exclusions": [vars(x) for x in exclusions],
                "results": {p: r.as_dict(curves=False) for p, r in results.items()},
                "identification": {p: r.as_dict() for p, r in ident.items()},
            },
            indent=1,
            default=float,
        )
    )
    outcome = EvaluationOutcome(results, exclusions, strict, report_path, identification=ident)
    if calibration_dir is not None:
        for pack, r in results.items():
            cal = calibration_from(r, meta, len(exclusions))
            outcome.calibrations[pack] = save_calibration(cal, calibration_dir / f"{pack}.json")
            # The attraction check's reference crowd goes to this force's own data folder only: it holds
            # templates of research photographs, which openlfr must not ship.
            crowd = crowd_sets[pack]
            kept = [i for i, rec in enumerate(crowd.records) if crowd.detected[i] and rec.rel not in excluded]
            outcome.reference_crowds[pack] = save_reference_crowd(
                ReferenceCrowd(
                    pack=pack,
                    templates=crowd.embeddings[kept],
                    reference_threshold=float((r.power or {})["policy"]["reference_threshold"]),
                    fmr=float((r.power or {})["policy"]["fmr"]),
                    source=describe_all(prints[1:]),
                    rule=str((r.power or {})["policy"]["rule"]),
                    max_lowering=float((r.power or {})["policy"]["max_lowering"]),
                ),
                settings.data_dir,
            )
    return outcome


def _identification(
    settings: Settings,
    lfw_sets: dict[str, EmbeddingSet],
    crowd_sets: dict[str, EmbeddingSet],
    excluded: set[str],
    max_gallery: int | None,
    progress: ProgressFn | None,
) -> dict[str, IdentificationResult]:
    """Rank-k identification rates of each pack on galleries of growing size (``evaluation.identification``)."""
    retro = settings.retro
    out = {}
    for pack, lfw in lfw_sets.items():

        def step(done: int, total: int, pack: str = pack) -> None:
            if progress is not None:
                progress(f"identification, synthetic distractors ({pack})", done, total)

        out[pack] = evaluate_identification(
            build_identification(lfw, crowd_sets[pack], excluded),
            retro.evaluation_gallery_sizes,
            retro.evaluation_ranks,
            max_gallery=retro.evaluation_max_gallery if max_gallery is None else max_gallery,
            age_edges=settings.evaluation.age_bands,
            alpha=settings.evaluation.alpha,
            seed=settings.evaluation.seed,
            progress=step,
        )
    return out


def _top_pairs(data: ScoreData, excluded: set[str], n: int) -> list[tuple[Path, Path, str]]:
    """The highest-scoring crowd faces left after hygiene, beside the enrolled image they matched."""
    best = data.crowd.best
    col = data.crowd.best_column
    order = [i for i in np.argsort(-best) if data.crowd.records[i].rel not in excluded][:n]
    enrol = {r.subject: r.path for r in data.enrolment}
    return [
        (
            data.crowd.records[i].path,
            enrol[data.subjects[int(col[i])]],
            f"{data.subjects[int(col[i])][:22]} {best[i]:.3f}",
        )
        for i in order
    ]
