"""Track-level separation on the walk-by scenario: how a track's shots should be combined (issue 12).

The real pipeline runs over a scenario seed with every track re-embedded every ``--every`` frames (more shots
than the shipped schedule takes), and every embedded shot is recorded with the pass it belongs to (benchmark
instrumentation only, in memory; the dump is written under ``out/``, which is ignored). Then, offline, each
aggregation rule is replayed over each track's shots in order, scoring against the scenario's watchlist
with the attraction offsets the reference crowd gives, and the table says per rule:

- the best score each watchlisted pass reaches for its own subject (after 2 searches, as the policy needs),
  and how many of them reach the threshold;
- the best score any non-watchlisted pass reaches for any subject, and how many passes reach the threshold
  (a false alert under that rule).

    .venv/bin/python benchmarks/live_shots.py --seeds 0 1 2 [--every 2] [--threshold T]

Rules: ``fused-k`` (the policy's ``fused``: weighted mean of the k heaviest shots, weight = size x quality),
``fused-all`` (every shot), ``hold-2`` (fused-3, and the last two searches both at or above the threshold),
``max`` (the best single shot, 2 shots above the threshold).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from _common import ROOT
from live import run_openlfr, watchlist_gateway
from live_ablation import PassRecorder, scenario_folder
from openlfr.config import LiveSettings, Settings
from openlfr.live.memory_gateway import CrowdCheck
from openlfr.live.policy import AlertPolicy
from openlfr.matching.calibration import load_calibration
from openlfr.matching.reference_crowd import attraction_policy, load_reference_crowd
from openlfr.vision import load_engine

RULES: dict[str, dict[str, Any]] = {
    "fused-3 (shipped)": {"k": 3},
    "fused-5": {"k": 5},
    "fused-all": {"k": 10**6},
    "hold-2": {"k": 3, "hold": 2},
    "max": {"max": True},
}


def _unit(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def dump(seed: int, duration: float, every: int, out: Path) -> Path:
    base = Settings()
    crowd = load_reference_crowd("opencv-zoo", base.data_dir)
    check = CrowdCheck(crowd, attraction_policy(crowd, base.governance)) if crowd and crowd.size else None
    cal = load_calibration("opencv-zoo")
    assert cal is not None
    engine = load_engine("opencv-zoo", base)
    folder = scenario_folder(seed, duration)
    truth = json.loads((folder / "ground_truth.json").read_text())
    # A threshold no track reaches: no track stops being searched because it alerted.
    gw, _ = watchlist_gateway(truth, engine, 2.0, check, 1, base.governance.template_fusion)
    rows: list[tuple[int, int, int, float, float]] = []
    embs: list[npt.NDArray[np.float32]] = []
    rec = PassRecorder(truth)
    orig = AlertPolicy.add_shot

    def add_shot(policy: AlertPolicy, track: Any, embedding: Any, weight: float) -> None:
        frame = round(track.last_seen_s * truth["fps"])
        p = rec._pass_at(frame, track.face.box)
        rows.append(
            (frame, track.id, -1 if p is None else p["pass_id"], float(track.face.size), float(weight))
        )
        embs.append(np.asarray(embedding, np.float32))
        orig(policy, track, embedding, weight)

    AlertPolicy.add_shot = add_shot  # type: ignore[method-assign]
    try:
        live = base.live.model_copy(
            update={"cooldown_seconds": 60.0, "research_every_frames": every, "research_margin": 10.0}
        )
        settings = base.model_copy(update={"live": LiveSettings.model_validate(live.model_dump())})
        run_openlfr(folder / truth["video"], gw, settings, False, float(truth["fps"]), "dump")
    finally:
        AlertPolicy.add_shot = orig  # type: ignore[method-assign]
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, rows=np.array(rows, np.float64), embs=np.stack(embs))
    return out


def replay(
    rows: npt.NDArray[np.float64],
    embs: npt.NDArray[np.float32],
    score: Any,
    rule: dict[str, Any],
    threshold: float,
) -> dict[int, npt.NDArray[np.float32]]:
    """Per pass: the best aggregated score per subject over its tracks' searches (from the 2nd search on);
    a rule with ``hold`` counts a score only when the last ``hold`` searches all reached the threshold
    (the minimum of them is kept)."""
    e = _unit(embs)
    best: dict[int, npt.NDArray[np.float32]] = {}
    tracks: dict[int, list[int]] = {}
    for i, r in enumerate(rows):
        tracks.setdefault(int(r[1]), []).append(i)
    for idx in tracks.values():
        history: list[npt.NDArray[np.float32]] = []
        for n in range(len(idx)):
            shots = idx[: n + 1]
            if rule.get("max"):
                s = score(e[idx[n]][None])[0]
                history.append(s)
                h = np.stack(history)
                # 2 single searches at or above the threshold: the second-best single score per subject.
                agg = np.sort(h, axis=0)[-2] if len(history) >= 2 else None
            else:
                w = rows[shots, 4]
                top = [shots[j] for j in np.argsort(-w, kind="stable")[: rule["k"]]]
                probe = _unit((rows[top, 4][:, None] * e[top]).sum(axis=0))
                history.append(score(probe[None])[0])
                hold = int(rule.get("hold", 1))
                agg = np.stack(history[-hold:]).min(axis=0) if len(history) >= max(2, hold) else None
            if agg is None:
                continue
            pid = int(rows[idx[n], 2])
            best[pid] = agg if pid not in best else np.maximum(best[pid], agg)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--duration", type=float, default=40.0)
    ap.add_argument("--every", type=int, default=2)
    ap.add_argument("--threshold", type=float, default=None, help="Default: the validated minimum.")
    a = ap.parse_args()
    base = Settings()
    crowd = load_reference_crowd("opencv-zoo", base.data_dir)
    check = CrowdCheck(crowd, attraction_policy(crowd, base.governance)) if crowd and crowd.size else None
    cal = load_calibration("opencv-zoo")
    assert cal is not None
    threshold = (
        a.threshold if a.threshold is not None else cal.minimum_for({check.policy.rule if check else None})
    )
    print(f"threshold {threshold:.3f}, attraction check {'on' if check else 'off'}, seeds {a.seeds}")
    engine = load_engine("opencv-zoo", base)
    totals = {name: [0, 0, 0, 0] for name in RULES}
    worst: dict[str, list[tuple[float, str]]] = {name: [] for name in RULES}
    top_nm: dict[str, list[tuple[float, str]]] = {name: [] for name in RULES}
    for seed in a.seeds:
        out = ROOT / "out" / f"shots-seed{seed}-every{a.every}.npz"
        if not out.is_file():
            dump(seed, a.duration, a.every, out)
        z = np.load(out)
        truth = json.loads((scenario_folder(seed, a.duration) / "ground_truth.json").read_text())
        gw, _ = watchlist_gateway(truth, engine, threshold, check, 1, base.governance.template_fusion)
        index = gw.watchlist()[0]
        col = {s: j for j, s in enumerate(index.subjects)}
        passes = {p["pass_id"]: p for p in truth["passes"]}
        for name, rule in RULES.items():
            best = replay(z["rows"], z["embs"], index.subject_scores, rule, threshold)
            t = totals[name]
            for pid, s in best.items():
                p = passes[pid]
                own = col.get(p["identity"])
                others = np.delete(s, own) if own is not None else s
                if p["watchlisted"]:
                    t[1] += 1
                    t[0] += int(s[own] >= threshold)
                    worst[name].append((float(s[own]), f"{p['identity']} (seed {seed})"))
                t[3] += 1 if not p["watchlisted"] else 0
                t[2] += int(others.max() >= threshold)
                if not p["watchlisted"]:
                    j = int(np.argmax(others))
                    top_nm[name].append(
                        (float(others.max()), f"{index.subjects[j]} on {p['identity']} (seed {seed})")
                    )
    print(
        "| rule | watchlisted passes at or above | passes with a non-mated subject at or above | "
        "weakest watchlisted passes | highest non-watchlisted passes |"
    )
    print("|---|---:|---:|---|---|")
    for name in RULES:
        t = totals[name]
        w = ", ".join(f"{n} {s:.3f}" for s, n in sorted(worst[name])[:4])
        nm = ", ".join(f"{n} {s:.3f}" for s, n in sorted(top_nm[name], reverse=True)[:3])
        print(f"| {name} | {t[0]}/{t[1]} | {t[2]} | {w} | {nm} |")


if __name__ == "__main__":
    main()
