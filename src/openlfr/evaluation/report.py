"""The evaluation report: plots (matplotlib, Agg) and one self-contained HTML page (images embedded),
rendered from the typed results with the Jinja template ``templates/report.html`` (as ``web/`` renders its
pages; the evaluation area sits below ``web`` in the layers, so it has its own templates folder)."""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import jinja2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from markupsafe import Markup

from openlfr.evaluation.hygiene import Exclusion
from openlfr.evaluation.metrics import Rate
from openlfr.evaluation.results import EquitabilityEntry, GroupRate, PackResult, ScalingCheck

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

_COLOURS = {"opencv-zoo": "tab:blue", "insightface-s": "tab:orange", "dlib": "tab:green"}


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def det_plot(results: Mapping[str, PackResult]) -> bytes:
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for pack, r in results.items():
        fp = np.asarray(r.det.fpir)
        fn = np.asarray(r.det.fnir)
        keep = fp > 0
        ax.plot(fp[keep], fn[keep], label=f"{pack} (N={r.watchlist_size})", color=_COLOURS.get(pack))
        for row in r.full_watchlist:
            ax.plot([row.fpir.value], [row.fnir.value], "o", color=_COLOURS.get(pack))
    ax.set_xscale("log")
    ax.set_xlabel("FPIR (non-mated searches that alert)")
    ax.set_ylabel("FNIR (mated searches missed)")
    ax.set_title("DET, full watchlist (measured)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return _png(fig)


def histogram_plot(pack: str, r: PackResult) -> bytes:
    h = r.histograms
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    bins = np.linspace(-0.3, 1.0, 80).tolist()
    ax.hist(h.crowd_best, bins=bins, alpha=0.55, density=True, label="crowd (UTKFace) best score")
    ax.hist(h.lfw_nonmated_best, bins=bins, alpha=0.55, density=True, label="held-out LFW best score")
    ax.hist(h.mated, bins=bins, alpha=0.55, density=True, label="mated: score of the mate")
    for row in r.full_watchlist:
        ax.axvline(row.threshold, ls="--", color="k", lw=0.8)
        ax.text(row.threshold, ax.get_ylim()[1] * 0.9, f" FPIR {row.fpir_target:g}", fontsize=7)
    ax.axvline(r.validated_min_threshold, color="red", lw=1.2, label="validated minimum")
    ax.set_xlabel("cosine similarity")
    ax.set_title(f"{pack}: score distributions (full watchlist)")
    ax.legend(fontsize=7)
    return _png(fig)


def group_plot(pack: str, entry: EquitabilityEntry, title: str) -> bytes:
    attrs = list(entry.groups)
    fig, axes = plt.subplots(1, len(attrs), figsize=(4.2 * len(attrs), 3.6), sharey=True)
    for ax, attr in zip(np.atleast_1d(axes), attrs, strict=True):
        groups = entry.groups[attr]
        names = list(groups)
        vals = np.array([groups[g].rate.value for g in names])
        lo = np.array([groups[g].rate.lo for g in names])
        hi = np.array([groups[g].rate.hi for g in names])
        ax.bar(range(len(names)), vals, color="tab:gray")
        ax.errorbar(range(len(names)), vals, yerr=[vals - lo, hi - vals], fmt="none", ecolor="k", capsize=3)
        ax.axhline(entry.crowd_fpir.value, color="red", lw=0.8, ls="--")
        ax.set_xticks(range(len(names)), [f"{g}\nn={groups[g].rate.n}" for g in names], fontsize=7)
        ax.set_title(attr)
    np.atleast_1d(axes)[0].set_ylabel("FPIR (95% CI)")
    fig.suptitle(f"{pack}: {title}", fontsize=10)
    return _png(fig)


def scaling_plot(pack: str, r: PackResult) -> bytes:
    fig, ax = plt.subplots(figsize=(6, 3.8))
    by_t: dict[float, list[ScalingCheck]] = {}
    for c in r.scaling_check:
        by_t.setdefault(c.threshold, []).append(c)
    for t, rows in by_t.items():
        rows.sort(key=lambda c: c.watchlist_size)
        n = [c.watchlist_size for c in rows]
        line = ax.plot(n, [c.measured_fpir for c in rows], "o-", label=f"measured, t={t:.3f}")
        ax.plot(
            n,
            [c.predicted_fpir for c in rows],
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


def _pct(x: float, digits: int = 2) -> str:
    return "n/a" if x != x else f"{100 * x:.{digits}f}%"


def _rate(r: Rate | GroupRate) -> str:
    """``rate [low, high] (k/n)``."""
    r = r.rate if isinstance(r, GroupRate) else r
    return f"{_pct(r.value)} [{_pct(r.lo)}, {_pct(r.hi)}] ({r.k}/{r.n})"


def _verdict(group: GroupRate, overall: float) -> Markup:
    """What a group's interval allows us to say against the overall FPIR."""
    if group.conclusive:
        return Markup("conclusive (at most twice the overall)")
    if overall > 0 and group.rate.lo > overall:
        return Markup("<b>higher than overall</b> (lower bound above it)")
    return Markup("too few faces to conclude")


def _highest_group(entry: EquitabilityEntry) -> tuple[str, str, GroupRate]:
    """(attribute, group, its FPIR) of the group with the highest FPIR (the first one on a tie)."""
    return max(
        ((a, name, v) for a, by_group in entry.groups.items() for name, v in by_group.items()),
        key=lambda x: x[2].rate.value,
    )


_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters.update(
    b64=lambda png: base64.b64encode(png).decode(),
    pct=_pct,
    rate=_rate,
    verdict=_verdict,
    highest_group=_highest_group,
    finite=math.isfinite,
)


def render_html(
    results: Mapping[str, PackResult],
    images: Mapping[str, bytes],
    exclusions: Sequence[Exclusion],
    strict: Mapping[str, float],
    meta: Mapping[str, Any],
    identification: Mapping[str, Any] | None = None,
) -> str:
    """The report page (``templates/report.html``). ``images`` maps a name to PNG bytes (embedded);
    ``identification`` maps a pack to its rank-k identification result (``evaluation.identification``)."""
    return _env.get_template("report.html").render(
        results=results,
        images=images,
        exclusions=exclusions,
        strict=strict,
        meta=meta,
        identification=identification or {},
    )


def group_images(pack: str, r: PackResult) -> dict[str, bytes]:
    out = {}
    minimum = "validated minimum threshold" if r.validated else "minimum threshold (NOT validated)"
    for key, title, entry in (
        ("validated", f"FPIR per group at the {minimum}", r.at_validated_minimum),
        ("low", "FPIR per group at the threshold giving crowd FPIR 1%", r.at_crowd_fpir_1pc),
    ):
        if entry is not None:
            out[f"groups:{key}:{pack}"] = group_plot(pack, entry, f"{title} ({entry.threshold:.4f})")
    return out
