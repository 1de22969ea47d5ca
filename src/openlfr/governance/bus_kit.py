"""Deployment kits handed to enrolled camera workers over the bus, so that a worker needs only the bus URL and
its own credential: no database, no master key.

Enrolment (a supervisor, ``openlfr enrol-worker NAME``) makes an X25519 key pair for the worker, keeps only its
public half in the central store (``bus_workers``, audited ``worker.enrol``) and writes a credential file for
the worker's machine: the worker's name, its private key and the central service's public key (the central
service's own X25519 key is a 0600 file next to the master key, ``bus.central_key_file``).

A kit request (``{prefix}:kit-requests``, a list) names the worker and the deployment, with a fresh nonce, the
bus's time, and an HMAC over all of them under a key only the worker and the central service can derive
(X25519 between the worker's private key and the central public key, or the other way round; HKDF with the
nonce as salt). The central service refuses (audited ``worker.kit_refused``) an unknown or revoked worker, a
bad MAC, a stale request, or a deployment that is not open or whose window ended; otherwise it loads the kit
(audited ``worker.kit`` and ``watchlist.load``), encrypts it with AES-GCM under the second derived key, and
leaves it at ``{prefix}:kit:{worker}:{nonce}`` for ``bus.kit_timeout_s``. The worker takes it and deletes it.

So what crosses the bus or sits in Redis is useless without the worker's private key, a kit the worker accepts
can only come from the central service, and every hand-over is in the audit log. The worker holds the kit only
in memory and drops it when it stops, which it does when the deployment closes or its lease runs out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import time
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from pathlib import Path

import numpy as np
import redis
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from openlfr.config import BusSettings, Settings
from openlfr.governance.audit import SYSTEM, ActorLike, as_actor, record
from openlfr.governance.bus import (
    BUS_DOWN,
    BusError,
    BusNames,
    WorkerKit,
    bus_time_ms,
    connect,
    fetch_worker_kit,
)
from openlfr.governance.deployments import DeploymentInfo
from openlfr.governance.errors import GovernanceError
from openlfr.governance.watchlists import SubjectInfo
from openlfr.matching.watchlist_index import WatchlistIndex
from openlfr.store import Store, utcnow
from openlfr.store.crypto import CryptoError, _write_new_key, decrypt, encrypt
from openlfr.store.models import BusWorker

log = logging.getLogger(__name__)

KIT_VERSION = "1"
CREDENTIAL_VERSION = 1


class KitRefused(GovernanceError):
    """The central service refused a worker its kit (the message says why), or none came in time."""


# -- keys ------------------------------------------------------------------------------------------------------


def _raw_public(key: X25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise BusError(f"{what} is not base64: {exc}") from exc


def fingerprint(public_key: bytes) -> str:
    """A short, printable name of a public key (for the audit log and the enrolment message)."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def central_key(settings: Settings) -> X25519PrivateKey:
    """The central service's X25519 key (``bus.central_key_file``, created 0600 on first use)."""
    path = settings.bus_central_key_file
    if not path.exists():
        _write_new_key(path)  # False: another process created it first; read theirs
    try:
        raw = base64.b64decode(path.read_bytes().strip(), validate=True)
        return X25519PrivateKey.from_private_bytes(raw)
    except (ValueError, OSError) as exc:
        raise CryptoError(f"the bus's central key file {path} cannot be read: {exc}") from exc


