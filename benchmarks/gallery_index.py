"""Gallery search at scale: exact matrix product against the approximate indexes, side by side.

Prints, per gallery size and index: build time, memory (resident growth while building), disk size,
p95 latency of one top-20 search, and recall@20 against exact search.

Synthetic templates (no real faces are needed for speed): clustered Gaussian unit vectors in 128-d,
built to look like face embeddings rather than uniform noise. ``--clusters`` centres (unit vectors) stand
for groups of look-alike faces; each identity is ``normalise(0.55 * centre + e)`` and each probe a fresh
view of one gallery identity, ``normalise(identity + 0.9 * e')``, where ``e`` is Gaussian with a decaying
(1/i) spectrum in a random basis, as CNN embeddings have (isotropic noise would make every direction
equally informative, which real embeddings are not, and makes the tail of a top-20 list pure chance).
Mated probes score about 0.76 with their identity, ranks 2-20 about 0.57-0.50. Vectors are generated chunk
by chunk from a seed, so no run holds a copy beyond what the index under test holds: the exact reference is
filled in place (5 GB at 10M, freed before the IVF is built), and above ``--stream-exact-above`` it streams
chunks instead (then only its amortised time is known).

    python benchmarks/gallery_index.py --sizes 1000000 10000000 [--codes pq4 sq8] [--probe-share 0.2 0.3]
        [--index-cache var/gallery-bench] [--hnsw]

Timings taken on a shared, loaded machine are marked so by the caller.
"""

from __future__ import annotations

import argparse
import functools
import gc
import os
import resource
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

import _common  # noqa: F401  (puts src/ on the path)
from openlfr.matching.gallery_index import ExactGalleryIndex, IvfGalleryIndex, suggested_lists

DIM = 128
CHUNK = 250_000


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


class Synthetic:
    def __init__(self, n: int, clusters: int, seed: int = 7) -> None:
        self.n, self.seed = n, seed
        rng = np.random.default_rng(seed)
        self.centres = _unit(rng.normal(size=(clusters, DIM)))
        spectrum = 1.0 / np.arange(1, DIM + 1)
        self.scale = np.sqrt(spectrum / spectrum.sum())
        self.basis = np.linalg.qr(rng.normal(size=(DIM, DIM)))[0].T.astype(np.float32)

    def noise(self, rng: np.random.Generator, m: int) -> np.ndarray:
        return (rng.normal(size=(m, DIM)) * self.scale).astype(np.float32) @ self.basis

    def chunk(self, start: int) -> np.ndarray:
        rng = np.random.default_rng((self.seed, start))
        m = min(CHUNK, self.n - start)
        c = self.centres[rng.integers(0, len(self.centres), m)]
        return _unit(0.55 * c + self.noise(rng, m))

    def chunks(self) -> Iterator[tuple[int, np.ndarray]]:
        for start in range(0, self.n, CHUNK):
            yield start, self.chunk(start)

    def probes(self, count: int) -> np.ndarray:
        rng = np.random.default_rng((self.seed, 99))
        rows = rng.integers(0, self.n, count)
        # One generation per chunk that holds a probed identity (at 10M, regenerating a 250k chunk for
        # every probe would take minutes); the noise is drawn in probe order, as before.
        idents = {}
        for start in sorted({int(r // CHUNK) * CHUNK for r in rows}):
            block = self.chunk(start)
            for r in rows:
                if start <= r < start + len(block):
                    idents[int(r)] = block[r - start]
        out = [idents[int(r)] + 0.9 * self.noise(rng, 1)[0] for r in rows]
        return _unit(np.asarray(out))


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024


def p95_ms(fn, probes: np.ndarray) -> tuple[float, float]:
    fn(probes[:2])  # warm up
    times = []
    for p in probes:
        t0 = time.perf_counter()
        fn(p[None, :])
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return times[int(0.95 * (len(times) - 1))], statistics.median(times)


def exact_truth(data: Synthetic, probes: np.ndarray, k: int, stream: bool) -> tuple[np.ndarray, dict]:
    """Exact top-k ids for every probe, and the exact index's own figures.

    Unless ``stream``, the float32 matrix is filled in place (no concatenation copies: at 10M it is 5 GB)
    and searched one probe at a time for the latency, in batches of probes for the truth. With ``stream``
    nothing is held: chunks are scored as they are generated, and only the amortised time is known."""
    if not stream:
        before = rss_mb()
        t0 = time.perf_counter()
        vectors = np.empty((data.n, DIM), np.float32)
        for start, v in data.chunks():
            vectors[start : start + len(v)] = v
        ex = ExactGalleryIndex(DIM)
        # The chunks are already unit vectors: set the arrays directly rather than through add(), whose
        # normalising and concatenating copies would triple the peak at 10M.
        ex._ids, ex._vectors = np.arange(data.n, dtype=np.int64), vectors
        build = time.perf_counter() - t0
        mem = rss_mb() - before
        p95, med = p95_ms(lambda q: ex.search_arrays(q, k), probes[: min(len(probes), 60)])
        ids = np.concatenate([ex.search_arrays(probes[i : i + 16], k)[1] for i in range(0, len(probes), 16)])
        del ex, vectors
        gc.collect()
        return ids, {
            "build_s": build,
            "mem_mb": mem,
            "disk_mb": data.n * DIM * 4 / 2**20,
            "p95": p95,
            "med": med,
        }
    best_s = np.full((len(probes), k), -np.inf, np.float32)
    best_i = np.full((len(probes), k), -1, np.int64)
    t0 = time.perf_counter()
    for start, v in data.chunks():
        s = probes @ v.T
        top = np.argpartition(-s, k - 1, axis=1)[:, :k]
        cs = np.concatenate([best_s, np.take_along_axis(s, top, axis=1)], axis=1)
        ci = np.concatenate([best_i, top + start], axis=1)
        o = np.argsort(-cs, axis=1)[:, :k]
        best_s, best_i = np.take_along_axis(cs, o, axis=1), np.take_along_axis(ci, o, axis=1)
    per_probe = (time.perf_counter() - t0) / len(probes) * 1000
    return best_i, {
        "build_s": 0.0,
        "mem_mb": float("nan"),
        "disk_mb": data.n * DIM * 4 / 2**20,
        "p95": float("nan"),
        "med": per_probe,
    }


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f[f >= 0]) & set(t)) / len(t) for f, t in zip(found, truth, strict=True)]))


