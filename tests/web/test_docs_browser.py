"""``/docs`` in a real browser (Chromium) under the server's own Content-Security-Policy: Swagger UI
renders every operation, no request leaves the server, and the browser reports no CSP violation."""

from __future__ import annotations

from urllib.parse import urlparse

from tests.web.conftest import LiveServer


def test_docs_render_offline_under_the_csp(live_server: LiveServer, browser) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context()
    page = context.new_page()
    requested: list[str] = []
    console: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.on("console", lambda m: console.append(m.text))
    response = page.goto(f"{live_server.url}/docs")
    assert response is not None and response.status == 200
    assert "script-src 'self'" in (response.headers.get("content-security-policy") or "")
    page.wait_for_selector(".opblock-summary-path", timeout=20_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/auth/token" in p for p in paths) and len(paths) >= 20
    own = urlparse(live_server.url).netloc
    outside = [u for u in requested if urlparse(u).scheme in ("http", "https") and urlparse(u).netloc != own]
    assert outside == []
    assert not [m for m in console if "Content Security Policy" in m], console
    context.close()
