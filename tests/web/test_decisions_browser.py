"""Deliberate decisions in Debian's Chromium (issue 24 item 1, rule 7): nothing is recorded by Enter in a
note or on a radio, every decision is a choice then a distinct confirm naming what will be recorded, the
whole review -> engagement -> disposal flow works by keyboard alone, the first screen of a phone shows what
the officer needs, and a supervisor's amendment is a new decision shown on the alert and published."""

from __future__ import annotations

from typing import Any

from openlfr.governance import alerts, deployments
from openlfr.governance.report import deployment_record
from tests.api.conftest import PASSWORD, Seed, enrolled_open_deployment, raise_test_alert
from tests.web.conftest import LiveServer, log_in, shot

PHONE = {"width": 412, "height": 915}
DESKTOP = {"width": 1280, "height": 800}

# The text of the focused element (its label for a radio), to walk a page by Tab alone.
_FOCUSED = """() => { const el = document.activeElement; if (!el) return "";
  if (el.type === "radio" && el.labels && el.labels.length) return el.labels[0].innerText.trim();
  return (el.innerText || el.value || "").trim(); }"""


def _session(browser: Any, server: LiveServer, user: str, viewport: dict[str, int] = PHONE) -> Any:
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    log_in(page, server.url, user, PASSWORD)
    return page


def tab_to(page: Any, text: str, limit: int = 60) -> int:
    """Press Tab until the element named ``text`` has the focus; the number of presses."""
    for n in range(1, limit + 1):
        page.keyboard.press("Tab")
        if page.evaluate(_FOCUSED) == text:
            return n
    raise AssertionError(f"{text!r} not reached by Tab in {limit} presses on {page.url}")


def _enter(page: Any) -> None:
    """Enter on the focused button, and wait for the page it leads to."""
    with page.expect_navigation():
        page.keyboard.press("Enter")


def _assert_focus_ring(page: Any) -> None:
    """The focused control shows a dark outline inside a yellow ring (each 3:1 or more against what is
    around it, WCAG 2.4.13 / 1.4.11)."""
    style = page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, s.outlineWidth, s.outlineColor, s.boxShadow]; }"
    )
    assert style[0] == "solid" and float(style[1].removesuffix("px")) >= 3, style
    assert style[2] == "rgb(11, 12, 12)" and "rgb(255, 221, 0)" in style[3], style


def test_enter_in_a_note_or_on_a_radio_records_nothing(  # type: ignore[no-untyped-def]
    seeded_server: LiveServer, seed: Seed, browser
) -> None:
    store, url = seeded_server.store, seeded_server.url
    alert = raise_test_alert(store, seed.deployment_id)

    page = _session(browser, seeded_server, "operator")
    page.goto(f"{url}/alerts/{alert}")
    # The choice form has no field to type in, and its default button is disabled: Enter submits nothing.
    assert page.locator("#decide-review input[type=text], #decide-review textarea").count() == 0
    page.get_by_role("button", name="False alert").click()
    page.wait_for_load_state()
    assert page.inner_text("h1") == "Check and record: False alert"
    assert alerts.get_alert(store, alert).review is None  # choosing records nothing
    page.screenshot(path=str(_docs_img("decide-confirm-phone.png")))
    note = page.get_by_label("Note (optional)")
    note.fill("Different chin")
    note.press("Enter")
    page.wait_for_timeout(400)
    assert alerts.get_alert(store, alert).review is None, "Enter in the note recorded a decision"
    assert page.inner_text("h1") == "Check and record: False alert"
    page.get_by_role("button", name="Record: False alert").click()
    page.wait_for_load_state()
    assert alerts.get_alert(store, alert).review == "false_alert"
    assert "Note: Different chin" in page.inner_text("#decisions")
    page.context.close()

    # The engagement officer: Enter on a radio records nothing; a missing answer is named, input kept.
    alert = raise_test_alert(store, seed.deployment_id)
    alerts.review_alert(store, "operator", alert, "engage")
    page = _session(browser, seeded_server, "engagement-officer")
    page.goto(f"{url}/alerts/{alert}")
    page.get_by_role("button", name="Confirmed: it is the person").click()
    page.wait_for_load_state()
    page.get_by_label("Note (optional)").fill("Stopped at the north exit")
    radio = page.locator("#reason_explained input[value=yes]")
    radio.check()
    radio.press("Enter")
    page.wait_for_timeout(400)
    assert alerts.get_alert(store, alert).engagement is None, "Enter on a radio recorded a decision"
    page.get_by_role("button", name="Record: Confirmed: it is the person").click()
    page.wait_for_load_state()
    assert alerts.get_alert(store, alert).engagement is None
    summary = page.locator(".error-summary").inner_text()
    assert "whether the leaflet was given" in summary and "confirmed_true" not in summary, summary
    assert page.title().startswith("Error: ")
    assert page.get_by_label("Note (optional)").input_value() == "Stopped at the north exit"
    assert page.locator("#reason_explained input[value=yes]").is_checked()
    page.locator("#leaflet_given input[value=no]").check()
    page.get_by_role("button", name="Record: Confirmed: it is the person").click()
    page.wait_for_load_state()
    done = alerts.get_alert(store, alert)
    assert (done.engagement, done.reason_explained, done.leaflet_given) == ("confirmed_true", True, False)
    shot(page, "engagement-recorded-phone")
    page.context.close()

    # The supervisor: Enter in the close reason closes nothing; the confirm page says what closing destroys.
    dep = enrolled_open_deployment(store)
    page = _session(browser, seeded_server, "authorising-officer")
    page.goto(f"{url}/deployments/{dep}")
    tab_to(page, "Close the deployment…")  # by keyboard alone, as every flow can be
    _enter(page)
    assert "destroys the watchlist" in page.inner_text("main")
    reason = page.get_by_label("Reason for closing (optional)")
    reason.fill("Operation complete")
    reason.press("Enter")
    page.wait_for_timeout(400)
    assert deployments.get_deployment(store, dep).status == "open", "Enter in the reason closed it"
    tab_to(page, "Close the deployment and destroy its watchlist")
    _enter(page)
    assert deployments.get_deployment(store, dep).status == "closed"
    page.context.close()


