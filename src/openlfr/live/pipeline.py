"""The live pipeline: one worker per source, each running every frame once through prepare -> detect ->
track -> assess quality -> choose what to embed -> embed -> search -> decide -> raise -> count
(:meth:`CameraWorker.process`; the stages are in :mod:`openlfr.live.stages`, the decision in
:mod:`openlfr.live.policy`), with back-pressure that drops frames rather than falling behind.

The detector runs on one frame in ``live.detect_every_frames`` (two by default): it is most of a frame's
cost, and the tracker carries each face's box across the frame between. The other frames are processed
(counted, never dropped) at the cost of their bookkeeping, and the reader does not even shrink them.

Per source there are two threads: a reader that decodes frames, and has swscale make each one's
working-width BGR copy for the detector, into a small bounded slot (newest wins: when
the slot is full the oldest waiting frame is dropped and counted), and a worker that takes the newest frame
and runs the stages. Files can be played "paced" (at their own frame rate, like a camera: drops are counted)
or as fast as possible (the reader waits for the worker; nothing is dropped).

A burst of new faces costs more than frames do: one face's embedding (with its landmark refinement) takes
longer than a whole frame's detection. Where frames can be dropped, a worker that is behind sheds that work
instead (``live.shed_when_behind``): each frame embeds only the faces that fit, at the measured cost of one,
in the time left before its slot would overflow; the rest stay eligible and are embedded on the next frames
as the worker catches up (counted as ``embeds_shed``). A frame read but not processed is always dropped and
counted.

Rule 1: a source starts only after ``check_can_scan`` for its camera, and stops when a periodic re-check is
refused. Rule 3: a track that ends without an alert is dropped with its crops and embeddings; only counters
(faces seen, tracks, frames processed and dropped) go to the deployment. Nothing about a face is logged.
A track is counted once: when it ends, or, if it alerts, before its alert is stored (with the counters
flushed), so a worker killed after an alert has counted the face that alerted.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from openlfr.config import Settings
from openlfr.governance.errors import GovernanceError
from openlfr.governance.live_contract import Counts, NewAlert
from openlfr.live.gateway import LiveGateway, ScanRefused
from openlfr.live.metrics import SourceMetrics, StageClock
from openlfr.live.motion import MotionGate, Region
from openlfr.live.policy import AlertDecision, AlertPolicy, FrameResults
from openlfr.live.sources import Frame, FrameSource, SourceError, SourceSpec
from openlfr.live.stages import (
    EmbedBudget,
    assess_quality,
    choose_to_embed,
    detect,
    embed,
    near_threshold,
    search,
)
from openlfr.live.tracker import FaceTracker, Track
from openlfr.matching.watchlist_index import WatchlistIndex
from openlfr.vision import FaceEngine, get_pack

log = logging.getLogger(__name__)


class FrameSlot:
    """A bounded hand-over between a reader and a worker.

    ``put(block=False)`` (live and paced sources): when full, the oldest waiting frame is dropped and
    counted, so the worker always gets the newest frames. ``put(block=True)`` (files as fast as possible):
    waits for room, so nothing is dropped.
    """

    def __init__(self, capacity: int, on_drop: Callable[[int], None]) -> None:
        self._q: deque[Frame] = deque()
        self._capacity = capacity
        self._cond = threading.Condition()
        self._on_drop = on_drop
        self.closed = False

    def put(self, frame: Frame, block: bool, stop: threading.Event) -> None:
        with self._cond:
            if block:
                while len(self._q) >= self._capacity and not stop.is_set():
                    self._cond.wait(0.1)
            elif len(self._q) >= self._capacity:
                self._q.popleft()
                self._on_drop(1)
            self._q.append(frame)
            self._cond.notify_all()

    def get(self, timeout: float) -> Frame | None:
        with self._cond:
            if not self._q and not self.closed:
                self._cond.wait(timeout)
            if not self._q:
                return None
            frame = self._q.popleft()
            self._cond.notify_all()
            return frame

    def __len__(self) -> int:
        """Frames waiting (a snapshot: the reader may add one at any moment)."""
        with self._cond:
            return len(self._q)

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def drain(self) -> int:
        with self._cond:
            n = len(self._q)
            self._q.clear()
            return n


def _jpeg(image: npt.NDArray[np.uint8] | None, quality: int) -> bytes:
    if image is None or image.size == 0:
        return b""
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return buf.tobytes() if ok else b""


@dataclass
class RaisedAlert:
    """What the pipeline knows of an alert it raised (ids and timings only; the images went to governance)."""

    alert_id: str
    camera_id: str
    track_id: str
    subject_id: str
    score: float
    observed_at: datetime
    media_s: float
    latency_s: float


class CameraWorker:
    """Runs one source through the pipeline until it ends, is stopped, or scanning is refused."""

    def __init__(
        self,
        spec: SourceSpec,
        gateway: LiveGateway,
        settings: Settings,
        *,
        engine: FaceEngine | None = None,
        watchlist: tuple[WatchlistIndex, Any] | None = None,
        paced: bool | None = None,
        on_alert: Callable[[RaisedAlert], None] | None = None,
        sharing: int = 1,
    ) -> None:
        """``sharing``: how many sources run in this process; the inference threads (``vision.threads``) and
        the automatic decoding threads are divided among them, since each source's reader and worker are
        already threads of their own and more threads than cores only costs switching. With more than one
        source, frames are also detected at ``vision.shared_working_width`` at most."""
        self.spec = spec
        self.gateway = gateway
        self.settings = settings
        self.live = settings.live
        deployment = gateway.deployment
        # Each worker owns its networks: OpenCV and ONNX Runtime sessions are not shared across threads.
        threads = max(1, settings.vision.threads // max(1, sharing))
        vision = settings.vision.model_copy(
            update={"flip_augment": self.live.flip_augment, "threads": threads}
        )
        # Detection is most of a frame's cost, so sources sharing the cores are detected smaller.
        self.working_width = (
            settings.vision.working_width
            if sharing <= 1
            else min(settings.vision.working_width, settings.vision.shared_working_width)
        )
        decode_threads = self.live.decode_threads
        if decode_threads == 0 and sharing > 1:
            decode_threads = max(1, (os.cpu_count() or 1) // sharing)
        self.engine = engine or FaceEngine(get_pack(deployment.pack), vision, settings.quality)
        self.index, _subjects = watchlist or gateway.watchlist()
        if self.index.template_count and self.index.dim != self.engine.embedding_size:
            raise ValueError(
                f"the watchlist has {self.index.dim}-d templates but pack {self.engine.pack.name} makes "
                f"{self.engine.embedding_size}-d embeddings"
            )
        self._positions = {s: i for i, s in enumerate(self.index.subjects)}
        self.threshold = float(deployment.threshold)
        self.policy = AlertPolicy(
            self.threshold,
            self.live.min_hits,
            self.live.cooldown_seconds,
            aggregation=self.live.aggregation,
            keep=self.live.evidence_shots,
        )
        self.tracker = FaceTracker(self.live.track_iou, self.live.track_max_age_s)
        self.paced = self.live.paced_files if paced is None else paced
        self.metrics = SourceMetrics(spec.camera_id, source=spec.location)
        self.source = FrameSource(
            spec,
            reconnect_initial_s=self.live.reconnect_initial_s,
            reconnect_max_s=self.live.reconnect_max_s,
            open_timeout_s=self.live.open_timeout_s,
            folder_fps=self.live.folder_fps,
            decode_threads=decode_threads,
            on_event=self._source_event,
        )
        self.alerts: list[RaisedAlert] = []
        self._on_alert = on_alert
        self._slot = FrameSlot(self.live.max_queue_frames, self.metrics.dropped)
        self._reported = Counts()
        self._clock = StageClock(self.metrics)
        """The worker thread's stage clock (the reader has its own)."""
        # Shedding a burst's work (``live.shed_when_behind``): only where frames can be dropped at all.
        self._sheds = self.live.shed_when_behind and (self.spec.live or self.paced)
        self._budget = EmbedBudget(self.live, self._sheds)
        self._last_end: float | None = None
        """When the last frame's stages ended (``time.perf_counter()``): its cost goes into the budget."""
        self._min_face_px = settings.quality.min_face_px
        self._detect_every = self.live.detect_every_frames
        self._gate = MotionGate(self.live) if self.live.motion_gate else None
        self._last_detected: int | None = None
        """Source index of the last frame the detector ran on (:meth:`_detects`)."""

    # -- source events -------------------------------------------------------------------------------
    def _source_event(self, kind: str, message: str, seconds: float) -> None:
        if kind == "disconnected":
            self.metrics.set_state("reconnecting", message)
            log.warning("source %s lost: %s", self.spec.camera_id, message)
        elif kind == "reconnected":
            self.metrics.gap(seconds)
            self.metrics.set_state("running", message)
            log.warning("source %s reconnected after a gap of %.1f s", self.spec.camera_id, seconds)
        else:
            log.warning("source %s: %s", self.spec.camera_id, message)

    # -- reader thread --------------------------------------------------------------------------------
    def _read(self, stop: threading.Event) -> None:
        block = not self.spec.live and not self.paced
        started: float | None = None
        clock = StageClock(self.metrics)
        try:
            for frame in self.source.frames(stop, clock):
                if self.metrics.state == "starting":
                    self.metrics.set_state("running")
                if not self.spec.live and self.paced:
                    # Play at the source's own rate: a frame is "captured" at start + its media time. The clock
                    # starts with the first decoded frame, as a camera's would, not before the file is opened.
                    if started is None:
                        started = time.monotonic() - frame.media_s
                    frame.captured_mono = started + frame.media_s
                    wait = frame.captured_mono - time.monotonic()
                    if wait > 0 and stop.wait(wait):
                        break
                elif not self.spec.live:
                    frame.captured_mono = time.monotonic()
                self.metrics.frame_in()
                clock.restart()
                if self._on_schedule(frame.index):
                    # The frames the worker will detect (it prepares the one it detects after a drop).
                    frame.prepare(self.working_width)
                    clock.lap("convert")
                self._slot.put(frame, block, stop)
                clock.restart()  # waiting for the pace or the worker is no stage's cost
        except SourceError as exc:
            self.metrics.set_state("failed", str(exc))
            log.error("source %s failed: %s", self.spec.camera_id, exc)
        except Exception as exc:  # a decoder crash must not leave the worker waiting forever
            self.metrics.set_state("failed", f"{type(exc).__name__}: {exc}")
            log.exception("source %s reader crashed", self.spec.camera_id)
        finally:
            self._slot.close()

    # -- worker ---------------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Block until the source ends, ``stop`` is set, or the deployment refuses scanning."""
        cam = self.spec.camera_id
        try:
            self.gateway.check_can_scan(cam)
        except ScanRefused as exc:
            self.metrics.set_state("refused", str(exc))
            log.warning("source %s not started: %s", cam, exc)
            return
        self.engine.warm_up()
        reader_stop = threading.Event()
        reader = threading.Thread(target=self._read, args=(reader_stop,), name=f"read-{cam}", daemon=True)
        reader.start()
        last_check = last_counters = time.monotonic()
        try:
            while not stop.is_set():
                frame = self._slot.get(timeout=0.2)
                now = time.monotonic()
                if now - last_check >= self.live.scan_check_interval_s:
                    last_check = now
                    self.gateway.check_can_scan(cam)
                if now - last_counters >= self.live.counters_interval_s:
                    last_counters = now
                    self._flush_counters()
                if frame is None:
                    if self._slot.closed:
                        break
                    continue
                self.process(frame)
        except ScanRefused as exc:
            self.metrics.set_state("refused", str(exc))
            log.warning("source %s stopped: %s", cam, exc)
        except Exception as exc:  # say so on the status line rather than dying silently in a thread
            self.metrics.set_state("failed", f"{type(exc).__name__}: {exc}")
            log.exception("source %s failed", cam)
        finally:
            reader_stop.set()
            reader.join(timeout=self.live.open_timeout_s + 1)
            self.metrics.dropped(self._slot.drain())  # read but never processed: counted as dropped
            ended = self.tracker.end_all()
            self.policy.end(ended)
            self.metrics.count_tracks(ended)
            try:
                self._flush_counters()
            except GovernanceError as exc:
                log.error("source %s: counters not recorded: %s", cam, exc)
            if self.metrics.state in ("running", "starting", "reconnecting"):
                self.metrics.set_state("stopped" if stop.is_set() else "ended")

    def process(self, frame: Frame) -> list[RaisedAlert]:
        """Run one frame through the stages, once each and in order; returns the alerts it raised.

        Only one frame in ``live.detect_every_frames`` is detected (:meth:`_detects`); on the others the
        tracks keep their boxes (the tracker predicts them from their motion at the next detection) and the
        frame is counted as processed, at the cost of its bookkeeping."""
        clock, budget, policy, live, px = self._clock, self._budget, self.policy, self.live, self._min_face_px
        clock.restart()
        if not self._detects(frame):
            latency = time.monotonic() - frame.captured_mono
            self.metrics.count_frame(0, latency, (), alerts_suppressed=policy.suppressed, detected=False)
            clock.lap("track")
            return []
        frame.prepare(self.working_width)  # done by the reader already, unless the frame came another way
        budget.start(self._last_end)
        faces = detect(frame, self.engine, self.settings.vision, self._regions(frame))
        clock.lap("detect")
        tracks, ended = self.tracker.update(faces, frame.media_s)
        policy.end(ended)  # rule 3: what it held of them goes now (they are counted with the frame)
        known = policy.known(tracks)
        clock.lap("track")
        limit = budget.limit(frame, tracks)  # behind: only as many faces as fit (``None``: no limit)
        behind = self._sheds and len(self._slot) > 0
        assessed = assess_quality(frame, tracks, self.engine, known, live, px, limit, behind, clock)
        choice = choose_to_embed(tracks, known, live, frame.index, limit=limit, min_face_px=px)
        chosen = choice.tracks if self.index.template_count else []
        clock.lap("quality")
        # An engine that does not flip-test (``flip_augment`` off) embeds each face once and ignores it.
        floor = self.threshold - live.flip_screen_margin
        screen = near_threshold(chosen, self.index, known, floor) if live.flip_screen else None
        embedded = embed(frame, chosen, self.engine, live.refine_below_px, screen)
        budget.embedded(len(chosen), clock.lap("embed"))
        searched = search(chosen, embedded, self.index, known, live.search_top_k)
        clock.lap("search")
        at_s = frame.observed_at.timestamp()
        decisions = policy.take(FrameResults(frame.index, at_s, tracks, assessed, searched, self._positions))
        raised = self._raise(decisions, frame, ended)
        clock.lap("alert")
        latency = time.monotonic() - frame.captured_mono
        self.metrics.count_frame(len(faces), latency, ended, len(searched), choice.shed, policy.suppressed)
        self._last_end = time.perf_counter()
        return raised

    def _regions(self, frame: Frame) -> list[Region] | None:
        """Where to detect in this frame (``live.motion_gate``); ``None``: the whole frame."""
        if self._gate is None or frame.work is None:
            return None
        k = frame.work.shape[1] / frame.shape[1]
        expected = [tr.predicted_box(frame.media_s) * k for tr in self.tracker.tracks.values()]
        return self._gate.regions(frame.work, frame.media_s, expected)

    def _on_schedule(self, index: int) -> bool:
        """Whether source frame ``index`` is one of the ``detect_every_frames`` the detector runs on; the
        reader prepares exactly these, so the worker finds them ready."""
        return index % self._detect_every == 0

    def _detects(self, frame: Frame) -> bool:
        """Whether the detector runs on this frame: a scheduled one (:meth:`_on_schedule`); the first after a
        scheduled one was dropped, so a drop does not push the next detection further away; and a frame
        whose index does not follow on (a source that started again)."""
        last = self._last_detected
        if not (
            last is None
            or frame.index <= last
            or self._on_schedule(frame.index)
            or frame.index - last > self._detect_every
        ):
            return False
        self._last_detected = frame.index
        return True

    def _raise(
        self, decisions: Sequence[AlertDecision], frame: Frame, ended: Sequence[Track]
    ) -> list[RaisedAlert]:
        """Hand the frame's decisions to governance as alerts (crops as JPEG); those it refused are left out.

        Counters first, the alerting tracks (and those that ended in this frame) among them: an alert is
        never stored while the faces seen before it, or its own, could still be lost (a worker killed then
        keeps both or, at worst, the counts without the alert).
        """
        if not decisions:
            return []
        q, cam = self.live.jpeg_quality, self.spec.camera_id
        alerts = [
            NewAlert(
                camera_id=cam,
                track_id=f"{cam}:{d.track.id}",
                subject_id=d.subject_id,
                template_index=d.template_index,
                score=float(d.score),
                threshold=self.threshold,
                observed_at=frame.observed_at,
                probe_crop=_jpeg(d.evidence.best_crop, q),
                frame_crop=_jpeg(d.evidence.best_frame_crop, q),
            )
            for d in decisions
        ]
        self._flush_counters([*ended, *(d.track for d in decisions)])
        raised = []
        for new in alerts:
            try:
                alert_id = self.gateway.raise_alert(new)
            except ScanRefused:
                raise  # the deployment closed or the camera left it: this source stops
            except GovernanceError as exc:  # e.g. the subject's entry expired a moment ago: keep watching
                log.warning("alert on camera %s not stored: %s", cam, exc)
                continue
            latency = time.monotonic() - frame.captured_mono
            self.metrics.alert_raised(latency)
            alert = RaisedAlert(
                alert_id,
                cam,
                new.track_id,
                new.subject_id,
                new.score,
                frame.observed_at,
                frame.media_s,
                latency,
            )
            self.alerts.append(alert)
            log.info("alert %s on camera %s (score %.3f)", alert_id, cam, new.score)
            if self._on_alert is not None:
                self._on_alert(alert)
            raised.append(alert)
        return raised

    def _flush_counters(self, tracks: Sequence[Track] = ()) -> None:
        """Send the counters' increments since the last flush to the deployment (rule 3: counts only), with
        ``tracks`` counted first (those not counted yet)."""
        self.metrics.count_tracks(tracks)
        snap = self.metrics.snapshot()
        delta = Counts(**{k: int(snap[k]) - v for k, v in self._reported.as_dict().items()})
        if delta:
            self.gateway.record_counters(self.spec.camera_id, delta)
            self._reported = Counts(**{k: int(snap[k]) for k in self._reported.as_dict()})


