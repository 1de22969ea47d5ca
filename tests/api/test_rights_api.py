"""The public's side over the API (issue 27): outcome detail at disposal, the reference, the data protection
role's endpoints and the complaints register, each allowed to its roles only."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime, timedelta

from openlfr.store.auth_models import Role
from tests.api.conftest import World


def test_disposal_detail_reference_rights_and_complaints(world: World) -> None:
    c, h = world.client, world.headers
    url = f"/api/alerts/{world.alert_id}"
    assert c.post(url + "/review", headers=h(Role.OPERATOR), json={"decision": "engage"}).status_code == 200
    met = c.post(
        url + "/engagement",
        headers=h(Role.ENGAGEMENT_OFFICER),
        json={"decision": "confirmed_true", "reason_explained": True, "leaflet_given": True},
    )
    assert met.status_code == 200
    ref = met.json()["reference"]
    assert len(ref) == 11
    bad = c.post(
        url + "/disposal",
        headers=h(Role.ENGAGEMENT_OFFICER),
        json={"decision": "arrest", "arrest_for_watchlist_reason": False},
    )
    assert bad.status_code == 409 and "other offence" in bad.text
    done = c.post(
        url + "/disposal",
        headers=h(Role.ENGAGEMENT_OFFICER),
        json={
            "decision": "arrest",
            "use_of_force": False,
            "arrest_for_watchlist_reason": True,
            "other_offences": ["drugs"],
            "custody_reference": "CU/77",
        },
    )
    assert done.status_code == 200 and "CU/77" not in done.text
    assert done.json()["other_offences"] == ["drugs"]

    for role in Role:
        status = c.get(f"/api/rights/{ref}", headers=h(role)).status_code
        assert status == (200 if role == Role.DATA_PROTECTION else 403), role
    found = c.get(f"/api/rights/{ref.lower()}", headers=h(Role.DATA_PROTECTION)).json()
    assert found["alert_id"] == world.alert_id and found["custody_or_crime_reference"] == "CU/77"
    z = c.get(f"/api/rights/{ref}/export", headers=h(Role.DATA_PROTECTION))
    assert z.status_code == 200 and z.headers["content-type"] == "application/zip"
    assert "response.json" in zipfile.ZipFile(io.BytesIO(z.content)).namelist()
    refused = c.post(f"/api/rights/{ref}/erase", headers=h(Role.DATA_PROTECTION), json={"reason": "r"})
    assert refused.status_code == 200 and refused.json()["erased"] is False
    assert c.get("/api/rights/ABCDE", headers=h(Role.DATA_PROTECTION)).status_code == 409

    received = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    body = {"received_at": received, "category": "misidentification", "reference": ref}
    assert c.post("/api/complaints", headers=h(Role.AUDITOR), json=body).status_code == 403
    added = c.post("/api/complaints", headers=h(Role.DATA_PROTECTION), json=body)
    assert added.status_code == 201 and added.json()["deployment_id"] == world.deployment_id
    cid = added.json()["id"]
    out = c.post(
        f"/api/complaints/{cid}/outcome", headers=h(Role.DATA_PROTECTION), json={"outcome": "not_upheld"}
    )
    assert out.status_code == 200
    listed = c.get("/api/complaints", headers=h(Role.AUDITOR)).json()
    assert [x["outcome"] for x in listed] == ["not_upheld"]