@dataclass(frozen=True)
class WorkerCredential:
    """What a camera worker holds: its name, its private key and the central service's public key."""

    worker: str
    private_key: bytes
    central_public_key: bytes

    def __repr__(self) -> str:  # never print a key
        return f"WorkerCredential({self.worker})"

    def save(self, path: Path) -> None:
        """Write the credential file (mode 0600, refused if it exists)."""
        body = {
            "openlfr_worker_credential": CREDENTIAL_VERSION,
            "worker": self.worker,
            "private_key": _b64(self.private_key),
            "central_public_key": _b64(self.central_public_key),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError as exc:
            raise BusError(f"{path} exists: choose another file, or remove it first") from exc
        with os.fdopen(fd, "w") as fh:
            json.dump(body, fh, indent=1)
            fh.write("\n")

    @classmethod
    def load(cls, path: Path) -> WorkerCredential:
        try:
            body = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise BusError(f"worker credential {path} cannot be read: {exc}") from exc
        if not isinstance(body, dict) or body.get("openlfr_worker_credential") != CREDENTIAL_VERSION:
            raise BusError(f"{path} is not an openlfr worker credential (written by `openlfr enrol-worker`)")
        try:
            cred = cls(
                str(body["worker"]),
                _unb64(str(body["private_key"]), "the private key"),
                _unb64(str(body["central_public_key"]), "the central public key"),
            )
        except KeyError as exc:
            raise BusError(f"worker credential {path} has no {exc.args[0]!r}") from exc
        if len(cred.private_key) != 32 or len(cred.central_public_key) != 32:
            raise BusError(f"worker credential {path} holds keys of the wrong length")
        return cred


# -- enrolment (central store) ---------------------------------------------------------------------------------


def enrol_worker(store: Store, settings: Settings, actor: ActorLike, name: str) -> WorkerCredential:
    """Enrol ``name`` (a new key pair; a revoked worker may be enrolled again with a new one); audited."""
    name = name.strip()
    if not name or len(name) > 200 or any(c in name for c in ":\n\r\t "):
        raise GovernanceError(f"worker name {name!r}: 1-200 characters, no spaces or colons")
    private = X25519PrivateKey.generate()
    public = _raw_public(private)
    central_public = _raw_public(central_key(settings))
    who = as_actor(actor)
    now = utcnow()
    with store.session() as s:
        row = s.get(BusWorker, name)
        if row is not None and row.revoked_at is None:
            raise GovernanceError(
                f"worker {name} is already enrolled: revoke it first (`openlfr revoke-worker`)"
            )
        if row is None:
            row = BusWorker(name=name, public_key=public, enrolled_by=who.name, enrolled_at=now)
            s.add(row)
        else:
            row.public_key, row.enrolled_by, row.enrolled_at = public, who.name, now
            row.revoked_by = row.revoked_at = None
        record(s, who, "worker.enrol", target=name, at=now, details={"key": fingerprint(public)})
    return WorkerCredential(
        name,
        private.private_bytes_raw(),
        central_public,
    )


def revoke_worker(store: Store, actor: ActorLike, name: str) -> None:
    """Refuse ``name`` every kit from now on (audited); the row stays as the record."""
    who = as_actor(actor)
    now = utcnow()
    with store.session() as s:
        row = s.get(BusWorker, name)
        if row is None:
            raise GovernanceError(f"no worker named {name} is enrolled")
        if row.revoked_at is not None:
            raise GovernanceError(f"worker {name} was already revoked")
        row.revoked_by, row.revoked_at = who.name, now
        record(s, who, "worker.revoke", target=name, at=now)


# -- the kit on the wire -------------------------------------------------------------------------------------------


def _derive(
    own: X25519PrivateKey, peer_public: bytes, nonce: bytes, worker: str, dep: str
) -> tuple[bytes, bytes]:
    """``(mac_key, kit_key)``: the same on both sides, and for this request only."""
    shared = own.exchange(X25519PublicKey.from_public_bytes(peer_public))
    okm = HKDF(
        algorithm=hashes.SHA256(), length=64, salt=nonce, info=f"openlfr-worker-kit|{worker}|{dep}".encode()
    ).derive(shared)
    return okm[:32], okm[32:]


def _request_mac(mac_key: bytes, worker: str, dep: str, nonce: bytes, at_ms: int) -> bytes:
    msg = f"request|{KIT_VERSION}|{worker}|{dep}|{nonce.hex()}|{at_ms}".encode()
    return hmac.new(mac_key, msg, hashlib.sha256).digest()


def _kit_aad(worker: str, dep: str, nonce: bytes) -> bytes:
    return f"openlfr-kit|{KIT_VERSION}|{worker}|{dep}|{nonce.hex()}".encode()


def kit_to_bytes(kit: WorkerKit) -> bytes:
    """The kit as JSON: the deployment, the entries, the templates in their original rows (the row numbers
    alerts carry), their attraction offsets and the fusion rule, and the alerts key."""
    index = kit.index
    # The index keeps its rows grouped by subject; put them back in the order the central store numbers them.
    n = index.template_count
    inv = np.argsort(index._order) if n else np.zeros(0, np.int64)
    counts = np.diff(np.append(index._starts, n)) if n else np.zeros(0, np.int64)
    grouped = np.repeat(np.asarray(index.subjects, dtype=object), counts)
    dep = {f.name: getattr(kit.deployment, f.name) for f in fields(kit.deployment)}
    times = [k for k, v in dep.items() if isinstance(v, datetime)]
    body = {
        "v": KIT_VERSION,
        "deployment": {k: v.isoformat() if k in times else v for k, v in dep.items()},
        "deployment_times": times,
        "subjects": {
            k: {**asdict(v), "expires_at": v.expires_at.isoformat() if v.expires_at else None}
            for k, v in kit.subjects.items()
        },
        "subject_ids": [str(x) for x in grouped[inv]] if n else [],
        "offsets": [float(x) for x in index._offsets[inv]] if n else [],
        "fusion": index.fusion,
        "dim": index.dim,
        "templates": _b64(np.ascontiguousarray(index._templates[inv], np.float32).tobytes()) if n else "",
        "alerts_key": _b64(kit.alerts_key),
    }
    return json.dumps(body).encode()


def kit_from_bytes(data: bytes) -> WorkerKit:
    try:
        body = json.loads(data)
        if body.get("v") != KIT_VERSION:
            raise BusError(f"kit of version {body.get('v')!r}, expected {KIT_VERSION}")
        dep = dict(body["deployment"])
        for k in body["deployment_times"]:
            if dep.get(k) is not None:
                dep[k] = datetime.fromisoformat(dep[k])
        dep["success_measures"] = tuple(dep.get("success_measures") or ())  # JSON has no tuples
        subjects = {
            k: SubjectInfo(
                **{**v, "expires_at": datetime.fromisoformat(v["expires_at"]) if v["expires_at"] else None}
            )
            for k, v in body["subjects"].items()
        }
        ids = list(body["subject_ids"])
        dim = max(1, int(body["dim"]))
        templates = (
            np.frombuffer(_unb64(body["templates"], "templates"), np.float32).reshape(len(ids), dim)
            if ids
            else np.zeros((0, dim), np.float32)
        )
        index = WatchlistIndex(templates, ids, fusion=body["fusion"], offsets=body["offsets"] or None)
        return WorkerKit(DeploymentInfo(**dep), index, subjects, _unb64(body["alerts_key"], "the alerts key"))
    except (KeyError, TypeError, ValueError) as exc:
        raise BusError(f"the kit is malformed: {exc}") from exc


# -- central side --------------------------------------------------------------------------------------------------


def serve_kit_requests(store: Store, settings: Settings, r: redis.Redis, limit: int = 10) -> int:
    """Answer up to ``limit`` waiting kit requests (``CentralConsumer`` calls this every tick); how many."""
    names = BusNames.of(settings.bus)
    n = 0
    for _ in range(limit):
        raw = r.lpop(names.kit_requests)
        if raw is None:
            break
        n += 1
        try:
            _answer(store, settings, r, names, raw)  # type: ignore[arg-type]
        except CryptoError as exc:  # the central key file is unreadable: say so, keep consuming alerts
            log.error("kit request not answered: %s", exc)
    return n


def _answer(store: Store, settings: Settings, r: redis.Redis, names: BusNames, raw: bytes) -> None:
    try:
        req = json.loads(raw)
        worker, dep_id = str(req["worker"]), str(req["deployment_id"])
        nonce, at_ms = _unb64(str(req["nonce"]), "nonce"), int(req["at_ms"])
        mac = _unb64(str(req["mac"]), "mac")
    except (KeyError, TypeError, ValueError, BusError):
        return  # not a request at all: nobody to answer
    reply_key = names.kit_reply(worker, nonce)
    ttl_ms = int(settings.bus.kit_timeout_s * 1000)

    def refuse(reason: str) -> None:
        with store.session() as s:
            record(
                s,
                SYSTEM,
                "worker.kit_refused",
                deployment_id=None,
                target=worker,
                details={"deployment": dep_id, "reason": reason},
            )
        r.set(reply_key, json.dumps({"ok": False, "error": reason}), px=ttl_ms)

    with store.session() as s:
        row = s.get(BusWorker, worker)
        public = None if row is None or row.revoked_at is not None else bytes(row.public_key)
        revoked = row is not None and row.revoked_at is not None
    if public is None:
        refuse(f"worker {worker} is {'revoked' if revoked else 'not enrolled'} (openlfr enrol-worker)")
        return
    mac_key, kit_key = _derive(central_key(settings), public, nonce, worker, dep_id)
    if not hmac.compare_digest(mac, _request_mac(mac_key, worker, dep_id, nonce, at_ms)):
        refuse(f"the request is not signed with worker {worker}'s enrolled key")
        return
    if abs(bus_time_ms(r) - at_ms) > ttl_ms:
        refuse(f"the request is older than bus.kit_timeout_s ({settings.bus.kit_timeout_s:g} s)")
        return
    try:
        kit = fetch_worker_kit(store, dep_id, worker)
    except GovernanceError as exc:
        refuse(str(exc))
        return
    sealed = encrypt(kit_key, kit_to_bytes(kit), _kit_aad(worker, dep_id, nonce))
    r.set(reply_key, json.dumps({"ok": True, "kit": _b64(sealed)}), px=ttl_ms)


# -- worker side -----------------------------------------------------------------------------------------------------


def request_worker_kit(bus: BusSettings, credential: WorkerCredential, deployment_id: str) -> WorkerKit:
    """Ask the central service for ``deployment_id``'s kit and wait for it (``bus.kit_timeout_s``);
    :class:`KitRefused` with the central service's reason, or when none came."""
    names = BusNames.of(bus)
    worker = credential.worker
    own = X25519PrivateKey.from_private_bytes(credential.private_key)
    nonce = os.urandom(16)
    mac_key, kit_key = _derive(own, credential.central_public_key, nonce, worker, deployment_id)
    end = time.monotonic() + bus.kit_timeout_s
    r = connect(bus)
    try:
        at_ms = bus_time_ms(r)
        req = {
            "v": KIT_VERSION,
            "worker": worker,
            "deployment_id": deployment_id,
            "nonce": _b64(nonce),
            "at_ms": at_ms,
            "mac": _b64(_request_mac(mac_key, worker, deployment_id, nonce, at_ms)),
        }
        r.rpush(names.kit_requests, json.dumps(req))
        reply_key = names.kit_reply(worker, nonce)
        while time.monotonic() < end:
            raw = r.get(reply_key)
            if raw is not None:
                r.delete(reply_key)
                reply = json.loads(raw)
                if not reply.get("ok"):
                    raise KitRefused(f"the central service refused the kit: {reply.get('error')}")
                try:
                    data = decrypt(
                        kit_key, _unb64(reply["kit"], "kit"), _kit_aad(worker, deployment_id, nonce)
                    )
                except CryptoError as exc:
                    raise KitRefused(
                        f"the kit does not open with this credential ({exc}): is it from this central service?"
                    ) from exc
                return kit_from_bytes(data)
            time.sleep(0.1)
    except BUS_DOWN as exc:
        raise KitRefused(f"bus unreachable while fetching the kit: {exc}") from exc
    finally:
        r.close()
    raise KitRefused(
        f"no kit from the central service within {bus.kit_timeout_s:g} s (is `openlfr serve` or `openlfr "
        "central` running on this bus?)"
    )
