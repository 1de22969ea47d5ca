"""Login, throttling, cookies and CSRF, audited image views, and the signed webhook."""

from __future__ import annotations

import hashlib
import hmac
import json
import re

from sqlalchemy import select

from openlfr.api.duties import signed_request, webhook_payload
from openlfr.governance import audit
from openlfr.store.auth_models import Role, User
from tests.api.conftest import PASSWORD, World


def _csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token in the form"
    return m.group(1)


def _browser_login(world: World, username: str) -> None:
    form = world.client.get("/login")
    r = world.client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": _csrf_of(form.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


def test_passwords_are_stored_as_argon2id_hashes(world: World) -> None:
    with world.store.session() as s:
        hashes = list(s.scalars(select(User.password_hash)))
    assert len(hashes) == len(Role)
    assert all(h.startswith("$argon2id$") and PASSWORD not in h for h in hashes)


def test_login_is_throttled_after_repeated_failures(world: World) -> None:
    limit = world.store.settings.server.login_attempts_per_minute
    for _ in range(limit):
        r = world.client.post("/api/auth/token", json={"username": "operator", "password": "wrong password!"})
        assert r.status_code == 401
    # Now even the right password is refused until the window passes.
    r = world.client.post("/api/auth/token", json={"username": "operator", "password": PASSWORD})
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert audit.entries(world.store, action="auth.login_throttled")
    assert len(audit.entries(world.store, action="auth.login_failed")) == limit


def test_session_cookie_is_httponly_samesite_and_secure_by_default(world: World) -> None:
    form = world.client.get("/login")  # fetched over plain HTTP, so its own cookie must not be Secure yet
    world.client.app.state.settings.server.secure_cookies = True  # type: ignore[attr-defined]
    r = world.client.post(
        "/login",
        data={"username": "operator", "password": PASSWORD, "csrf_token": _csrf_of(form.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    (cookie,) = [c.lower() for c in r.headers.get_list("set-cookie") if c.startswith("openlfr_session=")]
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" in cookie


def test_login_form_without_its_csrf_token_is_refused(world: World) -> None:
    world.client.get("/login")
    r = world.client.post(
        "/login",
        data={"username": "operator", "password": PASSWORD, "csrf_token": "forged"},
        follow_redirects=False,
    )
    assert r.status_code == 403 and "openlfr_session" not in r.headers.get("set-cookie", "")


def test_forms_need_the_session_csrf_token(world: World) -> None:
    _browser_login(world, "operator")
    url = f"/alerts/{world.alert_id}/review"
    r = world.client.post(url, data={"decision": "false_alert"}, follow_redirects=False)
    assert r.status_code == 403
    r = world.client.post(
        url, data={"decision": "false_alert", "csrf_token": "not-the-token"}, follow_redirects=False
    )
    assert r.status_code == 403
    page = world.client.get(f"/alerts/{world.alert_id}")
    r = world.client.post(
        url, data={"decision": "false_alert", "csrf_token": _csrf_of(page.text)}, follow_redirects=False
    )
    assert r.status_code == 303
    assert (
        world.client.get(f"/api/alerts/{world.alert_id}", headers=world.headers(Role.AUDITOR)).json()[
            "review"
        ]
        == "false_alert"
    )


def test_every_image_view_is_audited_with_who_and_which(world: World) -> None:
    before = len(audit.entries(world.store, action="alert.image_read"))
    for kind in ("probe", "candidate"):
        r = world.client.get(
            f"/api/alerts/{world.alert_id}/images/{kind}", headers=world.headers(Role.ENGAGEMENT_OFFICER)
        )
        assert r.status_code == 200 and r.headers["content-type"] in ("image/jpeg", "image/png")
        assert r.content[:2] in (b"\xff\xd8", b"\x89P")
        assert "no-store" in r.headers["cache-control"]
    rows = audit.entries(world.store, action="alert.image_read")[before:]
    assert [(e.actor, e.role, json.loads(e.details)["image"]) for e in rows] == [
        ("engagement-officer", "engagement_officer", "probe"),
        ("engagement-officer", "engagement_officer", "candidate"),
    ]
    assert audit.verify(world.store).ok


def test_logged_out_gets_no_image_and_pages_redirect_to_login(world: World) -> None:
    r = world.client.get(f"/api/alerts/{world.alert_id}/images/probe")
    assert r.status_code == 401 and not r.content.startswith(b"\xff\xd8")
    r = world.client.get(f"/alerts/{world.alert_id}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_logout_revokes_the_token(world: World) -> None:
    h = world.headers(Role.AUDITOR)
    assert world.client.get("/api/auth/me", headers=h).status_code == 200
    assert world.client.post("/api/auth/logout", headers=h).status_code == 204
    assert world.client.get("/api/auth/me", headers=h).status_code == 401


def test_weak_passwords_are_refused(world: World) -> None:
    r = world.client.post(
        "/api/users",
        headers=world.headers(Role.ADMIN),
        json={"username": "shorty", "password": "short", "role": "operator"},
    )
    assert r.status_code == 422 and "at least" in r.json()["detail"]


def test_webhook_is_signed_with_hmac_over_timestamp_and_body(world: World) -> None:
    message = world.client.get(f"/api/alerts/{world.alert_id}", headers=world.headers(Role.OPERATOR)).json()
    payload = webhook_payload(message)
    assert "images" not in payload["alert"] and payload["alert"]["id"] == world.alert_id
    body, headers = signed_request("s3cret", payload)
    expected = hmac.new(
        b"s3cret", headers["X-OpenLFR-Timestamp"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    assert headers["X-OpenLFR-Signature"] == "sha256=" + expected
    _, other = signed_request("another secret", payload)
    assert other["X-OpenLFR-Signature"] != headers["X-OpenLFR-Signature"]
