"""Ablation of the live pipeline's choices on the walk-by scenario (issue 12, item 1).

For each variant (a set of ``[live]`` settings, each row adding one change to the one before unless said
otherwise) the real pipeline runs over the scenario of each seed, as fast as possible (no frame drops, so
the figures measure choices, not the machine's load), at the default pack's validated minimum threshold,
and the table gives per-pass TPIR and false alerts per seed and over all seeds.

    .venv/bin/python benchmarks/live_ablation.py [--seeds 0 1 2] [--duration 40] [--threshold T]
        [--variants baseline,growth,...] [--json OUT] [--per-pass] [--no-hygiene]
        [--offset-rule attractors|normalised]   # default: the rule the reference crowd carries

Scenarios are generated into ``test-artifacts/scenario-seed{S}-{D}s`` when missing (benchmarks/scenario.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from _common import ROOT, ensure_reference_crowd, live_settings
from live import run_openlfr, watchlist_gateway
from openlfr.config import LiveSettings
from openlfr.live.memory_gateway import CrowdCheck
from openlfr.live.policy import AlertPolicy
from openlfr.live.tracker import iou_matrix
from openlfr.matching.attraction import OFFSET_RULES
from openlfr.matching.calibration import load_calibration
from openlfr.matching.reference_crowd import attraction_policy, load_reference_crowd
from openlfr.vision import load_engine
from scenario import IdentityCheck, generate, score_alerts

OFF = 1e9  # a re-embed growth no face reaches: re-embedding on growth turned off
# The pipeline before this work: weighted mean of the 3 heaviest searches, re-embedded only when the quality
# score improves by 0.1 (it saturates at about 64 px, so a person's close-up was never searched), landmarks
# from the reduced detection frame, sharp faces only.
BEFORE: dict[str, Any] = {
    "aggregation": "weighted_top",
    "reembed_growth": OFF,
    "research_every_frames": 0,
    "refine_below_px": 0.0,
    "search_blurred": False,
}
GROWTH = {**BEFORE, "reembed_growth": 1.25}
FUSED = {**GROWTH, "aggregation": "fused"}
REFINED = {**FUSED, "refine_below_px": 96.0}
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "baseline": ("before: weighted mean of top-3 searches, re-embed on quality gain only", BEFORE),
    "growth": ("+ re-embed when the face is 1.25x wider", GROWTH),
    "max": ("growth, aggregate = best single search (2 hits)", {**GROWTH, "aggregation": "max"}),
    "fused": ("growth, aggregate = search of the fused top-3 shots", FUSED),
    "refine": ("fused + small faces' landmarks found again at full resolution", REFINED),
    "refine_max": ("refine, but aggregate = best single search", {**REFINED, "aggregation": "max"}),
    "refine_shots5": ("refine, 5 shots fused", {**REFINED, "evidence_shots": 5}),
    "refine_every4": ("refine, also re-embed every 4 frames", {**REFINED, "research_every_frames": 4}),
    "refine_max_every4": (
        "refine, best single search (2 hits), re-embed every 4 frames",
        {**REFINED, "aggregation": "max", "research_every_frames": 4},
    ),
    "refine_max_every2": (
        "refine, best single search (2 hits), re-embed every 2 frames",
        {**REFINED, "aggregation": "max", "research_every_frames": 2},
    ),
    "every4_margin": (
        "refine, re-embed every 4 frames only within 0.15 of the threshold",
        {**REFINED, "research_every_frames": 4, "research_margin": 0.15},
    ),
    "default": ("the shipped [live] defaults", {}),
    "every4_sharp": (
        "the defaults before round 3: re-embed every 4 frames near the threshold, sharp faces only",
        {"research_every_frames": 4, "search_blurred": False},
    ),
    "every2_sharp": (
        "+ re-embed every 2 frames near the threshold",
        {"research_every_frames": 2, "search_blurred": False},
    ),
    "embed1": (
        "the shipped defaults, at most one face embedded a frame (what a worker that is behind embeds at "
        "most, live.shed_when_behind; played as fast as possible nothing is shed)",
        {"max_embeds_per_frame": 1},
    ),
    "detect_every_frame": (
        "the shipped defaults, but the detector on every frame (live.detect_every_frames=1)",
        {"detect_every_frames": 1},
    ),
    "no_motion_gate": (
        "the shipped defaults, but the whole frame detected on each detected frame (live.motion_gate=false)",
        {"motion_gate": False},
    ),
    "before_issue29": (
        "the defaults before issue 29: every frame detected, whole (detect_every_frames=1, motion_gate=false)",
        {"detect_every_frames": 1, "motion_gate": False},
    ),
    "four_cameras": (
        "the shipped defaults as each of four cameras on one machine runs them (live.sources_on_machine=4: "
        "detected at vision.shared_working_width, one inference thread)",
        {"sources_on_machine": 4},
    ),
    "no_flip_screen": (
        "the shipped defaults, but every embedded face flip-tested (live.flip_screen=false, before it)",
        {"flip_screen": False},
    ),
    "four_cameras_no_flip_screen": (
        "four_cameras, every embedded face flip-tested (live.flip_screen=false)",
        {"sources_on_machine": 4, "flip_screen": False},
    ),
    "four_cameras_every4": (
        "four_cameras, the periodic re-embed near the threshold every 4 frames (every second detected frame)",
        {"sources_on_machine": 4, "research_every_frames": 4},
    ),
    "default_hits3": (
        "the shipped defaults, but 3 searches above threshold before an alert",
        {"min_hits": 3},
    ),
}


class PassRecorder:
    """Per watchlisted pass, every search of a track on it: (frame, face px, mated score of the probe).

    Wraps :meth:`AlertPolicy.add_search` (benchmark instrumentation only); a search is attributed to the
    pass whose ground-truth box overlaps the track's face box (IoU >= 0.3) at that frame.
    """

    def __init__(self, truth: dict[str, Any]) -> None:
        self.truth = truth
        self.searches: dict[int, list[tuple[int, int, float]]] = {}
        self.tops: dict[int, list[tuple[int, str, float]]] = {}
        """Per pass (any pass): (frame, top candidate, its score) of each search; explains false alerts."""
        self._orig = AlertPolicy.add_search

    def _pass_at(self, frame: int, box: Any) -> dict[str, Any] | None:
        best, found = 0.3, None
        for p in self.truth["passes"]:
            b = p["boxes"].get(str(frame))
            if b is not None:
                iou = float(iou_matrix(np.array([box], np.float32), np.array([b], np.float32))[0, 0])
                if iou >= best:
                    best, found = iou, p
        return found

    def __enter__(self) -> PassRecorder:
        rec, orig = self, self._orig

        def add_search(
            policy: AlertPolicy, track: Any, top: Any, scores: Any, positions: Any, w: float
        ) -> None:
            frame = round(track.last_seen_s * rec.truth["fps"])
            p = rec._pass_at(frame, track.face.box)
            if p is not None and len(top):
                rec.tops.setdefault(p["pass_id"], []).append(
                    (frame, top[0].subject_id, round(float(top[0].score), 3))
                )
            if p is not None and p["watchlisted"] and p["identity"] in positions:
                s = float(scores[positions[p["identity"]]])
                rec.searches.setdefault(p["pass_id"], []).append((frame, round(track.face.size), round(s, 3)))
            orig(policy, track, top, scores, positions, w)

        AlertPolicy.add_search = add_search  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        AlertPolicy.add_search = self._orig  # type: ignore[method-assign]

    def print_false(
        self,
        alerts: list[tuple[str, int]],
        tolerance: int = 12,
        second: Callable[[str, str], str] | None = None,
    ) -> None:
        """Each false alert with the pass whose searches put that subject on top (the face that caused it),
        and, with ``second``, what an independent model says of that passer-by's photo against the enrolled
        one (UTKFace holds photos of celebrities who are also in LFW: a "stranger" may be the wanted person)."""
        passes = self.truth["passes"]
        enrolled = {e["subject_id"]: e["image"] for e in self.truth["watchlist"]}
        for subject, frame in alerts:
            if any(
                p["identity"] == subject
                and p["first_frame"] - tolerance <= frame <= p["last_frame"] + tolerance
                for p in passes
            ):
                continue
            causes = [
                (max(sc for f, s, sc in ss if s == subject), p)
                for p in passes
                for ss in [self.tops.get(p["pass_id"], [])]
                if any(s == subject and abs(f - frame) <= 4 * tolerance for f, s, _ in ss)
            ]
            said = ", ".join(
                f"pass {p['pass_id']} ({p['identity']}, {p['image']}, "
                f"{'watchlisted' if p['watchlisted'] else 'not watchlisted'}) top score {sc:.3f}"
                for sc, p in causes
            )
            print(f"FALSE ALERT on {subject} at frame {frame}: {said or 'no pass found'}")
            if second is not None:
                for _, p in causes:
                    print(f"  {second(p['image'], enrolled[subject])}")

    def print(self, alerts: list[tuple[str, int]], threshold: float) -> None:
        alerted = {s for s, _ in alerts}
        print("| pass | identity | largest face px | searches (face px) | best mated search | alerted |")
        print("|---|---|---:|---|---:|---|")
        for p in self.truth["passes"]:
            if not p["watchlisted"]:
                continue
            ss = self.searches.get(p["pass_id"], [])
            largest = max(b[2] - b[0] for b in p["boxes"].values())
            best = max((x[2] for x in ss), default=float("nan"))
            print(
                f"| {p['pass_id']} | {p['identity']} | {largest:.0f} | {len(ss)} ({', '.join(str(x[1]) for x in ss)})"
                f" | {best:.3f}{' (below threshold in every search)' if best < threshold else ''} | "
                f"{'yes' if p['identity'] in alerted else 'no'} |"
            )


def second_model(watchlist_size: int) -> Callable[[str, str], str]:
    """A check by an independently trained model (benchmark only, never in the pipeline): its score for two
    photos beside its calibrated threshold for FPIR 0.1 % at the scenario's watchlist size (the stranger
    hygiene's model and threshold, ``scenario.IdentityCheck``)."""
    ident = IdentityCheck(watchlist_size)

    def check(shown: str, reference: str) -> str:
        s = ident.score(shown, reference)
        if s is None:
            return f"{ident.pack}: no face found"
        verdict = (
            "the same person by that model too"
            if s >= ident.threshold
            else "not the same person by that model"
        )
        return f"{ident.pack} scores {shown} against {reference} at {s:.3f} ({verdict}; {ident.describe()})"

    return check


