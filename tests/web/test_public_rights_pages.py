"""Issue 27 in Chromium: the officer sees the stopped person's reference and prints it on the leaflet; the
leaflet, signage and public pages carry the privacy notice, postal address and accessibility statement; the
public deployment page shows the objective, the force it ran for, the documents as links, the outcomes in
detail and complaints, with nothing that identifies anyone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from openlfr.governance.alerts import get_alert, record_engagement, review_alert
from openlfr.governance.complaints import record_complaint, record_complaint_outcome
from openlfr.governance.deployments import get_deployment
from openlfr.store.models import Deployment
from openlfr.web.signage import render_leaflet, render_signage
from tests.api.conftest import PASSWORD, enrolled_open_deployment, raise_test_alert
from tests.web.conftest import ARTIFACTS, LiveServer, log_in, shot

PRIVACY = "https://example.police.uk/privacy/lfr"
ADDRESS = "Data Protection Officer, Example Police HQ, 1 Station Road, Cardiff CF10 1AA"
ACCESSIBILITY = "https://example.police.uk/accessibility"
DPIA = "https://example.police.uk/lfr/dpia-2030-014.pdf"
CUSTODY = "CU/2030/0077"


def test_reference_leaflet_and_public_page(live_server: LiveServer, browser) -> None:  # type: ignore[no-untyped-def]
    store, base = live_server.store, live_server.url
    server = store.settings.server
    server.privacy_notice_url, server.postal_address = PRIVACY, ADDRESS
    server.accessibility_statement_url = ACCESSIBILITY
    dep_id = enrolled_open_deployment(store)
    with store.session() as s:  # planning fields as `deployment create --objective ...` records them
        s.execute(
            update(Deployment)
            .where(Deployment.id == dep_id)
            .values(
                objective="Arrest people wanted for violent offences around Queen Street",
                success_measures=["arrests of wanted people", "no arrest after a false alert"],
                on_behalf_of="Gwent Police",
                on_behalf_of_controller="Chief Constable of Gwent Police",
                dpia_ref=DPIA,
            )
        )
    alert_id = raise_test_alert(store, dep_id)
    review_alert(store, "olu (operator)", alert_id, "engage")
    record_engagement(
        store,
        "eve (engagement_officer)",
        alert_id,
        "confirmed_true",
        reason_explained=True,
        leaflet_given=True,
    )
    ref = get_alert(store, alert_id).reference
    assert ref

    context = browser.new_context(viewport={"width": 1000, "height": 900})
    page = context.new_page()
    log_in(page, base, "engagement-officer", PASSWORD)
    page.goto(f"{base}/alerts/{alert_id}")
    assert ref in page.inner_text("#encounter-reference")
    # The disposal through the console: a choice, then the confirm page with the outcome detail (issue 24).
    page.click("#decide-disposal button[value='arrest']")
    form = page.inner_text("#decision-form")
    assert (
        "Was force used?" in form and "Custody or crime reference" in form and "possession of weapons" in form
    )
    page.check("input[name='use_of_force'][value='no']")
    page.check("input[name='arrest_for_watchlist_reason'][value='yes']")
    page.select_option("#other-offences", "weapons")
    page.fill("#custody-reference", CUSTODY)
    page.click("#record")
    page.wait_for_url(f"{base}/alerts/{alert_id}")
    stored = get_alert(store, alert_id)
    assert (
        stored.disposal == "arrest" and stored.use_of_force is False and stored.other_offences == ("weapons",)
    )
    assert stored.arrest_for_watchlist_reason is True
    page.goto(f"{base}/alerts/{alert_id}/leaflet")
    leaflet = page.inner_text("body")
    assert ref in page.inner_text("#reference-code") and "nobody can look you up by your face" in leaflet
    assert ADDRESS in leaflet and PRIVACY in leaflet
    # Printed as designed: its own style applies and the QR code shows (the page's own narrow policy).
    assert page.eval_on_selector("img", "e => e.naturalWidth") > 0
    assert page.eval_on_selector(".band", "e => getComputedStyle(e).backgroundColor") == "rgb(0, 0, 0)"
    ARTIFACTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 560, "height": 794})
    shot(page, "leaflet-with-reference")

    dpo = "dora (data_protection)"
    received = datetime.now(UTC) - timedelta(hours=2)
    c = record_complaint(store, dpo, received_at=received, category="stop_or_conduct", reference=ref)
    record_complaint_outcome(store, dpo, c.id, "not_upheld")

    public = context.new_page()
    public.goto(f"{base}/public/deployments/{dep_id}")
    text = public.inner_text("main")
    assert "Arrest people wanted for violent offences" in text and "no arrest after a false alert" in text
    assert "Gwent Police (data controller: Chief Constable of Gwent Police)" in text
    assert public.get_attribute("#documents a[href$='dpia-2030-014.pdf']", "href") == DPIA
    assert public.get_attribute(f"#privacy a[href='{PRIVACY}']", "href") == PRIVACY
    assert ADDRESS in public.inner_text("#postal-address")
    assert "not upheld: 1" in public.inner_text("#complaints")
    assert "possession of weapons: 1" in public.inner_text("#outcomes")
    for secret in (ref, CUSTODY, c.id, alert_id, "W-001"):
        assert secret not in public.content(), secret
    shot(public, "public-deployment-rights")
    public.goto(f"{base}/public/totals")
    totals = public.inner_text("#totals-rights")
    assert "Complaints received" in totals and "not upheld: 1" in totals
    context.close()

    signage = render_signage(store.settings, get_deployment(store, dep_id))
    assert ADDRESS in signage and PRIVACY in signage
    # The pre-printed leaflet (`openlfr leaflet`) has a box for the officer to write the reference in.
    blank = render_leaflet(store.settings, get_deployment(store, dep_id))
    assert 'class="ref-blank"' in blank and ref not in blank