def test_review_engagement_disposal_by_keyboard_alone(  # type: ignore[no-untyped-def]
    seeded_server: LiveServer, seed: Seed, browser
) -> None:
    store, url = seeded_server.store, seeded_server.url
    alert = raise_test_alert(store, seed.deployment_id)
    keys: dict[str, int] = {}

    page = _session(browser, seeded_server, "operator")
    page.goto(f"{url}/alerts/{alert}")
    keys["review"] = tab_to(page, "Pass to engagement")
    _assert_focus_ring(page)
    _enter(page)
    keys["review"] += 1 + tab_to(page, "Record: Pass to engagement")
    _assert_focus_ring(page)
    _enter(page)
    keys["review"] += 1
    assert alerts.get_alert(store, alert).review == "engage"
    page.context.close()

    page = _session(browser, seeded_server, "engagement-officer")
    page.goto(f"{url}/alerts/{alert}")
    keys["engagement"] = tab_to(page, "Confirmed: not the person")
    _enter(page)
    keys["engagement"] += 1 + tab_to(page, "Yes")  # was the reason explained
    page.keyboard.press("Space")
    page.keyboard.press("Tab")  # into the next question, its first answer
    assert page.evaluate(_FOCUSED) == "Yes"
    _assert_focus_ring(page)
    page.keyboard.press("Space")
    keys["engagement"] += 3 + tab_to(page, "Record: Confirmed: not the person")
    _enter(page)
    keys["engagement"] += 1
    done = alerts.get_alert(store, alert)
    assert (done.engagement, done.reason_explained, done.leaflet_given) == ("confirmed_false", True, True)

    keys["disposal"] = tab_to(page, "Words of advice")
    _enter(page)
    keys["disposal"] += 1 + tab_to(page, "Record: Words of advice")
    _enter(page)
    keys["disposal"] += 1
    assert alerts.get_alert(store, alert).disposal == "advice"
    assert "disposed: advice" in page.inner_text("#alert-state")
    page.context.close()
    print(f"keypresses from the alert page to each recorded decision: {keys}")


def _box(page: Any, selector: str) -> dict[str, float]:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, selector
    return box  # type: ignore[no-any-return]


def test_first_screen_shows_both_faces_score_reminder_and_buttons(  # type: ignore[no-untyped-def]
    seeded_server: LiveServer, seed: Seed, browser
) -> None:
    alert = raise_test_alert(seeded_server.store, seed.deployment_id, camera="cam-1")
    for name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        page = _session(browser, seeded_server, "operator", viewport)
        page.goto(f"{seeded_server.url}/alerts/{alert}")
        page.wait_for_function("() => [...document.images].every(i => i.complete && i.naturalWidth > 0)")
        probe, candidate = (
            _box(page, ".faces figure:nth-child(1) img"),
            _box(page, ".faces figure:nth-child(2) img"),
        )
        assert probe["y"] == candidate["y"] and probe["x"] + probe["width"] <= candidate["x"], "side by side"
        assert probe["width"] == candidate["width"] and probe["height"] == candidate["height"], "equal size"
        assert probe["width"] >= 150, probe
        fold = viewport["height"]
        for selector in ("#alert-score", "#alert-facts", "#you-decide", "#decide-review .choices button"):
            box = _box(page, selector)
            assert box["y"] + box["height"] <= fold, (name, selector, box)
        facts = page.inner_text("#alert-facts")
        assert "threshold in force" in facts and "cam-1" in facts and "wanted by a court" in facts
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= viewport["width"], (name, width)
        page.screenshot(path=str(_docs_img(f"alert-{name}.png")))
        page.context.close()


def _docs_img(name: str) -> Any:
    from tests.web.conftest import ARTIFACTS

    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name


