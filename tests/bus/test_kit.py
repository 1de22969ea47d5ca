"""Worker kits over the bus: an enrolled worker gets its deployment's kit from the central service, encrypted
for it alone and audited; a forged or revoked credential, or a closed deployment, is refused; and a real
``openlfr worker`` with only a credential and the bus URL (no database, no master key) raises an alert that
the central service stores."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import select

from openlfr.governance.bus import fetch_worker_kit
from openlfr.governance.bus_kit import (
    KitRefused,
    WorkerCredential,
    enrol_worker,
    request_worker_kit,
    revoke_worker,
)
from openlfr.governance.deployment_closing import close_deployment
from openlfr.store.models import AuditEntry
from openlfr.vision import FaceEngine
from tests.bus.conftest import ROOT, RedisServer, bus_settings, child_env, stored_deployment
from tests.bus.helpers import central_thread, wait_until_stored


def _actions(store: object) -> list[tuple[str, str | None]]:
    with store.session() as s:  # type: ignore[attr-defined]
        return [(a.action, a.target) for a in s.scalars(select(AuditEntry).order_by(AuditEntry.seq))]


def test_enrolled_worker_gets_its_kit_and_others_are_refused(
    tmp_path: Path, redis_url: str, engine: FaceEngine
) -> None:
    bus = bus_settings(redis_url, kit_timeout_s=10.0)
    settings, store, dep_id = stored_deployment(tmp_path, bus, engine)
    cred = enrol_worker(store, settings, "supervisor", "van-1")  # type: ignore[arg-type]
    path = tmp_path / "van-1.credential"
    cred.save(path)
    assert path.stat().st_mode & 0o777 == 0o600
    cred = WorkerCredential.load(path)
    direct = fetch_worker_kit(store, dep_id, "direct")  # type: ignore[arg-type]
    with central_thread(store, settings):  # type: ignore[arg-type]
        kit = request_worker_kit(settings.bus, cred, dep_id)
        # The same watchlist as the store's, rows in the same order (alerts carry the row number).
        assert kit.alerts_key == direct.alerts_key and kit.deployment == direct.deployment
        assert kit.subjects == direct.subjects and kit.index.subjects == direct.index.subjects
        probes = np.random.default_rng(0).standard_normal((4, direct.index.dim)).astype(np.float32)
        assert np.allclose(kit.index.subject_scores(probes), direct.index.subject_scores(probes), atol=1e-6)

        def rows(kit_: object) -> list[list[int]]:
            return [[c.template_index for c in hits] for hits in kit_.index.search(probes, k=3)]  # type: ignore[attr-defined]

        assert rows(kit) == rows(direct)
        # Same name, another key: refused (and the reply could not be opened anyway).
        forged = WorkerCredential(
            "van-1", X25519PrivateKey.generate().private_bytes_raw(), cred.central_public_key
        )
        with pytest.raises(KitRefused, match="not signed with worker van-1's enrolled key"):
            request_worker_kit(settings.bus, forged, dep_id)
        stranger = WorkerCredential("van-9", cred.private_key, cred.central_public_key)
        with pytest.raises(KitRefused, match="not enrolled"):
            request_worker_kit(settings.bus, stranger, dep_id)
        revoke_worker(store, "supervisor", "van-1")  # type: ignore[arg-type]
        with pytest.raises(KitRefused, match="revoked"):
            request_worker_kit(settings.bus, cred, dep_id)
        again = enrol_worker(store, settings, "supervisor", "van-1")  # type: ignore[arg-type]
        close_deployment(store, "supervisor", dep_id, reason="test")  # type: ignore[arg-type]
        with pytest.raises(KitRefused, match="closed"):
            request_worker_kit(settings.bus, again, dep_id)
    actions = _actions(store)
    assert ("worker.enrol", "van-1") in actions and ("worker.revoke", "van-1") in actions
    assert ("worker.kit", "van-1") in actions
    assert sum(a == ("worker.kit_refused", "van-1") for a in actions) == 3
    assert ("worker.kit_refused", "van-9") in actions


def test_worker_with_only_a_credential_raises_an_alert(
    tmp_path: Path, redis_url: str, engine: FaceEngine, hamilton: Path
) -> None:
    settings, store, dep_id = stored_deployment(tmp_path, bus_settings(redis_url), engine)
    cred_path = tmp_path / "van-1.credential"
    enrol_worker(store, settings, "supervisor", "van-1").save(cred_path)  # type: ignore[arg-type]
    worker_home = tmp_path / "van-1-home"  # the van's own folder: no database, no master key in it
    env = {k: v for k, v in child_env(settings).items() if not k.startswith("OPENLFR_STORE__")}
    env["OPENLFR_DATA_DIR"] = str(worker_home)
    env["OPENLFR_BUS__CREDENTIAL_FILE"] = str(cred_path)
    with central_thread(store, settings):  # type: ignore[arg-type]
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                "from openlfr.cli import app; app()",
                "worker",
                "-d",
                dep_id,
                "-s",
                f"stage={hamilton}",
                "--fast",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-2000:]
        sent, stored = wait_until_stored(store, settings, dep_id)
    assert len(sent) == 1 and set(stored) == sent
    assert stored[0] in proc.stdout
    left = sorted(p.name for p in worker_home.rglob("*")) if worker_home.exists() else []
    assert not any(n.endswith((".db", ".key")) for n in left), left
    assert ("worker.kit", "van-1") in _actions(store)


def test_enrol_and_revoke_worker_commands(tmp_path: Path) -> None:
    from openlfr.config import Settings
    from openlfr.store import open_store
    from openlfr.store.auth_models import Role
    from tests.cli_login import cli_env, cli_log_in

    settings = Settings(data_dir=tmp_path / "openlfr")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", "from openlfr.cli import app; app()", *args],
            env=cli_env(settings),
            capture_output=True,
            text=True,
            timeout=120,
        )

    cli_log_in(settings, Role.ENGAGEMENT_OFFICER)
    refused = cli("enrol-worker", "van-7", "--out", str(tmp_path / "nope.credential"))
    assert refused.returncode != 0 and "may not do this" in refused.stdout + refused.stderr
    assert not (tmp_path / "nope.credential").exists()
    cli_log_in(settings, Role.OPERATOR)
    out = tmp_path / "van-7.credential"
    done = cli("enrol-worker", "van-7", "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    cred = WorkerCredential.load(out)
    assert cred.worker == "van-7" and out.stat().st_mode & 0o777 == 0o600
    again = cli("enrol-worker", "van-7", "--out", str(tmp_path / "second.credential"))
    assert again.returncode != 0 and "already enrolled" in again.stdout + again.stderr
    assert cli("revoke-worker", "van-7").returncode == 0
    store = open_store(settings)
    try:
        with store.session() as s:
            rows = [
                (a.action, a.target, a.actor)
                for a in s.scalars(select(AuditEntry).where(AuditEntry.action.like("worker.%")))
            ]
    finally:
        store.close()
    assert rows == [("worker.enrol", "van-7", "operator"), ("worker.revoke", "van-7", "operator")]


def test_kit_in_redis_shows_no_watchlist(
    tmp_path: Path, private_redis: RedisServer, engine: FaceEngine
) -> None:
    """What Redis wrote to its append-only file while handing a kit over holds neither the watchlist's
    subjects nor the alerts key: the kit crossed encrypted for the worker."""
    settings, store, dep_id = stored_deployment(tmp_path, bus_settings(private_redis.url), engine)
    cred = enrol_worker(store, settings, "supervisor", "van-1")  # type: ignore[arg-type]
    with central_thread(store, settings):  # type: ignore[arg-type]
        kit = request_worker_kit(settings.bus, cred, dep_id)
    assert "lin_manuel_miranda" in kit.subjects
    written = b"".join(p.read_bytes() for p in private_redis.folder.rglob("*.aof*") if p.is_file())
    assert b"kit-requests" in written and b":kit:van-1:" in written  # the hand-over went through Redis
    for secret in (b"lin_manuel_miranda", base64.b64encode(kit.alerts_key), b"wanted_by_court"):
        assert secret not in written
