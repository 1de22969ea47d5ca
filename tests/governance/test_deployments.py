"""Deployments: forward-only status, rule 1 (window and cameras) and rule 2 (threshold floor)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from openlfr.governance.audit import entries
from openlfr.governance.deployment_closing import close_deployment
from openlfr.governance.deployment_opening import open_deployment
from openlfr.governance.deployment_planning import create_deployment
from openlfr.governance.deployments import check_can_scan, get_deployment, list_deployments
from openlfr.governance.errors import GovernanceError, NotFound, ScanRefused
from openlfr.matching.calibration import local_calibration_path
from openlfr.store import Store
from openlfr.store.models import DEPLOYMENT_PURPOSE_CATEGORIES
from tests.authorisers import authoriser
from tests.governance.deployment_fields import ASSESSMENTS, SHORT_NOTICE


def test_create_records_a_planned_deployment_and_audits_it(store, make_deployment) -> None:  # type: ignore[no-untyped-def]
    dep = make_deployment()
    assert dep.status == "planned" and dep.cameras == ["cam-1", "cam-2"] and dep.threshold == 0.5
    assert get_deployment(store, dep.id) == dep
    assert [d.id for d in list_deployments(store)] == [dep.id]
    row = entries(store, deployment_id=dep.id)[0]
    assert row.action == "deployment.create" and row.actor == "planner" and row.role == "supervisor"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"purpose": " "}, "needs a purpose"),
        ({"cameras": []}, "at least one camera"),
        ({"cameras": ["a", "a"]}, "repeat"),
        ({"pack": "no-such-pack"}, "no-such-pack"),
        ({"threshold": 1.5}, "not a cosine similarity"),
        ({"purpose_category": "general surveillance"}, "unknown purpose category 'general surveillance'"),
        ({"purpose_category": ""}, "unknown purpose category"),
        ({"legal_basis": " "}, "needs a legal basis"),
        ({"authorising_role": "supt. jones"}, "not the officer's name"),
    ],
)
def test_create_refuses_bad_input(make_deployment, change, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(GovernanceError, match=message):
        make_deployment(**change)


def test_window_must_make_sense(make_deployment, clock) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(GovernanceError, match="before it starts"):
        make_deployment(starts_at=clock() + timedelta(hours=2), ends_at=clock() + timedelta(hours=1))
    with pytest.raises(GovernanceError, match="already past"):
        make_deployment(starts_at=clock() - timedelta(hours=3), ends_at=clock() - timedelta(hours=1))
    with pytest.raises(GovernanceError, match="at most 168 hours"):
        make_deployment(ends_at=clock() + timedelta(days=10))
    with pytest.raises(GovernanceError, match="time zone"):
        make_deployment(starts_at=clock().replace(tzinfo=None))


def test_status_only_moves_forward(store, make_deployment, clock, ready) -> None:  # type: ignore[no-untyped-def]
    dep = make_deployment()
    ready(dep.id)
    assert open_deployment(store, authoriser(store), dep.id, clock=clock).status == "open"
    with pytest.raises(GovernanceError, match="only a planned deployment can be opened"):
        open_deployment(store, authoriser(store), dep.id, clock=clock)
    close_deployment(store, "sup", dep.id, clock=clock)
    with pytest.raises(GovernanceError, match="already closed"):
        close_deployment(store, "sup", dep.id, clock=clock)
    with pytest.raises(GovernanceError, match="closed"):
        open_deployment(store, authoriser(store), dep.id, clock=clock)
    with pytest.raises(NotFound):
        open_deployment(store, authoriser(store), "nope", clock=clock)


# --- Rule 1 -------------------------------------------------------------------------------------------


def test_rule1_scanning_only_inside_the_window_of_an_open_deployment(
    store, make_deployment, clock, ready
) -> None:  # type: ignore[no-untyped-def]
    dep = make_deployment()
    inside = dep.starts_at + timedelta(minutes=5)
    with pytest.raises(ScanRefused, match="planned, not open"):
        check_can_scan(dep, "cam-1", inside)
    ready(dep.id)
    dep = open_deployment(store, authoriser(store), dep.id, clock=clock)
    check_can_scan(dep, "cam-1", inside)  # allowed
    check_can_scan(dep, "cam-2", dep.starts_at)  # the window includes its start
    with pytest.raises(ScanRefused, match="has not started"):
        check_can_scan(dep, "cam-1", dep.starts_at - timedelta(seconds=1))
    with pytest.raises(ScanRefused, match="ended"):
        check_can_scan(dep, "cam-1", dep.ends_at)
    with pytest.raises(ScanRefused, match="not one of"):
        check_can_scan(dep, "cam-9", inside)
    dep = close_deployment(store, "sup", dep.id, clock=clock).deployment
    with pytest.raises(ScanRefused, match="closed, not open"):
        check_can_scan(dep, "cam-1", inside)


def test_a_deployment_cannot_open_after_its_window(store, make_deployment, clock) -> None:  # type: ignore[no-untyped-def]
    dep = make_deployment()
    clock.advance(hours=10)
    with pytest.raises(GovernanceError, match="window ended"):
        open_deployment(store, authoriser(store), dep.id, clock=clock)


# --- Rule 2 -------------------------------------------------------------------------------------------


def test_rule2_below_the_validated_minimum_needs_a_reason(
    store, make_deployment, calibrated, clock, ready
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(GovernanceError, match=r"below pack opencv-zoo's validated minimum 0\.400"):
        make_deployment(threshold=calibrated - 0.05)
    dep = make_deployment(threshold=calibrated - 0.05, threshold_override_reason="search for a missing child")
    ready(dep.id)
    opened = open_deployment(store, authoriser(store), dep.id, clock=clock)
    assert opened.status == "open" and opened.validated_min_threshold == calibrated
    override = [
        e for e in entries(store, deployment_id=dep.id) if e.action == "deployment.threshold_override"
    ]
    assert len(override) == 1
    details = json.loads(override[0].details)
    assert details["reason"] == "search for a missing child" and details["threshold"] == pytest.approx(0.35)


def test_rule2_calibration_lowered_after_creation_is_checked_at_open(
    store, make_deployment, clock, ready
) -> None:  # type: ignore[no-untyped-def]
    dep = make_deployment(threshold=0.45)
    path = local_calibration_path("opencv-zoo", store.settings.data_dir)
    path.write_text(
        path.read_text().replace('"validated_min_threshold": 0.4', '"validated_min_threshold": 0.5')
    )
    ready(dep.id)
    with pytest.raises(GovernanceError, match=r"cannot open.*below.*0\.500.*override reason"):
        open_deployment(store, authoriser(store), dep.id, clock=clock)
    assert get_deployment(store, dep.id).status == "planned"
    assert (
        open_deployment(
            store, authoriser(store), dep.id, override_reason="court-approved", clock=clock
        ).status
        == "open"
    )


def test_rule2_no_calibration_means_an_override_reason(store: Store, clock, ready) -> None:  # type: ignore[no-untyped-def]
    # No calibration file in this data directory (the packaged one, if any, is for other packs).
    dep = create_deployment(
        store,
        "planner",
        purpose="p",
        location="l",
        starts_at=clock(),
        ends_at=clock() + timedelta(hours=2),
        authorising_officer="Supt",
        cameras=["c"],
        pack="dlib",
        threshold=0.95,
        clock=clock,
        purpose_category="missing persons",
        legal_basis="b",
        authorising_role="Superintendent",
        **ASSESSMENTS,
        short_notice_reason=SHORT_NOTICE,
    )
    ready(dep.id)
    with pytest.raises(GovernanceError, match="no calibration exists for pack dlib"):
        open_deployment(store, authoriser(store), dep.id, clock=clock)
    opened = open_deployment(
        store, authoriser(store), dep.id, override_reason="pilot, no calibration yet", clock=clock
    )
    assert opened.threshold_override_reason == "pilot, no calibration yet"
    assert any(e.action == "deployment.threshold_override" for e in entries(store, deployment_id=dep.id))


@pytest.mark.parametrize(
    ("given", "key"),
    [
        ("wanted_offenders", "wanted_offenders"),
        ("Missing persons", "missing_persons"),
        ("keeping a public event or gathering safe", "public_event_safety"),
        ("serious-crime-prevention", "serious_crime_prevention"),
    ],
)
def test_purpose_category_by_key_or_words(make_deployment, given: str, key: str) -> None:  # type: ignore[no-untyped-def]
    dep = make_deployment(
        purpose_category=given, legal_basis="  Common-law powers ", authorising_role=" Chief Inspector "
    )
    assert (dep.purpose_category, dep.legal_basis, dep.authorising_role) == (
        key,
        "Common-law powers",
        "Chief Inspector",
    )
    assert dep.authorising_officer == "Supt. Jones"
    assert dep.as_dict()["purpose_category_label"] == DEPLOYMENT_PURPOSE_CATEGORIES[key]


def test_a_deployment_recorded_before_revision_0003_publishes_the_fallbacks(store, make_deployment) -> None:  # type: ignore[no-untyped-def]
    """Rows from before the columns existed have none: the setting's legal basis and a generic role stand in."""
    from openlfr.governance.report import deployment_record
    from openlfr.store.models import Deployment

    dep = make_deployment()
    with store.session() as s:
        row = s.get(Deployment, dep.id)
        row.purpose_category = row.legal_basis = row.authorising_role = row.proposed_role = None
        row.status = "open"  # opened before revision 0012 too: its authoriser was never bound to a user
    rec = deployment_record(store, dep.id)
    assert rec["legal_basis"] == store.settings.server.legal_basis_summary
    assert rec["authorised_by_role"] == "authorising officer" and rec["purpose_category"] is None
    assert "Supt. Jones" not in json.dumps(rec)
