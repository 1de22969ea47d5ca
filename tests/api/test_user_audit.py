"""Granting and withdrawing access is audited in the same transaction as the change (rule 6)."""

from __future__ import annotations

from pathlib import Path

from openlfr.api.users import create_user, set_active
from openlfr.config import Settings
from openlfr.governance.audit import entries, verify
from openlfr.store import open_store


def test_user_creation_and_disabling_are_audited(tmp_path: Path) -> None:
    store = open_store(Settings(data_dir=tmp_path / "d"))
    create_user(store, "pc-evans", "a long enough passphrase 42", "operator", actor="admin (administrator)")
    (created,) = entries(store, action="user.create")
    assert created.target == "pc-evans" and "admin" in created.actor and '"operator"' in created.details
    set_active(store, "pc-evans", False, actor="admin (administrator)")
    (disabled,) = entries(store, action="user.disable")
    assert disabled.target == "pc-evans"
    assert verify(store).ok
