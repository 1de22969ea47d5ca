"""What the live pipeline needs from governance, as a ``typing.Protocol``.

The governance layer's ``openlfr.governance.live_gateway.DeploymentGateway`` implements it against the
store (deployment window, cameras, encrypted watchlist, alert store, audit log);
:class:`openlfr.live.memory_gateway.InMemoryGateway` implements it in memory for dry runs and benchmarks.
The pipeline depends only on this protocol, so it never reaches into storage itself (DESIGN.md layers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

# The governance layer owns the refusal; re-exported here so callers of the live layer need only it.
from openlfr.governance.errors import ScanRefused
from openlfr.governance.live_contract import Counts, NewAlert
from openlfr.matching.watchlist_index import WatchlistIndex

__all__ = ["Counts", "DeploymentView", "LiveGateway", "NewAlert", "ScanRefused"]


class DeploymentView(Protocol):
    """The parts of a deployment the live pipeline and its CLI read."""

    @property
    def id(self) -> str: ...
    @property
    def pack(self) -> str: ...
    @property
    def threshold(self) -> float: ...
    @property
    def cameras(self) -> Sequence[str]: ...


@runtime_checkable
class LiveGateway(Protocol):
    """Governance's face towards one open deployment: exactly what the pipeline calls.

    Rule 1: scan only inside it (``check_can_scan``, re-checked by ``raise_alert``); rule 3: non-matches
    leave counters only (``record_counters``).
    """

    @property
    def deployment(self) -> DeploymentView: ...

    def check_can_scan(self, camera_id: str, at: datetime | None = None) -> None:
        """Return if ``camera_id`` may be scanned at ``at`` (default now); raise ``ScanRefused`` if not."""
        ...

    def watchlist(self) -> tuple[WatchlistIndex, Mapping[str, Any]]:
        """The deployment's watchlist index and ``{subject_id: SubjectInfo}``."""
        ...

    def raise_alert(self, alert: NewAlert) -> str:
        """Store an alert (with its images) for adjudication and notify; returns the alert id."""
        ...

    def record_counters(self, camera_id: str, counts: Counts) -> None:
        """Add these counts (increments since the previous call) to the deployment's statistics."""
        ...
