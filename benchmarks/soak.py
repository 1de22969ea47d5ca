"""Soak run of the split live system: looped video through ``openlfr worker``, the Redis bus and ``openlfr
serve`` (the bus's central side runs in it) for ``--minutes`` minutes, with the resident memory (RSS) of each
process sampled every minute.

Printed: a table of RSS per minute (worker(s), serve, redis-server), the alerts sent and stored, the frames
processed and dropped, and the growth check. Written: a PNG plot of RSS over time (``--out``).

The growth bound: after a warm-up (``--warmup`` minutes: models loaded, buffers and caches at their working
size), the least-squares slope of each worker's and the server's RSS must stay under ``--bound-mib-per-min``
(default 1 MiB a minute). Why that figure: a leak of half a KiB a frame at 30 fps, or of one alert's crops
(about 50 KiB) every few seconds, exceeds it, while the allocator's normal drift stays well below; over a
12-hour deployment it allows at most 720 MiB, which a van's computer can afford. Redis is reported but not
checked: its streams grow until ``bus.max_stream_len`` trims them, by design.

The source is the Hamilton clip looped (packets copied; ``--height`` upscales first), the watchlist holds Lin-
Manuel Miranda so the clip alerts, and ``live.cooldown_seconds`` is ``--cooldown`` (default 5 s) so alerts keep
flowing through the bus and the store during the whole run.

    .venv/bin/python benchmarks/soak.py --minutes 20 [--height 1080] [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bus_stack import ROOT, BusStack, free_port, hamilton, looped_clip, upscaled_clip


def rss_mib(pid: int) -> float:
    """Resident memory of a process in MiB (``VmRSS`` in /proc), 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def slope_mib_per_min(minutes: list[float], values: list[float]) -> float:
    import numpy as np

    if len(values) < 2:
        return 0.0
    return float(np.polyfit(np.asarray(minutes), np.asarray(values), 1)[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=int, default=20)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--clip", type=Path, default=None, help="Default: the Hamilton clip (640x360 at 30 fps).")
    ap.add_argument("--height", type=int, default=0, help="Upscale the clip to this height first (0: as is).")
    ap.add_argument("--fps", type=float, default=25.0, help="Frame rate of the upscaled clip.")
    ap.add_argument("--cooldown", type=float, default=5.0)
    ap.add_argument("--warmup", type=int, default=3, help="Minutes left out of the growth check.")
    ap.add_argument("--bound-mib-per-min", type=float, default=1.0)
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "soak-rss.png")
    args = ap.parse_args()
    if args.minutes < args.warmup + 2:
        raise SystemExit(f"--minutes must be at least --warmup + 2 ({args.warmup + 2}) for a growth check")

    import redis

    from openlfr.governance.bus import BusNames
    from openlfr.governance.bus_consumer import CentralConsumer

    cameras = [f"cam-{i + 1}" for i in range(args.workers)]
    env = {"OPENLFR_LIVE__COOLDOWN_SECONDS": str(args.cooldown)}
    with BusStack(cameras, database_url=args.database_url, env=env) as stack:
        clip = upscaled_clip(args.clip or hamilton(), args.height or None, args.fps, stack.tmp)
        clip = looped_clip(clip, args.minutes * 60 + 180, stack.tmp)
        stack.serve(free_port())
        workers = [f"van-{i + 1}" for i in range(args.workers)]
        for name, cam in zip(workers, cameras, strict=True):
            stack.worker(name, cam, clip, "--max-seconds", str(args.minutes * 60 + 150))
        settings = stack.settings
        assert settings is not None and stack.redis_proc is not None
        watcher = CentralConsumer(stack.store, settings, name="soak-watch")  # reads health; consumes nothing
        r = redis.Redis.from_url(str(settings.bus.url))
        names = BusNames.of(settings.bus)
        end = time.monotonic() + 240
        while not [w for w in watcher.workers() if w.frames_processed > 0]:
            for name in workers:
                if stack.procs[name].poll() is not None:
                    raise SystemExit(f"{name} exited: {stack.tail(name)}")
            if time.monotonic() > end:
                raise SystemExit("no worker processed a frame within 240 s")
            time.sleep(1)
        pids = {name: stack.procs[name].pid for name in [*workers, "serve"]}
        pids["redis-server"] = stack.redis_proc.pid
        samples: dict[str, list[float]] = {k: [] for k in pids}
        minutes: list[float] = []
        t0 = time.monotonic()
        header = "minute " + " ".join(f"{k:>13}" for k in pids) + "   alerts  frames (dropped)"
        print(f"RSS in MiB, {clip.name}, sampled every minute (loaded machine)\n{header}", flush=True)
        for m in range(args.minutes + 1):
            time.sleep(max(0.0, t0 + 60 * m - time.monotonic()))
            minutes.append(m)
            for k, pid in pids.items():
                samples[k].append(rss_mib(pid))
            health = watcher.workers()
            frames = sum(w.frames_processed for w in health)
            dropped = sum(w.frames_dropped for w in health)
            row = " ".join(f"{samples[k][-1]:13.1f}" for k in pids)
            print(f"{m:6d} {row}   {r.xlen(names.alerts):6d}  {frames:6d} ({dropped})", flush=True)
        sent = r.xlen(names.alerts)
        for name in workers:
            stack.stop(name)
        time.sleep(5)
        from sqlalchemy import func, select

        from openlfr.store.models import Alert

        with stack.store.session() as s:
            stored = s.scalar(select(func.count()).select_from(Alert))
        print(f"alerts: {r.xlen(names.alerts)} on the bus ({sent} when sampling ended), {stored} stored")
        lo = args.warmup
        ok = True
        print(
            f"growth check: RSS slope from minute {lo} to {args.minutes} under {args.bound_mib_per_min:g} MiB/min"
        )
        for k in pids:
            slope = slope_mib_per_min(minutes[lo:], samples[k][lo:])
            grew = samples[k][-1] - samples[k][lo]
            checked = k != "redis-server"
            passed = slope <= args.bound_mib_per_min
            ok &= passed or not checked
            verdict = (
                ("ok" if passed else "OVER THE BOUND")
                if checked
                else "not checked (streams fill to max_stream_len)"
            )
            print(
                f"  {k:13} {samples[k][lo]:7.1f} -> {samples[k][-1]:7.1f} MiB ({grew:+.1f}), {slope:+.2f} MiB/min: {verdict}"
            )
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(8, 4.5))
        for k in pids:
            ax.plot(minutes, samples[k], marker="o", label=k)
        ax.axvspan(0, lo, color="0.9", label="warm-up (not checked)")
        ax.set_xlabel("minute")
        ax.set_ylabel("resident memory (MiB)")
        ax.set_title(f"Soak: {args.minutes} min of looped video through worker, bus and server")
        ax.legend()
        fig.tight_layout()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.out, dpi=110)
        print(f"plot: {args.out}; growth bound {'held' if ok else 'EXCEEDED'}")
        if not ok:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
