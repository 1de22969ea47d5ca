"""Per-source live metrics: fps in and processed, dropped frames, faces per second, latencies.

Exposed three ways: :meth:`SourceMetrics.snapshot` (JSON-friendly dict, for the CLI status line and the
API), :func:`metrics_json` and :func:`prometheus_text` (Prometheus text exposition format 0.0.4).
Only counts and timings live here, never anything about a face (rule 3).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np


class Counted(Protocol):
    """A track as the counters see it: whether it is counted yet."""

    counted: bool


def _percentile(values: Iterable[float], q: float) -> float | None:
    arr = np.fromiter(values, dtype=np.float64)
    return float(np.percentile(arr, q)) if arr.size else None


@dataclass
class SourceMetrics:
    """Counters and rates of one source (thread-safe; the worker writes, anyone reads)."""

    camera_id: str
    source: str = ""
    state: str = "starting"
    """starting, running, reconnecting, ended, refused, failed, stopped."""
    message: str = ""
    frames_in: int = 0
    frames_processed: int = 0
    frames_dropped: int = 0
    frames_detected: int = 0
    """Processed frames the detector ran on (``live.detect_every_frames``: one in that many); on the others
    the tracker carries the faces' boxes."""
    faces_seen: int = 0
    """Face detections (a face in each of 10 detected frames counts 10)."""
    tracks: int = 0
    """Distinct faces (tracks): each counted once, when it ends or, earlier, before its first alert is stored."""
    searches: int = 0
    embeds_shed: int = 0
    """Faces a frame left unembedded because the worker was behind (``live.shed_when_behind``), summed over
    frames: those beyond what fitted, or, in a frame with no room at all, its new and unconfirmed faces."""
    alerts: int = 0
    alerts_suppressed: int = 0
    """Alerts not raised because the subject alerted on this camera within the cooldown."""
    reconnects: int = 0
    gaps_s: list[float] = field(default_factory=list)
    started_mono: float = field(default_factory=time.monotonic)
    window_s: float = 5.0
    _in_times: deque[float] = field(default_factory=lambda: deque(maxlen=10_000), repr=False)
    _done_times: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=10_000), repr=False)
    _frame_latency: deque[float] = field(default_factory=lambda: deque(maxlen=2_000), repr=False)
    _alert_latency: deque[float] = field(default_factory=lambda: deque(maxlen=2_000), repr=False)
    stage_wall_s: dict[str, float] = field(default_factory=dict)
    """Wall time spent in each stage (:data:`STAGES`), summed over the run."""
    stage_cpu_s: dict[str, float] = field(default_factory=dict)
    """CPU time of the thread that ran each stage, summed (native thread pools' work is not in it)."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def frame_in(self) -> None:
        with self._lock:
            self.frames_in += 1
            self._in_times.append(time.monotonic())

    def dropped(self, n: int = 1) -> None:
        with self._lock:
            self.frames_dropped += n

    def frame_done(self, faces: int, latency_s: float, detected: bool = True) -> None:
        with self._lock:
            self.frames_processed += 1
            self.frames_detected += detected
            self.faces_seen += faces
            self._done_times.append((time.monotonic(), faces))
            self._frame_latency.append(latency_s)

    def count_tracks(self, tracks: Iterable[Counted]) -> None:
        """Count the tracks not counted yet, and mark them counted (each track counts once)."""
        with self._lock:
            for tr in tracks:
                if not tr.counted:
                    tr.counted = True
                    self.tracks += 1

    def count_frame(
        self,
        faces: int,
        latency_s: float,
        ended: Iterable[Counted],
        searches: int = 0,
        embeds_shed: int = 0,
        alerts_suppressed: int = 0,
        detected: bool = True,
    ) -> None:
        """A frame is done: its faces, the tracks that ended in it (:meth:`count_tracks`), its searches and
        shed embeddings, and whether the detector ran on it; ``alerts_suppressed`` is the policy's running
        total."""
        self.count_tracks(ended)
        with self._lock:
            self.searches += searches
            self.embeds_shed += embeds_shed
            self.alerts_suppressed = alerts_suppressed
        self.frame_done(faces, latency_s, detected)

    def alert_raised(self, latency_s: float) -> None:
        with self._lock:
            self.alerts += 1
            self._alert_latency.append(latency_s)

    def add(self, **counts: int) -> None:
        with self._lock:
            for k, v in counts.items():
                setattr(self, k, getattr(self, k) + v)

    def stage_time(self, stage: str, wall_s: float, cpu_s: float) -> None:
        with self._lock:
            self.stage_wall_s[stage] = self.stage_wall_s.get(stage, 0.0) + wall_s
            self.stage_cpu_s[stage] = self.stage_cpu_s.get(stage, 0.0) + cpu_s

    def set_state(self, state: str, message: str = "") -> None:
        with self._lock:
            self.state = state
            self.message = message

    def gap(self, seconds: float) -> None:
        with self._lock:
            self.reconnects += 1
            self.gaps_s.append(seconds)

    def snapshot(self) -> dict[str, Any]:
        """Everything as plain numbers; rates over the last ``window_s`` seconds and over the whole run."""
        now = time.monotonic()
        with self._lock:
            since = now - self.window_s
            elapsed = max(now - self.started_mono, 1e-6)
            ins = sum(1 for t in self._in_times if t >= since)
            done = [(t, f) for t, f in self._done_times if t >= since]
            window = min(self.window_s, elapsed)
            fl = [x * 1000 for x in self._frame_latency]
            al = [x * 1000 for x in self._alert_latency]
            return {
                "camera_id": self.camera_id,
                "source": self.source,
                "state": self.state,
                "message": self.message,
                "elapsed_s": round(elapsed, 2),
                "frames_in": self.frames_in,
                "frames_processed": self.frames_processed,
                "frames_detected": self.frames_detected,
                "frames_dropped": self.frames_dropped,
                "faces_seen": self.faces_seen,
                "tracks": self.tracks,
                "searches": self.searches,
                "embeds_shed": self.embeds_shed,
                "alerts": self.alerts,
                "alerts_suppressed": self.alerts_suppressed,
                "reconnects": self.reconnects,
                "gaps_s": [round(g, 2) for g in self.gaps_s],
                "fps_in": round(ins / window, 2),
                "fps_processed": round(len(done) / window, 2),
                "faces_per_s": round(sum(f for _, f in done) / window, 2),
                "fps_in_overall": round(self.frames_in / elapsed, 2),
                "fps_processed_overall": round(self.frames_processed / elapsed, 2),
                "frame_latency_ms_p50": _round(_percentile(fl, 50)),
                "frame_latency_ms_p95": _round(_percentile(fl, 95)),
                "alert_latency_ms_p50": _round(_percentile(al, 50)),
                "alert_latency_ms_p95": _round(_percentile(al, 95)),
                "stage_wall_s": {k: round(v, 4) for k, v in self.stage_wall_s.items()},
                "stage_cpu_s": {k: round(v, 4) for k, v in self.stage_cpu_s.items()},
            }


STAGES = ("decode", "convert", "detect", "track", "quality", "embed", "search", "alert")
"""Where a frame's time goes: decode and convert (colour conversion and resizing) run in the source's reader
thread; the rest in its worker. ``embed`` includes the full-resolution landmark refinement, ``alert`` the
policy's decision and raising the alert (crops to JPEG, hand-over to governance)."""


