"""In Chromium: an operator enrols a subject through the console (upload, quality report), the entry waits,
and the reviewer, a second person, approves it (issue 14 item 2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from openlfr.governance.audit import entries as audit_entries
from openlfr.governance.deployment_planning import create_deployment
from openlfr.governance.watchlist_approval import pending_entries
from openlfr.governance.watchlists import list_subjects
from tests.api.conftest import PASSWORD, THRESHOLD
from tests.governance.deployment_fields import ASSESSMENTS, SHORT_NOTICE
from tests.governance.faces import blank_png, lfw_people
from tests.web.conftest import LiveServer, log_in, shot


def test_enrol_in_the_console_then_a_second_person_approves(
    live_server: LiveServer,
    browser,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    now = datetime.now(UTC)
    dep = create_deployment(
        live_server.store,
        "planner",
        purpose="Find people wanted by the courts",
        location="Queen Street, Cardiff",
        starts_at=now + timedelta(hours=1),
        ends_at=now + timedelta(hours=5),
        authorising_officer="Supt. Jones",
        cameras=["cam-1"],
        threshold=THRESHOLD,
        purpose_category="wanted_offenders",
        legal_basis="Common-law policing powers; DPA 2018 Part 3",
        authorising_role="Superintendent",
        threshold_override_reason="test deployment: no calibration in a fresh data directory",
        short_notice_reason=SHORT_NOTICE,
        **ASSESSMENTS,
    ).id
    blank = tmp_path / "blank.png"
    blank.write_bytes(blank_png())
    face = lfw_people()[0][1][0]

    context = browser.new_context()
    page = context.new_page()
    log_in(page, live_server.url, "operator", PASSWORD)
    page.goto(f"{live_server.url}/deployments/{dep}/watchlist")

    def fill(image: Path) -> None:
        page.fill("#f-subject", "W-100")
        page.fill("#f-name", "Test Person")
        page.fill("#f-reason", "Failed to appear at court")
        page.select_option("#f-source", "custody")
        page.select_option("#f-seriousness", "either_way")
        page.fill("#f-basis", "warrant")
        page.fill("#f-approved", "Insp. Evans")
        page.fill("#f-expires", (now + timedelta(days=3)).date().isoformat())
        page.set_input_files("#f-images", str(image))
        page.get_by_role("button", name="Enrol (waits for approval)").click()
        page.wait_for_load_state()

    fill(blank)
    assert "no face found" in page.inner_text("#refused")
    shot(page, "watchlist-quality-report")
    fill(face)
    assert "wait for a second person's approval" in page.inner_text("#message")
    assert "W-100" in page.inner_text("#pending")
    assert page.get_by_role("button", name="Approve W-100").count() == 0  # the enroller cannot approve
    assert [p.subject_id for p in pending_entries(live_server.store, dep)] == ["W-100"]
    context.close()

    context = browser.new_context(viewport={"width": 412, "height": 915})
    page = context.new_page()
    log_in(page, live_server.url, "reviewer", PASSWORD)
    assert page.url.endswith("/watchlists")
    page.get_by_role("link", name="Queen Street, Cardiff").click()
    page.wait_for_load_state()
    # The reviewer sees the entry's photo and its quality report before approving (issue 24 item 6).
    photo = page.get_by_role("img", name="Reference image 1 of W-100")
    photo.wait_for()
    assert page.evaluate("(img) => img.naturalWidth", photo.element_handle()) > 0
    assert "quality" in page.inner_text("#pending").lower()
    reads = [e for e in audit_entries(live_server.store) if e.action == "watchlist.image_read"]
    assert reads and reads[-1].actor == "reviewer"
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 412
    # A notice comes only from the server: ?message= in the address prints nothing.
    page.goto(f"{live_server.url}/deployments/{dep}/watchlist?message=Entry+approved+by+the+Chief+Constable")
    assert page.locator("#message").count() == 0 and "Chief Constable" not in page.inner_text("main")
    shot(page, "watchlist-approval")
    page.get_by_role("button", name="Approve W-100").click()
    page.wait_for_load_state()
    assert "W-100 approved" in page.inner_text("#message")
    assert "W-100" in page.inner_text("#approved") and "Nothing waiting" in page.inner_text("#pending")
    assert pending_entries(live_server.store, dep) == []
    assert [s.subject_id for s in list_subjects(live_server.store, dep)] == ["W-100"]
    context.close()
