"""The evaluation report: plots (matplotlib, Agg) and one self-contained HTML page (images embedded)."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import cv2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from openlfr.evaluation.hygiene import Exclusion

_COLOURS = {"opencv-zoo": "tab:blue", "insightface-s": "tab:orange", "dlib": "tab:green"}


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def det_plot(results: dict[str, dict[str, Any]]) -> bytes:
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for pack, r in results.items():
        d = r["det"]
        fp = np.asarray(d["fpir"])
        fn = np.asarray(d["fnir"])
        keep = fp > 0
        ax.plot(fp[keep], fn[keep], label=f"{pack} (N={r['watchlist_size']})", color=_COLOURS.get(pack))
        for row in r["full_watchlist"]:
            ax.plot([row["fpir"]["rate"]], [row["fnir"]["rate"]], "o", color=_COLOURS.get(pack))
    ax.set_xscale("log")
    ax.set_xlabel("FPIR (non-mated searches that alert)")
    ax.set_ylabel("FNIR (mated searches missed)")
    ax.set_title("DET, full watchlist (measured)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return _png(fig)


def histogram_plot(pack: str, r: dict[str, Any]) -> bytes:
    h = r["histograms"]
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    bins = np.linspace(-0.3, 1.0, 80).tolist()
    ax.hist(h["crowd_best"], bins=bins, alpha=0.55, density=True, label="crowd (UTKFace) best score")
    ax.hist(h["lfw_nonmated_best"], bins=bins, alpha=0.55, density=True, label="held-out LFW best score")
    ax.hist(h["mated"], bins=bins, alpha=0.55, density=True, label="mated: score of the mate")
    for row in r["full_watchlist"]:
        ax.axvline(row["threshold"], ls="--", color="k", lw=0.8)
        ax.text(row["threshold"], ax.get_ylim()[1] * 0.9, f" FPIR {row['fpir_target']:g}", fontsize=7)
    ax.axvline(r["validated_min_threshold"], color="red", lw=1.2, label="validated minimum")
    ax.set_xlabel("cosine similarity")
    ax.set_title(f"{pack}: score distributions (full watchlist)")
    ax.legend(fontsize=7)
    return _png(fig)


def group_plot(pack: str, entry: dict[str, Any], title: str) -> bytes:
    attrs = list(entry["groups"])
    fig, axes = plt.subplots(1, len(attrs), figsize=(4.2 * len(attrs), 3.6), sharey=True)
    for ax, attr in zip(np.atleast_1d(axes), attrs, strict=True):
        groups = entry["groups"][attr]
        names = list(groups)
        vals = np.array([groups[g]["rate"] for g in names])
        lo = np.array([groups[g]["ci_low"] for g in names])
        hi = np.array([groups[g]["ci_high"] for g in names])
        ax.bar(range(len(names)), vals, color="tab:gray")
        ax.errorbar(range(len(names)), vals, yerr=[vals - lo, hi - vals], fmt="none", ecolor="k", capsize=3)
        ax.axhline(entry["crowd_fpir"]["rate"], color="red", lw=0.8, ls="--")
        ax.set_xticks(range(len(names)), [f"{g}\nn={groups[g]['n']}" for g in names], fontsize=7)
        ax.set_title(attr)
    np.atleast_1d(axes)[0].set_ylabel("FPIR (95% CI)")
    fig.suptitle(f"{pack}: {title}", fontsize=10)
    return _png(fig)


def scaling_plot(pack: str, r: dict[str, Any]) -> bytes:
    fig, ax = plt.subplots(figsize=(6, 3.8))
    by_t: dict[float, list[dict[str, Any]]] = {}
    for c in r["scaling_check"]:
        by_t.setdefault(c["threshold"], []).append(c)
    for t, rows in by_t.items():
        rows.sort(key=lambda c: c["watchlist_size"])
        n = [c["watchlist_size"] for c in rows]
        line = ax.plot(n, [c["measured_fpir"] for c in rows], "o-", label=f"measured, t={t:.3f}")
        ax.plot(
            n,
            [c["predicted_fpir"] for c in rows],
            "x--",
            color=line[0].get_color(),
            label=f"1-(1-p1)^N, t={t:.3f}",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("watchlist size N")
    ax.set_ylabel("FPIR")
    ax.set_title(f"{pack}: FPIR vs watchlist size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    return _png(fig)


def _thumb(path: Path, size: int = 112) -> np.ndarray:
    img = cv2.imread(str(path))
    if img is None:
        img = np.zeros((size, size, 3), np.uint8)
    return cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)


def pairs_grid(pairs: list[tuple[Path, Path, str]], columns: int = 4) -> bytes:
    """Side-by-side crowd face | enrolled face tiles with a caption under each pair (PNG bytes)."""
    size = 112
    tile_w, tile_h = 2 * size + 8, size + 30
    rows = max(1, (len(pairs) + columns - 1) // columns)
    canvas = np.full((rows * tile_h, columns * tile_w, 3), 255, np.uint8)
    for i, (a, b, caption) in enumerate(pairs):
        y, x = (i // columns) * tile_h, (i % columns) * tile_w
        canvas[y : y + size, x : x + size] = _thumb(a, size)
        canvas[y : y + size, x + size + 4 : x + 2 * size + 4] = _thumb(b, size)
        cv2.putText(
            canvas, caption[:38], (x + 2, y + size + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (0, 0, 0), 1
        )
    ok, buf = cv2.imencode(".png", canvas)
    if not ok:  # pragma: no cover - encoding a uint8 array does not fail
        raise RuntimeError("cannot encode grid")
    return bytes(buf)


def _img(png: bytes, alt: str) -> str:
    return f'<img class="plot" alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _pct(x: float, digits: int = 2) -> str:
    return "n/a" if x != x else f"{100 * x:.{digits}f}%"


def _rate(d: dict[str, Any]) -> str:
    return f"{_pct(d['rate'])} [{_pct(d['ci_low'])}, {_pct(d['ci_high'])}] ({d['k']}/{d['n']})"


def render_html(
    results: dict[str, dict[str, Any]],
    images: dict[str, bytes],
    exclusions: list[Exclusion],
    strict: dict[str, float],
    meta: dict[str, Any],
) -> str:
    """The report page. ``images`` maps a name to PNG bytes (embedded)."""
    e = html.escape
    out: list[str] = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>openlfr evaluation</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
        "table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 6px;"
        "font-size:0.85em;text-align:right}th{background:#f2f2f2}td.l,th.l{text-align:left}"
        ".plot{max-width:100%;display:block;margin:0.5em 0}.m{color:#06c}.x{color:#b50}.warn{color:#b00}"
        "</style></head><body>",
        "<h1>openlfr accuracy and equitability evaluation</h1>",
        f"<p>Packs: {e(', '.join(results))}. Data: {e(meta.get('dataset', ''))}. Created {e(meta.get('created_at', ''))}.",
        f" Command: <code>{e(meta.get('command', ''))}</code></p>",
        "<p>Protocol (NIST 1:N terms): watchlist = one image per enrolled LFW person; mated searches = their "
        "other images (hit = mate is rank 1 and scores at or above the threshold); non-mated searches = "
        "held-out LFW people and the UTKFace crowd (false alert = best score at or above the threshold). "
        "Intervals are Clopper-Pearson 95%. "
        "<span class='m'>Measured</span> figures come from the data (sizes below the enrolled set by random "
        "subsampling); <span class='x'>extrapolated</span> ones (watchlists larger than the data) use "
        "FPIR(N,t) &asymp; 1-(1-p1(t))<sup>N</sup> from the pooled single-comparison false-match rate "
        "p1; its check against measured sizes is shown for each pack.</p>",
        "<h2>Summary</h2><table><tr><th class='l'>pack</th><th>watchlist</th><th>FTE</th><th>rank-1</th>"
        "<th>mated FTD</th><th>crowd FTD</th><th>crowd excluded</th><th>validated minimum</th></tr>",
    ]
    for pack, r in results.items():
        out.append(
            f"<tr><td class='l'>{e(pack)}</td><td>{r['watchlist_size']}</td><td>{r['failed_to_enrol']}</td>"
            f"<td>{_rate(r['rank1'])}</td><td>{r['mated_failed_to_detect']}</td>"
            f"<td>{r['crowd_failed_to_detect']}</td><td>{r['crowd_excluded']}</td>"
            f"<td>{r['validated_min_threshold']:.4f}{'' if r['validated'] else ' <b class=warn>NOT validated</b>'}"
            "</td></tr>"
        )
    out.append("</table>")
    out.append(_img(images["det"], "DET curves"))

    out.append(
        "<h2>FNIR at FPIR targets by watchlist size</h2><table><tr><th class='l'>pack</th>"
        "<th>watchlist size</th><th>FPIR target</th><th>threshold</th><th>FNIR</th><th>how</th>"
        "<th>support (pairs &ge; t)</th><th>1-(1-p1)^N would give</th></tr>"
    )
    for pack, r in results.items():
        for row in r["scaling"]:
            cls = "m" if row["method"] == "measured" else "x"
            out.append(
                f"<tr><td class='l'>{e(pack)}</td><td>{row['watchlist_size']}</td><td>{row['fpir_target']:g}</td>"
                f"<td>{row['threshold']:.4f}</td><td>{_pct(row['fnir'])}</td>"
                f"<td class='l {cls}'>{row['method']}"
                f"{' (' + str(row.get('repeats')) + ' draws)' if row['method'] == 'measured' else ''}</td>"
                f"<td>{row.get('support', '')}</td>"
                + (
                    f"<td>{row['extrapolated_threshold']:.4f}</td></tr>"
                    if row["method"] == "measured"
                    else "<td></td></tr>"
                )
            )
    out.append("</table>")

    for pack, r in results.items():
        out.append(f"<h2>{e(pack)}</h2>")
        out.append(
            f"<p>Enrolled {r['watchlist_size']} (failed to enrol: {r['failed_to_enrol']}; enrolment images below "
            f"the quality bar: {r['low_quality_enrolments']}). Mated searches {r['mated_searches']} (+"
            f"{r['mated_failed_to_detect']} with no face found). Non-mated: {r['lfw_nonmated_searches']} held-out "
            f"LFW (+{r['lfw_nonmated_failed_to_detect']} no face) and {r['crowd_searches']} crowd "
            f"(+{r['crowd_failed_to_detect']} no face, {r['crowd_excluded']} excluded by hygiene). "
            f"Rank-1 identification rate {_rate(r['rank1'])}; counting searches with no face as misses "
            f"{_rate(r['rank1_incl_ftd'])}.</p>"
        )
        out.append(
            "<table><tr><th>FPIR target</th><th>threshold</th><th>FPIR measured</th><th>FNIR</th>"
            "<th>FNIR counting no-face searches as misses</th></tr>"
        )
        for row in r["full_watchlist"]:
            out.append(
                f"<tr><td>{row['fpir_target']:g}</td><td>{row['threshold']:.4f}</td>"
                f"<td>{_rate(row['fpir'])}</td><td>{_rate(row['fnir'])}</td>"
                f"<td>{_rate(row['fnir_incl_ftd'])}</td></tr>"
            )
        out.append("</table>")
        out.append(_img(images[f"hist:{pack}"], f"{pack} score histograms"))
        out.append("<h3>Watchlist size: measured vs extrapolated</h3>")
        out.append(_img(images[f"scaling:{pack}"], f"{pack} FPIR vs watchlist size"))
        out.append("<table><tr><th>threshold</th><th>N</th><th>measured FPIR</th><th>1-(1-p1)^N</th></tr>")
        for c in r["scaling_check"]:
            out.append(
                f"<tr><td>{c['threshold']:.4f}</td><td>{c['watchlist_size']}</td>"
                f"<td>{_pct(c['measured_fpir'], 3)}</td><td>{_pct(c['predicted_fpir'], 3)}</td></tr>"
            )
        out.append("</table>")

        out.append("<h3>Equitability (UTKFace crowd, full watchlist)</h3>")
        out.append(
            "<p>FPIR per group with Clopper-Pearson 95% intervals (UTKFace labels: race, sex, age band; under-18s "
            "are their own band); Fisher's exact test between every pair of "
            "groups, Holm-corrected over all FPIR tests at that threshold (family-wise alpha "
            f"{meta.get('alpha', 0.05)}). <i>conclusive</i> = the group's upper bound is at most twice the "
            "overall FPIR, i.e. its data rule out a doubled false-alert rate; 'no' means either too few faces "
            "(wide interval) or a rate that really is high (look at the lower bound). Alert precision and false "
            "alerts per 1,000 faces are given together, never one without the other. Alert precision on the mix "
            "run = true alerts / all alerts over every mated and non-mated search run (the mix's share of "
            "watchlisted faces is far higher than a street's); at the assumed prevalence &pi; it is "
            "&pi;&middot;TPIR / (&pi;&middot;TPIR + (1-&pi;)&middot;FPIR), its interval from the Clopper-Pearson "
            "bounds of TPIR and FPIR. False alerts per 1,000 faces = 1,000 &times; FPIR over all non-mated "
            "searches (faces with no face found are not in it: see the failure-to-detect counts).</p>"
        )
        for key in ("validated", "low"):
            entry = _pick(r, key)
            if entry is None:
                continue
            label = (
                "at the validated minimum threshold"
                if key == "validated" and r["validated"]
                else "at the minimum threshold (NOT validated)"
                if key == "validated"
                else "at the threshold giving crowd FPIR 1%"
            )
            out.append(f"<h4>FPIR per group {label} ({entry['threshold']:.4f})</h4>")
            out.append(_img(images[f"groups:{key}:{pack}"], f"{pack} FPIR per group {label}"))
            out.append(
                "<table><tr><th class='l'>attribute</th><th class='l'>group</th><th>faces</th>"
                "<th>FPIR [95% CI] (alerts/faces)</th><th class='l'>conclusive: upper bound at most twice the "
                "overall FPIR?</th></tr>"
            )
            for attr, groups in entry["groups"].items():
                for name, v in groups.items():
                    out.append(
                        f"<tr><td class='l'>{e(attr)}</td><td class='l'>{e(name)}</td><td>{v['n']}</td>"
                        f"<td>{_rate(v)}</td><td class='l'>{'yes' if v['conclusive'] else 'no'}</td></tr>"
                    )
            out.append("</table>")
        out.append("<h4>Every threshold of the grid</h4>")
        out.append(
            "<table><tr><th>threshold</th><th>crowd FPIR</th><th class='l'>highest-FPIR group</th>"
            "<th class='l'>children (0-17)</th><th class='l'>enrolled people drawing most crowd alerts</th>"
            "<th class='l'>significant FPIR differences (Holm p)</th><th class='l'>FNIR by sex (LFW)</th>"
            "<th>alert precision (mix run)</th><th>precision at assumed prevalence</th>"
            "<th>false alerts / 1,000 faces</th></tr>"
        )
        for g in r["equitability"]:
            worst = max(
                ((a, name, v) for a, d in g["groups"].items() for name, v in d.items()),
                key=lambda x: x[2]["rate"],
            )
            worst_s = f"{e(worst[0])} {e(worst[1])}: {_rate(worst[2])}"
            child = g["groups"].get("age", {}).get("0-17")
            child_s = f"{_rate(child)}; {_verdict(child, g['crowd_fpir']['rate'])}" if child else "none"
            sig = (
                "<br>".join(
                    f"{e(t['attribute'])}: {e(t['group_a'])} vs {e(t['group_b'])} p={t['p_holm']:.2g}"
                    for t in g["tests"]
                    if t["significant"]
                )
                or "none"
            )
            fn = ", ".join(
                f"{e(sx)} {_pct(v['rate'])} [{_pct(v['ci_low'])},{_pct(v['ci_high'])}]"
                for sx, v in g["fnir_by_sex"].items()
            )
            fn_sig = [t for t in g["fnir_tests"] if t["significant"]]
            fn += f" <b>(differ, p={fn_sig[0]['p_holm']:.2g})</b>" if fn_sig else ""
            pp = g["precision_at_prevalence"]
            fa = g["false_alerts_per_1000"]
            is_min = abs(g["threshold"] - r["validated_min_threshold"]) < 1e-12
            mark = (
                ""
                if not is_min
                else " <b>&larr; validated minimum</b>"
                if r["validated"]
                else " <b class=warn>&larr; minimum, NOT validated (above every crowd score)</b>"
            )
            out.append(
                f"<tr><td>{g['threshold']:.4f}{mark}</td><td>{_rate(g['crowd_fpir'])}</td>"
                f"<td class='l'>{worst_s}</td><td class='l'>{child_s}</td><td class='l'>"
                + ", ".join(f"{e(name)} ({n})" for name, n in g.get("top_alert_subjects", []))
                + "</td>"
                f"<td class='l'>{sig}</td><td class='l'>{fn}</td><td>{_rate(g['precision_on_mix'])}</td>"
                f"<td>{_pct(pp['value'])} [{_pct(pp['ci_low'])}, {_pct(pp['ci_high'])}] at {pp['prevalence']:g}</td>"
                f"<td>{fa['value']:.2f} [{fa['ci_low']:.2f}, {fa['ci_high']:.2f}]</td></tr>"
            )
        out.append("</table>")

    out.append("<h2>Crowd hygiene</h2>")
    out.append(
        "<p>UTKFace includes celebrities who are also in LFW. Strict threshold per pack (score reached by only "
        f"{meta.get('hygiene_fmr', '')} of known-different LFW comparisons): "
        + ", ".join(
            f"{e(p)} {t:.4f}"
            if t != float("inf")
            else f"{e(p)} not set (too few known-different comparisons: no hygiene)"
            for p, t in strict.items()
        )
        + (
            ". A crowd face is excluded when at least two packs put the same enrolled person at or above their "
            "strict thresholds."
            if len(strict) > 1
            else ". Only one pack was evaluated, so a crowd face is excluded when that pack alone reaches its strict "
            "threshold: <b>weaker evidence</b>; check the grid below."
        )
        + f" Enrolled people reached by more than {meta.get('hygiene_max_per_subject', '')} crowd faces attract "
        "strangers (a lookalike-prone template) and are not excluded: "
        + (
            ", ".join(f"{e(s)} ({n} crowd faces)" for s, n in meta.get("hygiene_kept_subjects", {}).items())
            or "none"
        )
        + f". {len(exclusions)} crowd faces excluded.</p>"
    )
    if "excluded_grid" in images:
        out.append(
            _img(images["excluded_grid"], "excluded crowd faces beside the enrolled image they matched")
        )
    out.append(
        "<table><tr><th class='l'>crowd face</th><th class='l'>matched enrolled person</th>"
        "<th class='l'>scores</th></tr>"
    )
    for x in exclusions:
        out.append(
            f"<tr><td class='l'>{e(x.crowd_rel)}</td><td class='l'>{e(x.subject)}</td><td class='l'>"
            + ", ".join(f"{e(p)} {s:.4f}" for p, s in x.scores.items())
            + "</td></tr>"
        )
    out.append("</table>")
    for pack in results:
        if f"top_grid:{pack}" in images:
            out.append(f"<h3>Top-scoring remaining non-mated pairs, {e(pack)} (for a human to check)</h3>")
            out.append(_img(images[f"top_grid:{pack}"], f"{pack} top non-mated pairs"))
    out.append("</body></html>")
    return "\n".join(out)


def _verdict(group: dict[str, Any], overall: float) -> str:
    """What a group's interval allows us to say against the overall FPIR."""
    if group["conclusive"]:
        return "conclusive (at most twice the overall)"
    if overall > 0 and group["ci_low"] > overall:
        return "<b>higher than overall</b> (lower bound above it)"
    return "too few faces to conclude"


def _pick(r: dict[str, Any], key: str) -> dict[str, Any] | None:
    grid = r["equitability"]
    if key == "validated":
        return next((g for g in grid if abs(g["threshold"] - r["validated_min_threshold"]) < 1e-12), None)
    return next(
        (g for g in grid if g["crowd_fpir_level"] is not None and abs(g["crowd_fpir_level"] - 0.01) < 1e-12),
        None,
    )


def group_images(pack: str, r: dict[str, Any]) -> dict[str, bytes]:
    out = {}
    minimum = "validated minimum threshold" if r["validated"] else "minimum threshold (NOT validated)"
    for key, title in (
        ("validated", f"FPIR per group at the {minimum}"),
        ("low", "FPIR per group at the threshold giving crowd FPIR 1%"),
    ):
        entry = _pick(r, key)
        if entry is not None:
            out[f"groups:{key}:{pack}"] = group_plot(pack, entry, f"{title} ({entry['threshold']:.4f})")
    return out
