"""Watchlist enrolment and import through the API: upload, quality report, and a second person's approval
before an entry is searched (issue 14 item 2). Real images, the real engine, the real store."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

from openlfr.governance.audit import entries
from openlfr.governance.live_gateway import DeploymentGateway
from openlfr.store.auth_models import Role
from tests.api.conftest import World
from tests.governance.faces import blank_png, lfw_people

A, AO, OP, EO, RV, AU = (
    Role.ADMIN,
    Role.AUTHORISING_OFFICER,
    Role.OPERATOR,
    Role.ENGAGEMENT_OFFICER,
    Role.REVIEWER,
    Role.AUDITOR,
)
ENROL = (AO, OP)
APPROVE = (AO, RV)


def _fields(subject_id: str) -> dict[str, str]:
    return {
        "subject_id": subject_id,
        "category": "wanted_by_court",
        "reason": "Failed to appear",
        "image_source": "custody",
        "offence_seriousness": "either_way",
        "legal_basis": "warrant",
        "approved_by": "Insp. Evans",
        "expires_at": (datetime.now(UTC) + timedelta(days=2)).isoformat(),
        "name": "Test Person",
    }


def _enrol(world: World, role: Role | None, subject_id: str, images: list[tuple[str, bytes]]):  # type: ignore[no-untyped-def]
    return world.client.post(
        f"/api/deployments/{world.deployment_id}/watchlist/entries",
        headers=world.headers(role),
        data=_fields(subject_id),
        files=[("images", (name, data, "image/jpeg")) for name, data in images],
    )


def _searched_subjects(world: World) -> set[str]:
    _, subjects = DeploymentGateway(world.store, world.deployment_id).watchlist()
    return set(subjects)


def test_enrolment_roles_and_quality_report(world: World) -> None:
    """Every role tries to enrol an image with no face: the enrolling roles get the refusal (past the role
    check), the others 403; nobody logged in 401."""
    blank = [("blank.png", blank_png())]
    for role in Role:
        r = _enrol(world, role, "Q-1", blank)
        if role in ENROL:
            assert r.status_code == 409 and "no face found" in r.json()["detail"], (role, r.text)
        else:
            assert r.status_code == 403, (role, r.status_code)
    assert _enrol(world, None, "Q-1", blank).status_code == 401


def test_an_entry_is_searched_only_after_a_second_person_approves(world: World) -> None:
    (person, imgs), (other, other_imgs) = lfw_people()[:2]
    r = _enrol(world, OP, "P-1", [(imgs[0].name, imgs[0].read_bytes())])
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["subjects_enrolled"] == 1 and body["pending_approval"] is True
    (entry,) = body["entries"]
    assert entry["subject_id"] == "P-1" and entry["enrolled_by"] == "operator (operator)"
    assert len(entry["quality_scores"]) == 1 and 0 < entry["quality_scores"][0] <= 1

    assert "P-1" not in _searched_subjects(world)  # pending: not searched
    pending_url = f"/api/deployments/{world.deployment_id}/watchlist/pending"
    assert [p["subject_id"] for p in world.client.get(pending_url, headers=world.headers(RV)).json()] == [
        "P-1"
    ]

    approve = f"/api/deployments/{world.deployment_id}/watchlist/entries/P-1/approve"
    for role in (A, OP, EO, AU):
        assert world.client.post(approve, headers=world.headers(role)).status_code == 403, role
    r = world.client.post(approve, headers=world.headers(RV))
    assert r.status_code == 200 and r.json()["approved_by"] == "reviewer"
    assert "P-1" in _searched_subjects(world)
    assert world.client.post(approve, headers=world.headers(AO)).status_code == 409  # approved already

    # The authorising officer enrols; they cannot approve their own entry, the reviewer can reject it.
    r = _enrol(world, AO, "P-2", [(other_imgs[0].name, other_imgs[0].read_bytes())])
    assert r.status_code == 201, r.text
    own = world.client.post(
        f"/api/deployments/{world.deployment_id}/watchlist/entries/P-2/approve", headers=world.headers(AO)
    )
    assert own.status_code == 409 and "a second person must approve it" in own.json()["detail"]
    rej = world.client.post(
        f"/api/deployments/{world.deployment_id}/watchlist/entries/P-2/reject",
        headers=world.headers(RV),
        json={"reason": "image source not recorded"},
    )
    assert rej.status_code == 200 and rej.json()["images_deleted"] == 1
    assert "P-2" not in _searched_subjects(world)
    assert world.client.get(pending_url, headers=world.headers(AO)).json() == []

    actions = [(e.action, e.actor, e.target) for e in entries(world.store, deployment_id=world.deployment_id)]
    assert ("watchlist.approve", "reviewer", "P-1") in actions
    assert ("watchlist.reject", "reviewer", "P-2") in actions
    assert person != other


def test_import_through_the_api_waits_for_approval(world: World, tmp_path: Path) -> None:
    people = lfw_people()[2:4]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(
        [
            "subject_id",
            "category",
            "reason",
            "image_source",
            "legal_basis",
            "approved_by",
            "expires_at",
            "images",
            "offence_seriousness",
        ]
    )
    files = []
    for i, (_person, imgs) in enumerate(people):
        w.writerow(
            [
                f"I-{i}",
                "wanted by a court",
                "warrant",
                "custody",
                "PACE",
                "Insp. Smith",
                "2031-01-01",
                f"{i}.jpg",
                "summary",
            ]
        )
        files.append(("images", (f"{i}.jpg", imgs[0].read_bytes(), "image/jpeg")))
    url = f"/api/deployments/{world.deployment_id}/watchlist/import"
    r = world.client.post(
        url,
        headers=world.headers(EO),
        files=[("csv", ("w.csv", buf.getvalue().encode(), "text/csv")), *files],
    )
    assert r.status_code == 403
    r = world.client.post(
        url,
        headers=world.headers(OP),
        files=[("csv", ("w.csv", buf.getvalue().encode(), "text/csv")), *files],
    )
    assert r.status_code == 201, r.text
    assert r.json()["subjects_enrolled"] == 2
    assert sorted(e["subject_id"] for e in r.json()["entries"]) == ["I-0", "I-1"]
    assert not {"I-0", "I-1"} & _searched_subjects(world)
    # Nothing of the upload is left on disk.
    assert not any((world.store.settings.data_dir / "uploads").iterdir())
    # A path in an uploaded file name is refused, not followed.
    bad = world.client.post(
        url,
        headers=world.headers(OP),
        files=[("csv", ("w.csv", b"x", "text/csv")), ("images", ("../../evil.jpg", b"x", "image/jpeg"))],
    )
    assert bad.status_code in (409, 422) and not (world.store.settings.data_dir.parent / "evil.jpg").exists()


def test_approve_reject_import_roles(world: World) -> None:
    """Past the role check an unknown subject is 404, a bad upload 409/422; refused roles get 403."""
    base = f"/api/deployments/{world.deployment_id}/watchlist"
    calls = [
        ("POST", f"{base}/entries/NOPE/approve", {}, APPROVE),
        ("POST", f"{base}/entries/NOPE/reject", {"json": {"reason": "no"}}, APPROVE),
        (
            "POST",
            f"{base}/import",
            {
                "files": [
                    ("csv", ("w.csv", b"subject_id\n", "text/csv")),
                    ("images", ("a.jpg", b"x", "image/jpeg")),
                ]
            },
            ENROL,
        ),
    ]
    for method, url, kwargs, allowed in calls:
        for role in Role:
            r = world.client.request(method, url, headers=world.headers(role), **kwargs)
            if role in allowed:
                assert r.status_code in (404, 409, 422), (url, role, r.status_code, r.text)
            else:
                assert r.status_code == 403, (url, role, r.status_code)
        assert world.client.request(method, url, **kwargs).status_code == 401
