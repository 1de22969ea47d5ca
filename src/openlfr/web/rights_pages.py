"""The leaflet an officer prints with the stopped person's reference on it (issue 27); the published
parts live in :mod:`openlfr.api.public_rights`."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from openlfr.api import roles
from openlfr.api.auth import actor_of
from openlfr.api.deps import get_store
from openlfr.api.public import rate_limited
from openlfr.api.users import Principal
from openlfr.governance import alerts, deployments
from openlfr.governance.audit import record
from openlfr.governance.documents import stored_documents
from openlfr.governance.errors import GovernanceError, NotFound
from openlfr.store import Store
from openlfr.web.pages import page_roles

router = APIRouter(include_in_schema=False)

LEAFLET_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


@router.get("/alerts/{alert_id}/leaflet", response_class=HTMLResponse)
def leaflet_for_encounter(
    alert_id: str,
    store: Store = Depends(get_store),
    principal: Principal = Depends(page_roles(*roles.ENGAGEMENT_OUTCOME)),
) -> Response:
    """The leaflet with this encounter's reference printed on it (audited as printed)."""
    from openlfr.web.signage import render_leaflet

    a = alerts.get_alert(store, alert_id)
    if a.reference is None:
        raise GovernanceError(
            f"alert {alert_id} has no reference yet: it is given when the engagement records meeting the person"
        )
    dep = deployments.get_deployment(store, a.deployment_id)
    with store.session() as s:
        record(s, actor_of(principal), "alert.leaflet_printed", deployment_id=dep.id, target=a.id)
    return HTMLResponse(
        render_leaflet(store.settings, dep, reference=a.reference),
        # A self-contained print page (inline style, the QR code as a data: image, no script at all).
        headers={"Cache-Control": "no-store, private", "Content-Security-Policy": LEAFLET_CSP},
    )


DOCUMENT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"


@router.get("/public/deployments/{deployment_id}/documents/{kind}", dependencies=[Depends(rate_limited)])
def public_document(deployment_id: str, kind: str, request: Request) -> Response:
    """A deployment's stored DPIA, EIA or policy document, as published (no login; nothing in it runs)."""
    doc = stored_documents(request.app.state.settings, deployment_id).get(kind)
    if doc is None:
        raise NotFound(f"deployment {deployment_id} has no stored {kind} document")
    return FileResponse(
        doc.path,
        media_type=doc.media_type,
        filename=f"{deployment_id}-{kind}.{doc.fmt}",
        content_disposition_type="inline",
        headers={
            "Content-Security-Policy": DOCUMENT_CSP,
            "Cache-Control": f"public, max-age={request.app.state.settings.server.public_cache_seconds}",
        },
    )
