"""The identification (RFR/OIFR) part of the evaluation report: plots (PNG), the Markdown file and the
context of the HTML partial ``templates/_identification.html``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import jinja2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from openlfr.evaluation.identification import IdentificationResult
from openlfr.evaluation.metrics import Rate
from openlfr.evaluation.report import TEMPLATES_DIR, _png


def rank_plot(r: IdentificationResult) -> bytes:
    """Rank-k identification rate (all mated searches, 95% CI band) against gallery size."""
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for k in r.ranks:
        rows = [r.row(s, k) for s in r.sizes]
        xs = [x.gallery_size for x in rows]
        line = ax.plot(xs, [x.overall.value for x in rows], "o-", label=f"rank-{k}")
        ax.fill_between(
            xs,
            [x.overall.lo for x in rows],
            [x.overall.hi for x in rows],
            alpha=0.15,
            color=line[0].get_color(),
        )
    ax.set_xscale("log")
    ax.set_xlabel("gallery size (templates; first point: real faces only)")
    ax.set_ylabel("identification rate (mate within the first k)")
    ax.set_title(f"{r.pack}: rank-k identification vs gallery size ({r.mated_searches} mated searches)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return _png(fig)


def group_plot(r: IdentificationResult, attribute: str) -> bytes:
    """Per-group bars (95% CI) of each rank-k rate at each gallery size, for one measurable attribute."""
    groups = sorted(r.row(r.sizes[0], r.ranks[0]).groups[attribute])
    fig, axes = plt.subplots(1, len(r.ranks), figsize=(4.3 * len(r.ranks), 3.8), sharey=True)
    width = 0.8 / max(1, len(groups))
    for ax, k in zip(np.atleast_1d(axes), r.ranks, strict=True):
        for j, g in enumerate(groups):
            rates: list[Rate] = [r.row(s, k).groups[attribute][g] for s in r.sizes]
            x = np.arange(len(r.sizes)) + (j - (len(groups) - 1) / 2) * width
            vals = np.array([q.value for q in rates])
            ax.bar(x, vals, width, label=f"{g} (n={rates[0].n})")
            ax.errorbar(
                x,
                vals,
                yerr=[vals - [q.lo for q in rates], [q.hi for q in rates] - vals],
                fmt="none",
                ecolor="k",
                capsize=2,
            )
        ax.set_xticks(range(len(r.sizes)), [f"{s:,}" for s in r.sizes], fontsize=7, rotation=20)
        ax.set_title(f"rank-{k}")
        ax.set_xlabel("gallery size")
        ax.set_ylim(max(0.0, min(0.5, ax.get_ylim()[0])), 1.02)
    np.atleast_1d(axes)[0].set_ylabel("identification rate (95% CI)")
    np.atleast_1d(axes)[0].legend(fontsize=7, loc="lower left")
    fig.suptitle(f"{r.pack}: rank-k identification by {attribute}", fontsize=10)
    return _png(fig)


def images(r: IdentificationResult) -> dict[str, bytes]:
    """The report's PNGs for one pack, keyed as the template reads them."""
    out = {f"ident_ranks:{r.pack}": rank_plot(r)}
    for attr in r.group_counts:
        if attr not in r.not_measurable:
            out[f"ident_groups:{attr}:{r.pack}"] = group_plot(r, attr)
    return out


def _pct(x: float) -> str:
    return "n/a" if x != x else f"{100 * x:.1f}%"


def _rate(q: Rate) -> str:
    return f"{_pct(q.value)} [{_pct(q.lo)}, {_pct(q.hi)}] ({q.k}/{q.n})"


_md_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
    autoescape=False,  # Markdown, not HTML
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_md_env.filters.update(rate=_rate, pct=_pct)


def render_markdown(results: Mapping[str, IdentificationResult], images_by_name: Mapping[str, str]) -> str:
    """``identification.md``: the same tables as the HTML section, with the PNGs linked by file name."""
    return _md_env.get_template("identification.md.j2").render(results=results, files=images_by_name)


def write_markdown(
    results: Mapping[str, IdentificationResult], image_names: Iterable[str], out_dir: Path
) -> Path:
    """Write ``identification.md`` beside the PNGs (``image_names``: the keys the runner saved them under,
    ``:`` written as ``_``)."""
    files = {name: name.replace(":", "_") + ".png" for name in image_names}
    path = out_dir / "identification.md"
    path.write_text(render_markdown(results, files), encoding="utf-8")
    return path
