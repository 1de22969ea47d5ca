"""Taps and keypresses from a new alert to each recorded decision, in Debian's Chromium on a 412x915 phone.

For each decision (operator review "Pass to engagement", engagement "Confirmed: it is the person" with both
yes/no answers, disposal "Arrest") it counts, once by touch and once by keyboard alone (Tab, Space, Enter;
first without, then with the "Skip to content" link on each new page), what it takes from the alert's arrival on the console to the decision being recorded.
The same plan runs against any version of the pages: answer the yes/no questions on screen, press the
choice, and if a confirm page follows, answer what it asks and press its "Record" button.

    .venv/bin/python benchmarks/decision_steps.py
    # the pages before issue 24, for comparison:
    git archive 0249c93 src | tar -x -C /tmp/old && PYTHONPATH=/tmp/old/src .venv/bin/python benchmarks/decision_steps.py
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.api.conftest import (
    PASSWORD,
    add_users,
    enrolled_open_deployment,
    raise_test_alert,
    server_settings,
)
from tests.web.conftest import free_port, log_in

from openlfr.governance import alerts
from openlfr.store import open_store
from openlfr.web.app import create_server_app

PLAN = [  # (who, decision value, yes/no questions it needs)
    ("operator", "engage", ()),
    ("engagement-officer", "confirmed_true", ("reason_explained", "leaflet_given")),
    ("engagement-officer", "arrest", ()),
]
STEP = {"engage": "review", "confirmed_true": "engagement", "arrest": "disposal"}
_ATTR = {"review": "review", "engagement": "engagement", "disposal": "disposal"}


def _recorded(store: Any, alert: str, value: str) -> bool:
    return getattr(alerts.get_alert(store, alert), _ATTR[STEP[value]]) == value


def _tab_to(page: Any, selector: str, limit: int = 80) -> int:
    for n in range(1, limit + 1):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return n
    raise RuntimeError(f"{selector} not reached by Tab on {page.url}")


_FRESH: set[str] = set()
"""Pages just loaded, where a keyboard user with ``skip`` first uses the "Skip to content" link."""


def _act(
    page: Any, selector: str, keyboard: bool, key: str = "Enter", navigates: bool = True, skip: bool = False
) -> int:
    """Press (or tap) the element; the keypresses or taps it took."""
    if keyboard and skip and page.url in _FRESH:
        _FRESH.discard(page.url)
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.classList.contains('skip')"), page.url
        page.keyboard.press("Enter")
        return 2 + _act(page, selector, keyboard, key, navigates)
    if not keyboard:
        if navigates:
            with page.expect_navigation():
                page.locator(selector).first.click()
        else:
            page.locator(selector).first.click()
        return 1
    n = _tab_to(page, selector)
    if navigates:
        with page.expect_navigation():
            page.keyboard.press(key)
        _FRESH.add(page.url)
    else:
        page.keyboard.press(key)
    return n + 1


def _answer(page: Any, questions: tuple[str, ...], keyboard: bool, skip: bool) -> int:
    count = 0
    for q in questions:
        sel = f"input[type=radio][name={q}][value=yes]"
        if page.locator(sel).count():
            count += _act(page, sel, keyboard, key="Space", navigates=False, skip=skip)
    return count


def run_plan(
    server_url: str, store: Any, dep: str, browser: Any, keyboard: bool, skip: bool = False
) -> dict[str, int]:
    alert = raise_test_alert(store, dep)
    out: dict[str, int] = {}
    for who, value, questions in PLAN:
        context = browser.new_context(viewport={"width": 412, "height": 915})
        page = context.new_page()
        log_in(page, server_url, who, PASSWORD)
        page.goto(f"{server_url}/console")
        # From the alert on the console: open it (one tap, or Tab to its link and Enter).
        _FRESH.add(page.url)
        count = _act(page, f'a[href="/alerts/{alert}"]', keyboard, skip=skip)
        count += _answer(page, questions, keyboard, skip)
        count += _act(page, f'button[name=decision][value="{value}"]', keyboard, skip=skip)
        if not _recorded(store, alert, value):  # a confirm step
            count += _answer(page, questions, keyboard, skip)
            count += _act(page, "button#record", keyboard, skip=skip)
        assert _recorded(store, alert, value), (who, value, page.url)
        out[STEP[value]] = count
        context.close()
    return out


def main() -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        settings = server_settings(Path(tmp), public_base_url=f"http://127.0.0.1:{port}")
        store = open_store(settings)
        add_users(store)
        dep = enrolled_open_deployment(store)
        app = create_server_app(settings, store=store, background=[])
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}"
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox", "--disable-gpu"]
            )
            taps = run_plan(url, store, dep, browser, keyboard=False)
            keys = run_plan(url, store, dep, browser, keyboard=True)
            skipping = run_plan(url, store, dep, browser, keyboard=True, skip=True)
            browser.close()
        server.should_exit = True
        thread.join(10)  # the broker stops polling before the store closes
        store.close()
    print("From the alert on the console to the decision recorded (412x915, Chromium):")
    for step in ("review", "engagement", "disposal"):
        print(
            f"  {step:<11} taps {taps[step]:>2}   keypresses: Tab only {keys[step]:>3}, "
            f"with the skip link {skipping[step]:>3}"
        )


if __name__ == "__main__":
    main()
