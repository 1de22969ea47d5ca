"""WCAG 2.2 AA in Debian's Chromium (issue 24 items 3 and 4): axe-core finds no serious or critical
violation, and no page is wider than a 412 px phone, on every page of ours for every role and logged out;
error pages are HTML with a title, a language and a way back for browsers, JSON for API clients."""

from __future__ import annotations

from typing import Any

import pytest

from openlfr.api import roles
from openlfr.governance import alerts, deployment_closing
from openlfr.store.auth_models import Role
from tests.api.conftest import PASSWORD, Seed, enrolled_open_deployment, raise_test_alert
from tests.web.conftest import ARTIFACTS, LiveServer, log_in, shot

PHONE = {"width": 412, "height": 915}
PUBLIC = ["/public", "/public/totals", "/public/deployments/{dep}", "/login", "/no-such-page"]
# Each page of ours and the roles that may open it (the same table the routes read).
PAGES: list[tuple[str, tuple[Role, ...]]] = [
    ("/console", roles.RECEIVE_ALERTS),
    ("/alerts/{alert}", roles.VIEW_ALERTS),
    ("/deployments", roles.VIEW_RECORD),
    ("/deployments/{dep}", roles.VIEW_RECORD),
    ("/audit", roles.VIEW_AUDIT),
    ("/admin/users", roles.MANAGE_USERS),
    ("/watchlists", roles.VIEW_WATCHLIST_ENTRIES),
    ("/deployments/{dep}/watchlist", roles.VIEW_WATCHLIST_ENTRIES),
    ("/oifr", roles.RUN_OIFR),
]


def _axe() -> Any:
    try:
        from axe_playwright_python.sync_playwright import Axe
    except ImportError:  # pragma: no cover - the dev extras install it
        pytest.skip("axe-playwright-python is not installed (pip install -e '.[dev]')")
    return Axe()


def _problems(axe: Any, page: Any) -> list[str]:
    """Serious and critical axe-core violations, and any sideways scrolling, on the page as shown."""
    results = axe.run(page)
    found = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical") or v["id"] == "heading-order"
    ]
    width = page.evaluate("() => document.documentElement.scrollWidth")
    if width > PHONE["width"]:
        found.append(f"page is {width} px wide in a {PHONE['width']} px screen")
    return found


@pytest.fixture(scope="module", autouse=True)
def past_deployment(seeded_server: LiveServer) -> str:
    """A closed deployment with a decided alert, so the public pages show a past row with both measures."""
    store = seeded_server.store
    dep = enrolled_open_deployment(store)
    alert = raise_test_alert(store, dep)
    alerts.review_alert(store, "operator", alert, "false_alert")
    deployment_closing.close_deployment(store, "authorising-officer", dep, reason="test: ended")
    return dep


@pytest.mark.parametrize("role", [None, *Role], ids=lambda r: r.value if r else "logged-out")
def test_every_page_every_role_axe_and_phone_width(  # type: ignore[no-untyped-def]
    seeded_server: LiveServer, seed: Seed, browser, role: Role | None
) -> None:
    axe = _axe()
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    if role is not None:
        log_in(page, seeded_server.url, role.value.replace("_", "-"), PASSWORD)
    # The public pages render the same for everyone (no login shown there): checked once, logged out.
    paths = (PUBLIC if role is None else ["/no-such-page"]) + [p for p, allowed in PAGES if role in allowed]
    problems: dict[str, list[str]] = {}
    for path in paths:
        url = seeded_server.url + path.format(dep=seed.deployment_id, alert=seed.alert_id)
        page.goto(url)
        assert page.evaluate("() => document.documentElement.lang") == "en", path
        assert page.title().strip(), f"{path}: empty title"
        found = _problems(axe, page)
        if found:
            problems[path] = found
            shot(page, f"axe-{role.value if role else 'logged-out'}-{path.strip('/').replace('/', '-')}")
    context.close()
    assert not problems, problems


def test_error_pages_html_for_browsers_json_for_api_clients(  # type: ignore[no-untyped-def]
    seeded_server: LiveServer, browser
) -> None:
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    r = page.goto(f"{seeded_server.url}/public/deployments/no-such-deployment")
    assert r is not None and r.status == 404 and "text/html" in r.headers["content-type"]
    assert page.title() == "Not found · openlfr"
    text = page.inner_text("main")
    assert "{" not in text and page.get_by_role("link", name="Public information").count() >= 1, text
    page.goto(f"{seeded_server.url}/public/no/such/page")
    assert page.title() == "Not found · openlfr" and "We could not find that page" in page.inner_text("main")
    context.close()
    api = context = browser.new_context(extra_http_headers={"accept": "application/json"})
    response = api.request.get(f"{seeded_server.url}/public/deployments/no-such-deployment")
    assert response.status == 404 and response.headers["content-type"].startswith("application/json")
    response = api.request.get(f"{seeded_server.url}/api/alerts/x")
    assert response.status == 401 and "detail" in response.json()
    api.close()


def test_public_pages_fit_a_small_phone_with_both_measures_side_by_side(  # type: ignore[no-untyped-def]
    seeded_server: LiveServer, past_deployment: str, browser
) -> None:
    for width in (320, 360, 412):
        context = browser.new_context(viewport={"width": width, "height": 800})
        page = context.new_page()
        for path in ("/public", "/public/totals", f"/public/deployments/{past_deployment}"):
            page.goto(seeded_server.url + path)
            scroll = page.evaluate("() => document.documentElement.scrollWidth")
            assert scroll <= width, (width, path, scroll)
            if path == "/public":
                cells = [
                    page.locator("#past tbody tr").first.locator("td.pair").nth(i).bounding_box()
                    for i in (0, 1)
                ]
            elif "deployments/" in path:
                cells = [page.locator("#measures .measure").nth(i).bounding_box() for i in (0, 1)]
                promises = page.inner_text("#promises")
                assert "Notice given" in promises and "kept for 30 days" in promises, promises
                assert "Information Commissioner" in promises, promises
            else:
                continue
            assert cells[0] and cells[1] and cells[0]["y"] == cells[1]["y"], (
                width,
                path,
                cells,
            )  # side by side
            if width == 412 and "deployments/" in path:
                page.screenshot(path=str(ARTIFACTS / "public-deployment-phone.png"), full_page=True)
        context.close()
