"""Governance: deployments, watchlists, alerts and adjudication, retention, the audit log, the published record.

Every service takes the open :class:`openlfr.store.Store`, the actor (who did it: an
:class:`~openlfr.governance.audit.Actor`, a name, or ``"system"``) and optionally a ``clock`` (a callable
returning an aware UTC ``datetime``; tests pass one they can move forward).
"""

from openlfr.governance.audit import SYSTEM, Actor
from openlfr.governance.errors import GovernanceError, NotFound, ScanRefused

__all__ = ["SYSTEM", "Actor", "GovernanceError", "NotFound", "ScanRefused"]