def scenario_folder(seed: int, duration: float, hygiene: bool = True) -> Path:
    """The scenario of a seed, generated when missing (or made before the stranger hygiene existed)."""
    name = f"scenario-seed{seed}-{int(duration)}s" + ("" if hygiene else "-nohygiene")
    folder = ROOT / "test-artifacts" / name
    truth = folder / "ground_truth.json"
    stale = truth.is_file() and hygiene and json.loads(truth.read_text()).get("stranger_hygiene") is None
    if not truth.is_file() or stale:
        print(f"generating the scenario into {folder} ...", file=sys.stderr, flush=True)
        generate(folder, seed=seed, duration=duration, hygiene=hygiene)
    return folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--duration", type=float, default=40.0)
    ap.add_argument("--pack", default="opencv-zoo")
    ap.add_argument("--threshold", type=float, default=None, help="Default: the pack's validated minimum.")
    ap.add_argument("--variants", default=",".join(VARIANTS), help="Comma list of: " + ", ".join(VARIANTS))
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument(
        "--per-pass",
        action="store_true",
        help="Also print, per watchlisted pass, what each variant searched.",
    )
    ap.add_argument(
        "--references",
        type=int,
        default=1,
        help="Reference photos per subject (further LFW photos, never the one shown), fused as the "
        "governance.template_fusion setting says.",
    )
    ap.add_argument(
        "--no-hygiene",
        action="store_true",
        help="Scenarios without the stranger hygiene (benchmarks/scenario.py): UTKFace photos that an "
        "independent model takes for a watchlist subject may walk by as strangers (before round 4).",
    )
    ap.add_argument(
        "--offset-rule",
        choices=OFFSET_RULES,
        default=None,
        help="Enrol with this offset rule instead of the one the reference crowd carries (before/after "
        "comparisons); the threshold is then the calibration's minimum for it.",
    )
    ap.add_argument(
        "--no-attraction-check",
        action="store_true",
        help="Enrol without the attraction check even when the data folder has a reference crowd.",
    )
    a = ap.parse_args()
    # The data folder benchmarks/cameras.py uses: its reference crowd is built there once (from UTKFace, as
    # the demo builds one), so both benchmarks run at the threshold `openlfr run` picks, 0.511.
    base = live_settings()
    if not a.no_attraction_check and (cal := load_calibration(a.pack, base.data_dir)) is not None:
        ensure_reference_crowd(base, a.pack, cal)
    crowd = None if a.no_attraction_check else load_reference_crowd(a.pack, base.data_dir)
    check = CrowdCheck(crowd, attraction_policy(crowd, base.governance)) if crowd and crowd.size else None
    if check is not None and a.offset_rule is not None:
        check = CrowdCheck(
            check.crowd,
            replace(
                check.policy,
                rule=a.offset_rule,
                max_lowering=check.crowd.max_lowering or base.governance.normalisation_max_lowering,
            ),
        )
    rule = check.policy.rule if check is not None else None
    print(
        f"attraction check: {'on, reference crowd of ' + str(crowd.size) if check and crowd else 'off'}"
        f" ({base.data_dir}), offset rule {rule}",
        flush=True,
    )
    if a.threshold is None:
        cal = load_calibration(a.pack)
        if cal is None:
            raise SystemExit(f"no calibration for {a.pack}: give --threshold")
        threshold = cal.minimum_for({rule})
        how = f"the validated minimum for offset rule {rule}"
    else:
        threshold, how = a.threshold, "given, NOT the validated default"
    names = a.variants.split(",")
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variant(s) {unknown}; choose from {list(VARIANTS)}")
    # The widths come from the settings (env OPENLFR_VISION__*), so a run at another width says so.
    print(
        f"pack {a.pack}, threshold {threshold:.3f} ({how}), seeds {a.seeds}; detection width "
        f"{base.vision.working_width} px, {base.vision.shared_working_width} px with several sources "
        "(four_cameras)",
        flush=True,
    )

    engine = load_engine(a.pack, base)
    second = None
    results: dict[str, dict[int, dict[str, Any]]] = {n: {} for n in names}
    for seed in a.seeds:
        folder = scenario_folder(seed, a.duration, not a.no_hygiene)
        truth = json.loads((folder / "ground_truth.json").read_text())
        hyg = truth.get("stranger_hygiene")
        print(
            f"  seed {seed}: stranger hygiene "
            + (
                f"by {hyg['pack']} at {hyg['threshold']}: {hyg['checked']} candidates checked, "
                f"{len(hyg['not_used'])} not used "
                + "".join(f"[{x['image']} ~ {x['subject']} {x['score']}]" for x in hyg["not_used"])
                if hyg
                else "off"
            ),
            flush=True,
        )
        if a.per_pass and second is None:
            second = second_model(len(truth["watchlist"]))
        gw, _ = watchlist_gateway(
            truth, engine, threshold, check, a.references, base.governance.template_fusion
        )
        if a.references > 1:
            index = gw.watchlist()[0]
            print(
                f"  seed {seed}: {index.template_count} templates for {index.subject_count} subjects",
                flush=True,
            )
        if rule == "normalised" and gw.attraction:
            offsets = {sid: ev.offset for sid, ev in gw.attraction.values()}
            off = np.array(list(offsets.values()))
            print(
                f"  seed {seed}: normalised offsets {off.min():+.3f} .. {off.max():+.3f} (median "
                f"{np.median(off):+.3f}); wanted: "
                + ", ".join(
                    f"{p['identity']} {offsets[p['identity']]:+.3f}"
                    for p in truth["passes"]
                    if p["watchlisted"] and p["identity"] in offsets
                ),
                flush=True,
            )
        for sid, ev in gw.attractors:
            print(f"  seed {seed}: attraction check flags {sid}: {ev.describe()}", flush=True)
        for n in names:
            live = base.live.model_copy(update={"cooldown_seconds": 60.0, **VARIANTS[n][1]})
            settings = base.model_copy(update={"live": LiveSettings.model_validate(live.model_dump())})
            t0 = time.monotonic()
            with PassRecorder(truth) as rec:
                row = run_openlfr(folder / truth["video"], gw, settings, False, float(truth["fps"]), n)
            if a.per_pass:
                print(f"\nseed {seed}, variant {n}:")
                rec.print(row.alerts, threshold)
                rec.print_false(row.alerts, second=second)
            fig = score_alerts(truth, row.alerts)
            fig["wall_s"] = round(time.monotonic() - t0, 1)
            fig["cpu_ms_per_frame"] = round(1000 * row.cpu_s / max(1, row.frames_processed), 1)
            fig["searches"] = row.searches
            results[n][seed] = fig
            print(
                f"  seed {seed} {n}: TPIR {fig['true_alerts'] and fig['tpir_per_pass']} "
                f"({fig['watchlisted_passes']} wanted passes), false alerts {fig['false_alerts']}, "
                f"{fig['wall_s']} s, {fig['cpu_ms_per_frame']} ms CPU a frame, {fig['searches']} searches",
                file=sys.stderr,
                flush=True,
            )

    print(
        f"\n| variant | {' | '.join(f'seed {s} TPIR / false' for s in a.seeds)} | all seeds TPIR | false alerts |"
    )
    print("|---|" + "---|" * len(a.seeds) + "---|---|")
    for n in names:
        per = results[n]
        found = sum(round(f["tpir_per_pass"] * f["watchlisted_passes"]) for f in per.values())
        wanted = sum(f["watchlisted_passes"] for f in per.values())
        false = sum(f["false_alerts"] for f in per.values())
        cells = " | ".join(f"{per[s]['tpir_per_pass']:.3f} / {per[s]['false_alerts']}" for s in a.seeds)
        print(f"| {n}: {VARIANTS[n][0]} | {cells} | {found}/{wanted} = {found / wanted:.3f} | {false} |")
    if a.json:
        a.json.write_text(json.dumps({"threshold": threshold, "results": results}, indent=2))


if __name__ == "__main__":
    main()
