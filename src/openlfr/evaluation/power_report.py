"""Plots and the report section of the validation-with-power analysis (``power.py``)."""

from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def tradeoff_plot(pack: str, power: dict[str, Any], attribute: str = "race") -> bytes:
    """TPIR and each group's FPIR against threshold, without offsets, with attractor offsets and with every
    template normalised; the validated minimum of each marked."""
    panels = [
        ("without_check", "validated_min_without", "without the attraction check"),
        ("with_check", "validated_min_with", "attractor offsets (cross-fitted)"),
        ("normalised", "validated_min_normalised", "every template normalised (cross-fitted)"),
    ]
    panels = [x for x in panels if power.get(x[0])]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.2), sharey=False, squeeze=False)
    for ax, (key, vkey, title) in zip(axes[0], panels, strict=True):
        grid = sorted(power[key], key=lambda p: p["threshold"])
        if not grid:
            continue
        ts = [p["threshold"] for p in grid]
        groups = sorted(grid[0]["groups"].get(attribute, {}))
        for g in groups:
            ax.plot(ts, [100 * p["groups"][attribute][g]["rate"] for p in grid], marker="o", ms=3, label=g)
        ax.set_yscale("symlog", linthresh=0.05)
        ax.set_ylabel(f"crowd FPIR by {attribute} (%)")
        ax.set_xlabel("threshold")
        ax2 = ax.twinx()
        ax2.plot(ts, [100 * p["tpir"]["rate"] for p in grid], "k--", label="TPIR")
        ax2.set_ylabel("TPIR (%) dashed")
        ax2.set_ylim(0, 100)
        ax.axvline(power[vkey], color="red", lw=1)
        ax.set_title(f"{pack}: {title}", fontsize=9)
        ax.legend(fontsize=7, loc="upper right")
    return _png(fig)


def group_bars(pack: str, point: dict[str, Any], title: str) -> bytes:
    """Per-group FPIR with its 95% interval at one threshold."""
    rows = [(a, g, v) for a, gs in point["groups"].items() for g, v in gs.items() if g != "unknown"]
    fig, ax = plt.subplots(figsize=(8, 0.28 * len(rows) + 1.2))
    labels = [f"{a}: {g} (n={v['n']})" for a, g, v in rows]
    vals = [100 * v["rate"] for _, _, v in rows]
    lo = [100 * (v["rate"] - v["ci_low"]) for _, _, v in rows]
    hi = [100 * (v["ci_high"] - v["rate"]) for _, _, v in rows]
    ax.barh(range(len(rows)), vals, xerr=[lo, hi], color="#4a78a8", ecolor="#333", capsize=2)
    ax.axvline(100 * point["crowd_fpir"]["rate"], color="red", lw=1, label="overall")
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("crowd FPIR (%) with 95% interval")
    ax.set_title(f"{pack}: {title}", fontsize=9)
    ax.legend(fontsize=7)
    return _png(fig)


def headline(power: dict[str, Any]) -> tuple[str, str, str]:
    """(grid key, minimum key, validated key) of the offset rule the calibration's headline minimum uses
    (results written before the rule existed name none: attractors)."""
    if power.get("policy", {}).get("rule") == "normalised":
        return "normalised", "validated_min_normalised", "validated_normalised"
    return "with_check", "validated_min_with", "validated_with"


def images(pack: str, power: dict[str, Any]) -> dict[str, bytes]:
    out = {f"power_tradeoff:{pack}": tradeoff_plot(pack, power)}
    grid_key, min_key, _ = headline(power)
    at = at_threshold(power[grid_key], power[min_key])
    if at is not None:
        out[f"power_groups:{pack}"] = group_bars(
            pack,
            at,
            f"groups at the validated minimum {power[min_key]:.3f} ({grid_key.replace('_', ' ')} offsets)",
        )
    return out


def at_threshold(grid: list[dict[str, Any]], t: float) -> dict[str, Any] | None:
    return next((p for p in grid if abs(p["threshold"] - t) < 1e-9), None)
