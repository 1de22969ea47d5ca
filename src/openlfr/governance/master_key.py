"""Master key rotation (``openlfr keys rotate``): every deployment key re-wrapped under a new master key.

The data keys themselves do not change, so no blob or template is re-encrypted; only their wrapped copies
in ``deployment_keys`` are rewritten, in one transaction with the audit row. The old master key file is
replaced, so it no longer opens anything stored here now. (A backup of the database taken before the
rotation still opens with a backup of the old key file: rotate *and* retire old key backups.)
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from openlfr.governance.audit import ActorLike, as_actor, record
from openlfr.store import Store


def rotate_master_key(store: Store, actor: ActorLike) -> int:
    """Rotate the master key; the number of deployment keys re-wrapped. Audited as ``keys.rotate``."""
    who = as_actor(actor)

    def audit(session: Session, count: int) -> None:
        record(
            session,
            who,
            "keys.rotate",
            details={"keys_rewrapped": count, "master_key_file": str(store.keys.master.path)},
        )

    return store.rotate_master_key(audit)
