"""Issue 15 in Chromium: the leaflet and the signage say the rights in plain words, trial or operational, the
data controller and whom to contact, and their QR codes decode (with OpenCV's QR decoder, offline); the public
deployment page shows short notice, the assessments (never the intelligence case) and the rights; the yearly
totals page gives the counts. Nothing biometric is in any of them."""

from __future__ import annotations

from pathlib import Path

from openlfr.governance.deployments import get_deployment
from openlfr.web.signage import public_url, render_leaflet, render_signage
from tests.api.conftest import enrolled_open_deployment, raise_test_alert
from tests.governance.deployment_fields import ASSESSMENTS
from tests.web.conftest import ARTIFACTS, LiveServer, decode_qr, shot

RIGHTS = ("You may avoid this area", "not an offence and not obstruction", "deleted at once and never stored")


def _render_and_decode(browser, html: str, name: str, viewport: dict[str, int]) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """(visible text, decoded QR) of a self-contained page as Chromium renders it."""
    ARTIFACTS.mkdir(exist_ok=True)
    path: Path = ARTIFACTS / f"{name}.html"
    path.write_text(html, encoding="utf-8")
    # Rendered at twice the screen density, as a printer would (the A5 QR code is 42 mm wide).
    context = browser.new_context(viewport=viewport, device_scale_factor=2)
    page = context.new_page()
    page.goto(path.as_uri())
    text = page.inner_text("body")
    images = page.eval_on_selector_all("img", "els => els.map(e => e.alt)")
    png = page.screenshot(full_page=True)
    (ARTIFACTS / f"{name}.png").write_bytes(png)
    context.close()
    assert len(images) == 1 and images[0].startswith("QR code"), images  # the QR code is the only image
    return text, decode_qr(png)


def test_leaflet_and_signage_state_the_rights_and_their_qr_decodes(live_server: LiveServer, browser) -> None:  # type: ignore[no-untyped-def]
    store = live_server.store
    dep = get_deployment(store, enrolled_open_deployment(store))
    url = public_url(store.settings, dep.id)
    leaflet_text, leaflet_qr = _render_and_decode(
        browser,
        render_leaflet(store.settings, dep),
        "leaflet",
        {"width": 560, "height": 794},  # A5 at 96 dpi
    )
    signage_text, signage_qr = _render_and_decode(
        browser, render_signage(store.settings, dep), "signage-issue15", {"width": 794, "height": 1123}
    )
    assert leaflet_qr == url and signage_qr == url
    for text in (leaflet_text, signage_text):
        for words in RIGHTS:
            assert words in text, words
        assert "trial" in text  # trial or operational, as recorded
        assert ASSESSMENTS["data_controller"] in text and ASSESSMENTS["public_contact"] in text
        assert ASSESSMENTS["intelligence_case"] not in text
        assert "Lin-Manuel" not in text and "W-001" not in text  # no watchlist entry
    assert "30 days" in leaflet_text and "You were stopped" in leaflet_text


def test_public_page_shows_short_notice_assessments_rights_and_yearly_totals(
    live_server: LiveServer, browser
) -> None:  # type: ignore[no-untyped-def]
    store = live_server.store
    dep_id = enrolled_open_deployment(store)
    raise_test_alert(store, dep_id)
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{live_server.url}/public/deployments/{dep_id}")
    main = page.inner_text("main")
    assert "Short notice" in main  # the fixture opened it at once, under the audited override
    for words in RIGHTS:
        assert words in main, words
    assert page.inner_text("#phase") == "trial"
    assert page.inner_text("#dpia") == ASSESSMENTS["dpia_ref"]
    assert page.inner_text("#eia") == ASSESSMENTS["eia_ref"]
    assert page.inner_text("#policy") == ASSESSMENTS["policy_ref"]
    assert page.inner_text("#controller") == ASSESSMENTS["data_controller"]
    assert ASSESSMENTS["intelligence_case"] not in page.content()
    assert "custody image taken on arrest: 1" in page.inner_text("#composition")
    shot(page, "public-deployment-issue15")
    page.goto(f"{live_server.url}/public")
    assert "short notice" in page.inner_text("#announced")
    page.goto(f"{live_server.url}/public/totals")
    assert page.inner_text("#deployments").startswith("1 (trials 1, operational 0")
    assert page.inner_text("#short-notice") == "1" and page.inner_text("#alerts").startswith("1 (")
    assert "<img" not in page.content()
    shot(page, "public-totals")
    context.close()


def test_supervisor_sees_an_escalated_alert(live_server: LiveServer, browser) -> None:  # type: ignore[no-untyped-def]
    """Issue 15 §5: an alert undecided past the adjudication period goes to a supervisor, who sees it marked."""
    from datetime import timedelta

    from openlfr.governance.alerts import review_alert
    from openlfr.governance.retention import purge
    from openlfr.store import utcnow
    from tests.api.conftest import PASSWORD
    from tests.web.conftest import log_in

    store = live_server.store
    dep_id = enrolled_open_deployment(store)
    alert_id = raise_test_alert(store, dep_id)
    review_alert(store, "operator (operator)", alert_id, "engage")
    later = utcnow() + timedelta(hours=store.settings.retention.max_adjudication_hours + 1)
    assert purge(store, clock=lambda: later).escalated == [alert_id]
    context = browser.new_context()
    page = context.new_page()
    log_in(page, live_server.url, "authorising-officer", PASSWORD)
    page.goto(f"{live_server.url}/deployments/{dep_id}")
    assert "supervisor to decide" in page.inner_text("main")
    assert "Signage in place" in page.inner_text("main") and "trial" in page.inner_text("main")
    context.close()
