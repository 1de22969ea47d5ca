"""The stream bus between camera workers and the central service: names, wire format, lease, worker kit.

Transport is Redis Streams (``settings.bus``). Workers ``XADD`` to two streams, the central service reads
them in a consumer group (``XREADGROUP`` + ``XACK``; entries of a crashed consumer are taken over with
``XAUTOCLAIM``), so delivery is at least once. Each alert carries an id minted by the worker, and the central
store keeps one alert per id, so a message delivered twice is stored once.

* ``{prefix}:{alerts_stream}``: one entry per alert. The probe and scene crops are encrypted with the
  deployment's ``alerts`` data key (AES-GCM, the alert id and crop name as associated data), so an entry
  read off the bus or out of Redis's persistence files shows no face.
* ``{prefix}:{events_stream}``: counter increments (rule 3: all that non-matches leave).
* ``{prefix}:lease:{deployment}``: the lease. The central service sets it, with a time to live, while the
  deployment is open and inside its window, never past the window's end, and deletes it when the
  deployment closes. A worker scans only while it holds an unexpired lease (rule 1 across the split). The
  lease is measured in Redis's time to live and the worker's monotonic clock, never the worker's wall clock.
* ``{prefix}:workers``: one hash field per worker, its last heartbeat (Redis's own time) and status.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis

from openlfr.config import BusSettings
from openlfr.governance.audit import SYSTEM, record
from openlfr.governance.deployments import DeploymentInfo, info, load
from openlfr.governance.errors import GovernanceError
from openlfr.governance.live_contract import Counts, NewAlert
from openlfr.governance.watchlists import SubjectInfo
from openlfr.matching.watchlist_index import WatchlistIndex
from openlfr.store import Store, utcnow
from openlfr.store.crypto import decrypt, encrypt

WIRE_VERSION = "1"
Fields = Mapping[bytes | str, bytes | str]


class BusError(GovernanceError):
    """A message on the bus is malformed, of an unknown version, or cannot be decrypted."""


@dataclass(frozen=True)
class BusNames:
    """Key and stream names on the bus, from the settings' prefix."""

    prefix: str
    alerts: str
    events: str
    workers: str

    @classmethod
    def of(cls, bus: BusSettings) -> BusNames:
        p = bus.prefix
        return cls(p, f"{p}:{bus.alerts_stream}", f"{p}:{bus.events_stream}", f"{p}:workers")

    def lease(self, deployment_id: str) -> str:
        return f"{self.prefix}:lease:{deployment_id}"

    @property
    def lease_pattern(self) -> str:
        return f"{self.prefix}:lease:*"

    @property
    def kit_requests(self) -> str:
        """The list workers push kit requests on (:mod:`openlfr.governance.bus_kit`)."""
        return f"{self.prefix}:kit-requests"

    def kit_reply(self, worker: str, nonce: bytes) -> str:
        return f"{self.prefix}:kit:{worker}:{nonce.hex()}"


def connect(bus: BusSettings) -> redis.Redis:
    """A client for ``bus.url`` with short timeouts: a dead bus shows as an error, not a hang."""
    if not bus.url:
        raise BusError("no bus configured: set bus.url (OPENLFR_BUS__URL), e.g. redis://127.0.0.1:6379/0")
    return redis.Redis.from_url(
        bus.url,
        socket_timeout=max(1.0, bus.heartbeat_s),
        socket_connect_timeout=max(1.0, bus.heartbeat_s),
        retry_on_timeout=False,
        protocol=2,
    )


BUS_DOWN: tuple[type[BaseException], ...] = (redis.ConnectionError, redis.TimeoutError, OSError)
"""What an unreachable bus raises: callers back off and try again."""


class Backoff:
    """Exponential back-off between reconnection tries: 0.1 s doubling up to ``max_s``."""

    def __init__(self, max_s: float, initial_s: float = 0.1) -> None:
        self.initial_s, self.max_s = initial_s, max_s
        self.next_s = initial_s

    def failed(self) -> float:
        """The wait before the next try (and doubles the one after)."""
        wait = self.next_s
        self.next_s = min(self.max_s, self.next_s * 2)
        return wait

    def succeeded(self) -> None:
        self.next_s = self.initial_s


def bus_time_ms(r: redis.Redis) -> int:
    """Redis's clock in milliseconds: the one clock workers and the central service share."""
    sec, usec = r.time()
    return int(sec) * 1000 + int(usec) // 1000


def _s(v: bytes | str) -> str:
    return v.decode() if isinstance(v, bytes) else v


def _get(fields: Fields, name: str) -> bytes | str:
    v = fields.get(name.encode(), fields.get(name))
    if v is None:
        raise BusError(f"bus message has no {name!r} field")
    return v


def _aad(deployment_id: str, alert_id: str, part: str) -> bytes:
    return f"openlfr-bus:{deployment_id}:{alert_id}:{part}".encode()


