"""A deployment's documents (issue 27 §5): a real PDF or script-free HTML is stored and published from the
public page; anything else is refused with the reason, and nothing stored is lost."""

from __future__ import annotations

import io

import pytest

from openlfr.governance.audit import entries
from openlfr.governance.documents import store_document, stored_documents
from openlfr.governance.errors import GovernanceError
from tests.api.conftest import World


def _real_pdf() -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 1))
    fig.text(0.1, 0.5, "DPIA 2030-014")
    buf = io.BytesIO()
    fig.savefig(buf, format="pdf")
    return buf.getvalue()


HTML = b"<!doctype html><html lang='en'><title>EIA</title><h1>Equality impact assessment</h1></html>"


def test_documents_are_checked_stored_and_published(world: World) -> None:
    store, dep = world.store, world.deployment_id
    pdf = _real_pdf()
    for data, name, message in (
        (pdf[: len(pdf) // 2], "cut.pdf", "not a complete PDF"),
        (pdf.replace(b"%%EOF", b"/JavaScript (x) %%EOF"), "js.pdf", "active PDF content"),
        (HTML.replace(b"<h1>", b"<script>alert(1)</script><h1>"), "x.html", "'<script'"),
        (HTML.replace(b"<h1>", b"<h1 onclick=x>"), "x.html", "onclick="),
        (b"plain words", "notes.txt", "neither a PDF"),
        (b"\xff\xfe", "bin", "neither a PDF nor UTF-8"),
    ):
        with pytest.raises(GovernanceError, match=message):
            store_document(store, "planner (operator)", dep, "dpia", data, name)
    assert stored_documents(store.settings, dep) == {}
    with pytest.raises(GovernanceError, match="unknown document kind"):
        store_document(store, "planner (operator)", dep, "minutes", pdf, "m.pdf")

    store_document(store, "planner (operator)", dep, "dpia", pdf, "dpia.pdf")
    store_document(store, "planner (operator)", dep, "eia", HTML, "eia.html")
    assert entries(store, action="deployment.document")[-1].target == "eia"

    r = world.client.get(f"/public/deployments/{dep}/documents/dpia")
    assert r.status_code == 200 and r.content == pdf and r.headers["content-type"] == "application/pdf"
    assert "sandbox" in r.headers["content-security-policy"]
    h = world.client.get(f"/public/deployments/{dep}/documents/eia")
    assert h.content == HTML and h.headers["content-type"].startswith("text/html")
    assert world.client.get(f"/public/deployments/{dep}/documents/policy").status_code == 404
    assert world.client.get("/public/deployments/..%2F..%2Fetc/documents/dpia").status_code == 404
    page = world.client.get(f"/public/deployments/{dep}").text
    assert f'href="/public/deployments/{dep}/documents/dpia"' in page and "(PDF)" in page
    assert f'href="/public/deployments/{dep}/documents/eia"' in page and "(HTML)" in page
