"""Operations: ``serve`` with a bus runs the central side; worker health and stream lag appear in the
Prometheus text (``/api/bus/metrics``) and on the supervisor page."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from openlfr.api.users import login
from openlfr.governance.bus import fetch_worker_kit
from openlfr.live.bus_gateway import BusGateway
from openlfr.store.auth_models import Role
from openlfr.vision import FaceEngine
from openlfr.web.app import create_server_app
from tests.api.conftest import PASSWORD, add_users
from tests.bus.conftest import bus_settings, stored_deployment
from tests.bus.helpers import wait_until_stored
from tests.bus.test_transport import _alert


def test_serve_runs_the_central_side_and_shows_worker_health(
    tmp_path: Path, redis_url: str, engine: FaceEngine
) -> None:
    settings, store, dep_id = stored_deployment(tmp_path, bus_settings(redis_url), engine)
    settings.server.secure_cookies = False
    settings.server.run_live = settings.server.run_purge = False
    add_users(store)  # type: ignore[arg-type]
    token = login(store, Role.AUDITOR.value, PASSWORD, "127.0.0.1", kind="bearer")[0]  # type: ignore[arg-type]
    headers = {"Authorization": f"Bearer {token}"}
    kit = fetch_worker_kit(store, dep_id, "van-1")  # type: ignore[arg-type]
    gw = BusGateway(kit, settings.bus, worker="van-1")
    app = create_server_app(settings, store=store)  # type: ignore[arg-type]
    with TestClient(app) as client:
        gw.start()
        assert gw.wait_for_lease(15), "serve granted no lease"
        gw.state = "scanning"
        alert_id = gw.raise_alert(_alert(kit))
        _sent, stored = wait_until_stored(store, settings, dep_id)
        assert stored == [alert_id]
        time.sleep(2 * settings.bus.heartbeat_s)
        metrics = client.get("/api/bus/metrics", headers=headers)
        assert metrics.status_code == 200, metrics.text
        text = metrics.text
        assert f'openlfr_worker_heartbeat_age_seconds{{worker="van-1",deployment="{dep_id}"}}' in text
        age = float(
            text.split(f'heartbeat_age_seconds{{worker="van-1",deployment="{dep_id}"}} ')[1].split()[0]
        )
        assert 0 <= age < 2
        assert 'openlfr_bus_pending_entries{stream="alerts"} 0' in text
        assert "openlfr_bus_alerts_stored_total 1" in text
        cookie = login(store, Role.AUDITOR.value, PASSWORD, "127.0.0.1", kind="cookie")[0]  # type: ignore[arg-type]
        client.cookies.set("openlfr_session", cookie)
        page = client.get(f"/deployments/{dep_id}", headers={"accept": "text/html"})
        client.cookies.clear()
        assert page.status_code == 200
        assert 'id="workers"' in page.text and "van-1" in page.text and "scanning" in page.text
        assert client.get("/api/bus/metrics").status_code == 401
    gw.close(flush_timeout_s=1)
