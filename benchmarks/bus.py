"""What the stream bus costs: how many alerts (and counter messages) per second one central consumer stores,
and the CPU one camera worker uses.

1. Synthetic alert traffic: ``--alerts`` real alert entries (the Miranda photo as both crops, encrypted
   with the deployment's alerts key, as a worker publishes them) are put on the stream first, then one
   :class:`CentralConsumer` drains them into the store (real decryption, re-encryption into the blob store,
   audit chain). Printed: alerts stored per second, then counter messages per second.
2. ``--worker-seconds S``: ``openlfr worker`` runs one camera on a paced clip (default the Hamilton clip;
   ``--height 1080`` upscales it to 1080p at ``--fps``) for S seconds; printed: its CPU time / wall time.

A private ``redis-server`` is started in a temporary folder (or ``--redis-url``); the store is SQLite in a
temporary folder (or ``--database-url postgresql+psycopg://...``, whose tables must be empty of this run).

    .venv/bin/python benchmarks/bus.py --alerts 500 --counts 2000 --worker-seconds 20
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import ROOT, data_dir
from benchmarks.bus_stack import start_redis, upscaled_clip

from openlfr.config import BusSettings, Settings, StoreSettings
from openlfr.governance.bus import BusNames, encode_alert, encode_counts, fetch_worker_kit
from openlfr.governance.bus_consumer import CentralConsumer
from openlfr.governance.live_contract import Counts, NewAlert
from openlfr.store import utcnow

CAMERAS = [f"cam-{i}" for i in range(50)]
"""Counter messages are spread over 50 cameras: a batch then needs one transaction per camera, as in a
control room with many vans, rather than one for all."""


def _drain(consumer: CentralConsumer, done: callable, limit_s: float = 600) -> float:  # type: ignore[valid-type]
    t0 = time.perf_counter()
    while not done():  # type: ignore[operator]
        consumer.poll_once(block_ms=50)
        if time.perf_counter() - t0 > limit_s:
            raise SystemExit("the consumer did not drain the stream in time")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--alerts", type=int, default=500)
    ap.add_argument("--counts", type=int, default=2000)
    ap.add_argument(
        "--alerts-per-camera-minute", type=float, default=1.0, help="Assumed alert rate of a busy camera."
    )
    ap.add_argument("--worker-seconds", type=float, default=0.0)
    ap.add_argument("--clip", type=Path, default=None)
    ap.add_argument("--height", type=int, default=None, help="Upscale the clip to this height (e.g. 1080).")
    ap.add_argument("--fps", type=float, default=25.0, help="Frame rate of the upscaled clip.")
    ap.add_argument("--redis-url", default=None)
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()

    from tests.live.conftest import ABSENT, MIRANDA, open_stored_deployment

    from openlfr.vision import load_engine

    tmp = Path(tempfile.mkdtemp(prefix="openlfr-bus-bench-"))
    server = None
    try:
        url = args.redis_url
        if url is None:
            server, url = start_redis(tmp / "redis")
        bus = BusSettings(url=url, prefix=f"bench{uuid.uuid4().hex[:8]}", heartbeat_s=1.0, lease_s=15.0)
        settings = Settings(
            data_dir=tmp / "openlfr", bus=bus, store=StoreSettings(database_url=args.database_url)
        )
        engine = load_engine("opencv-zoo", settings)
        store, dep_id = open_stored_deployment(
            settings, {"lin_manuel_miranda": MIRANDA, **ABSENT}, ["stage", *CAMERAS], engine
        )
        kit = fetch_worker_kit(store, dep_id, "bench")  # type: ignore[arg-type]
        import cv2

        photo = cv2.imread(str(data_dir().joinpath(*MIRANDA)))
        # Crops the size a pipeline sends: a face with its margin, and a scene four face widths wide.
        crop = cv2.imencode(".jpg", cv2.resize(photo, (160, 160)), [cv2.IMWRITE_JPEG_QUALITY, 90])[
            1
        ].tobytes()
        scene = cv2.imencode(".jpg", cv2.resize(photo, (640, 640)), [cv2.IMWRITE_JPEG_QUALITY, 90])[
            1
        ].tobytes()
        j = kit.index.subjects.index("lin_manuel_miranda")
        row = int(kit.index._original_row[kit.index._starts[j]])  # the template's row, as a search returns it
        consumer = CentralConsumer(store, settings, name="bench")  # type: ignore[arg-type]
        consumer.ensure_groups()
        consumer.renew_leases()
        names = BusNames.of(bus)
        r = consumer.redis
        pipe = r.pipeline(transaction=False)
        for i in range(args.alerts):
            alert = NewAlert(
                "stage",
                f"stage:{i}",
                "lin_manuel_miranda",
                row,
                0.9,
                kit.deployment.threshold,
                utcnow(),
                crop,
                scene,
            )
            pipe.xadd(names.alerts, encode_alert(kit.alerts_key, dep_id, uuid.uuid4().hex, alert, "bench"))  # type: ignore[arg-type]
        pipe.execute()
        secs = alert_secs = _drain(consumer, lambda: consumer.stats.alerts_stored >= args.alerts)
        print(
            f"central consumer: {args.alerts} alerts stored in {secs:.2f} s = {args.alerts / secs:.1f} alerts/s "
            f"(crops {len(crop) // 1024} + {len(scene) // 1024} KiB, {store.dialect}; load average {os.getloadavg()[0]:.1f})"
        )  # type: ignore[attr-defined]
        for n in range(args.counts):
            pipe.xadd(
                names.events,
                encode_counts(
                    dep_id,
                    CAMERAS[n % len(CAMERAS)],
                    Counts(faces_seen=3, frames_processed=25),
                    uuid.uuid4().hex,
                    "bench",
                ),
            )
        pipe.execute()
        secs = _drain(consumer, lambda: consumer.stats.counts_recorded >= args.counts)
        print(
            f"central consumer: {args.counts} counter messages in {secs:.2f} s = {args.counts / secs:.1f} /s"
        )
        alert_rate, counts_rate = args.alerts / alert_secs, args.counts / secs
        per_camera = 1 / settings.live.counters_interval_s  # counter messages a camera sends per second
        load = per_camera / counts_rate + args.alerts_per_camera_minute / 60 / alert_rate
        print(
            f"one central consumer keeps up with about {1 / load:.0f} cameras (each sending counters every "
            f"{settings.live.counters_interval_s:g} s and {args.alerts_per_camera_minute:g} alert a minute)"
        )
        if args.worker_seconds > 0:
            clip = upscaled_clip(
                args.clip or data_dir() / "videos" / "face_recognition__short_hamilton_clip.mp4",
                args.height,
                args.fps,
                tmp,
            )
            import threading

            stop = threading.Event()
            t = threading.Thread(target=consumer.run, args=(stop,), daemon=True)
            t.start()
            env = {
                **os.environ,
                "OPENLFR_DATA_DIR": str(settings.data_dir),
                "OPENLFR_BUS__URL": url,
                "OPENLFR_BUS__PREFIX": bus.prefix,
                "PYTHONPATH": str(ROOT / "src"),
            }
            if args.database_url:
                env["OPENLFR_STORE__DATABASE_URL"] = args.database_url
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "from openlfr.cli import app; app()",
                    "worker",
                    "-d",
                    dep_id,
                    "-s",
                    f"stage={clip}",
                    "--max-seconds",
                    str(args.worker_seconds),
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

            def frames() -> list:  # type: ignore[type-arg]
                return [x for x in consumer.workers() if x.frames_processed > 0]

            # Steady state: from the first heartbeat with frames processed (models loaded) to the last.
            while not frames() and proc.poll() is None:
                time.sleep(0.2)
            first = frames()
            last = first
            while proc.poll() is None:
                last = frames() or last
                time.sleep(0.5)
            stop.set()
            t.join(timeout=5)
            if not first:
                raise SystemExit("the worker processed no frame")
            a, b = first[0], last[0]
            cpu, wall = b.cpu_s - a.cpu_s, (b.at_ms - a.at_ms) / 1000
            import cv2

            cap = cv2.VideoCapture(str(clip))
            w, h, fps = int(cap.get(3)), int(cap.get(4)), cap.get(5)
            n, d = b.frames_processed - a.frames_processed, b.frames_dropped - a.frames_dropped
            print(
                f"worker, one camera {w}x{h}@{fps:.0f} paced: {cpu / wall * 100:.0f}% of one core "
                f"({cpu:.1f} s CPU in {wall:.1f} s after the models loaded; {n} frames processed, "
                f"{d} dropped; load average {os.getloadavg()[0]:.1f})"
            )
        store.close()  # type: ignore[attr-defined]
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
