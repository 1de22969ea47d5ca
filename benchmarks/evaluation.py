"""Print the evaluation's headline figures as markdown tables: FNIR at FPIR 1% and 0.1% for each pack at
watchlist sizes 1,000 and 10,000, and FPIR per group at the validated minimum threshold, plus the time taken.

    .venv/bin/python benchmarks/evaluation.py                       # quick: 400 LFW people, 1,500 crowd faces
    .venv/bin/python benchmarks/evaluation.py --full --pack opencv-zoo --pack insightface-s

Embeddings are cached (``<data_dir>/cache``), so a second run only re-does the analysis. With ``--from``
it reads an existing ``results.json`` (written by ``openlfr evaluate``) instead of running anything.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from openlfr.config import get_settings
from openlfr.evaluation.power_report import at_threshold, headline
from openlfr.evaluation.runner import run_evaluation


def tables(results: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| pack | watchlist size | FNIR @ FPIR 1% (threshold) | FNIR @ FPIR 0.1% (threshold) | how |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for pack, r in results.items():
        for n in (1000, 10000):
            rows = {row["fpir_target"]: row for row in r["scaling"] if row["watchlist_size"] == n}
            if not rows:
                continue
            cells = [
                f"{100 * rows[t]['fnir']:.1f}% ({rows[t]['threshold']:.3f})" if t in rows else "n/a"
                for t in (0.01, 0.001)
            ]
            method = next(iter(rows.values()))["method"]
            lines.append(f"| {pack} | {n:,} | {cells[0]} | {cells[1]} | {method} |")
    lines.append("")
    for pack, r in results.items():
        entry = next(
            (g for g in r["equitability"] if abs(g["threshold"] - r["validated_min_threshold"]) < 1e-12), None
        )
        state = "validated" if r["validated"] else "NOT validated"
        lines.append(
            f"**{pack}**: validated minimum threshold {r['validated_min_threshold']:.4f} ({state}), "
            f"watchlist {r['watchlist_size']:,}, crowd faces {r['crowd_searches']:,} "
            f"({r['crowd_failed_to_detect']} no face found, {r['crowd_excluded']} excluded by hygiene)"
        )
        if entry is None:
            continue
        fa = entry["false_alerts_per_1000"]
        pr = entry["precision_on_mix"]
        lines.append(
            f"overall crowd FPIR {100 * entry['crowd_fpir']['rate']:.2f}%; false alerts per 1,000 faces "
            f"{fa['value']:.1f} [{fa['ci_low']:.1f}, {fa['ci_high']:.1f}]; alert precision on the mix "
            f"run {100 * pr['rate']:.1f}% [{100 * pr['ci_low']:.1f}, {100 * pr['ci_high']:.1f}]"
        )
        lines.append("")
        lines.append("| attribute | group | faces | FPIR | 95% CI | upper bound <= 2x overall? |")
        lines.append("| --- | --- | ---: | ---: | --- | --- |")
        for attr, groups in entry["groups"].items():
            for g, v in groups.items():
                lines.append(
                    f"| {attr} | {g} | {v['n']} | {100 * v['rate']:.2f}% | "
                    f"{100 * v['ci_low']:.2f}-{100 * v['ci_high']:.2f}% | {'yes' if v['conclusive'] else 'no'} |"
                )
        lines.append("")
    return "\n".join(lines)


def power_tables(results: dict[str, dict[str, Any]]) -> str:
    """Validation with power (issue 12 item 4): per threshold the TPIR beside the group FPIRs, the
    largest-to-smallest group ratio with its interval, and the templates behind each difference; the
    validated minimum without and with the enrolment attraction check; still-image FNIR at 1,000."""
    lines: list[str] = []
    for pack, r in results.items():
        p = r.get("power")
        if not p:
            continue
        lines.append(
            f"**{pack}** (validation with power, {p['crowd_faces']:,} crowd faces): validated minimum "
            f"{p['validated_min_without']:.4f} without the attraction check "
            f"({'validated' if p['validated_without'] else 'NOT validated'}), {p['validated_min_with']:.4f} with it "
            f"({'validated' if p['validated_with'] else 'NOT validated'}), "
            + (
                f"{p['validated_min_normalised']:.4f} with every template normalised "
                f"({'validated' if p['validated_normalised'] else 'NOT validated'}); "
                if p.get("normalised")
                else ""
            )
            + f"enrolment applies the {p['policy'].get('rule', 'attractors')} rule; {len(p['attractors'])} of "
            f"{r['watchlist_size']:,} enrolled templates are attractors (top: "
            + ", ".join(
                f"{a['subject']} {a['hits']} hits, offset {a['offset']:.3f}" for a in p["attractors"][:3]
            )
            + ")"
        )
        for key, title in (
            ("without_check", "without the check"),
            ("with_check", "with attractor offsets"),
            ("normalised", "with every template normalised"),
        ):
            if not p.get(key):
                continue
            lines.append("")
            lines.append(f"{pack}, {title}:")
            lines.append("")
            lines.append(
                "| threshold | crowd FPIR | TPIR | race max/min [95% CI] | age max/min [95% CI] | sex max/min | "
                "significant differences: templates behind them |"
            )
            lines.append("| ---: | ---: | ---: | --- | --- | --- | --- |")
            for pt in sorted(p[key], key=lambda x: x["threshold"]):
                rat = {x["attribute"]: x for x in pt["ratios"]}

                def cell(a: str, rat: dict[str, Any] = rat) -> str:
                    x = rat.get(a)
                    return (
                        f"{x['high']}/{x['low']} {x['ratio']:.1f} [{x['ci_low']:.1f}-{x['ci_high']:.1f}]"
                        if x
                        else "-"
                    )

                behind = "; ".join(
                    f"{a['high']}>{a['low']}: "
                    + ", ".join(f"{sub} ({n})" for sub, n in a["templates"][:3])
                    + (" explain it" if a["explained"] else " do NOT explain it")
                    for a in pt["attributions"][:4]
                )
                more = len(pt["attributions"]) - 4
                lines.append(
                    f"| {pt['threshold']:.4f} | {100 * pt['crowd_fpir']['rate']:.2f}% ({pt['crowd_fpir']['k']}) | "
                    f"{100 * pt['tpir']['rate']:.1f}% | {cell('race')} | {cell('age')} | {cell('sex')} | "
                    f"{behind or 'none'}{f' (+{more} more)' if more > 0 else ''} |"
                )
        grid_key, min_key, _ = headline(p)
        at = at_threshold(p[grid_key], p[min_key])
        if at:
            lines.append("")
            lines.append(
                f"{pack}, groups at the validated minimum {p[min_key]:.4f} ({p['policy'].get('rule')} offsets):"
            )
            lines.append("")
            lines.append("| attribute | group | faces | FPIR [95% CI] |")
            lines.append("| --- | --- | ---: | --- |")
            for a, gs in at["groups"].items():
                for g, v in gs.items():
                    lines.append(
                        f"| {a} | {g} | {v['n']} | {100 * v['rate']:.2f}% "
                        f"[{100 * v['ci_low']:.2f}-{100 * v['ci_high']:.2f}] |"
                    )
        si = p.get("still_image") or {}
        if si:
            lines.append("")
            lines.append(
                "still-image FNIR, 1,000-person watchlists (random draws): "
                + "; ".join(
                    f"{k.replace('_', ' ')} {100 * v['fnir']:.1f}% at {v['threshold']:.4f}"
                    for k, v in si.items()
                )
            )
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pack", action="append", help="pack(s) to evaluate (default opencv-zoo)")
    ap.add_argument("--full", action="store_true", help="all the shared data (the figures in the README)")
    ap.add_argument("--lfw-people", type=int, default=400)
    ap.add_argument("--crowd", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=None, help="seed of the LFW split and the subsampling")
    ap.add_argument(
        "--from", dest="from_json", type=Path, help="print the tables of an existing results.json"
    )
    args = ap.parse_args()
    if args.from_json:
        results = json.loads(args.from_json.read_text())["results"]
        print(tables(results))
        print(power_tables(results))
        return
    settings = get_settings()
    if args.seed is not None:
        settings = settings.model_copy(
            update={"evaluation": settings.evaluation.model_copy(update={"seed": args.seed})}
        )
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as out:
        outcome = run_evaluation(
            settings,
            args.pack or ["opencv-zoo"],
            Path(out),
            max_lfw_people=None if args.full else args.lfw_people,
            max_crowd=None if args.full else args.crowd,
        )
    print(tables({p: r.as_dict() for p, r in outcome.results.items()}))
    print(power_tables({p: r.as_dict() for p, r in outcome.results.items()}))
    print(
        f"evaluation took {(time.monotonic() - started) / 60:.1f} min (embedding cache: {settings.cache_dir})"
    )


if __name__ == "__main__":
    main()
