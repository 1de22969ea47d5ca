"""The short reference a stopped person is given (issue 27 §1; see :mod:`openlfr.governance.subject_access`).

Ten characters from an alphabet without look-alike characters, printed as ``XXXXX-XXXXX``: nine random, the
tenth a check character that catches one misheard character or two swapped ones.
"""

from __future__ import annotations

import secrets

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openlfr.governance.errors import GovernanceError
from openlfr.store.models import Alert

ALPHABET = "346789ACDEFHJKMNPRTVWXY"
"""23 characters (a prime, so the weighted check catches every single substitution and adjacent swap)."""
RANDOM_CHARS = 9


def _check_char(body: str) -> str:
    return ALPHABET[sum((i + 1) * ALPHABET.index(c) for i, c in enumerate(body)) % len(ALPHABET)]


def new_reference() -> str:
    """A fresh reference, ``XXXXX-XXXXX`` (callers make sure it is not already in use)."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_CHARS))
    ref = body + _check_char(body)
    return f"{ref[:5]}-{ref[5:]}"


def parse_reference(value: str) -> str:
    """A reference as read out or typed (any case, spaces or hyphens anywhere) in its printed form;
    :class:`GovernanceError` saying what is wrong with it."""
    raw = "".join(ch for ch in (value or "").upper() if ch not in " -\t")
    if len(raw) != RANDOM_CHARS + 1:
        raise GovernanceError(
            f"a stopped person's reference has {RANDOM_CHARS + 1} letters and digits (like 3KX7A-9MPRD); "
            f"{value!r} has {len(raw)}"
        )
    bad = sorted({ch for ch in raw if ch not in ALPHABET})
    if bad:
        raise GovernanceError(
            f"a stopped person's reference never contains {', '.join(repr(b) for b in bad)}: "
            f"it uses only {ALPHABET} (check for a misread character)"
        )
    if _check_char(raw[:-1]) != raw[-1]:
        raise GovernanceError(
            f"reference {value!r} does not check out: a character was probably misread or two swapped"
        )
    return f"{raw[:5]}-{raw[5:]}"


def assign_reference(s: Session, a: Alert) -> str:
    """Give the alert a reference unless it has one (called when an officer meets the person)."""
    if a.engagement_reference is None:
        while True:
            ref = new_reference()
            if not s.scalar(select(func.count()).where(Alert.engagement_reference == ref)):
                break
        a.engagement_reference = ref
    return a.engagement_reference
