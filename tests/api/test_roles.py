"""Every endpoint, every role: allowed roles get through, the others get 403, no credentials get 401.

The table is written out here (not read from the code), so a change to who may do what must change
this test too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from openlfr.store.auth_models import Role
from tests.api.conftest import World
from tests.governance.deployment_fields import ASSESSMENTS

A, AO, OP, EO, RV, AU, DP = (
    Role.ADMIN,
    Role.AUTHORISING_OFFICER,
    Role.OPERATOR,
    Role.ENGAGEMENT_OFFICER,
    Role.REVIEWER,
    Role.AUDITOR,
    Role.DATA_PROTECTION,
)


def _future_deployment() -> dict[str, Any]:
    from datetime import UTC, datetime, timedelta

    start = datetime.now(UTC) + timedelta(days=2)
    return {
        "purpose": "Find missing people at risk",
        "location": "Market Square",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=6)).isoformat(),
        "authorising_officer": "Supt. Jones",
        "cameras": ["cam-9"],
        "threshold": 0.5,
        "threshold_override_reason": "test",
        "purpose_category": "missing_persons",
        "legal_basis": "Common-law policing powers",
        "authorising_role": "Superintendent",
        **ASSESSMENTS,
    }


# (name, method, path template, json body factory or None, allowed roles)
ENDPOINTS: list[tuple[str, str, str, Callable[[], Any] | None, tuple[Role, ...]]] = [
    ("me", "GET", "/api/auth/me", None, (A, AO, OP, EO, RV, AU, DP)),
    ("list deployments", "GET", "/api/deployments", None, (A, AO, OP, EO, RV, AU, DP)),
    ("get deployment", "GET", "/api/deployments/{dep}", None, (A, AO, OP, EO, RV, AU, DP)),
    ("pending watchlist entries", "GET", "/api/deployments/{dep}/watchlist/pending", None, (AO, OP, RV)),
    ("plan deployment", "POST", "/api/deployments", _future_deployment, (AO, OP)),
    ("watchlist summary", "GET", "/api/deployments/{dep}/watchlist", None, (AO, OP, AU)),
    ("list alerts", "GET", "/api/alerts", None, (AO, OP, EO, AU)),
    ("get alert", "GET", "/api/alerts/{alert}", None, (AO, OP, EO, AU)),
    ("probe image", "GET", "/api/alerts/{alert}/images/probe", None, (OP, EO)),
    ("candidate image", "GET", "/api/alerts/{alert}/images/candidate", None, (OP, EO)),
    ("scene image", "GET", "/api/alerts/{alert}/images/frame", None, (OP, EO)),
    ("operator review", "POST", "/api/alerts/{alert}/review", lambda: {"decision": "engage"}, (OP,)),
    ("audit log", "GET", "/api/audit", None, (A, AU, AO)),
    ("verify audit", "GET", "/api/audit/verify", None, (A, AU)),
    ("list users", "GET", "/api/users", None, (A,)),
    (
        "add user",
        "POST",
        "/api/users",
        lambda: {"username": "new-user", "password": "a long enough password", "role": "auditor"},
        (A,),
    ),
    ("set a user's rank", "PUT", "/api/users/operator/rank", lambda: {"rank": "constable"}, (A,)),
    ("close deployment", "POST", "/api/deployments/{dep}/close", lambda: {"reason": "done"}, (AO, OP)),
]


def _call(world: World, role: Role | None, method: str, path: str, body: Callable[[], Any] | None) -> int:
    url = path.format(dep=world.deployment_id, alert=world.alert_id)
    r = world.client.request(method, url, headers=world.headers(role), json=body() if body else None)
    return r.status_code


@pytest.mark.parametrize(
    ("name", "method", "path", "body", "allowed"), ENDPOINTS, ids=[e[0] for e in ENDPOINTS]
)
def test_each_role_allowed_or_refused(
    world: World, name: str, method: str, path: str, body: Callable[[], Any] | None, allowed: tuple[Role, ...]
) -> None:
    for role in Role:
        status = _call(world, role, method, path, body)
        if role in allowed:
            assert status < 400, f"{name}: {role.value} should be allowed, got {status}"
            if method == "POST" and "close" not in path and "review" not in path:
                continue
            if method == "POST":
                # A state change can only happen once; the rest of the allowed roles see the conflict,
                # which still proves they got past the role check.
                allowed_rest = [r for r in allowed if r != role]
                for other in allowed_rest:
                    assert _call(world, other, method, path, body) == 409
                break
        else:
            assert status == 403, f"{name}: {role.value} should be refused, got {status}"
    assert _call(world, None, method, path, body) == 401


def test_engagement_outcome_and_disposal_roles(world: World) -> None:
    """The later steps of adjudication need the alert passed to engagement first."""
    url = f"/api/alerts/{world.alert_id}"
    assert (
        world.client.post(url + "/review", headers=world.headers(OP), json={"decision": "engage"}).status_code
        == 200
    )
    for role in (A, AO, OP, RV, AU):
        r = world.client.post(
            url + "/engagement",
            headers=world.headers(role),
            json={"decision": "confirmed_true", "reason_explained": True, "leaflet_given": True},
        )
        assert r.status_code == 403, role
    r = world.client.post(
        url + "/engagement",
        headers=world.headers(EO),
        json={"decision": "confirmed_true", "reason_explained": True, "leaflet_given": True},
    )
    assert r.status_code == 200 and r.json()["state"] == "confirmed_true"
    assert r.json()["engaged_by"].startswith("engagement-officer")
    for role in (A, AO, OP, RV, AU):
        assert (
            world.client.post(
                url + "/disposal", headers=world.headers(role), json={"decision": "advice"}
            ).status_code
            == 403
        )
    r = world.client.post(url + "/disposal", headers=world.headers(EO), json={"decision": "advice"})
    assert r.status_code == 200 and r.json()["disposal"] == "advice"
    for role in (A, OP, EO, RV, AU):
        assert (
            world.client.post(
                url + "/evidence", headers=world.headers(role), json={"reason": "court case"}
            ).status_code
            == 403
        )
    assert (
        world.client.post(
            url + "/evidence", headers=world.headers(AO), json={"reason": "court case"}
        ).status_code
        == 200
    )


def test_open_deployment_only_by_authorising_officer(world: World) -> None:
    created = world.client.post("/api/deployments", headers=world.headers(OP), json=_future_deployment())
    assert created.status_code == 201
    dep = created.json()["id"]
    for role in (A, OP, EO, RV, AU):
        assert (
            world.client.post(f"/api/deployments/{dep}/open", headers=world.headers(role)).status_code == 403
        )
    # The authorising officer passes the role check and meets issue 15's rules, named together, unchanged.
    r = world.client.post(f"/api/deployments/{dep}/open", headers=world.headers(AO), json={"reason": "test"})
    assert r.status_code == 409, r.text
    assert all(w in r.text for w in ("watchlist is empty", "signage", "notice period")), r.text
    assert (
        world.client.get(f"/api/deployments/{dep}", headers=world.headers(AO)).json()["status"] == "planned"
    )


def test_opening_through_the_api_needs_the_minimum_rank(world: World) -> None:
    """Issue 25: the rank an admin records decides whether the authorising officer may open."""
    created = world.client.post("/api/deployments", headers=world.headers(OP), json=_future_deployment())
    dep = created.json()["id"]
    r = world.client.put(
        "/api/users/authorising-officer/rank", headers=world.headers(A), json={"rank": "Chief Inspector"}
    )
    assert r.status_code == 200 and r.json()["rank"] == "chief_inspector", r.text
    r = world.client.put("/api/users/operator/rank", headers=world.headers(A), json={"rank": "general"})
    assert r.status_code == 422 and "unknown rank" in r.text
    r = world.client.put("/api/users/admin/rank", headers=world.headers(A), json={"rank": "commissioner"})
    assert r.status_code == 422 and "nobody records their own rank" in r.text
    users = {
        u["username"]: u["rank"] for u in world.client.get("/api/users", headers=world.headers(A)).json()
    }
    assert users["authorising-officer"] == "chief_inspector"
    r = world.client.post(f"/api/deployments/{dep}/open", headers=world.headers(AO), json={"reason": "test"})
    assert r.status_code == 409 and "rank is Chief Inspector" in r.text, r.text
