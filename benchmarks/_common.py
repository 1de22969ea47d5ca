"""Helpers shared by the benchmark scripts (data location, timing)."""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from openlfr.config import Settings
    from openlfr.matching.calibration import Calibration

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

CACHE = ROOT / "var" / "cameras"
"""The live benchmarks' walk-bys (cameras.py), and in ``data/`` their data folder: the reference crowd that
puts the threshold at the validated default, built once."""

REFERENCE_CROWD_FACES = 2000
"""UTKFace faces in the live benchmarks' reference crowd (as many as ``openlfr demo`` uses)."""


def data_dir() -> Path:
    path = Path(os.environ.get("OPENLFR_DATA", ROOT.parent / "shared" / "data")).resolve()
    if not path.is_dir():
        raise SystemExit(f"shared face data not found at {path}: set OPENLFR_DATA")
    return path


def median_ms(fn: Callable[[], object], repeats: int, warmup: int = 2) -> tuple[float, float]:
    """Median and 90th percentile wall time of ``fn`` in milliseconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(0.9 * len(times)))]


def live_settings() -> Settings:
    """The default settings in the live benchmarks' data folder (``CACHE/data``), reading the shared data."""
    from openlfr.config import Settings

    return Settings(data_dir=CACHE / "data", dataset_dir=data_dir())


def ensure_reference_crowd(settings: Settings, pack: str, cal: Calibration) -> bool:
    """Build the demo's reference crowd in the settings' data folder once (``openlfr demo`` builds the same),
    so that the benchmarks run at the threshold ``openlfr run`` picks; ``False`` when there can be none."""
    from openlfr.cli.demo import _reference_crowd

    return _reference_crowd(settings, pack, cal, REFERENCE_CROWD_FACES) is not None
