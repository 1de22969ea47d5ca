"""Console delivery under load: N WebSocket console clients on loopback while alerts are raised at R/s
through governance's gateway (real encrypted storage, real audit), printing delivery latency percentiles.

Latency = the time a client receives the alert - the alert's ``raised_at`` (same machine, same clock).
Bounded: ``--seconds`` of alerts, then at most 10 s to drain; loopback (127.0.0.1) only.

    .venv/bin/python benchmarks/console_load.py --clients 50 --rate 10 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import uvicorn
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.api.conftest import (
    MIRANDA,
    PASSWORD,
    add_users,
    enrolled_open_deployment,
    jpeg_of,
    server_settings,
)
from tests.conftest import require_data
from tests.web.conftest import free_port

from openlfr.api.users import login
from openlfr.governance.live_gateway import DeploymentGateway
from openlfr.store import open_store
from openlfr.web.app import create_server_app


async def client(url: str, token: str, expected: int, latencies: list[float], deadline: float) -> int:
    got = 0
    async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        while got < expected and time.time() < deadline:
            try:
                raw = await asyncio.wait_for(ws.recv(), timeout=max(0.1, deadline - time.time()))
            except TimeoutError:
                break
            msg = json.loads(raw)
            if msg["type"] != "alert":
                continue
            raised = datetime.fromisoformat(msg["alert"]["raised_at"]).timestamp()
            latencies.append(time.time() - raised)
            got += 1
    return got


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        settings = server_settings(Path(tmp))
        store = open_store(settings)
        add_users(store)
        dep = enrolled_open_deployment(store)
        gateway = DeploymentGateway(store, dep)
        gateway.watchlist()
        crop = jpeg_of(require_data(*MIRANDA))
        app = create_server_app(settings, store=store, background=[])
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            await asyncio.sleep(0.05)
        token, _ = login(store, "operator", PASSWORD, "127.0.0.1", kind="bearer")
        total = int(args.rate * args.seconds)
        url = f"ws://127.0.0.1:{port}/api/alerts/ws?after=0"
        latencies: list[float] = []
        deadline = time.time() + args.seconds + 10
        tasks = [
            asyncio.create_task(client(url, token, total, latencies, deadline)) for _ in range(args.clients)
        ]
        await asyncio.sleep(1.0)  # let every client connect

        def raise_alerts() -> None:
            start = time.monotonic()
            for i in range(total):
                target = start + i / args.rate
                time.sleep(max(0.0, target - time.monotonic()))
                gateway.raise_alert(
                    camera_id="cam-1",
                    track_id=f"t{i}",
                    subject_id="W-001",
                    template_index=0,
                    score=0.55,
                    threshold=0.4,
                    probe_crop=crop,
                    frame_crop=crop,
                    observed_at=datetime.now(UTC),
                )
                app.state.broker.wake()

        t0 = time.monotonic()
        await asyncio.to_thread(raise_alerts)
        raise_s = time.monotonic() - t0
        received = await asyncio.gather(*tasks)
        server.should_exit = True
        thread.join(10)
        store.close()
    lat = np.array(latencies) * 1000
    print(
        f"clients {args.clients}, alerts {total} raised in {raise_s:.1f} s ({total / raise_s:.1f}/s), "
        f"delivered {sum(received)}/{total * args.clients}"
    )
    print(
        f"delivery latency ms: p50 {np.percentile(lat, 50):.1f}  p95 {np.percentile(lat, 95):.1f}  "
        f"p99 {np.percentile(lat, 99):.1f}  max {lat.max():.1f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rate", type=float, default=10.0, help="alerts per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long alerts are raised")
    asyncio.run(main(parser.parse_args()))
