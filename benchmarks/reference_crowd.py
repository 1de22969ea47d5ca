"""How long `openlfr calibration crowd --from DIR` takes: the reference crowd built from the shared data's
UTKFace folder with the same builder (``evaluation/reference_crowd.py``), timed as wall clock and as this
process's CPU time (the CPU time is what a quiet machine would take, the wall clock what this one did).

    OPENLFR_DATA=/work/shared/data python benchmarks/reference_crowd.py --max 200 [--pack opencv-zoo]

Prints faces embedded, faces per CPU-second, and the estimate for the command's default of 3,200 faces.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _common import data_dir


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--max", type=int, default=200, help="faces to embed (the command's default is 3,200)")
    ap.add_argument("--pack", default="opencv-zoo")
    args = ap.parse_args()

    from openlfr.config import Settings
    from openlfr.evaluation.reference_crowd import build_reference_crowd, crowd_records
    from openlfr.matching.calibration import load_calibration
    from openlfr.vision import load_engine

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data")
        cal = load_calibration(args.pack, settings.data_dir)
        assert cal is not None, f"no shipped calibration for {args.pack}"
        records, what = crowd_records(data_dir() / "utkface")
        engine = load_engine(args.pack, settings)
        wall0, cpu0 = time.perf_counter(), time.process_time()
        crowd = build_reference_crowd(engine, cal, records, settings, size=args.max, what=what)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    rate = args.max / cpu
    print(f"pack {args.pack}: {crowd.size} of {args.max} faces embedded from {what} ({len(records)} images)")
    print(f"wall {wall:.1f} s, CPU {cpu:.1f} s: {rate:.1f} faces per CPU-second")
    print(f"estimate for the default 3,200 faces: {3200 / rate / 60:.1f} CPU-minutes")


if __name__ == "__main__":
    main()
