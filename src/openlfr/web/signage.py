"""Printable A4 notice (and the A5 leaflet handed out at an engagement) for a deployment's zone: facial recognition is in use, by whom, why, for how long
data is kept, and a QR code to the deployment's public page. Self-contained HTML (the QR code is an
inline PNG), so it prints from any browser or converts to PDF with ``chromium --print-to-pdf``."""

from __future__ import annotations

import base64
import io

import qrcode
from jinja2 import Environment, FileSystemLoader, select_autoescape

from openlfr.api.public_rights import privacy_info
from openlfr.config import Settings
from openlfr.governance.deployments import DeploymentInfo
from openlfr.governance.report import published_legal_basis, published_role
from openlfr.web.render import TEMPLATES_DIR, _when

_env = Environment(loader=FileSystemLoader(str(TEMPLATES_DIR)), autoescape=select_autoescape(["html"]))
_env.filters["when"] = _when


def public_url(settings: Settings, deployment_id: str) -> str:
    return f"{settings.server.public_base_url.rstrip('/')}/public/deployments/{deployment_id}"


def qr_png(data: str, box_size: int = 10) -> bytes:
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box_size, border=4)
    qr.add_data(data)
    qr.make(fit=True)
    buf = io.BytesIO()
    qr.make_image(fill_color="black", back_color="white").save(buf)
    return buf.getvalue()


def retention_words(hours: float) -> str:
    if hours % 24 == 0 and hours >= 48:
        return f"{int(hours // 24)} days"
    if hours == 24:
        return "24 hours"
    return f"{hours:g} hours"


def _context(settings: Settings, dep: DeploymentInfo, reference: str | None = None) -> dict[str, object]:
    url = public_url(settings, dep.id)
    return {
        "d": dep,
        "url": url,
        "qr": base64.b64encode(qr_png(url)).decode(),
        "force_name": settings.server.force_name,
        "contact": settings.server.contact,
        "data_controller": settings.server.data_controller,
        "retention": retention_words(settings.retention.alert_retention_hours),
        "evidence_days": f"{settings.retention.evidence_review_days:g}",
        "legal_basis": published_legal_basis(dep, settings),
        "role": published_role(dep),
        "privacy": privacy_info(settings, has_reference=True),
        "reference": reference,
    }


def render_signage(settings: Settings, dep: DeploymentInfo) -> str:
    """The A4 notice for the zone."""
    return _env.get_template("signage.html").render(**_context(settings, dep))


def render_leaflet(settings: Settings, dep: DeploymentInfo, reference: str | None = None) -> str:
    """The A5 handout officers give at an engagement, in the signage's style: what happened, the rights,
    what is kept and for how long, the data controller and whom to contact, and the QR code. With the
    stopped person's ``reference`` printed on it (issue 27), else a box for the officer to write it in."""
    return _env.get_template("leaflet.html").render(**_context(settings, dep, reference))
