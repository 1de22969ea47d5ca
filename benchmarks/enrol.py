"""Time and memory to enrol a watchlist from real faces (LFW people, then UTKFace faces as further people).

Runs the real import path (``openlfr.governance.watchlists.import_watchlist``: decode, detect, quality
bar, embed, duplicate checks, encryption, one transaction) on a fresh store, then loads the watchlist the
way the live pipeline does (decrypt every template, build the index). Prints a table.

    .venv/bin/python benchmarks/enrol.py                      # 300 subjects, a couple of minutes
    .venv/bin/python benchmarks/enrol.py --subjects 10000     # the issue's figure (about 15-20 min here)
    .venv/bin/python benchmarks/enrol.py --database-url postgresql+psycopg://...   # on PostgreSQL

Refused images are counted by reason: a real watchlist of 10,000 will have some too, and the duplicate
("looks like another subject") check is the one that grows with the watchlist's size.
"""

from __future__ import annotations

import argparse
import csv
import random
import resource
import secrets
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import data_dir
from openlfr.safetext import write_csv


def pick_subjects(data: Path, n: int, seed: int) -> list[tuple[str, str]]:
    """(subject id, image path relative to the data folder): one LFW image per person, then UTKFace."""
    rng = random.Random(seed)
    people: dict[str, list[str]] = {}
    with open(data / "lfw" / "manifest.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            people.setdefault(row["identity"], []).append("lfw/" + row["path"])
    chosen = [(f"lfw-{p}", rng.choice(sorted(paths))) for p, paths in sorted(people.items())]
    rng.shuffle(chosen)
    if len(chosen) < n:
        with open(data / "utkface" / "manifest.csv", newline="") as fh:
            crowd = ["utkface/" + row["path"] for row in csv.DictReader(fh)]
        rng.shuffle(crowd)
        chosen += [(f"utk-{Path(p).name.split('.')[0]}", p) for p in crowd]
    return chosen[:n]


def reason_kind(reason: str) -> str:
    for key, label in (
        ("looks like subject", "same person as another subject"),
        ("same image", "same image"),
        ("no face", "no face found"),
        ("faces of similar size", "several faces"),
        ("quality", "below the quality bar"),
    ):
        if key in reason:
            return label
    return "other"


def dir_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subjects", type=int, default=300, help="Watchlist size to enrol (default 300).")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--pack", default="opencv-zoo")
    ap.add_argument("--database-url", default=None, help="Default: SQLite in a temporary data directory.")
    ap.add_argument(
        "--duplicate-similarity",
        type=float,
        default=None,
        help="Override governance.duplicate_similarity for the pack.",
    )
    ap.add_argument(
        "--lookalike-reason",
        default=None,
        help="Enrol lookalikes anyway (as an approver may, audited) instead of refusing them.",
    )
    args = ap.parse_args()

    from openlfr.config import Settings
    from openlfr.governance.deployment_planning import create_deployment
    from openlfr.governance.live_gateway import DeploymentGateway
    from openlfr.governance.watchlists import CSV_COLUMNS, import_watchlist
    from openlfr.store import open_store
    from openlfr.vision import load_engine

    data = data_dir()
    subjects = pick_subjects(data, args.subjects, args.seed)
    with tempfile.TemporaryDirectory(prefix="openlfr-enrol-") as tmp:
        overrides: dict[str, object] = {"data_dir": Path(tmp) / "openlfr"}
        if args.database_url:
            overrides["store"] = {"database_url": args.database_url}
        if args.duplicate_similarity is not None:
            overrides["governance"] = {"duplicate_similarity": {args.pack: args.duplicate_similarity}}
        settings = Settings(**overrides)  # type: ignore[arg-type]
        store = open_store(settings)
        now = datetime.now(UTC)
        dep = create_deployment(
            store,
            "benchmark",
            purpose="benchmark",
            location="lab",
            starts_at=now,
            ends_at=now + timedelta(hours=8),
            authorising_officer="benchmark",
            cameras=["c"],
            pack=args.pack,
            threshold=0.99,
            purpose_category="wanted_offenders",
            legal_basis="benchmark",
            authorising_role="Inspector",
            phase="trial",
            dpia_ref="benchmark",
            eia_ref="benchmark",
            policy_ref="benchmark",
            intelligence_case="benchmark",
            data_controller="benchmark",
            public_contact="benchmark",
            short_notice_reason="benchmark: opened at once",
        )
        csv_path = Path(tmp) / "watchlist.csv"
        with open(csv_path, "w", newline="") as fh:
            write_csv(
                fh,
                (*CSV_COLUMNS, "offence_seriousness"),
                (
                    [
                        sid,
                        "wanted by a court",
                        "benchmark",
                        "sample_image",
                        "benchmark",
                        "benchmark",
                        (now + timedelta(days=30)).isoformat(),
                        rel,
                        "summary",
                    ]
                    for sid, rel in subjects
                ),
            )
        engine = load_engine(args.pack, settings)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        marks: list[float] = []
        t0 = time.perf_counter()

        def progress(done: int, total: int) -> None:
            if done == total:
                marks.append(time.perf_counter())
            if sys.stderr.isatty() and done % 100 == 0:
                print(f"\r  {done}/{total} images", end="", file=sys.stderr, flush=True)

        report = import_watchlist(
            store,
            "benchmark",
            dep.id,
            csv_path,
            data,
            engine=engine,
            allow_partial=True,
            progress=progress,
            lookalike_reason=args.lookalike_reason,
        )
        t1 = time.perf_counter()
        if sys.stderr.isatty():
            print(file=sys.stderr)
        from openlfr.governance.deployment_opening import open_deployment, record_signage

        record_signage(store, "benchmark", dep.id)
        # Opening authorises a deployment: a user of the user table with a rank (issue 25).
        from openlfr.api.users import create_user

        create_user(
            store,
            "benchmark-supt",
            secrets.token_urlsafe(24),
            "authorising_officer",
            actor="benchmark",
            rank="superintendent",
        )
        open_deployment(store, "benchmark-supt", dep.id, override_reason="benchmark")
        gateway = DeploymentGateway(store, dep.id, settings)
        t2 = time.perf_counter()
        index, _ = gateway.watchlist()
        t3 = time.perf_counter()
        rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        db_mb = (
            dir_mb(settings.data_dir) - dir_mb(settings.blob_dir) if not args.database_url else float("nan")
        )
        blob_mb = dir_mb(settings.blob_dir)
        store.close()

    n = len(subjects)
    analyse_s = (marks[0] - t0) if marks else float("nan")
    write_s = t1 - (marks[0] if marks else t0)
    per_ms = 1000 * (t1 - t0) / n
    kinds = Counter(reason_kind(r.reason) for r in report.refused)
    rows = [
        ("pack", args.pack),
        ("database", "PostgreSQL" if args.database_url else "SQLite (WAL)"),
        ("subjects offered (LFW people first, then UTKFace)", f"{n:,}"),
        ("subjects enrolled", f"{report.subjects_enrolled:,}"),
        *((f"  refused: {k}", f"{v:,}") for k, v in kinds.most_common()),
        ("import wall time", f"{t1 - t0:,.1f} s"),
        ("  analysing + duplicate checks", f"{analyse_s:,.1f} s"),
        ("  encrypt + write (one transaction)", f"{write_s:,.1f} s"),
        ("per subject", f"{per_ms:,.1f} ms"),
        (
            "load watchlist for live (decrypt + index)",
            f"{1000 * (t3 - t2):,.0f} ms for {index.subject_count:,}",
        ),
        ("peak RSS (process, incl. models)", f"{rss_peak:,.0f} MB (before import {rss_before:,.0f} MB)"),
        ("database size", f"{db_mb:,.1f} MB" if db_mb == db_mb else "n/a"),
        ("encrypted image blobs", f"{blob_mb:,.1f} MB"),
    ]
    if n < 10_000:
        rows.append(
            (
                "extrapolated to 10,000 subjects (linear)",
                f"{per_ms * 10_000 / 60_000:,.1f} min "
                "(duplicate check grows with size; measured share above)",
            )
        )
    width = max(len(k) for k, _ in rows)
    print(f"\nEnrolment benchmark ({datetime.now(UTC):%Y-%m-%d}, seed {args.seed})")
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")


if __name__ == "__main__":
    main()
