"""Settings for the stream bus between camera workers and the central service (Redis Streams)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from openlfr.config.strict import _Section


class BusSettings(_Section):
    """The stream bus between camera workers and the central service (Redis Streams). Off by default:
    without ``url`` everything runs in one process (the embedded mode)."""

    url: str | None = Field(
        None, description="Redis URL, e.g. redis://127.0.0.1:6379/0. Set: `serve` also runs the central side."
    )
    prefix: str = Field("openlfr", description="Prefix of every key and stream name on the bus.")
    alerts_stream: str = Field("alerts", description="Stream the workers publish alerts on.")
    events_stream: str = Field("events", description="Stream of counter updates and heartbeats.")
    group: str = Field("central", description="Consumer group of the central service.")
    heartbeat_s: float = Field(
        1.0, gt=0, description="How often a worker reports and re-reads its lease; the central tick."
    )
    lease_s: float = Field(
        15.0,
        gt=0,
        description="Lease a worker scans under; renewed by the central service while the deployment is "
        "open and in its window, never past the window's end. An unreachable central service stops "
        "the worker when it runs out.",
    )
    claim_idle_s: float = Field(
        5.0, gt=0, description="A delivered but unacknowledged entry idle this long is reclaimed."
    )
    max_stream_len: int = Field(
        100_000, ge=1000, description="Approximate cap of each stream (XADD MAXLEN ~)."
    )
    reconnect_max_s: float = Field(10.0, gt=0, description="Longest back-off between reconnection tries.")
    outbox_max: int = Field(
        10_000, ge=1, description="Alerts and counts a worker holds while the bus is unreachable."
    )
    forget_worker_hours: float = Field(
        24.0, gt=0, description="A worker silent this long is dropped from the health list."
    )
    credential_file: Path | None = Field(
        None,
        description="A camera worker's credential (written by `openlfr enrol-worker`). Set: the worker "
        "fetches its deployment's kit from the central service over the bus, and needs no database or "
        "master key. Unset: it reads the kit from the store (only on the central service's own machine).",
    )
    central_key_file: Path | None = Field(
        None,
        description="The central service's X25519 key for worker kits. Default: <data_dir>/bus-central.key.",
    )
    kit_timeout_s: float = Field(
        30.0, gt=0, description="How long a worker waits for its kit, and how long a kit request is valid."
    )
