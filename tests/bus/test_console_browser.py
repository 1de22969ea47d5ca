"""Across the split, into a real browser: an alert raised by a real ``openlfr worker`` process on the Hamilton
clip crosses the Redis bus, is stored by the central side that a real server (uvicorn) runs, and appears on
a logged-in operator's console in Debian's Chromium."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import uvicorn

from openlfr.vision import FaceEngine
from openlfr.web.app import create_server_app
from tests.api.conftest import PASSWORD, add_users
from tests.bus.conftest import bus_settings, free_port, stored_deployment
from tests.bus.test_worker_cli import _worker
from tests.web.conftest import log_in, shot


def test_worker_alert_reaches_the_console_in_a_real_browser(  # type: ignore[no-untyped-def]
    tmp_path: Path, redis_url: str, engine: FaceEngine, hamilton: Path, browser
) -> None:
    settings, store, dep_id = stored_deployment(tmp_path, bus_settings(redis_url), engine)
    port = free_port()
    settings.server.secure_cookies = False  # plain HTTP on 127.0.0.1
    settings.server.run_live = settings.server.run_purge = False
    settings.server.public_base_url = f"http://127.0.0.1:{port}"
    add_users(store)  # type: ignore[arg-type]
    app = create_server_app(settings, store=store)  # type: ignore[arg-type]  # the bus's central side runs in it
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    end = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < end, "server did not start"
        time.sleep(0.05)
    context = browser.new_context()
    try:
        page = context.new_page()
        log_in(page, f"http://127.0.0.1:{port}", "operator", PASSWORD)
        page.wait_for_selector("text=Live: new alerts appear here.", timeout=15_000)
        assert page.locator("article.alert-card").count() == 0

        proc = _worker(settings, dep_id, hamilton, "--fast")
        out, _ = proc.communicate(timeout=180)
        assert proc.returncode == 0, out[-2000:]
        raised = re.findall(r"alert ([0-9a-f]{32}) camera stage", out)
        assert len(raised) == 1, out[-2000:]
        card = page.locator("article.alert-card").first
        card.wait_for(timeout=30_000)
        text = card.inner_text()
        assert raised[0] in text and "camera stage" in text, text
        assert page.locator("article.alert-card").count() == 1  # delivered once, shown once
        shot(page, "console-alert-from-bus-worker")
    finally:
        context.close()
        server.should_exit = True
        thread.join(10)
        store.close()  # type: ignore[attr-defined]
