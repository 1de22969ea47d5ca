"""End-to-end alert latency across the split, into a real browser: two ``openlfr worker`` processes, each on a
paced 1080p25 source, publish on a private Redis; ``openlfr serve`` (the bus's central side runs in it) stores
the alerts and pushes them to a logged-in officer console in Debian's Chromium, which records when each
alert card appears.

Printed: alert latency p50/p95 from the frame's timestamp (the moment the frame that raised the alert was
captured, on the bus's clock) to the card in the browser, and per hop:

* frame -> published: the pipeline (decode, detect, track, embed, search, crops) and the worker's outbox,
  up to the ``XADD`` (the stream entry's id is Redis's time of the append);
* published -> stored: the central consumer's read, decryption and commit (the alert's ``raised_at``);
* stored -> browser: the console's broker, the WebSocket and the page's rendering.

Every clock is this machine's, so the hops are comparable. The source is the Hamilton clip upscaled to
1080p at 25 fps and looped (``--clip``, ``--height``, ``--fps``); the deployment's watchlist holds Lin-Manuel
Miranda and two absent people. ``live.cooldown_seconds`` is set to ``--cooldown`` (default 5 s instead of
60 s) so that each pass of the clip raises an alert and a few minutes give enough of them for a p95.

    .venv/bin/python benchmarks/bus_latency.py --seconds 120 [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bus_stack import BusStack, free_port, hamilton, looped_clip, upscaled_clip

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

WATCH = """
() => {
  window.__seen = [];
  const list = document.getElementById("alerts");
  new MutationObserver((records) => {
    const t = performance.timeOrigin + performance.now();
    for (const r of records) {
      for (const node of r.addedNodes) {
        if (node.classList && node.classList.contains("alert-card")) {
          const a = node.querySelector("a");
          window.__seen.push([a ? a.textContent.replace("Alert ", "").trim() : "", t]);
        }
      }
    }
  }).observe(list, { childList: true });
}
"""
"""Records each alert card's id and the browser's wall time (ms since the epoch) when it is inserted."""


def percentiles(values: list[float]) -> str:
    import numpy as np

    if not values:
        return "no samples"
    a = np.asarray(values)
    return (
        f"p50 {np.percentile(a, 50):7.0f} ms  p95 {np.percentile(a, 95):7.0f} ms  "
        f"max {a.max():7.0f} ms  (n={len(a)})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=120.0, help="How long the workers run (after loading).")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--clip", type=Path, default=None, help="Default: the Hamilton clip.")
    ap.add_argument("--height", type=int, default=1080, help="Upscale the clip to this height (0: as is).")
    ap.add_argument("--fps", type=float, default=25.0)
    ap.add_argument("--cooldown", type=float, default=5.0, help="live.cooldown_seconds for the workers.")
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--redis-url", default=None)
    args = ap.parse_args()

    import redis
    from playwright.sync_api import sync_playwright
    from sqlalchemy import select
    from tests.api.conftest import PASSWORD

    from openlfr.governance.bus import BusNames
    from openlfr.governance.bus_consumer import CentralConsumer
    from openlfr.store.models import Alert

    cameras = [f"cam-{i + 1}" for i in range(args.workers)]
    env = {"OPENLFR_LIVE__COOLDOWN_SECONDS": str(args.cooldown)}
    with BusStack(cameras, database_url=args.database_url, redis_url=args.redis_url, env=env) as stack:
        t0 = time.perf_counter()
        clip = upscaled_clip(args.clip or hamilton(), args.height or None, args.fps, stack.tmp)
        clip = looped_clip(clip, args.seconds + 90, stack.tmp)  # room for the models to load
        import av

        with av.open(str(clip)) as probe:
            rate = float(probe.streams.video[0].average_rate or args.fps)
        print(f"source: {clip.name} ({time.perf_counter() - t0:.0f} s to prepare)", flush=True)
        base = stack.serve(free_port())
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(f"{base}/login")
            page.get_by_label("Username").fill("operator")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_selector("text=Live: new alerts appear here.", timeout=30_000)
            page.evaluate(WATCH)
            for i, cam in enumerate(cameras):
                stack.worker(f"van-{i + 1}", cam, clip, "--max-seconds", str(args.seconds + 60))
            names = BusNames.of(stack.settings.bus)  # type: ignore[union-attr]
            r = redis.Redis.from_url(str(stack.settings.bus.url))  # type: ignore[union-attr]
            # The run: from the first alert on the bus (the models have loaded) for --seconds.
            end = time.monotonic() + 180
            while not r.xlen(names.alerts) and time.monotonic() < end:
                for name in list(stack.procs):
                    if name != "serve" and stack.procs[name].poll() is not None:
                        raise SystemExit(f"{name} exited: {stack.tail(name)}")
                time.sleep(0.5)
            if not r.xlen(names.alerts):
                raise SystemExit("no alert reached the bus within 180 s")
            watcher = CentralConsumer(stack.store, stack.settings, name="latency-watch")  # reads health only
            before = {w.worker: w for w in watcher.workers()}
            time.sleep(args.seconds)
            after = {w.worker: w for w in watcher.workers()}
            for i in range(args.workers):
                stack.stop(f"van-{i + 1}")
            time.sleep(3)  # the last alerts cross
            seen = {aid: ms for aid, ms in page.evaluate("window.__seen")}
            browser.close()
        published = {
            f[b"id"].decode(): int(entry.decode().split("-")[0]) for entry, f in r.xrange(names.alerts)
        }
        with stack.store.session() as s:
            rows = s.execute(
                select(Alert.id, Alert.observed_at, Alert.raised_at).where(
                    Alert.deployment_id == stack.deployment_id
                )
            ).all()
        total, hop1, hop2, hop3 = [], [], [], []
        for aid, observed, raised in rows:
            frame_ms = observed.timestamp() * 1000
            stored_ms = raised.timestamp() * 1000
            if aid in published:
                hop1.append(published[aid] - frame_ms)
                hop2.append(stored_ms - published[aid])
            if aid in seen:
                total.append(seen[aid] - frame_ms)
                hop3.append(seen[aid] - stored_ms)
        missing = [aid for aid, _, _ in rows if aid not in seen]
        print(
            f"{args.workers} workers ({', '.join(cameras)}), {clip.name}, {args.seconds:.0f} s after the first "
            f"alert; {len(published)} alerts on the bus, {len(rows)} stored, {len(seen)} shown in the browser"
            f"{f' ({len(missing)} stored but not shown)' if missing else ''}; {stack.store.dialect}; "
            f"load average {os.getloadavg()[0]:.1f} (above 2: others shared the 2 cores)"
        )
        for name, b in sorted(after.items()):
            a = before.get(name)
            if a is None or b.at_ms <= a.at_ms:
                continue
            wall = (b.at_ms - a.at_ms) / 1000
            done, dropped = b.frames_processed - a.frames_processed, b.frames_dropped - a.frames_dropped
            print(
                f"  {name}: {(done + dropped) / wall:.1f} frames/s read of {rate:g}, {done / wall:.1f} processed, "
                f"{dropped / wall:.1f} dropped, CPU {(b.cpu_s - a.cpu_s) / wall * 100:.0f}% of one core"
            )
        print(f"frame -> browser      {percentiles(total)}")
        print(f"  frame -> published  {percentiles(hop1)}")
        print(f"  published -> stored {percentiles(hop2)}")
        print(f"  stored -> browser   {percentiles(hop3)}")


if __name__ == "__main__":
    main()
