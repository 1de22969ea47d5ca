"""Helpers shared by the benchmark scripts (data location, timing)."""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

CACHE = ROOT / "var" / "cameras"
"""The live benchmarks' walk-bys (cameras.py), and in ``data/`` their data folder: the reference crowd that
puts the threshold at the validated default, built once."""


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
