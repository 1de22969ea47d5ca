"""The reference crowd the attraction check compares new templates with (``matching/attraction.py``).

It is a matrix of non-mated face templates for one pack with the pack's reference threshold, written by
``openlfr evaluate`` into the force's data folder (``<data_dir>/calibration/<pack>-reference-crowd.npz``).
It is never shipped with openlfr: it holds templates of research photographs that are not ours to
redistribute. Where it is missing, enrolment says that the check could not run and records so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from openlfr.config import GovernanceSettings
from openlfr.matching.attraction import OFFSET_RULES, AttractionPolicy
from openlfr.matching.calibration import CalibrationError
from openlfr.vision.face import l2_normalise


@dataclass(frozen=True)
class ReferenceCrowd:
    pack: str
    templates: npt.NDArray[np.float32]
    """L2-normalised templates of strangers, one row each."""
    reference_threshold: float
    """Score that the share ``fmr`` of single comparisons (crowd x enrolled templates) reached."""
    fmr: float
    source: str
    """What the crowd was made from (dataset names and content hashes, never a path)."""
    rule: str = "attractors"
    """The offset rule the calibration validated its minimum with (``attraction.OFFSET_RULES``); enrolment
    applies this one, so that a watchlist is held to the minimum validated for what it got. Files written
    before the rule existed are ``attractors``."""
    max_lowering: float = 0.0
    """Under ``normalised``: the cap on how far below the deployment's threshold a template's may go."""

    @property
    def size(self) -> int:
        return int(self.templates.shape[0])


def reference_crowd_path(pack: str, data_dir: Path) -> Path:
    return data_dir / "calibration" / f"{pack}-reference-crowd.npz"


def save_reference_crowd(crowd: ReferenceCrowd, data_dir: Path) -> Path:
    path = reference_crowd_path(crowd.pack, data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(
        tmp,
        templates=l2_normalise(np.asarray(crowd.templates, np.float32)) if crowd.size else crowd.templates,
        reference_threshold=np.float64(crowd.reference_threshold),
        fmr=np.float64(crowd.fmr),
        pack=np.str_(crowd.pack),
        source=np.str_(crowd.source),
        rule=np.str_(crowd.rule),
        max_lowering=np.float64(crowd.max_lowering),
    )
    tmp.chmod(0o600)  # templates of faces: readable by the service only
    tmp.replace(path)
    return path


def load_reference_crowd(pack: str, data_dir: Path) -> ReferenceCrowd | None:
    """The force's reference crowd for a pack, or ``None`` when there is none."""
    path = reference_crowd_path(pack, data_dir)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            crowd = ReferenceCrowd(
                pack=str(z["pack"]),
                templates=np.asarray(z["templates"], np.float32),
                reference_threshold=float(z["reference_threshold"]),
                fmr=float(z["fmr"]),
                source=str(z["source"]),
                rule=str(z["rule"]) if "rule" in z.files else "attractors",
                max_lowering=float(z["max_lowering"]) if "max_lowering" in z.files else 0.0,
            )
    except (OSError, KeyError, ValueError) as exc:
        raise CalibrationError(f"{path} is not a readable reference crowd ({exc})") from exc
    if crowd.pack != pack:
        raise CalibrationError(f"{path} is for pack {crowd.pack!r}, not {pack!r}")
    if crowd.rule not in OFFSET_RULES:
        raise CalibrationError(f"{path} names an unknown template offset rule {crowd.rule!r}")
    return crowd


def attraction_policy(crowd: ReferenceCrowd, governance: GovernanceSettings) -> AttractionPolicy:
    """The attraction rule for a crowd: its reference threshold, share and offset rule, the force's factor
    and test."""
    return AttractionPolicy(
        reference_threshold=crowd.reference_threshold,
        fmr=crowd.fmr,
        factor=governance.attraction_factor,
        min_hits=governance.attraction_min_hits,
        p_value=governance.attraction_p_value,
        rule=crowd.rule,
        max_lowering=crowd.max_lowering,
    )
