"""What an engagement led to, in enough detail to trace it (issue 27 §3).

The disposal (arrest, advice, no action) records, as the officer states it: whether force was used (yes or
no; left out, it is counted as "not recorded"), and for an arrest whether it was for the reason the person was on the watchlist and
which other offences it was for (a closed list, so that they can be counted). A custody or crime reference
is kept with the alert, encrypted under the deployment's alerts key (it identifies a person's record), and
is never published; the published record and yearly totals count the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from openlfr.governance.errors import GovernanceError
from openlfr.safetext import UnsafeText, check_published_text
from openlfr.store import Store
from openlfr.store.crypto import decrypt, encrypt
from openlfr.store.models import Alert

OTHER_OFFENCES: dict[str, str] = {
    "violence_against_person": "violence against the person",
    "sexual_offence": "sexual offence",
    "robbery": "robbery",
    "theft": "theft or handling stolen goods",
    "burglary": "burglary",
    "criminal_damage": "criminal damage or arson",
    "drugs": "drug offence",
    "weapons": "possession of weapons",
    "public_order": "public order offence",
    "breach_of_conditions": "breach of bail or court conditions",
    "obstruction_or_assault_on_police": "obstructing or assaulting a police officer",
    "fraud": "fraud or forgery",
    "other": "other offence",
}
"""Offences an arrest was for besides (or instead of) the watchlist reason, by Home Office offence group."""

MAX_CUSTODY_REFERENCE = 64


@dataclass(frozen=True)
class OutcomeDetail:
    """What the officer records with the disposal."""

    use_of_force: bool | None = None
    arrest_for_watchlist_reason: bool | None = None
    other_offences: Sequence[str] = ()
    """Keys or words of :data:`OTHER_OFFENCES`."""
    custody_reference: str | None = None


def parse_offence(value: str) -> str:
    """An other-offence key from its key or words (case-insensitive); anything else is refused, naming them."""
    v = " ".join(value.strip().lower().replace("-", " ").replace("_", " ").split())
    for key, label in OTHER_OFFENCES.items():
        if v and v in (key.replace("_", " "), label.lower()):
            return key
    raise GovernanceError(
        f"unknown offence {value!r}: the other offences are "
        + "; ".join(f"{k} ({w})" for k, w in OTHER_OFFENCES.items())
    )


def _aad(alert_id: str) -> bytes:
    return f"alert:{alert_id}:custody_reference".encode()


def apply_outcome_detail(
    store: Store, s: Session, a: Alert, disposal: str, detail: OutcomeDetail | None
) -> dict[str, object]:
    """Check ``detail`` against the disposal and write it to the alert; what the audit row records (the
    custody reference only as "given", never its text)."""
    d = detail or OutcomeDetail()
    offences = sorted({parse_offence(o) for o in d.other_offences})
    ref = (d.custody_reference or "").strip() or None
    if disposal == "arrest":
        if d.arrest_for_watchlist_reason is False and not offences:
            raise GovernanceError(
                "an arrest that was not for the watchlist reason must name the other offence(s) it was for"
            )
    else:
        given = [
            name
            for name, value in (
                ("whether the arrest was for the watchlist reason", d.arrest_for_watchlist_reason),
                ("other offences", offences or None),
            )
            if value is not None
        ]
        if given:
            raise GovernanceError(f"{disposal} is not an arrest: {' and '.join(given)} cannot be recorded")
    if ref is not None:
        if len(ref) > MAX_CUSTODY_REFERENCE:
            raise GovernanceError(
                f"the custody or crime reference is longer than {MAX_CUSTODY_REFERENCE} characters"
            )
        try:
            check_published_text("custody or crime reference", ref)
        except UnsafeText as exc:
            raise GovernanceError(str(exc)) from None
        key = store.keys.get(s, a.deployment_id, "alerts")
        a.custody_reference = encrypt(key, ref.encode(), _aad(a.id))
    a.use_of_force = d.use_of_force
    a.arrest_for_watchlist_reason = d.arrest_for_watchlist_reason if disposal == "arrest" else None
    a.other_offences = offences if disposal == "arrest" else None
    return {
        "use_of_force": a.use_of_force,
        "arrest_for_watchlist_reason": a.arrest_for_watchlist_reason,
        "other_offences": a.other_offences,
        "custody_reference_given": ref is not None,
    }


def custody_reference(store: Store, s: Session, a: Alert) -> str | None:
    """The decrypted custody or crime reference (callers audit the read)."""
    if a.custody_reference is None:
        return None
    key = store.keys.get(s, a.deployment_id, "alerts")
    return decrypt(key, a.custody_reference, _aad(a.id)).decode()
