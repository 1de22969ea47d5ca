"""A camera worker's bus side without the cameras: raises ``COUNT`` alerts at ``RATE`` per second through a
real :class:`~openlfr.live.bus_gateway.BusGateway` (real kit from the store, real encryption, real Redis), as
the pipeline would. The fault tests run it as a process so they can kill it.

``python -m tests.bus.publisher DEPLOYMENT COUNT RATE [--clock-offset-s S]``; prints ``raised ID`` per alert
and ``done SENT`` at the end.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta

from openlfr.config import Settings
from openlfr.governance.bus import fetch_worker_kit
from openlfr.governance.live_contract import Counts, NewAlert
from openlfr.live.bus_gateway import BusGateway
from openlfr.live.gateway import ScanRefused
from openlfr.store import open_store
from tests.bus.conftest import template_row
from tests.conftest import require_data
from tests.live.conftest import MIRANDA


def main(argv: list[str]) -> int:
    dep_id, count, rate = argv[0], int(argv[1]), float(argv[2])
    offset = float(argv[argv.index("--clock-offset-s") + 1]) if "--clock-offset-s" in argv else 0.0
    settings = Settings()
    store = open_store(settings)
    kit = fetch_worker_kit(store, dep_id, "publisher")
    store.close()
    crop = require_data(*MIRANDA).read_bytes()
    row = template_row(kit.index, "lin_manuel_miranda")
    gw = BusGateway(kit, settings.bus, worker="publisher", wall_clock=lambda: time.time() + offset)
    gw.start()
    if not gw.wait_for_lease(20):
        print("no lease", flush=True)
        return 3
    for i in range(count):
        try:
            gw.record_counters("stage", Counts(faces_seen=1, frames_processed=1))
            alert_id = gw.raise_alert(
                NewAlert(
                    camera_id="stage",
                    track_id=f"stage:{i}",
                    subject_id="lin_manuel_miranda",
                    template_index=row,
                    score=0.9,
                    threshold=kit.deployment.threshold,
                    # This machine's (possibly wrong) clock, as a camera frame would carry it.
                    observed_at=datetime.now(UTC) + timedelta(seconds=offset),
                    probe_crop=crop,
                    frame_crop=crop,
                )
            )
        except ScanRefused as exc:
            print(f"refused {exc}", flush=True)
            break
        print(f"raised {alert_id}", flush=True)
        time.sleep(1 / rate)
    left = gw.close(flush_timeout_s=30)
    print(f"done {gw.alerts_sent} left {left}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
