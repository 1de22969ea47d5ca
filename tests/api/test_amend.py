"""``POST /api/alerts/{id}/amend`` (issue 24, rule 7): only the supervising role amends, with a reason; the
amendment is a new decision, published by kind in the deployment's record."""

from __future__ import annotations

from openlfr.store.auth_models import Role
from tests.api.conftest import World


def test_only_a_supervisor_amends_with_a_reason_and_it_is_published(world: World) -> None:
    url = f"/api/alerts/{world.alert_id}"
    body = {"step": "review", "decision": "engage", "reason": "pressed False alert by mistake"}
    for role in Role:
        if role != Role.AUTHORISING_OFFICER:
            assert (
                world.client.post(url + "/amend", headers=world.headers(role), json=body).status_code == 403
            )
    assert world.client.post(url + "/amend", json=body).status_code == 401
    ao = world.headers(Role.AUTHORISING_OFFICER)
    r = world.client.post(url + "/amend", headers=ao, json=body)
    assert r.status_code == 409 and "no review decision to amend" in r.json()["detail"]
    assert (
        world.client.post(
            url + "/review", headers=world.headers(Role.OPERATOR), json={"decision": "false_alert"}
        ).status_code
        == 200
    )
    assert world.client.post(url + "/amend", headers=ao, json={**body, "reason": ""}).status_code == 422
    r = world.client.post(url + "/amend", headers=ao, json=body)
    assert (
        r.status_code == 200
        and r.json()["review"] == "engage"
        and r.json()["state"] == "passed_to_engagement"
    )
    feed = world.client.get("/public/deployments.json").json()
    published = next(d for d in feed["announced"] + feed["past"] if d["id"] == world.deployment_id)
    assert published["record"]["amendments_by_kind"] == {"review: false alert → engage": 1}
