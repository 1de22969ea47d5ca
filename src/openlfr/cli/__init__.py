"""The ``openlfr`` command: one Typer app composed from one module per area."""

from __future__ import annotations

from openlfr.cli.app import app
from openlfr.cli import vision as _vision  # noqa: F401  (registers its commands)

__all__ = ["app"]
