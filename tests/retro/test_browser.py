"""In real Chromium: the mobile OIFR page (camera upload) leaves nothing of the photo behind, and the RFR
case page enforces the two-reviewer rule."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import func, select

from openlfr.api.users import create_user
from openlfr.retro.cases import get_case
from openlfr.retro.oifr import oifr_search
from openlfr.retro.rfr import rfr_search
from openlfr.store.auth_models import Role
from openlfr.store.models import AuditEntry, RetroProbe
from tests.api.conftest import PASSWORD
from tests.retro.helpers import CELEB, celeb, open_test_case, small_gallery
from tests.web.conftest import LiveServer, live_server, log_in, shot  # noqa: F401

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def test_oifr_page_on_a_phone(live_server: LiveServer, browser, engine_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    store = live_server.store
    small_gallery(store, engine_factory("opencv-zoo"))
    root = store.settings.data_dir

    def files() -> set[str]:
        return {
            str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and "openlfr.db" not in p.name
        }

    before = files()
    photo = tmp_path / "camera.jpg"
    shutil.copy(celeb(f"{CELEB}/knn_examples/test/obama1.jpg"), photo)
    ctx = browser.new_context(**PHONE)
    page = ctx.new_page()
    log_in(page, live_server.url, "engagement-officer", PASSWORD)
    page.goto(f"{live_server.url}/oifr")
    assert page.locator("input#photo").get_attribute("capture") == "environment"
    page.set_input_files("input#photo", str(photo))
    page.select_option("select#reason", "unconscious")
    page.get_by_role("button", name="Search").click()
    page.wait_for_selector("#candidates li")
    items = page.locator("#candidates li")
    assert items.count() == 6
    assert items.first.locator(".record").inner_text() == "OB-1"
    # The custody images load for the engagement officer (allowed to compare faces).
    # Polled from here: wait_for_function evaluates a string in the page, which the server's CSP forbids.
    loaded = "[...document.querySelectorAll('#candidates img')].every(i => i.complete && i.naturalWidth > 0)"
    for _ in range(100):
        if page.evaluate(loaded):
            break
        page.wait_for_timeout(100)
    assert page.evaluate(loaded), "the custody images did not load"
    shot(page, "oifr-phone")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1  # no sideways scrolling
    # The officer's conclusion, recorded with the time.
    page.locator("#outcome-identified").check()
    page.select_option("select#record_id", "OB-1")
    page.get_by_role("button", name="Record the outcome").click()
    page.wait_for_selector("#recorded")
    assert "identified as a record on the list (OB-1)" in page.locator("#recorded").inner_text()
    ctx.close()
    assert files() == before
    with store.session() as s:
        assert s.scalar(select(func.count(RetroProbe.id))) == 0
        e = s.scalars(select(AuditEntry).where(AuditEntry.action == "oifr.search")).one()
        assert e.actor == "engagement-officer" and "unconscious" in e.details


def test_two_reviewers_in_the_browser(live_server: LiveServer, browser, engine_factory) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    store = live_server.store
    engine = engine_factory("opencv-zoo")
    small_gallery(store, engine)
    open_test_case(store, "CR-B", "operator (operator)")
    faces = rfr_search(
        store,
        engine,
        "CR-B",
        "cctv",
        [celeb(f"{CELEB}/knn_examples/test/obama_and_biden.jpg")],
        "operator (operator)",
        provenance="cctv",
        all_faces_reason="both are suspects",
    )
    cand = next(f for f in faces if f.candidates[0].record_id == "OB-1").candidates[0].id
    create_user(
        store, "reviewer-2", PASSWORD, Role.REVIEWER, display_name="Second reviewer", actor="test setup"
    )

    def decide(username: str) -> str:
        ctx = browser.new_context()
        page = ctx.new_page()
        log_in(page, live_server.url, username, PASSWORD)
        page.goto(f"{live_server.url}/retro/cases/CR-B")
        row = page.locator(f"#cand-{cand}")
        row.get_by_role("button", name="possible match").click()
        page.wait_for_load_state()
        row = page.locator(f"#cand-{cand}")
        status = row.locator(".status").inner_text()
        assert row.get_by_role("button", name="possible match").count() == 0  # one decision per reviewer
        shot(page, f"rfr-review-{username}")
        reported = page.locator("#reported-count").inner_text()
        ctx.close()
        return f"{status} | {reported}"

    assert decide("reviewer") == "awaiting second review | 0 reported (two reviewers agreed)"
    assert decide("reviewer-2") == "reported possible match | 1 reported (two reviewers agreed)"


def test_rfr_page_choose_the_person_then_close(live_server: LiveServer, browser, engine_factory) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    store = live_server.store
    small_gallery(store, engine_factory("opencv-zoo"), distractors=2)
    open_test_case(store, "CR-P", "operator (operator)")
    ctx = browser.new_context()
    page = ctx.new_page()
    log_in(page, live_server.url, "operator", PASSWORD)
    page.goto(f"{live_server.url}/retro/cases/CR-P")
    page.set_input_files("input#media", str(celeb(f"{CELEB}/knn_examples/test/obama_and_biden.jpg")))
    page.select_option("select#provenance", "cctv")
    page.fill("textarea#search-reason", "still from the bank's CCTV")
    page.get_by_role("button", name="Find the people in it").click()
    page.wait_for_selector("#people li")
    assert page.locator("#people li").count() >= 2
    loaded = "[...document.querySelectorAll('#people img')].every(i => i.complete && i.naturalWidth > 0)"
    for _ in range(50):
        if page.evaluate(loaded):
            break
        page.wait_for_timeout(100)
    assert page.evaluate(loaded), "the thumbnails did not load"
    with store.session() as s:
        assert s.scalar(select(func.count(RetroProbe.id))) == 0  # nothing written before the choice
    shot(page, "rfr-choose-person")
    page.locator("#people li").first.locator("input").check()
    page.get_by_role("button", name="Search the chosen").click()
    page.wait_for_selector("section.face")
    assert page.locator("section.face").count() == 1
    with store.session() as s:
        assert s.scalar(select(func.count(RetroProbe.id))) == 1
    page.fill("input#close-reason", "suspect charged")
    page.get_by_role("button", name="Close and purge the case").click()
    page.wait_for_selector("#closed")
    with store.session() as s:
        assert s.scalar(select(func.count(RetroProbe.id))) == 0
    assert get_case(store, "CR-P").closed_by == "operator (operator)"
    # Switched off: the page says so.
    store.settings.retro.oifr_enabled = False
    try:
        ctx2 = browser.new_context()
        p2 = ctx2.new_page()
        log_in(p2, live_server.url, "engagement-officer", PASSWORD)
        resp = p2.goto(f"{live_server.url}/oifr")
        assert resp is not None and resp.status == 403
        assert "switched off" in p2.locator("#switched-off").inner_text()
        ctx2.close()
    finally:
        store.settings.retro.oifr_enabled = True
    ctx.close()
    # An OIFR list without an outcome is chased on the supervision page.
    photo = bytearray(celeb(f"{CELEB}/knn_examples/test/obama1.jpg").read_bytes())
    res = oifr_search(store, engine_factory("opencv-zoo"), photo, "unconscious", "pc kay (operator)")
    store.settings.retro.oifr_outcome_chase_hours = 1e-9
    ctx3 = browser.new_context()
    p3 = ctx3.new_page()
    log_in(p3, live_server.url, "authorising-officer", PASSWORD)
    p3.goto(f"{live_server.url}/retro")
    row = p3.locator("#unanswered tbody tr")
    assert row.count() == 1 and res.id in row.inner_text() and "pc kay" in row.inner_text()
    shot(p3, "retro-supervision")
    ctx3.close()
