"""Issue 25 item 5: a role that may not see alerts (the admin) reads the audit log with alert details
redacted, through the API, the command line and the audit page; a role that may see alerts reads it whole,
and the stored rows still verify."""

from __future__ import annotations

import json

from openlfr.api.audit_view import REDACTED
from openlfr.governance.audit import verify
from openlfr.store.auth_models import Role
from tests.api.conftest import World


def _raise_rows(world: World, role: Role) -> list[dict]:  # type: ignore[type-arg]
    r = world.client.get("/api/audit?action=alert.raise", headers=world.headers(role))
    assert r.status_code == 200, r.text
    return [row for row in r.json() if row["target"] == world.alert_id]


def test_the_admin_reads_audit_rows_without_alert_details(world: World) -> None:
    assert world.client.get("/api/alerts", headers=world.headers(Role.ADMIN)).status_code == 403
    (row,) = _raise_rows(world, Role.ADMIN)
    details = row["details"]
    for key in ("subject_id", "camera_id", "score", "track_id"):
        assert details[key] == REDACTED, key
    assert row["redacted"] is True and "W-001" not in json.dumps(row) and "0.55" not in json.dumps(row)
    assert details["threshold"] == 0.4  # the deployment's threshold is not an alert detail
    # Nested too: the watchlist rows' subject ids (targets) and any "subject_id" deeper in the details.
    everything = world.client.get("/api/audit?last=10000", headers=world.headers(Role.ADMIN)).json()
    assert "W-001" not in json.dumps(everything)


def test_roles_that_may_see_alerts_read_rows_whole(world: World) -> None:
    for role in (Role.AUDITOR, Role.AUTHORISING_OFFICER):
        (row,) = _raise_rows(world, role)
        assert row["details"]["subject_id"] == "W-001" and row["details"]["score"] == 0.55
        assert row["redacted"] is False
    assert verify(world.store).ok  # redaction is a view: the stored chain is untouched


def test_the_audit_page_redacts_for_the_admin(world: World) -> None:
    from tests.api.test_auth import _browser_login

    _browser_login(world, "admin")
    html = world.client.get("/audit").text
    assert "alert.raise" in html and "W-001" not in html and "redacted" in html
