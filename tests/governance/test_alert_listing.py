"""Listing alerts by state: the state filter runs in SQL, so ``limit`` counts alerts in that state."""

from __future__ import annotations

import pytest

from openlfr.governance.alerts import (
    get_alert,
    list_alerts,
    record_disposal,
    record_engagement,
    review_alert,
)
from tests.governance.live_setup import Live, make_live


@pytest.fixture
def live(store, make_deployment, clock) -> Live:  # type: ignore[no-untyped-def]
    return make_live(store, make_deployment, clock)


def test_state_and_limit_together_return_limit_alerts_in_that_state(live: Live) -> None:
    ids = [live.alert(track_id=f"t{i}") for i in range(5)]
    # The two oldest are decided; three are still raised.
    review_alert(live.store, "op (operator)", ids[0], "false_alert")
    review_alert(live.store, "op (operator)", ids[1], "engage")
    raised = list_alerts(live.store, live.deployment.id, state="raised", limit=2)
    # Before the fix the limit took the two oldest alerts, then the state filter dropped both: [].
    assert [a.id for a in raised] == ids[2:4]
    assert [a.id for a in list_alerts(live.store, live.deployment.id, state="false_alert", limit=1)] == ids[
        :1
    ]
    assert [a.id for a in list_alerts(live.store, live.deployment.id, state="raised", limit=10)] == ids[2:]


def test_every_state_filter_matches_alert_state(live: Live) -> None:
    """The SQL filter agrees with the state each alert reports, for every state an alert can reach."""
    ids = [live.alert(track_id=f"t{i}") for i in range(7)]
    op, pc = "op (operator)", "pc (officer)"
    review_alert(live.store, op, ids[1], "false_alert")
    for i in (2, 3, 4, 5, 6):
        review_alert(live.store, op, ids[i], "engage")
    met = {"reason_explained": True, "leaflet_given": True}
    record_engagement(live.store, pc, ids[3], "confirmed_true", **met)
    record_engagement(live.store, pc, ids[4], "not_engaged")
    record_engagement(live.store, pc, ids[5], "confirmed_false", **met)
    record_engagement(live.store, pc, ids[6], "confirmed_true", **met)
    record_disposal(live.store, pc, ids[6], "arrest")
    states = {i: get_alert(live.store, i).state for i in ids}
    assert sorted(set(states.values())) == sorted(
        {
            "raised",
            "false_alert",
            "passed_to_engagement",
            "confirmed_true",
            "not_engaged",
            "confirmed_false",
            "disposed:arrest",
        }
    )
    for state in set(states.values()):
        listed = [a.id for a in list_alerts(live.store, live.deployment.id, state=state)]
        assert listed == [i for i in ids if states[i] == state], state
    assert [a.id for a in list_alerts(live.store, live.deployment.id, state="disposed")] == ids[6:]
    assert list_alerts(live.store, live.deployment.id, state="no_such_state") == []