@dataclass
class PipelineResult:
    metrics: list[dict[str, Any]]
    alerts: list[RaisedAlert] = field(default_factory=list)


class LivePipeline:
    """Several sources for one deployment, one worker each, run until all end or ``stop`` is called."""

    def __init__(
        self,
        specs: Sequence[SourceSpec],
        gateway: LiveGateway,
        settings: Settings,
        *,
        paced: bool | None = None,
        engine_factory: Callable[[], FaceEngine] | None = None,
        on_alert: Callable[[RaisedAlert], None] | None = None,
    ) -> None:
        if not specs:
            raise SourceError("no source given")
        ids = [s.camera_id for s in specs]
        if len(set(ids)) != len(ids):
            raise SourceError(f"two sources have the same camera id: {sorted(ids)}")
        watchlist = gateway.watchlist()
        sharing = max(len(specs), settings.live.sources_on_machine)
        self.workers = [
            CameraWorker(
                spec,
                gateway,
                settings,
                paced=paced,
                watchlist=watchlist,
                on_alert=on_alert,
                engine=engine_factory() if engine_factory else None,
                sharing=sharing,
            )
            for spec in specs
        ]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def metrics(self) -> list[SourceMetrics]:
        return [w.metrics for w in self.workers]

    def start(self) -> None:
        for w in self.workers:
            w.source.check() if not w.spec.live else None
        for w in self.workers:
            t = threading.Thread(
                target=w.run, args=(self._stop,), name=f"lfr-{w.spec.camera_id}", daemon=True
            )
            t.start()
            self._threads.append(t)

    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> PipelineResult:
        deadline = None if timeout is None else time.monotonic() + timeout
        for t in self._threads:
            t.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return self.result()

    def run(self, max_seconds: float | None = None) -> PipelineResult:
        """Start, wait until every source ends (or ``max_seconds``), stop, and return the result."""
        self.start()
        end = None if max_seconds is None else time.monotonic() + max_seconds
        while self.running():
            if end is not None and time.monotonic() >= end:
                break
            time.sleep(0.05)
        self.stop()
        return self.join(timeout=30)

    def result(self) -> PipelineResult:
        return PipelineResult(
            metrics=[m.snapshot() for m in self.metrics],
            alerts=sorted((a for w in self.workers for a in w.alerts), key=lambda a: a.observed_at),
        )
