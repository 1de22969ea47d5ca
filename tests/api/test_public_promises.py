"""Issue 15 in the public feeds and the API: trial or operational, short notice, the assessments (never the
intelligence case), yearly totals as JSON, and engagement facts through the API."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from openlfr.store.auth_models import Role
from tests.api.conftest import World
from tests.governance.deployment_fields import ASSESSMENTS


def test_feeds_carry_phase_short_notice_and_assessments_not_the_intelligence_case(world: World) -> None:
    feed = world.client.get("/public/deployments.json")
    assert feed.status_code == 200
    (dep,) = feed.json()["announced"]
    assert dep["phase"] == "trial" and dep["short_notice"] is True
    for key in ("dpia_ref", "eia_ref", "policy_ref", "data_controller", "public_contact"):
        assert dep[key] == ASSESSMENTS[key], key
    assert ASSESSMENTS["intelligence_case"] not in feed.text and "intelligence" not in feed.text
    (row,) = csv.DictReader(io.StringIO(world.client.get("/public/deployments.csv").text))
    assert (row["phase"], row["short_notice"], row["dpia_ref"]) == ("trial", "yes", ASSESSMENTS["dpia_ref"])
    assert ASSESSMENTS["intelligence_case"] not in world.client.get("/public/deployments.csv").text


def test_yearly_totals_feed(world: World) -> None:
    year = datetime.now(UTC).year
    totals = world.client.get(f"/public/totals.json?year={year}").json()
    assert (totals["year"], totals["deployments"], totals["alerts"]) == (year, 1, 1)
    assert totals["short_notice_deployments"] == 1 and "deployment_ids" not in totals
    assert world.client.get(f"/public/totals.json?year={year - 1}").json()["deployments"] == 0
    assert world.client.get("/public/totals.json?year=12").status_code == 400


def test_engagement_through_the_api_needs_reason_and_leaflet(world: World) -> None:
    url = f"/api/alerts/{world.alert_id}"
    op, eo = world.headers(Role.OPERATOR), world.headers(Role.ENGAGEMENT_OFFICER)
    assert world.client.post(url + "/review", headers=op, json={"decision": "engage"}).status_code == 200
    r = world.client.post(url + "/engagement", headers=eo, json={"decision": "confirmed_false"})
    assert r.status_code == 409 and "leaflet was given" in r.text
    assert world.client.get(url, headers=eo).json()["engagement"] is None  # nothing half-recorded
    body = {"decision": "confirmed_false", "reason_explained": True, "leaflet_given": False}
    r = world.client.post(url + "/engagement", headers=eo, json=body)
    assert (
        r.status_code == 200 and r.json()["reason_explained"] is True and r.json()["leaflet_given"] is False
    )


def test_evidence_hold_renewal_through_the_api(world: World) -> None:
    url = f"/api/alerts/{world.alert_id}/evidence"
    sup = world.headers(Role.AUTHORISING_OFFICER)
    r = world.client.post(url + "/renew", headers=sup, json={"reason": "trial listed"})
    assert r.status_code == 409 and "not held as evidence" in r.text
    held = world.client.post(url, headers=sup, json={"reason": "case 17"})
    assert held.status_code == 200, held.text
    first = held.json()["evidence_review_at"]
    renewed = world.client.post(url + "/renew", headers=sup, json={"reason": "trial listed"})
    assert renewed.status_code == 200 and renewed.json()["evidence_review_at"] >= first
