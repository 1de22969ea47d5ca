"""Accuracy on real faces as the gallery grows: rank-1, rank-6 and rank-20 hit rates (with 95%
Clopper-Pearson intervals, overall and by sex) for mated LFW searches.

Gallery: the first image of every LFW person with two or more images (the mates), plus real distractors
(LFW people with one image, and UTKFace faces), plus synthetic distractors up to each size asked for.
Probes: each mated person's second image. Synthetic distractors are drawn from a Gaussian with the mean
and covariance of the real distractor templates, then L2-normalised, so they sit where real faces sit
rather than in empty space. Searches use the exact index (the approximate index's recall against exact is
measured separately by ``gallery_index.py``).

    python benchmarks/gallery_accuracy.py --sizes 10000 100000 1000000 [--utk 2000] [--pack opencv-zoo]

Writes a PNG of the rates against gallery size next to ``--out`` (default gallery_accuracy.png).
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np

from _common import data_dir
from openlfr.config import Settings
from openlfr.evaluation.datasets import load_lfw, load_utkface
from openlfr.evaluation.embeddings import embed_records
from openlfr.evaluation.metrics import clopper_pearson
from openlfr.vision.engine import load_engine

RANKS = (1, 6, 20)


def ranks_of_mates(probes: np.ndarray, mates: np.ndarray, distractors: list[np.ndarray]) -> np.ndarray:
    """Rank of each probe's mate (1 = best) among mates + distractors, exactly, chunk by chunk."""
    # The mate's score comes from the same matrix product as the others': an einsum can differ from it in
    # the last bit and would count the mate as beating itself.
    s = probes @ mates.T
    mate_scores = np.diag(s).copy()
    better = (s > mate_scores[:, None]).sum(axis=1)
    for chunk in distractors:
        better += (probes @ chunk.T > mate_scores[:, None]).sum(axis=1)
    return better + 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--utk", type=int, default=2000, help="UTKFace real distractors")
    ap.add_argument("--people", type=int, default=0, help="mated LFW people used (0: all)")
    ap.add_argument("--singles", type=int, default=0, help="LFW one-image people as distractors (0: all)")
    ap.add_argument("--pack", default=None)
    ap.add_argument("--out", type=Path, default=Path("gallery_accuracy.png"))
    args = ap.parse_args()
    settings = Settings()
    engine = load_engine(args.pack or settings.vision.pack, settings)
    root = data_dir()
    lfw = load_lfw(root)
    by_person: dict[str, list] = defaultdict(list)
    for r in lfw:
        by_person[r.subject].append(r)
    mated = [v[:2] for v in by_person.values() if len(v) >= 2][: args.people or None]
    singles = [v[0] for v in by_person.values() if len(v) == 1][: args.singles or None]
    utk = load_utkface(root)[: args.utk]
    records = [p for pair in mated for p in pair] + singles + utk
    print(f"embedding {len(records)} real images with {engine.pack.name} (cached for reruns)...")
    es = embed_records(engine, records, settings)
    n = len(mated)
    gal, prb = es.embeddings[0 : 2 * n : 2], es.embeddings[1 : 2 * n : 2]
    ok = es.detected[0 : 2 * n : 2] & es.detected[1 : 2 * n : 2]
    gal, prb = gal[ok], prb[ok]
    sexes = np.array([pair[0].sex for pair, keep in zip(mated, ok, strict=True) if keep])
    real = es.embeddings[2 * n :][es.detected[2 * n :]]
    print(
        f"{len(prb)} mated searches; real gallery {len(gal) + len(real):,} ({len(gal)} mates, {len(real)} real distractors)"
    )
    mean, cov = real.mean(axis=0), np.cov(real, rowvar=False)
    rng = np.random.default_rng(2019)
    sizes = sorted({len(gal) + len(real), *[s for s in args.sizes if s > len(gal) + len(real)]})
    synthetic: list[np.ndarray] = []
    have = len(gal) + len(real)
    rows = []
    print(f"\n{'gallery':>10} {'group':>8} {'n':>5} " + " ".join(f"{'rank-' + str(k):>22}" for k in RANKS))
    for size in sizes:
        while have < size:
            m = min(250_000, size - have)
            x = rng.multivariate_normal(mean, cov, size=m).astype(np.float32)
            synthetic.append(x / np.linalg.norm(x, axis=1, keepdims=True))
            have += m
        r = ranks_of_mates(prb, gal, [real, *synthetic])
        for group in ["all", *sorted(set(sexes))]:
            sel = np.ones(len(r), bool) if group == "all" else sexes == group
            cells = []
            for k in RANKS:
                hits = int((r[sel] <= k).sum())
                lo, hi = clopper_pearson(hits, int(sel.sum()))
                cells.append(f"{hits / sel.sum():.3f} [{lo:.3f},{hi:.3f}]")
                rows.append((size, group, k, hits / sel.sum(), lo, hi))
            print(f"{size:>10,} {group:>8} {int(sel.sum()):>5} " + " ".join(f"{c:>22}" for c in cells))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for k in RANKS:
        pts = [(s, v, lo, hi) for s, g, kk, v, lo, hi in rows if g == "all" and kk == k]
        xs = [p[0] for p in pts]
        ax.plot(xs, [p[1] for p in pts], marker="o", label=f"rank-{k}")
        ax.fill_between(xs, [p[2] for p in pts], [p[3] for p in pts], alpha=0.2)
    ax.set_xscale("log")
    ax.set_xlabel("gallery size (templates)")
    ax.set_ylabel("hit rate (mated LFW searches)")
    ax.set_title(f"{engine.pack.name}: identification as the gallery grows")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"\nplot: {args.out}")


if __name__ == "__main__":
    main()
