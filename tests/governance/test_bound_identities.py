"""Issue 25 item 1 (governance side): the authorising officer is the user who opens the deployment, with the
name and rank of the user table, at or above ``governance.min_authorising_rank``; and item 5: a deployment
opens only with at least one approved watchlist entry."""

from __future__ import annotations

import json

import pytest

from openlfr.config import Settings
from openlfr.governance.audit import entries
from openlfr.governance.deployment_opening import open_deployment, record_signage
from openlfr.governance.deployments import get_deployment
from openlfr.governance.errors import GovernanceError
from openlfr.governance.report import deployment_record, record_csv
from openlfr.governance.watchlist_approval import approve_entry
from openlfr.governance.watchlists import enrol_subject
from tests.authorisers import authoriser
from tests.governance.faces import entry, lfw_people


def test_the_published_authoriser_is_the_user_who_opened_it(store, make_deployment, clock, ready) -> None:  # type: ignore[no-untyped-def]
    # Planning proposes a Constable by name; a Chief Superintendent of the user table opens it.
    dep = make_deployment(authorising_officer="PC Typed-In", authorising_role="Constable")
    planned = deployment_record(store, dep.id)
    assert planned["authorised_by_role"] == "not yet authorised (proposed: Constable)"
    ready(dep.id)
    who = authoriser(store, "cs-evans", rank="chief_superintendent", name="Ch. Supt. Evans")
    opened = open_deployment(store, who, dep.id, clock=clock)
    assert (opened.authorised_by_user, opened.authorising_officer, opened.authorising_role) == (
        "cs-evans",
        "Ch. Supt. Evans",
        "Chief Superintendent",
    )
    assert (opened.proposed_officer, opened.proposed_role) == ("PC Typed-In", "Constable")
    rec = deployment_record(store, dep.id)
    assert rec["authorised_by_role"] == "Chief Superintendent"
    assert "user who opened" in rec["authorisation"]
    assert "Chief Superintendent" in record_csv(rec) and "proposed" not in json.dumps(rec)
    assert "Evans" not in json.dumps(rec)  # the name stays internal
    row = next(e for e in entries(store, deployment_id=dep.id) if e.action == "deployment.open")
    details = json.loads(row.details)
    assert (row.actor, details["authorised_by"], details["authorising_rank"]) == (
        "cs-evans",
        "cs-evans",
        "chief_superintendent",
    )


@pytest.mark.parametrize(
    ("rank", "message"),
    [
        (
            "inspector",
            r"cs-x's rank is Inspector: .*Superintendent or above \(governance.min_authorising_rank\)",
        ),
        (None, r"cs-x has no police rank recorded.*openlfr user rank cs-x"),
    ],
)
def test_opening_below_the_minimum_rank_is_refused(
    store, make_deployment, clock, ready, rank, message
) -> None:  # type: ignore[no-untyped-def]
    dep = make_deployment()
    ready(dep.id)
    with pytest.raises(GovernanceError, match=message):
        open_deployment(store, authoriser(store, "cs-x", rank=rank), dep.id, clock=clock)
    assert get_deployment(store, dep.id).status == "planned"


def test_a_name_not_in_the_user_table_cannot_authorise(store, make_deployment, clock, ready) -> None:  # type: ignore[no-untyped-def]
    dep = make_deployment()
    ready(dep.id)
    with pytest.raises(GovernanceError, match=r"'Supt\. Jones' is not an active user"):
        open_deployment(store, "Supt. Jones", dep.id, clock=clock)


def test_the_minimum_rank_is_a_setting(store, make_deployment, clock, ready) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="unknown rank 'general'"):
        Settings(governance={"min_authorising_rank": "general"})  # type: ignore[arg-type]
    assert Settings(
        governance={"min_authorising_rank": "Chief Inspector"}
    ).governance.min_authorising_rank == (  # type: ignore[arg-type]
        "chief_inspector"
    )
    store.settings.governance.min_authorising_rank = "chief_inspector"
    dep = make_deployment()
    ready(dep.id)
    opened = open_deployment(store, authoriser(store, "ci", rank="chief_inspector"), dep.id, clock=clock)
    assert opened.authorising_role == "Chief Inspector"


def test_a_deployment_opens_only_with_an_approved_entry(store, make_deployment, clock) -> None:  # type: ignore[no-untyped-def]
    dep = make_deployment()
    person, images = lfw_people()[0]
    pending = entry(person, clock(), needs_approval=True)
    enrol_subject(store, "enroller", dep.id, pending, [images[0]], clock=clock)
    record_signage(store, "pc (officer)", dep.id, clock=clock)
    with pytest.raises(GovernanceError, match="none of its watchlist entries is approved"):
        open_deployment(store, authoriser(store), dep.id, clock=clock)
    approve_entry(store, "reviewer (reviewer)", dep.id, person, clock=clock)
    assert open_deployment(store, authoriser(store), dep.id, clock=clock).status == "open"