def test_supervisor_amends_a_decision_recorded_in_error(  # type: ignore[no-untyped-def]
    seeded_server: LiveServer, seed: Seed, browser
) -> None:
    store, url = seeded_server.store, seeded_server.url
    alert = raise_test_alert(store, seed.deployment_id)
    alerts.review_alert(store, "operator", alert, "engage")
    alerts.record_engagement(
        store, "engagement-officer", alert, "confirmed_true", reason_explained=True, leaflet_given=True
    )
    before = deployment_record(store, seed.deployment_id)

    page = _session(browser, seeded_server, "authorising-officer", DESKTOP)
    page.goto(f"{url}/alerts/{alert}")
    page.get_by_role("button", name="Amend the engagement outcome to “Confirmed: not the person”").click()
    page.wait_for_load_state()
    assert "Confirmed: it is the person" in page.inner_text(".summary-list")  # what stands now
    assert alerts.get_alert(store, alert).engagement == "confirmed_true"
    page.get_by_label("Reason for the amendment (required)").fill(
        "Officer pressed the wrong button; ID check showed another man"
    )
    page.get_by_role("button", name="Record the amendment: Confirmed: not the person").click()
    page.wait_for_load_state()
    assert alerts.get_alert(store, alert).engagement == "confirmed_false"
    decisions = page.inner_text("#decisions")
    assert "engagement-officer recorded the engagement outcome: Confirmed: it is the person." in decisions
    assert (
        "authorising-officer (authorising officer) amended the engagement outcome from Confirmed: it is the "
        "person (recorded by engagement-officer) to Confirmed: not the person. Reason: Officer pressed"
        in decisions
    ), decisions
    shot(page, "alert-amended-desktop")
    page.context.close()

    after = deployment_record(store, seed.deployment_id)
    kind = "engagement: confirmed true → confirmed false"
    assert (after["amendments_by_kind"] or {}).get(kind, 0) == (before["amendments_by_kind"] or {}).get(
        kind, 0
    ) + 1
    assert (
        after["true_alerts"] == before["true_alerts"] - 1
        and after["false_alerts"] == before["false_alerts"] + 1
    )


def test_audit_log_reads_as_sentences_with_paging_and_filters(  # type: ignore[no-untyped-def]
    seeded_server: LiveServer, seed: Seed, browser
) -> None:
    from openlfr.governance.audit import record

    store = seeded_server.store
    alert = raise_test_alert(store, seed.deployment_id)
    alerts.review_alert(store, "operator", alert, "false_alert", note="not him")
    with store.session() as s:
        for i in range(60):  # enough rows for a second page
            record(s, "filler", "report.deployment", deployment_id=seed.deployment_id, details={"n": i})
    page = _session(browser, seeded_server, "auditor")
    page.goto(f"{seeded_server.url}/audit")
    assert page.locator("#audit tbody tr").count() == 50
    assert "newest first" in page.inner_text("#audit-count")
    page.get_by_role("link", name="Older entries").click()
    page.wait_for_load_state()
    assert "Page 2 of" in page.inner_text(".pager")
    page.get_by_label("What").select_option(label="Alerts and decisions")
    page.get_by_label("Who (name contains)").fill("operator")
    page.get_by_role("button", name="Show").click()
    page.wait_for_load_state()
    rows = page.locator("#audit tbody tr").all_inner_texts()
    assert rows and all("alert." in r for r in rows), rows
    assert any("operator recorded the operator review: False alert. Note: not him" in r for r in rows), rows
    assert not any("{" in r.split("Show")[0] for r in rows), "raw JSON shown in the sentence"
    page.context.close()


def test_open_console_shows_new_alerts_highlighted_and_others_decisions(  # type: ignore[no-untyped-def]
    seeded_server: LiveServer, seed: Seed, browser
) -> None:
    store = seeded_server.store
    page = _session(browser, seeded_server, "operator")
    page.wait_for_selector("#live-status[data-ready=yes]", timeout=10_000)
    alert = raise_test_alert(store, seed.deployment_id)
    seeded_server.app.state.broker.wake()  # type: ignore[attr-defined]
    card = page.locator(f'article.alert-card[data-id="{alert}"]')
    card.wait_for(timeout=10_000)
    assert "new" in (card.get_attribute("class") or "") and card.inner_text().startswith("New")
    assert "awaiting operator review" in card.inner_text()
    # Another officer decides elsewhere (here: straight through governance): the open console follows.
    alerts.review_alert(store, "other-operator", alert, "engage")
    page.wait_for_function(
        "(id) => document.querySelector(`article[data-id='${id}'] .state`).textContent === 'passed to engagement'",
        arg=alert,
        timeout=10_000,
    )
    alerts.record_engagement(store, "engagement-officer", alert, "not_engaged")
    page.wait_for_function(
        "(id) => document.querySelector(`article[data-id='${id}']`).classList.contains('decided')",
        arg=alert,
        timeout=10_000,
    )
    assert "not engaged" in card.inner_text() and "New" not in card.inner_text()
    assert "engagement-officer" in page.inner_text("#live-status")
    shot(page, "console-live-update-phone")
    page.context.close()
