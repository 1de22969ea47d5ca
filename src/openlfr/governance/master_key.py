"""Master key rotation (``openlfr keys rotate``) and moving data forward (``--reencrypt``).

Rotation re-wraps every data key (deployments', galleries', RFR cases', every generation) under a new master
key, and **starts a new generation of each data key**, wrapped only under the new master key, in one
transaction with the audit row. Everything written after it (open deployments' alerts and watchlists,
gallery imports, RFR probes) goes under the new generation, so an old master key and a copy of the database
taken before the rotation open nothing written after it. The old master key file is replaced.

``--reencrypt`` then re-encrypts what was written before (blob files, watchlist and gallery templates) under
the newest generation. It works in batches, each its own transaction, and skips what already is under the
newest generation (each ciphertext names its generation), so an interrupted run is simply run again; each
scope's counts are audited. Older generations stay in the database (a gallery's index file, rebuilt or
re-saved later, may still use them); with the old master key retired they open nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from openlfr.governance.audit import ActorLike, as_actor, record
from openlfr.governance.watchlists.storage import template_aad
from openlfr.store import Store
from openlfr.store.blobs import case_blob_folder, gallery_blob_folder
from openlfr.store.crypto import KeyRing, decrypt, encrypt, generation_of
from openlfr.store.db import case_key_label, gallery_key_label, gallery_template_aad
from openlfr.store.models import (
    Alert,
    DeploymentKey,
    Gallery,
    GalleryTemplate,
    RetroCase,
    RetroProbe,
    WatchlistTemplate,
)

BATCH = 200


@dataclass
class RotationResult:
    keys_rewrapped: int
    generations_started: int
    reencrypted: dict[str, int] = field(default_factory=dict)
    """Per scope (``deployment/<id>/<purpose>``, ``gallery/<id>``, ``case/<id>``): ciphertexts moved."""

    def as_dict(self) -> dict[str, object]:
        return {
            "keys_rewrapped": self.keys_rewrapped,
            "data_key_generations_started": self.generations_started,
            "reencrypted": self.reencrypted,
        }


def rotate_master_key(store: Store, actor: ActorLike) -> RotationResult:
    """Rotate the master key and start new data key generations. Audited as ``keys.rotate``."""
    who = as_actor(actor)
    started: list[int] = []

    def audit(session: Session, count: int, generations: int) -> None:
        started.append(generations)
        record(
            session,
            who,
            "keys.rotate",
            details={
                "keys_rewrapped": count,
                "data_key_generations_started": generations,
                "master_key_file": str(store.keys.master.path),
            },
        )

    count = store.rotate_master_key(audit)
    return RotationResult(count, started[0] if started else 0)


# --- re-encryption -----------------------------------------------------------------------------------------


def _blobs(folder: str, ids: list[str], store: Store, ring: KeyRing) -> int:
    return sum(store.blobs.reencrypt(folder, b, ring) for b in ids)


def reencrypt_all(store: Store, actor: ActorLike) -> dict[str, int]:
    """Re-encrypt every blob and template not yet under its key's newest generation; resumable (run again
    after an interruption: what is done is skipped). One ``keys.reencrypt`` audit row per scope that moved
    anything, and one ``keys.reencrypt_done`` row with the totals."""
    who = as_actor(actor)
    done: dict[str, int] = {}
    with store.sessions() as s:
        deployment_keys = [
            (k.deployment_id, k.purpose)
            for k in s.scalars(select(DeploymentKey).where(DeploymentKey.wrapped_key.is_not(None)))
        ]
        galleries = list(s.scalars(select(Gallery.id).where(Gallery.wrapped_key.is_not(None))))
        cases = list(
            s.scalars(
                select(RetroCase.id).where(RetroCase.wrapped_key.is_not(None), RetroCase.purged_at.is_(None))
            )
        )
    for dep_id, purpose in deployment_keys:
        moved = _reencrypt_deployment(store, dep_id, purpose)
        if moved:
            done[f"deployment/{dep_id}/{purpose}"] = moved
    for gid in galleries:
        moved = _reencrypt_gallery(store, gid)
        if moved:
            done[f"gallery/{gid}"] = moved
    for cid in cases:
        moved = _reencrypt_case(store, cid)
        if moved:
            done[f"case/{cid}"] = moved
    with store.session() as s:
        for scope, n in done.items():
            record(s, who, "keys.reencrypt", target=scope, details={"ciphertexts": n})
        record(
            s, who, "keys.reencrypt_done", details={"scopes": len(done), "ciphertexts": sum(done.values())}
        )
    return done


def _reencrypt_deployment(store: Store, dep_id: str, purpose: str) -> int:
    with store.sessions() as s:
        ring = store.keys.get(s, dep_id, purpose)
    if ring.current == 0:
        return 0
    if purpose == "alerts":
        with store.sessions() as s:
            rows = s.execute(
                select(Alert.probe_blob, Alert.frame_blob, Alert.candidate_blob).where(
                    Alert.deployment_id == dep_id, Alert.purged_at.is_(None)
                )
            ).all()
        ids = [b for row in rows for b in row if b]
        return _blobs(dep_id, ids, store, ring)
    return _reencrypt_templates(
        store,
        ring,
        select(WatchlistTemplate).where(WatchlistTemplate.deployment_id == dep_id),
        WatchlistTemplate.id,
        "",
        lambda t: template_aad(t.deployment_id, t.id),
        dep_id,
    )


def _reencrypt_gallery(store: Store, gid: str) -> int:
    with store.sessions() as s:
        g = s.get(Gallery, gid)
        assert g is not None
        ring = store.key_ring(gallery_key_label(gid), g.wrapped_key)
    if ring.current == 0:
        return 0
    return _reencrypt_templates(
        store,
        ring,
        select(GalleryTemplate).where(GalleryTemplate.gallery_id == gid),
        GalleryTemplate.id,
        0,
        lambda t: gallery_template_aad(gid, t.image_sha256),
        gallery_blob_folder(gid),
    )


def _reencrypt_templates(
    store: Store,
    ring: KeyRing,
    rows: Select[Any],
    id_column: Any,
    first: Any,
    aad_of: Callable[[Any], bytes],
    folder: str,
) -> int:
    """Move a scope's encrypted templates and their image blobs to the ring's newest generation, in batches
    by id (each batch its own transaction, so an interrupted run resumes where it stopped)."""
    moved = 0
    last = first
    while True:
        with store.session() as s:
            batch = list(s.scalars(rows.where(id_column > last).order_by(id_column).limit(BATCH)))
            for t in batch:
                aad = aad_of(t)
                if generation_of(t.template) != ring.current:
                    t.template = encrypt(ring, decrypt(ring, t.template, aad), aad)
                    moved += 1
                moved += store.blobs.reencrypt(folder, t.image_blob, ring)
        if len(batch) < BATCH:
            return moved
        last = batch[-1].id


def _reencrypt_case(store: Store, cid: str) -> int:
    with store.sessions() as s:
        c = s.get(RetroCase, cid)
        assert c is not None
        ring = store.key_ring(case_key_label(cid), c.wrapped_key)
        ids = [b for b in s.scalars(select(RetroProbe.probe_blob).where(RetroProbe.case_id == cid)) if b]
    if ring.current == 0:
        return 0
    return _blobs(case_blob_folder(cid), ids, store, ring)
