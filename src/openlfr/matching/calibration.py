"""Calibration files: the thresholds a pack was validated at, which deployments read (DESIGN.md rule 2).

A calibration file is JSON written by ``openlfr evaluate`` (``openlfr.evaluation``). A force's own file in
``<data_dir>/calibration/<pack>.json`` takes precedence over the one shipped with openlfr
(``openlfr/matching/calibrations/<pack>.json``, produced on the shared evaluation data).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from openlfr.errors import OpenLFRError


class CalibrationError(OpenLFRError, ValueError):
    """A calibration file is missing a field or is not for the pack asked for."""


@dataclass(frozen=True)
class ThresholdPoint:
    fpir: float
    """Target false-positive identification rate (share of non-mated searches that alert)."""
    watchlist_size: int
    threshold: float
    fnir: float | None = None
    """Measured false-negative identification rate at this threshold, when known."""
    method: str = "measured"
    """``measured`` (subsampled watchlists of this size from the data) or ``extrapolated`` (larger than the
    data: from the single-comparison false-match rate, see ``Calibration.scaling``)."""


@dataclass(frozen=True)
class Calibration:
    pack: str
    validated_min_threshold: float
    """Lowest threshold at which the equitability evaluation found no significant difference in false
    alerts between demographic groups; a deployment may not run below it without an audited override."""
    points: tuple[ThresholdPoint, ...] = ()
    created_at: str = ""
    dataset: str = ""
    scaling: str = ""
    """How thresholds were carried to other watchlist sizes (stated, and checked by subsampling)."""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def validated(self) -> bool:
        """False when the equitability evaluation found a significant difference between groups at every
        threshold it could test; ``validated_min_threshold`` is then set above every crowd score it saw."""
        return bool(self.extra.get("validated", True))

    def minimum_for(self, rules: Iterable[str | None]) -> float:
        """The validated minimum for a watchlist whose templates got these offset rules at enrolment
        (``matching/attraction.OFFSET_RULES``; ``None`` for a template enrolled without the check, when no
        reference crowd was there). The evaluation validates a minimum under each rule; a watchlist mixing
        rules is held to the strictest of theirs, and a rule this calibration did not validate (or a
        template never checked) to the minimum validated without offsets."""
        power = self.extra.get("power") or {}
        without = power.get("validated_min_without_attraction_check")
        by_rule = dict(power.get("validated_min_by_rule") or {})
        if not by_rule:  # files written before the normalised rule: the headline minimum assumed attractors
            by_rule = {"attractors": self.validated_min_threshold}
        if without is not None:
            by_rule["none"] = float(without)
        fallback = float(by_rule.get("none", self.validated_min_threshold))
        wanted = {"none" if r is None else r for r in rules} or {power.get("offset_rule", "attractors")}
        return max(float(by_rule.get(r, max(fallback, self.validated_min_threshold))) for r in wanted)

    @property
    def offset_rule(self) -> str:
        """The offset rule the headline minimum was validated with (what the reference crowd carries)."""
        return str((self.extra.get("power") or {}).get("offset_rule", "attractors"))

    def threshold_for(self, fpir: float, watchlist_size: int) -> float:
        """The calibrated threshold for an FPIR target at the nearest watchlist size at or above the one
        given (a larger watchlist needs a stricter threshold, so rounding up is the safe side)."""
        pts = [p for p in self.points if abs(p.fpir - fpir) < 1e-12]
        if not pts:
            raise CalibrationError(f"{self.pack}: no threshold calibrated for FPIR {fpir}")
        larger = sorted(
            (p for p in pts if p.watchlist_size >= watchlist_size), key=lambda p: p.watchlist_size
        )
        chosen = larger[0] if larger else max(pts, key=lambda p: p.watchlist_size)
        return max(chosen.threshold, self.validated_min_threshold)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        try:
            return cls(
                pack=str(data["pack"]),
                validated_min_threshold=float(data["validated_min_threshold"]),
                points=tuple(ThresholdPoint(**p) for p in data.get("points", [])),
                created_at=str(data.get("created_at", "")),
                dataset=str(data.get("dataset", "")),
                scaling=str(data.get("scaling", "")),
                extra=dict(data.get("extra", {})),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CalibrationError(f"calibration file is malformed: {exc}") from exc


def packaged_calibration_path(pack: str) -> Path:
    return Path(str(resources.files("openlfr.matching").joinpath("calibrations", f"{pack}.json")))


def local_calibration_path(pack: str, data_dir: Path) -> Path:
    return data_dir / "calibration" / f"{pack}.json"


def load_calibration(pack: str, data_dir: Path | None = None) -> Calibration | None:
    """The force's own calibration for a pack if there is one, else the shipped one, else ``None``."""
    candidates = []
    if data_dir is not None:
        candidates.append(local_calibration_path(pack, data_dir))
    candidates.append(packaged_calibration_path(pack))
    for path in candidates:
        if path.is_file():
            cal = Calibration.from_dict(json.loads(path.read_text()))
            if cal.pack != pack:
                raise CalibrationError(f"{path} is for pack {cal.pack!r}, not {pack!r}")
            return cal
    return None


def save_calibration(cal: Calibration, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(cal.to_json())
    tmp.replace(path)
    return path
