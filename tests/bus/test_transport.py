"""The bus end to end in one process: encryption on the wire, idempotent storage, and the lease (rule 1)."""

from __future__ import annotations

import time
from pathlib import Path

import redis

from openlfr.governance.bus import BusNames, fetch_worker_kit
from openlfr.governance.deployment_closing import close_deployment
from openlfr.governance.live_contract import Counts, NewAlert
from openlfr.live.bus_gateway import BusGateway
from openlfr.live.gateway import ScanRefused
from openlfr.store import utcnow
from openlfr.store.models import Alert, CameraCounter
from openlfr.vision import FaceEngine
from tests.bus.conftest import bus_settings, stored_deployment, template_row
from tests.bus.helpers import central_thread, sent_alert_ids, stored_alert_ids, wait_until_stored
from tests.conftest import require_data
from tests.live.conftest import MIRANDA


def _alert(kit, i: int = 0) -> NewAlert:  # type: ignore[no-untyped-def]
    crop = require_data(*MIRANDA).read_bytes()
    return NewAlert(
        camera_id="stage",
        track_id=f"stage:{i}",
        subject_id="lin_manuel_miranda",
        template_index=template_row(kit.index, "lin_manuel_miranda"),
        score=0.8,
        threshold=kit.deployment.threshold,
        observed_at=utcnow(),
        probe_crop=crop,
        frame_crop=crop[::-1],
    )


def _wait(cond, timeout: float = 10) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_alert_crosses_the_bus_encrypted_and_a_resent_entry_is_stored_once(
    tmp_path: Path, redis_url: str, engine: FaceEngine, database_url: str | None
) -> None:
    settings, store, dep_id = stored_deployment(tmp_path, bus_settings(redis_url), engine, database_url)
    kit = fetch_worker_kit(store, dep_id, "w1")  # type: ignore[arg-type]
    gw = BusGateway(kit, settings.bus, worker="w1")
    with central_thread(store, settings) as central:
        gw.start()
        assert gw.wait_for_lease(10)
        alert = _alert(kit)
        alert_id = gw.raise_alert(alert)
        gw.record_counters("stage", Counts(faces_seen=7, tracks=2, frames_processed=100))
        sent, stored = wait_until_stored(store, settings, dep_id)
        assert sent == {alert_id} and stored == [alert_id], central.stats
        # On the wire: no crop in clear.
        r = redis.Redis.from_url(redis_url)
        names = BusNames.of(settings.bus)
        [(_, fields)] = r.xrange(names.alerts)
        assert alert.probe_crop[:64] not in fields[b"probe"] and alert.probe_crop[:64] not in b"".join(
            fields.values()
        )
        # The same entry delivered again (a lost XADD reply, a reclaimed entry): one alert, one duplicate.
        r.xadd(names.alerts, fields)
        assert _wait(lambda: central.stats.alerts_duplicate == 1)
        assert stored_alert_ids(store, dep_id) == [alert_id]
        assert sent_alert_ids(settings) == [alert_id, alert_id]
        # The central store holds the crop (decrypted from the bus, re-encrypted under the alerts key).
        with store.session() as s:  # type: ignore[attr-defined]
            row = s.get(Alert, s.query(Alert.seq).filter(Alert.id == alert_id).scalar())
            key = store.keys.get(s, dep_id, "alerts")  # type: ignore[attr-defined]
            assert store.blobs.get(dep_id, row.probe_blob, key) == alert.probe_crop  # type: ignore[attr-defined]
        assert _wait(lambda: central.stats.counts_recorded == 1)
        with store.session() as s:  # type: ignore[attr-defined]
            c = s.query(CameraCounter).filter(CameraCounter.deployment_id == dep_id).one()
            assert (c.faces_seen, c.tracks, c.frames_processed) == (7, 2, 100)
        # A counter message delivered again is not counted again.
        [(_, counts_fields)] = r.xrange(names.events)
        r.xadd(names.events, counts_fields)
        assert _wait(
            lambda: central.pending().get("events_lag") == 0 and central.pending().get("events_pending") == 0
        )
        with store.session() as s:  # type: ignore[attr-defined]
            c = s.query(CameraCounter).filter(CameraCounter.deployment_id == dep_id).one()
            assert (c.faces_seen, c.tracks, c.frames_processed) == (7, 2, 100)
        # A tampered entry is dropped, not stored.
        bad = dict(fields)
        bad[b"id"] = b"f" * 32
        r.xadd(names.alerts, bad)
        assert _wait(lambda: central.stats.messages_malformed == 1)
        assert stored_alert_ids(store, dep_id) == [alert_id]
    gw.close()


def test_worker_stops_within_a_heartbeat_of_the_close_and_when_the_central_service_is_gone(
    tmp_path: Path, redis_url: str, engine: FaceEngine
) -> None:
    bus = bus_settings(redis_url, heartbeat_s=0.4, lease_s=2.0)
    settings, store, dep_id = stored_deployment(tmp_path, bus, engine)
    kit = fetch_worker_kit(store, dep_id, "w1")  # type: ignore[arg-type]
    gw = BusGateway(kit, bus, worker="w1")
    gw.start()
    try:
        gw.check_can_scan("stage")
        raise AssertionError("scanned before any lease was granted")
    except ScanRefused:
        pass
    with central_thread(store, settings):
        assert gw.wait_for_lease(10)
        gw.check_can_scan("stage")
    # Central service gone: the lease is not renewed and runs out after at most lease_s.
    t0 = time.monotonic()
    assert _wait(lambda: gw.lease_left_s() == 0, timeout=bus.lease_s + 1)
    assert time.monotonic() - t0 <= bus.lease_s + 0.5
    with central_thread(store, settings):
        assert gw.wait_for_lease(10)
        close_deployment(store, "supervisor", dep_id, reason="test")  # type: ignore[arg-type]
        t0 = time.monotonic()
        assert _wait(lambda: gw.lease_left_s() == 0, timeout=5)
        # The central tick (a quarter beat) plus the worker's next lease read (half a beat); the pipeline's
        # own check adds a quarter beat: within one heartbeat (plus scheduling slack on a loaded machine).
        assert time.monotonic() - t0 <= 0.75 * bus.heartbeat_s + 0.2
    try:
        gw.raise_alert(_alert(kit))
        raise AssertionError("an alert was accepted after the deployment closed")
    except ScanRefused:
        pass
    gw.close()
    try:
        gw.watchlist()
        raise AssertionError("the watchlist outlived the worker's close")
    except ScanRefused:
        pass
