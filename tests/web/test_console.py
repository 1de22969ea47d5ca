"""In Chromium: an operator sees an alert arrive live from the pipeline running on a real clip, adjudicates
it, and the decision is in the audit log; an engagement officer cannot open admin pages; a logged-out
user sees no image."""

from __future__ import annotations

import threading
from pathlib import Path

from openlfr.governance.live_gateway import DeploymentGateway
from openlfr.live import LivePipeline, parse_source
from openlfr.store.auth_models import Role
from tests.api.conftest import PASSWORD, enrolled_open_deployment, raise_test_alert
from tests.conftest import generated_demo_sample
from tests.web.conftest import LiveServer, log_in, shot


def test_operator_sees_live_alert_from_real_clip_and_adjudicates_it(live_server: LiveServer, browser) -> None:  # type: ignore[no-untyped-def]
    clip = generated_demo_sample().clip  # the stand-in enrolled by enrolled_open_deployment walks through it
    dep = enrolled_open_deployment(live_server.store, cameras=("stage",))
    context = browser.new_context(viewport={"width": 412, "height": 915})  # a phone
    page = context.new_page()
    log_in(page, live_server.url, "operator", PASSWORD)
    assert page.url.endswith("/console")
    page.wait_for_selector("text=Live: new alerts appear here.", timeout=10_000)
    assert page.locator("article.alert-card").count() == 0

    # The live pipeline on the real clip, raising alerts through governance as `serve` runs it.
    broker = live_server.app.state.broker  # type: ignore[attr-defined]
    gateway = DeploymentGateway(live_server.store, dep)
    pipeline = LivePipeline(
        [parse_source(f"stage={clip}")],
        gateway,
        live_server.store.settings,
        paced=False,
        on_alert=lambda _a: broker.wake(),
    )
    runner = threading.Thread(target=pipeline.run, daemon=True)
    runner.start()
    card = page.locator("article.alert-card").first
    card.wait_for(timeout=120_000)
    assert "wanted by a court" in card.inner_text()
    shot(page, "console-live-alert")
    runner.join(120)

    card.get_by_role("link").click()
    page.wait_for_load_state()
    images = page.locator("figure img")
    assert images.count() == 2
    for i in range(2):
        assert page.evaluate("(img) => img.naturalWidth", images.nth(i).element_handle()) > 0
    assert "Failed to appear" in page.inner_text("main")
    shot(page, "alert-adjudication")
    page.get_by_role("button", name="Pass to engagement").click()
    page.wait_for_load_state()
    page.get_by_role("button", name="Record: Pass to engagement").click()
    page.wait_for_load_state()
    assert "passed to engagement" in page.inner_text("#alert-state")
    decisions = page.inner_text("#decisions")
    assert "operator (operator) recorded the operator review: Pass to engagement." in decisions, decisions
    context.close()

    # The auditor sees the operator's decision in the audit log.
    context = browser.new_context()
    page = context.new_page()
    log_in(page, live_server.url, "auditor", PASSWORD)
    page.goto(f"{live_server.url}/audit")
    rows = page.locator("#audit tbody tr").all_inner_texts()
    assert any(
        "alert.review" in r and "recorded the operator review: Pass to engagement." in r and "operator" in r
        for r in rows
    ), rows
    assert any("alert.image_read" in r for r in rows) and any("alert.raise" in r for r in rows)
    shot(page, "audit-log")
    context.close()


def test_engagement_officer_cannot_open_admin_pages(live_server: LiveServer, browser) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context()
    page = context.new_page()
    log_in(page, live_server.url, Role.ENGAGEMENT_OFFICER.value.replace("_", "-"), PASSWORD)
    for path in ("/admin/users", "/audit"):
        response = page.goto(f"{live_server.url}{path}")
        assert response is not None and response.status == 403
        assert "Not allowed" in page.inner_text("main")
    shot(page, "engagement-officer-refused")
    context.close()


def test_logged_out_user_sees_no_image(live_server: LiveServer, browser) -> None:  # type: ignore[no-untyped-def]
    dep = enrolled_open_deployment(live_server.store)
    alert = raise_test_alert(live_server.store, dep)
    context = browser.new_context()
    page = context.new_page()
    images: list[str] = []
    page.on(
        "response",
        lambda r: images.append(r.url) if r.headers.get("content-type", "").startswith("image/") else None,
    )
    response = page.goto(f"{live_server.url}/alerts/{alert}")
    assert response is not None and "/login" in page.url
    assert page.locator("img").count() == 0
    r = page.goto(f"{live_server.url}/api/alerts/{alert}/images/probe")
    assert r is not None and r.status == 401
    assert images == []
    shot(page, "logged-out-no-image")
    context.close()
    _ = Path
