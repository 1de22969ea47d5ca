"""The blob sweep: no encrypted file outlives the row that refers to it (rule 5, and tidy storage).

Run at start (the server, and each CLI command that opens the store), after a deployment closes, and by
every purge. It finishes what a killed process left in the blob staging area (a staged blob whose row
committed is moved in; any other is deleted) and deletes blobs in place that no row refers to. The counts
go to the audit log: always for close and purge, at start only when there was something to do.
"""

from __future__ import annotations

from openlfr.governance.audit import SYSTEM, ActorLike, record
from openlfr.store import Store
from openlfr.store.blobs import SweepResult

TRIGGERS = ("start", "close", "purge", "manual")


def sweep_blobs(
    store: Store, actor: ActorLike = SYSTEM, *, trigger: str, deployment_id: str | None = None
) -> SweepResult:
    """Sweep the blob folder and audit the counts (``blobs.sweep``); see the module's docstring."""
    if trigger not in TRIGGERS:
        raise ValueError(f"unknown sweep trigger {trigger!r}")
    result = store.sweep_blobs()
    if result.total or trigger != "start":
        with store.session() as s:
            record(
                s,
                actor,
                "blobs.sweep",
                deployment_id=deployment_id,
                details={"trigger": trigger, **result.as_dict()},
            )
    return result