class StageClock:
    """Laps of one thread's work charged to stages: wall time and the thread's own CPU time since the last
    lap (or :meth:`restart`). Two clock reads a lap, so it is cheap enough to stay on in production."""

    def __init__(self, metrics: SourceMetrics) -> None:
        self._metrics = metrics
        self.restart()

    def restart(self) -> None:
        self._wall, self._cpu = time.perf_counter(), time.thread_time()

    def lap(self, stage: str) -> float:
        """Charge the time since the last lap to ``stage``; returns its wall time, seconds."""
        wall, cpu = time.perf_counter(), time.thread_time()
        lap_s = wall - self._wall
        self._metrics.stage_time(stage, lap_s, cpu - self._cpu)
        self._wall, self._cpu = wall, cpu
        return lap_s


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


def metrics_json(sources: Iterable[SourceMetrics]) -> str:
    """All sources' snapshots as one JSON document ``{"sources": [...]}``."""
    return json.dumps({"sources": [m.snapshot() for m in sources]}, indent=2)


_PROM: list[tuple[str, str, str]] = [
    # (snapshot key, metric name, type)
    ("frames_in", "openlfr_live_frames_in_total", "counter"),
    ("frames_processed", "openlfr_live_frames_processed_total", "counter"),
    ("frames_dropped", "openlfr_live_frames_dropped_total", "counter"),
    ("frames_detected", "openlfr_live_frames_detected_total", "counter"),
    ("faces_seen", "openlfr_live_faces_seen_total", "counter"),
    ("tracks", "openlfr_live_tracks_total", "counter"),
    ("searches", "openlfr_live_searches_total", "counter"),
    ("embeds_shed", "openlfr_live_embeds_shed_total", "counter"),
    ("alerts", "openlfr_live_alerts_total", "counter"),
    ("alerts_suppressed", "openlfr_live_alerts_suppressed_total", "counter"),
    ("reconnects", "openlfr_live_reconnects_total", "counter"),
    ("fps_in", "openlfr_live_fps_in", "gauge"),
    ("fps_processed", "openlfr_live_fps_processed", "gauge"),
    ("faces_per_s", "openlfr_live_faces_per_second", "gauge"),
    ("frame_latency_ms_p50", "openlfr_live_frame_latency_p50_ms", "gauge"),
    ("frame_latency_ms_p95", "openlfr_live_frame_latency_p95_ms", "gauge"),
    ("alert_latency_ms_p50", "openlfr_live_alert_latency_p50_ms", "gauge"),
    ("alert_latency_ms_p95", "openlfr_live_alert_latency_p95_ms", "gauge"),
]


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def prometheus_text(sources: Iterable[SourceMetrics]) -> str:
    """Prometheus text exposition (one series per source, labelled ``camera``)."""
    snaps = [m.snapshot() for m in sources]
    lines: list[str] = []
    for key, name, kind in _PROM:
        lines.append(f"# TYPE {name} {kind}")
        for s in snaps:
            v = s[key]
            if v is not None:
                lines.append(f'{name}{{camera="{_label(s["camera_id"])}"}} {v}')
    for key, name in (
        ("stage_wall_s", "openlfr_live_stage_seconds_total"),
        ("stage_cpu_s", "openlfr_live_stage_cpu_seconds_total"),
    ):
        lines.append(f"# TYPE {name} counter")
        for s in snaps:
            for stage, v in s[key].items():
                lines.append(f'{name}{{camera="{_label(s["camera_id"])}",stage="{stage}"}} {v}')
    lines.append("# TYPE openlfr_live_up gauge")
    for s in snaps:
        up = 1 if s["state"] == "running" else 0
        lines.append(f'openlfr_live_up{{camera="{_label(s["camera_id"])}"}} {up}')
    return "\n".join(lines) + "\n"
