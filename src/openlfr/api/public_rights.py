"""The public's side of the published views (issue 27): the privacy notice, postal address and
accessibility statement from the force's settings, the deployment's stated objective, the force it ran for
and its documents as links. Shared by the public pages, the signage and the leaflet."""

from __future__ import annotations

from typing import Any

from openlfr.config import Settings
from openlfr.governance.deployments import DeploymentInfo
from openlfr.governance.documents import DOCUMENT_KINDS, stored_documents

RECORD_KEYS = (
    "arrests_for_watchlist_reason",
    "arrests_with_other_offences",
    "arrests_other_offences",
    "disposals_with_force",
    "disposals_force_not_recorded",
    "outcomes_against_objective",
    "complaints",
    "complaints_by_outcome",
)
"""What the public deployment page adds to its results from the record (counts only)."""


def is_link(value: str | None) -> bool:
    """Only http(s) addresses become links (a reference such as "DPIA-2030-1" stays text)."""
    v = (value or "").strip().lower()
    return v.startswith("https://") or v.startswith("http://")


def privacy_info(settings: Settings, *, has_reference: bool = False) -> dict[str, Any]:
    """What ``_privacy.html`` shows, from the force's settings."""
    s = settings.server
    notice = s.privacy_notice_url.strip()
    return {
        "notice_url": notice if is_link(notice) else None,
        "notice_text": notice if notice and not is_link(notice) else None,
        "postal_address": s.postal_address.strip() or None,
        "accessibility_url": s.accessibility_statement_url.strip()
        if is_link(s.accessibility_statement_url)
        else None,
        "has_reference": has_reference,
    }


def documents(dep: DeploymentInfo, settings: Settings) -> list[dict[str, str | None]]:
    """The deployment's documents for the public page: a stored document links to its copy here; otherwise
    each is a link when it is an address, else its name."""
    stored = stored_documents(settings, dep.id)
    out: list[dict[str, str | None]] = []
    for kind, doc in stored.items():
        ref = {"dpia": dep.dpia_ref, "eia": dep.eia_ref, "policy": dep.policy_ref}[kind]
        out.append(
            {
                "title": DOCUMENT_KINDS[kind],
                "text": f"{ref or DOCUMENT_KINDS[kind]} ({doc.fmt.upper()})",
                "href": f"/public/deployments/{dep.id}/documents/{kind}",
            }
        )
    for title, value in (
        ("Data protection impact assessment", dep.dpia_ref),
        ("Equality impact assessment", dep.eia_ref),
        ("Policy document", dep.policy_ref),
        ("Privacy notice", settings.server.privacy_notice_url),
        ("Accessibility statement", settings.server.accessibility_statement_url),
    ):
        if title in [d["title"] for d in out]:
            continue
        text = (value or "").strip() or "not recorded"
        out.append({"title": title, "text": text, "href": text if is_link(text) else None})
    return out


def plan_view(dep: DeploymentInfo, settings: Settings) -> dict[str, Any]:
    """The published planning fields of issue 27 (merged into the public deployment view)."""
    return {
        "objective": dep.objective,
        "success_measures": list(dep.success_measures),
        "on_behalf_of": dep.on_behalf_of,
        "on_behalf_of_controller": dep.on_behalf_of_controller,
        "documents": documents(dep, settings),
    }
