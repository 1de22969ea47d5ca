"""The public feeds: both measures in every record, right figures (hand-computed), nothing biometric."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest

from openlfr.api.public import CSV_COLUMNS, csv_rows
from openlfr.governance.audit import verify
from openlfr.governance.audit_checkpoints import Checkpoint
from openlfr.governance.measures import alert_precision
from openlfr.store.auth_models import Role
from tests.api.conftest import World


@pytest.mark.parametrize(
    ("true", "adjudicated", "expected"),
    [
        # n of n: the lower bound is (alpha/2)^(1/n); 0 of n: the upper bound is 1 - (alpha/2)^(1/n).
        (5, 5, (1.0, 0.025 ** (1 / 5), 1.0)),
        (0, 10, (0.0, 0.0, 1 - 0.025 ** (1 / 10))),
        (1, 1, (1.0, 0.025, 1.0)),
        # 8 of 42 (the independent review's figure): 19.0%, exact interval 8.6% to 34.1%.
        (8, 42, (8 / 42, 0.0860, 0.3412)),
    ],
)
def test_precision_and_its_clopper_pearson_interval(
    true: int, adjudicated: int, expected: tuple[float, ...]
) -> None:
    p = alert_precision(true, adjudicated, unadjudicated=3)
    assert p.value == pytest.approx(expected[0])
    assert p.ci_low == pytest.approx(expected[1], abs=5e-4)
    assert p.ci_high == pytest.approx(expected[2], abs=5e-4)
    assert p.unadjudicated == 3


def _adjudicate(world: World, alert_id: str, review: str, engagement: str | None = None) -> None:
    url = f"/api/alerts/{alert_id}"
    assert (
        world.client.post(
            url + "/review", headers=world.headers(Role.OPERATOR), json={"decision": review}
        ).status_code
        == 200
    )
    if engagement:
        assert (
            world.client.post(
                url + "/engagement",
                headers=world.headers(Role.ENGAGEMENT_OFFICER),
                json={"decision": engagement, "reason_explained": True, "leaflet_given": True},
            ).status_code
            == 200
        )


def test_feed_record_has_both_measures_with_the_right_figures(world: World) -> None:
    from datetime import UTC, datetime

    from openlfr.governance.live_gateway import DeploymentGateway
    from tests.api.conftest import raise_test_alert

    a2 = raise_test_alert(world.store, world.deployment_id)
    a3 = raise_test_alert(world.store, world.deployment_id)
    raise_test_alert(world.store, world.deployment_id)  # left unadjudicated
    _adjudicate(world, world.alert_id, "engage", "confirmed_true")
    _adjudicate(world, a2, "false_alert")
    _adjudicate(world, a3, "engage", "confirmed_false")
    DeploymentGateway(world.store, world.deployment_id).record_counters(
        "cam-1", faces_seen=4000, tracks=900, frames_processed=10_000, frames_dropped=12
    )
    assert (
        world.client.post(
            f"/api/deployments/{world.deployment_id}/close", headers=world.headers(Role.OPERATOR)
        ).status_code
        == 200
    )
    _ = datetime.now(UTC)

    feed = world.client.get("/public/deployments.json").json()
    (past,) = feed["past"]
    rec = past["record"]
    p = rec["alert_precision"]
    # 1 confirmed true of 3 adjudicated (1 true, 1 false alert, 1 confirmed false); 1 still open.
    assert (p["confirmed_true"], p["adjudicated"], p["unadjudicated"]) == (1, 3, 1)
    assert p["precision"] == pytest.approx(1 / 3)
    assert p["ci95_low"] == pytest.approx(0.00840, abs=5e-5) and p["ci95_high"] == pytest.approx(
        0.90570, abs=5e-5
    )
    assert rec["false_alerts"] == 2 and rec["faces_seen"] == 900
    assert rec["false_alerts_per_1000_faces"] == pytest.approx(2 / 900 * 1000)  # per distinct face (track)

    rows = list(csv.DictReader(io.StringIO(world.client.get("/public/deployments.csv").text)))
    assert tuple(rows[0].keys()) == CSV_COLUMNS
    assert float(rows[0]["alert_precision"]) == pytest.approx(1 / 3, abs=1e-4)
    assert float(rows[0]["false_alerts_per_1000_faces"]) == pytest.approx(2 / 900 * 1000, abs=1e-3)


def test_a_record_missing_either_measure_is_caught() -> None:
    """csv_rows fills both measures from the record; a record that lacks one shows up as empty cells,
    which this check (the one the feed test applies) refuses."""
    good = {
        "announced": [],
        "past": [
            {
                "id": "x",
                "record": {
                    "alerts": 1,
                    "false_alerts": 0,
                    "faces_seen": 10,
                    "false_alerts_per_1000_faces": 0.0,
                    "alert_precision": {
                        "precision": 1.0,
                        "ci95_low": 0.025,
                        "ci95_high": 1.0,
                        "adjudicated": 1,
                        "confirmed_true": 1,
                        "unadjudicated": 0,
                    },
                },
            }
        ],
    }

    def both_measures(row: dict[str, str]) -> bool:
        return (
            row["alert_precision"] != ""
            and row["false_alerts_per_1000_faces"] != ""
            and row["unadjudicated"] != ""
        )

    assert all(both_measures(r) for r in csv_rows(good))
    missing = {"announced": [], "past": [{"id": "y", "record": {"alerts": 1, "faces_seen": 10}}]}
    assert not any(both_measures(r) for r in csv_rows(missing))


def test_public_feeds_are_cacheable_rate_limited_and_carry_no_biometric_field(world: World) -> None:
    r = world.client.get("/public/deployments.json")
    assert r.status_code == 200 and r.headers["cache-control"].startswith("public, max-age=")
    assert (
        world.client.get("/public/deployments.json", headers={"If-None-Match": r.headers["etag"]}).status_code
        == 304
    )
    # Issue 15 publishes how the watchlist was put together: counts by where its reference images came from.
    # Those words name sources ("custody image taken on arrest"), so they are checked apart: counts only.
    feed = r.json()
    for dep in feed["announced"] + feed["past"]:
        counts = (dep.get("record") or {}).pop("watchlist_by_image_source", None) or {}
        assert all(isinstance(v, int) for v in counts.values()), counts
    text = json.dumps(feed).lower()
    for forbidden in (
        "subject",
        "template",
        "image",
        "embedding",
        "blob",
        "alert_id",
        "supt. jones",
        "w-001",
        "miranda",
        "probe",
    ):
        assert forbidden not in text, forbidden
    (dep,) = r.json()["announced"]
    assert dep["authorised_by_role"] == "Superintendent" and dep["location"] == "Queen Street, Cardiff"
    limit = world.store.settings.server.public_requests_per_minute
    codes = [world.client.get("/public/deployments.csv").status_code for _ in range(limit + 1)]
    assert 429 in codes and math.isfinite(limit)


def test_announcements_carry_purpose_category_legal_basis_and_role_never_the_name(world: World) -> None:
    """Issue 8 §3: place, date, times, purpose category, legal basis summary, who authorised it by role."""
    (dep,) = world.client.get("/public/deployments.json").json()["announced"]
    assert dep["purpose_category"] == "locating people wanted by the courts or police"
    assert dep["legal_basis"] == "Common-law policing powers; DPA 2018 Part 3"
    assert dep["legal_basis"] != world.store.settings.server.legal_basis_summary  # the deployment's own
    (row,) = csv.DictReader(io.StringIO(world.client.get("/public/deployments.csv").text))
    assert (row["purpose_category"], row["legal_basis"], row["authorised_by_role"]) == (
        dep["purpose_category"],
        dep["legal_basis"],
        "Superintendent",
    )
    for url in ("/public", f"/public/deployments/{world.deployment_id}"):
        page = world.client.get(url).text
        assert "locating people wanted by the courts or police" in page and "DPA 2018 Part 3" in page, url
        assert "Superintendent" in page and "Jones" not in page, url
    # The published record (JSON, CSV, HTML) names the role, not the officer.
    from openlfr.governance.report import deployment_record, record_csv, record_html

    rec = deployment_record(world.store, world.deployment_id)
    assert "authorising_officer" not in rec and rec["authorised_by_role"] == "Superintendent"
    for text in (json.dumps(rec), record_csv(rec), record_html(rec)):
        assert "Jones" not in text and "Superintendent" in text and "DPA 2018 Part 3" in text


def test_feeds_and_page_say_whether_the_watchlist_holds_anyone_under_18(world: World) -> None:
    """Issue 8 §2, by recorded date of birth, with the count of entries whose date of birth is unknown."""
    from datetime import UTC, date, datetime

    from openlfr.governance.watchlists import enrol_subject
    from tests.governance.faces import entry, lfw_people

    def published() -> tuple[dict[str, object], dict[str, str], str]:
        (dep,) = world.client.get("/public/deployments.json").json()["announced"]
        (row,) = csv.DictReader(io.StringIO(world.client.get("/public/deployments.csv").text))
        return dep["record"], row, world.client.get(f"/public/deployments/{world.deployment_id}").text

    # W-001 was enrolled without a date of birth: nobody is known to be under 18, one entry is unknown.
    rec, row, page = published()
    assert (
        rec["watchlist_size"],
        rec["watchlist_holds_under_18"],
        rec["watchlist_date_of_birth_unknown"],
    ) == (1, False, 1)
    assert (row["watchlist_holds_under_18"], row["watchlist_date_of_birth_unknown"]) == ("no", "1")
    assert "unknown for 1 of 1 entries (no recorded date of birth)" in page

    today = datetime.now(UTC).date()
    sixteen = date(today.year - 16, 1, 1)
    enrol_subject(
        world.store,
        "planner",
        world.deployment_id,
        entry("W-002", datetime.now(UTC), date_of_birth=sixteen),
        [lfw_people()[0][1][0]],
    )
    rec, row, page = published()
    assert (rec["watchlist_size"], rec["watchlist_holds_under_18"], rec["watchlist_under_18"]) == (2, True, 1)
    assert (row["watchlist_holds_under_18"], row["watchlist_under_18"], row["watchlist_size"]) == (
        "yes",
        "1",
        "2",
    )
    assert "yes (1 of 2 entries; unknown for 1 with no recorded date of birth)" in page

    # After close the counts are frozen into the record, and the past table shows them too.
    assert (
        world.client.post(
            f"/api/deployments/{world.deployment_id}/close", headers=world.headers(Role.OPERATOR)
        ).status_code
        == 200
    )
    (past,) = world.client.get("/public/deployments.json").json()["past"]
    assert (
        past["record"]["watchlist_holds_under_18"] is True
        and past["record"]["watchlist_date_of_birth_unknown"] == 1
    )
    assert (
        "yes (1 of 2 entries; unknown for 1 with no recorded date of birth)"
        in world.client.get("/public").text
    )


def test_the_public_feed_carries_the_audit_anchor(world: World) -> None:
    """The latest signed audit checkpoint is published: anyone who keeps the feed can later show that the
    log was cut short or rewritten (issue 14 item 1)."""
    feed = world.client.get("/public/deployments.json").json()
    cp = feed["audit_checkpoint"]
    assert cp["rows"] >= 1 and len(cp["head"]) == 64
    assert Checkpoint.from_dict(cp).signature_ok()
    assert verify(world.store, expect_head=cp["head"], min_rows=cp["rows"]).ok
    forged = {**cp, "rows": cp["rows"] + 5}
    assert not Checkpoint.from_dict(forged).signature_ok()