def encode_alert(
    key: bytes, deployment_id: str, alert_id: str, alert: NewAlert, worker: str
) -> dict[str, Any]:
    """The stream entry for ``alert``; its crops are encrypted with the deployment's alerts key."""
    return {
        "v": WIRE_VERSION,
        "kind": "alert",
        "id": alert_id,
        "deployment_id": deployment_id,
        "worker": worker,
        "camera_id": alert.camera_id,
        "track_id": alert.track_id,
        "subject_id": alert.subject_id,
        "template_index": str(alert.template_index),
        "score": repr(float(alert.score)),
        "threshold": repr(float(alert.threshold)),
        "observed_at": alert.observed_at.astimezone(UTC).isoformat(),
        "probe": encrypt(key, alert.probe_crop, _aad(deployment_id, alert_id, "probe")),
        "frame": encrypt(key, alert.frame_crop, _aad(deployment_id, alert_id, "frame")),
    }


def alert_header(fields: Fields) -> tuple[str, str]:
    """``(alert_id, deployment_id)`` of a stream entry, checking its version."""
    if _s(_get(fields, "v")) != WIRE_VERSION or _s(_get(fields, "kind")) != "alert":
        raise BusError(f"not a version-{WIRE_VERSION} alert message")
    return _s(_get(fields, "id")), _s(_get(fields, "deployment_id"))


def decode_alert(key: bytes, fields: Fields) -> tuple[str, str, NewAlert]:
    """``(alert_id, deployment_id, alert)``; :class:`BusError` for a malformed or tampered entry."""
    alert_id, dep = alert_header(fields)
    try:
        alert = NewAlert(
            camera_id=_s(_get(fields, "camera_id")),
            track_id=_s(_get(fields, "track_id")),
            subject_id=_s(_get(fields, "subject_id")),
            template_index=int(_s(_get(fields, "template_index"))),
            score=float(_s(_get(fields, "score"))),
            threshold=float(_s(_get(fields, "threshold"))),
            observed_at=datetime.fromisoformat(_s(_get(fields, "observed_at"))),
            probe_crop=decrypt(key, bytes(_get(fields, "probe")), _aad(dep, alert_id, "probe")),  # type: ignore[arg-type]
            frame_crop=decrypt(key, bytes(_get(fields, "frame")), _aad(dep, alert_id, "frame")),  # type: ignore[arg-type]
        )
    except (ValueError, TypeError) as exc:  # CryptoError is a RuntimeError: caught by the caller
        raise BusError(f"alert {alert_id} on the bus is malformed: {exc}") from exc
    return alert_id, dep, alert


def encode_counts(
    deployment_id: str, camera_id: str, counts: Counts, message_id: str, worker: str
) -> dict[str, str]:
    return {
        "v": WIRE_VERSION,
        "kind": "counts",
        "id": message_id,
        "deployment_id": deployment_id,
        "worker": worker,
        "camera_id": camera_id,
        **{k: str(v) for k, v in counts.as_dict().items()},
    }


def decode_counts(fields: Fields) -> tuple[str, str, str, Counts]:
    """``(message_id, deployment_id, camera_id, counts)``."""
    if _s(_get(fields, "v")) != WIRE_VERSION or _s(_get(fields, "kind")) != "counts":
        raise BusError(f"not a version-{WIRE_VERSION} counts message")
    try:
        counts = Counts(**{k: int(_s(_get(fields, k))) for k in Counts().as_dict()})
    except ValueError as exc:
        raise BusError(f"counts message is malformed: {exc}") from exc
    return _s(_get(fields, "id")), _s(_get(fields, "deployment_id")), _s(_get(fields, "camera_id")), counts


# -- the lease ---------------------------------------------------------------------------------------------


def lease_ttl_ms(dep: DeploymentInfo, bus: BusSettings, now: datetime) -> int:
    """How long a lease granted at ``now`` lasts: ``bus.lease_s``, cut at the window's end; 0 if none is due."""
    if dep.status != "open" or not dep.in_window(now):
        return 0
    return max(0, min(int(bus.lease_s * 1000), int((dep.ends_at - now).total_seconds() * 1000)))


def lease_payload(dep: DeploymentInfo) -> str:
    return json.dumps({"deployment_id": dep.id, "cameras": list(dep.cameras)})


# -- what a worker takes with it ------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerKit:
    """What a camera worker needs of the central store, held only in its memory: the deployment, its
    watchlist (decrypted for the search) and the alerts key the worker encrypts alert crops with."""

    deployment: DeploymentInfo
    index: WatchlistIndex
    subjects: dict[str, SubjectInfo]
    alerts_key: bytes

    def __repr__(self) -> str:  # never print a key or a template
        return f"WorkerKit({self.deployment.id}, {self.index.template_count} templates)"


def fetch_worker_kit(
    store: Store, deployment_id: str, worker: str, clock: Callable[[], datetime] = utcnow
) -> WorkerKit:
    """Load the kit for a worker (audited as a watchlist read). Refused unless the deployment is open and its
    window has not ended, as :meth:`DeploymentGateway.watchlist` refuses."""
    from openlfr.governance.live_gateway import DeploymentGateway

    gw = DeploymentGateway(store, deployment_id, clock=clock)
    index, subjects = gw.watchlist()
    with store.session() as s:
        dep = load(s, deployment_id)
        key = store.keys.get(s, dep.id, "alerts")
        record(
            s,
            SYSTEM,
            "worker.kit",
            deployment_id=dep.id,
            target=worker,
            at=clock(),
            details={"templates": index.template_count, "purpose": "camera worker"},
        )
        return WorkerKit(info(dep), index, subjects, key.newest)