def build_ivf(
    data: Synthetic, codes: str, refine: int, cache: Path | None
) -> tuple[IvfGalleryIndex, float, float]:
    """The IVF index over ``data`` (lists sized for its count, as `gallery reindex` sizes them), its build
    seconds and resident growth. With ``cache``, a build saved there earlier is loaded instead (then the
    build figures are the saved ones), so search times can be taken later on a quiet machine."""
    # The re-rank factor is a search-time choice (the fp16 copies are kept whenever it is above 0).
    file = cache / f"ivf-{data.n}-{codes}-{'r' if refine else 'plain'}-s{data.seed}.npz" if cache else None
    if file is not None and file.is_file():
        z = np.load(file)
        idx = IvfGalleryIndex.from_bytes(z["index"].tobytes())
        print(f"  IVF loaded from {file} (built earlier in {float(z['build_s']):.0f} s)", flush=True)
        return idx, float(z["build_s"]), float(z["mem_mb"])
    before = rss_mb()
    t0 = time.perf_counter()
    nlist = suggested_lists(data.n)
    idx = IvfGalleryIndex(DIM, train_after=10**12, refine_factor=refine, codes=codes, nlist=nlist)  # type: ignore[arg-type]
    idx.train(data.chunk(0)[: nlist * 40])
    for start, v in data.chunks():
        idx.add(np.arange(start, start + len(v)), v)
    build = time.perf_counter() - t0
    mem = rss_mb() - before
    print(f"  IVF{nlist} {codes} built in {build:.0f} s", flush=True)
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        np.savez(file, index=np.frombuffer(idx.to_bytes(), np.uint8), build_s=build, mem_mb=mem)
    return idx, build, mem


def bench_ivf(
    data: Synthetic,
    probes: np.ndarray,
    truth: np.ndarray,
    k: int,
    shares: list[float],
    tmp: Path,
    refines: list[int],
    codes: str,
    cache: Path | None,
) -> list:
    rows = []
    idx, build, mem = build_ivf(data, codes, max(refines), cache)
    blob = idx.to_bytes()  # what the gallery store encrypts and writes as index.bin
    disk = len(blob) / 2**20
    del blob
    for refine in refines:
        for share in shares:
            idx.probe_share, idx.refine_factor = share, refine
            p95, med = p95_ms(functools.partial(idx.search_arrays, k=k), probes)
            _, ids = idx.search_arrays(probes, k)
            rr = f" + fp16 re-rank x{refine}" if refine else ""
            name = f"IVF{idx._ivf.nlist}-{codes}{rr}, share {share:g} (nprobe {idx.nprobe})"
            rows.append((name, build, mem, disk, p95, med, recall(ids, truth)))
            print(f"  {name}: p95 {p95:.1f} ms, median {med:.1f} ms, recall {rows[-1][-1]:.4f}", flush=True)
    # Removal is immediate: remove 1,000 ids and time it.
    t0 = time.perf_counter()
    idx.remove(range(0, 1000))
    rm_ms = (time.perf_counter() - t0) * 1000
    print(f"  IVF removal of 1,000 templates: {rm_ms:.1f} ms")
    if codes == "sq8":  # FAISS memory-maps int8 lists only
        path = tmp / "ivf.faiss"
        idx.save_file(path)
        del idx
        gc.collect()
        mm = IvfGalleryIndex.open_mmap(path, probe_share=shares[-1])
        p95, med = p95_ms(functools.partial(mm.search_arrays, k=k), probes)
        _, ids = mm.search_arrays(probes, k)
        mm_disk = path.stat().st_size / 2**20  # the int8 IVF file alone: no re-ranking copies
        name = f"  IVF file memory-mapped, no re-rank, share {shares[-1]:g}"
        rows.append((name, 0.0, float("nan"), mm_disk, p95, med, recall(ids, truth)))
    return rows


