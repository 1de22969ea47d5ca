"""In Chromium, logged out: the public page lists a deployment created through the API, and no response
triggered while loading public pages is an image or carries a biometric field. The signage renders, and its
QR code decodes to the deployment's public page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from openlfr.api.users import login
from openlfr.governance.deployments import get_deployment
from openlfr.web.signage import public_url, render_signage
from tests.api.conftest import PASSWORD, enrolled_open_deployment, raise_test_alert
from tests.governance.deployment_fields import ASSESSMENTS
from tests.web.conftest import ARTIFACTS, LiveServer, decode_qr, shot

# Field names and values that only biometric data or alert details would bring (the prose may say "image").
BIOMETRIC_MARKERS = (
    "embedding",
    "template",
    "probe",
    "candidate",
    "_blob",
    "subject_id",
    "w-001",
    "miranda",
    "<img",
    "data:image",
    "/images/",
    "\x89png",
    "track_id",
    "score",
)


def test_public_page_lists_api_created_deployment_and_leaks_nothing(live_server: LiveServer, browser) -> None:  # type: ignore[no-untyped-def]
    import httpx

    # Some biometric data exists on the server: an enrolled watchlist and an alert with images.
    dep_with_alert = enrolled_open_deployment(live_server.store)
    raise_test_alert(live_server.store, dep_with_alert)
    token, _ = login(live_server.store, "authorising-officer", PASSWORD, "127.0.0.1", kind="bearer")
    start = datetime.now(UTC) + timedelta(days=3)
    r = httpx.post(
        f"{live_server.url}/api/deployments",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "purpose": "Locate people wanted on warrant",
            "location": "Cardiff Central station forecourt",
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=8)).isoformat(),
            "authorising_officer": "Supt. Rhys Morgan",
            "cameras": ["van-1"],
            "threshold": 0.45,
            "threshold_override_reason": "test",
            "purpose_category": "wanted_offenders",
            "legal_basis": "Common-law powers; warrants issued by Cardiff Magistrates",
            "authorising_role": "Superintendent",
            **ASSESSMENTS,
        },
    )
    assert r.status_code == 201, r.text
    dep_id = r.json()["id"]

    context = browser.new_context()
    page = context.new_page()
    seen: list[tuple[str, str, bytes]] = []

    def on_response(resp) -> None:  # type: ignore[no-untyped-def]
        try:
            body = resp.body()
        except Exception:  # only a redirect has no body to read
            assert 300 <= resp.status < 400, resp.url
            body = b""
        seen.append((resp.url, resp.headers.get("content-type", ""), body))

    page.on("response", on_response)
    page.goto(f"{live_server.url}/public")
    page.wait_for_load_state("networkidle")
    text = page.inner_text("#announced")
    assert "Cardiff Central station forecourt" in text and "Locate people wanted on warrant" in text
    # Issue 8 §3: purpose category, legal basis summary and who authorised it by role, never by name.
    assert "locating people wanted by the courts or police" in text
    assert "warrants issued by Cardiff Magistrates" in text
    assert "Superintendent" in text and "Rhys Morgan" not in page.content()
    shot(page, "public-page")
    page.get_by_role("link", name="Cardiff Central station forecourt").click()
    page.wait_for_load_state("networkidle")
    assert "Cardiff Central station forecourt" in page.inner_text("main")
    for feed in ("/public/deployments.json", "/public/deployments.csv"):  # as the page's links fetch them
        resp = page.request.get(f"{live_server.url}{feed}")
        assert resp.status == 200
        seen.append((resp.url, resp.headers.get("content-type", ""), resp.body()))
    context.close()

    assert len(seen) >= 5
    for url, ctype, body in seen:
        assert not ctype.startswith("image/"), url
        assert not body.startswith((b"\xff\xd8", b"\x89PNG")), url
        if ctype.startswith("text/css"):
            continue  # the stylesheet names CSS properties such as grid-template, not data
        lowered = body.decode("utf-8", "replace").lower()
        for marker in BIOMETRIC_MARKERS:
            assert marker not in lowered, (url, marker)
        assert "/api/alerts" not in lowered and "/alerts/" not in lowered, url
        assert not body.startswith((b"\xff\xd8", b"\x89PNG")), url
    _ = dep_id


def test_signage_renders_and_its_qr_decodes_to_the_public_page(live_server: LiveServer, browser) -> None:  # type: ignore[no-untyped-def]
    dep_id = enrolled_open_deployment(live_server.store)
    settings = live_server.store.settings
    html = render_signage(settings, get_deployment(live_server.store, dep_id))
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "signage.html"
    path.write_text(html, encoding="utf-8")
    context = browser.new_context(viewport={"width": 794, "height": 1123})  # A4 at 96 dpi
    page = context.new_page()
    page.goto(path.as_uri())
    png = page.screenshot(full_page=True)
    (ARTIFACTS / "signage.png").write_bytes(png)
    context.close()
    decoded = decode_qr(png)
    if not decoded:
        pytest.fail("no QR code found in the rendered signage")
    assert decoded == public_url(settings, dep_id) == f"{live_server.url}/public/deployments/{dep_id}"
    assert "Live facial recognition in use here" in html and "30 days" in html
    assert "Queen Street, Cardiff" in html and "Find people wanted by the courts" in html
    # The deployment's own legal basis and the authorising role, not the officer's name.
    assert (
        "Common-law policing powers; DPA 2018 Part 3" in html and "authorised by the Superintendent" in html
    )
    assert "Jones" not in html
