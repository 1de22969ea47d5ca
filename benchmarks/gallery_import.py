"""Gallery import speed (images per second) on real LFW images, and that a rerun resumes without duplicates.

    python benchmarks/gallery_import.py --images 200

Imports the first N LFW images (one CSV row each) into a fresh data directory with the configured pack,
prints images/s (engine loading excluded), then runs the same import again and prints how many were
skipped as already imported (all of them) and the gallery's row count (unchanged). Timings taken on a
shared, loaded machine are marked so by the caller.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

from _common import data_dir
from openlfr.config import Settings
from openlfr.retro.gallery import gallery_stats, import_gallery, read_gallery_csv
from openlfr.safetext import write_csv
from openlfr.store import open_store
from openlfr.vision.engine import load_engine


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--pack", default=None)
    args = ap.parse_args()
    lfw = data_dir() / "lfw"
    rows = list(csv.DictReader((lfw / "manifest.csv").open()))[: args.images]
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "custody.csv"
        with csv_path.open("w", newline="") as fh:
            write_csv(fh, ["record_id", "image"], ([r["identity"], r["path"]] for r in rows))
        settings = Settings(data_dir=Path(tmp) / "openlfr")
        store = open_store(settings)
        engine = load_engine(args.pack or settings.vision.pack, settings)
        engine.warm_up()
        parsed = read_gallery_csv(csv_path, lfw)
        t0 = time.perf_counter()
        rep = import_gallery(store, engine, parsed, "benchmark")
        wall = time.perf_counter() - t0
        print(
            f"pack {engine.pack.name}: {len(parsed)} rows, {rep.imported} imported, {len(rep.refused)} refused "
            f"(quality report), {len(rep.possible_duplicates)} possible duplicates"
        )
        print(
            f"import speed: {len(parsed) / wall:.1f} images/s analysed, {rep.imported / wall:.1f} imported/s"
        )
        again = import_gallery(store, engine, parsed, "benchmark")
        st = gallery_stats(store)
        print(
            f"rerun: {again.already_imported} already imported, {again.imported} new; gallery holds {st.templates} images"
        )
        store.close()


if __name__ == "__main__":
    main()