def bench_hnsw(data: Synthetic, probes: np.ndarray, truth: np.ndarray, k: int, tmp: Path) -> list:
    from usearch.index import Index

    before = rss_mb()
    t0 = time.perf_counter()
    idx = Index(ndim=DIM, metric="ip", dtype="i8", connectivity=16, expansion_add=64, expansion_search=64)
    for start, v in data.chunks():
        idx.add(np.arange(start, start + len(v)), v, threads=2)
    build = time.perf_counter() - t0
    mem = rss_mb() - before
    path = tmp / "hnsw.usearch"
    idx.save(str(path))
    disk = path.stat().st_size / 2**20

    def one(q: np.ndarray):
        return idx.search(q, k)

    p95, med = p95_ms(one, probes)
    m = idx.search(probes, k)
    return [
        (
            "usearch HNSW i8 M=16 ef=64",
            build,
            mem,
            disk,
            p95,
            med,
            recall(np.asarray(m.keys, np.int64), truth),
        )
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000])
    ap.add_argument("--probes", type=int, default=300)
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--clusters", type=int, default=2000)
    ap.add_argument(
        "--probe-share", type=float, nargs="+", default=[0.2, 0.3], help="shares of the IVF lists visited"
    )
    ap.add_argument("--codes", nargs="+", default=["pq4"], choices=["pq4", "sq8"], help="IVF list codes")
    ap.add_argument(
        "--refine", type=int, nargs="+", default=[200], help="re-rank refine x k shortlist with fp16 (0: off)"
    )
    ap.add_argument(
        "--index-cache",
        type=Path,
        help="save each built index (and the exact truth) here, and reuse them on the next run: build on a "
        "busy machine, time the searches on a quiet one",
    )
    ap.add_argument("--hnsw", action="store_true", help="also build a usearch HNSW (minutes at 1M)")
    ap.add_argument(
        "--stream-exact-above",
        type=int,
        default=10_000_000,
        help="above this size the exact reference streams chunks (no float32 copy in memory: 5 GB at 10M)",
    )
    args = ap.parse_args()
    print(
        "synthetic clustered Gaussian unit vectors (1/i spectrum), 128-d; probes: noisy views of gallery identities"
    )
    for n in args.sizes:
        data = Synthetic(n, args.clusters)
        probes = data.probes(args.probes)
        truth_file = args.index_cache / f"truth-{n}-{args.probes}-{args.k}.npz" if args.index_cache else None
        if truth_file is not None and truth_file.is_file():  # the exact row's figures are the saved run's
            z = np.load(truth_file)
            truth, ex = z["ids"], {k: float(z[k]) for k in ("build_s", "mem_mb", "disk_mb", "p95", "med")}
        else:
            truth, ex = exact_truth(data, probes, args.k, stream=n > args.stream_exact_above)
            if truth_file is not None:
                truth_file.parent.mkdir(parents=True, exist_ok=True)
                np.savez(truth_file, ids=truth, **ex)
        print(f"  exact reference done ({n:,})", flush=True)
        rows = [
            (
                "exact (float32 matrix product)",
                ex["build_s"],
                ex["mem_mb"],
                ex["disk_mb"],
                ex["p95"],
                ex["med"],
                1.0,
            )
        ]
        with tempfile.TemporaryDirectory() as tmp:
            for codes in args.codes:
                rows += bench_ivf(
                    data,
                    probes,
                    truth,
                    args.k,
                    args.probe_share,
                    Path(tmp),
                    args.refine,
                    codes,
                    args.index_cache,
                )
            if args.hnsw:
                rows += bench_hnsw(data, probes, truth, args.k, Path(tmp))
        print(f"\ngallery of {n:,} templates, top-{args.k}, {len(probes)} single-probe searches")
        print(
            f"{'index':64} {'build s':>8} {'mem MB':>8} {'disk MB':>8} {'p95 ms':>8} {'med ms':>8} {'recall@' + str(args.k):>9}"
        )
        for name, build, mem, disk, p95, med, rec in rows:
            print(f"{name:64} {build:8.1f} {mem:8.0f} {disk:8.0f} {p95:8.2f} {med:8.2f} {rec:9.4f}")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(
            f"peak resident memory of the run {peak:,.0f} MB; load average at the end {load} (above 2: other work shared the 2 cores)"
        )


if __name__ == "__main__":
    main()
