"""Gallery import speed (images per second) on real LFW images, and that a rerun resumes without duplicates.

    python benchmarks/gallery_import.py --images 200
    python benchmarks/gallery_import.py --held-out        # every custody record findable (issue 26)

Imports the first N LFW images (one CSV row each) into a fresh data directory with the configured pack,
prints images/s (engine loading excluded), then runs the same import again and prints how many were
skipped as already imported (all of them) and the gallery's row count (unchanged). Timings taken on a
shared, loaded machine are marked so by the caller.

``--held-out``: a gallery of 400 LFW people taken from the end of the sorted list (the tests use the start),
one ordinary news photo each, imported at the default settings; 40 of them are searched with another photo
(mated), 10 people not in the gallery are searched too (non-mated). Prints refused and flagged records and
the mated rank-1 and top-20 rates, and where each mated record that is not at rank 1 came.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

from _common import data_dir
from openlfr.config import Settings
from openlfr.retro.gallery_import import GalleryRow, import_gallery, read_gallery_csv
from openlfr.retro.gallery_keys import gallery_key, get_gallery
from openlfr.retro.gallery_records import gallery_stats, search_gallery
from openlfr.safetext import write_csv
from openlfr.store import open_store
from openlfr.vision.engine import best_face, load_engine
from openlfr.vision.image_io import load_image


def held_out(pack: str | None, records: int = 400, mated: int = 40, non_mated: int = 10) -> None:
    lfw = data_dir() / "lfw"
    by_id: dict[str, list[str]] = {}
    for r in csv.DictReader((lfw / "manifest.csv").open()):
        by_id.setdefault(r["identity"], []).append(r["path"])
    people = sorted(by_id.items(), reverse=True)
    twos = [(k, sorted(v)) for k, v in people if len(v) >= 2][:mated]
    mated_ids = {k for k, _ in twos}
    ones = [(k, sorted(v)) for k, v in people if k not in mated_ids]
    gallery_people = twos + ones[: records - mated]
    strangers = ones[records - mated : records - mated + non_mated]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "openlfr")
        store = open_store(settings)
        engine = load_engine(pack or settings.vision.pack, settings)
        rows = [GalleryRow(i + 2, k, lfw / v[0]) for i, (k, v) in enumerate(gallery_people)]
        rep = import_gallery(store, engine, rows, "benchmark")
        st = gallery_stats(store)
        print(
            f"pack {engine.pack.name}, gallery of {len(rows)} held-out LFW people (one photo each): "
            f"{rep.imported} imported, {len(rep.refused)} refused, {len(rep.flagged)} imported with flags "
            f"({st.flags})"
        )
        for line, rec, _, why in rep.refused:
            print(f"  refused line {line} {rec}: {why}")
        with store.session() as s:
            g = get_gallery(s, settings.retro.gallery)
        key = gallery_key(store, g)
        k = settings.retro.rfr_top_k

        def search(path: Path) -> list[tuple[str, float]]:
            image = load_image(path.read_bytes())
            face = best_face(engine.analyse(image) or engine.analyse(image, pad=0.5), image.shape)
            if face is None or face.embedding is None:
                return []
            return [
                (c.record_id, c.score) for c in search_gallery(store, g, key, face.embedding[None, :], k)[0]
            ]

        ranks = []
        for person, imgs in twos:
            got = [r for r, _ in search(lfw / imgs[1])]
            ranks.append(got.index(person) + 1 if person in got else None)
        r1 = sum(1 for r in ranks if r == 1)
        top = sum(1 for r in ranks if r is not None)
        print(
            f"mated searches {len(ranks)}: rank 1 {r1}/{len(ranks)} ({r1 / len(ranks):.1%}), "
            f"top {k} {top}/{len(ranks)} ({top / len(ranks):.1%}); not at rank 1: "
            + (
                ", ".join(f"{p} ({r or 'absent'})" for (p, _), r in zip(twos, ranks, strict=True) if r != 1)
                or "none"
            )
        )
        flagged_mates = {rec for _, rec, _, _ in rep.flagged} & mated_ids
        print(f"mated records imported with a flag: {len(flagged_mates)} (all findable above)")
        tops = sorted(max((sc for _, sc in search(lfw / imgs[0])), default=0.0) for _, imgs in strangers)
        print(
            f"non-mated searches {len(tops)}: best candidate's score median {tops[len(tops) // 2]:.3f}, "
            f"highest {tops[-1]:.3f} (each still lists {k} candidates for a reviewer; no threshold decides)"
        )
        store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--pack", default=None)
    ap.add_argument(
        "--held-out", action="store_true", help="Findability of every custody record (issue 26) instead."
    )
    args = ap.parse_args()
    if args.held_out:
        held_out(args.pack)
        return
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
