"""The errors governance services raise: each message names the problem for the person who caused it."""

from __future__ import annotations

from openlfr.errors import OpenLFRError


class GovernanceError(OpenLFRError, ValueError):
    """A request the rules do not allow, or bad input; the message says why."""


class NotFound(GovernanceError):
    """No such deployment, subject or alert."""


class ScanRefused(GovernanceError):
    """Rule 1: outside the window, deployment not open, or a camera the deployment does not list."""
