"""The one base class of the errors openlfr raises on purpose.

An :class:`OpenLFRError` means "the request cannot be done, and the message says why to the person who made
it" (bad input, a rule that refuses, a missing file). The CLI and the API turn it into a one-line message;
any other exception is a bug in openlfr, reported as an internal error with its traceback in the log.

This module imports nothing from openlfr, so every area (down to ``config`` and ``vision``) can use it.
Each area's errors also keep the built-in base they had (``ValueError``, ``RuntimeError``, ...), so code
that caught those still does.
"""

from __future__ import annotations

__all__ = ["OpenLFRError"]


class OpenLFRError(Exception):
    """An expected failure whose message names the problem for the person who caused it."""
