"""The ``openlfr`` command: one Typer app composed from one module per area."""

from __future__ import annotations

from openlfr.cli import calibration as _calibration  # noqa: F401  (registers its commands)
from openlfr.cli import demo as _demo  # noqa: F401  (registers its commands)
from openlfr.cli import evaluate as _evaluate  # noqa: F401  (registers its commands)
from openlfr.cli import gallery as _gallery  # noqa: F401  (registers its commands)
from openlfr.cli import governance as _governance  # noqa: F401  (registers its commands)
from openlfr.cli import governance_alerts as _governance_alerts  # noqa: F401  (registers its commands)
from openlfr.cli import governance_deployments as _governance_deployments  # noqa: F401  (registers its commands)
from openlfr.cli import governance_records as _governance_records  # noqa: F401  (registers its commands)
from openlfr.cli import governance_watchlists as _governance_watchlists  # noqa: F401  (registers its commands)
from openlfr.cli import identity as _identity  # noqa: F401  (registers its commands)
from openlfr.cli import keys as _keys  # noqa: F401  (registers its commands)
from openlfr.cli import live as _live  # noqa: F401  (registers its commands)
from openlfr.cli import promises as _promises  # noqa: F401  (registers its commands)
from openlfr.cli import retro as _retro  # noqa: F401  (registers its commands)
from openlfr.cli import rights as _rights  # noqa: F401  (registers its commands)
from openlfr.cli import serve as _serve  # noqa: F401  (registers its commands)
from openlfr.cli import vision as _vision  # noqa: F401  (registers its commands)
from openlfr.cli import worker as _worker  # noqa: F401  (registers its commands)
from openlfr.cli.app import app

__all__ = ["app"]
