"""A stopped person's reference (issue 27 §1): it finds exactly that encounter, the subject access export
holds nobody else's data, erasure happens only where the law allows, and all of it is audited and counted."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from openlfr.governance.alerts import get_alert, record_disposal, record_engagement, review_alert
from openlfr.governance.audit import entries
from openlfr.governance.errors import GovernanceError, NotFound
from openlfr.governance.outcomes import OutcomeDetail
from openlfr.governance.references import ALPHABET, new_reference, parse_reference
from openlfr.governance.subject_access import erase, export_response, look_up, request_counts
from tests.governance.faces import lfw_people
from tests.governance.live_setup import Live, make_live

DPO = "dora (data_protection)"


@pytest.fixture
def live(store, make_deployment, clock) -> Live:  # type: ignore[no-untyped-def]
    return make_live(store, make_deployment, clock)


def _met(live: Live, subject: int, outcome: str, track: str) -> str:
    alert_id = live.alert(subject=subject, track_id=track)
    review_alert(live.store, "olu (operator)", alert_id, "engage", clock=live.clock)
    a = record_engagement(
        live.store,
        "eve (engagement_officer)",
        alert_id,
        outcome,
        note=f"spoke to person at {track}",
        reason_explained=True,
        leaflet_given=True,
        clock=live.clock,
    )
    assert a.reference is not None
    return alert_id


def test_references_read_aloud_and_catch_a_misheard_character() -> None:
    refs = {new_reference() for _ in range(2000)}
    assert len(refs) == 2000
    ref = refs.pop()
    assert len(ref) == 11 and ref[5] == "-" and all(c in ALPHABET for c in ref.replace("-", ""))
    assert parse_reference(ref.lower().replace("-", " ")) == ref
    body = ref.replace("-", "")
    wrong = body[:3] + next(c for c in ALPHABET if c != body[3]) + body[4:]
    with pytest.raises(GovernanceError, match="does not check out"):
        parse_reference(wrong)
    if body[0] != body[1]:
        with pytest.raises(GovernanceError, match="does not check out"):
            parse_reference(body[1] + body[0] + body[2:])
    with pytest.raises(GovernanceError, match="never contains '0', 'O'"):
        parse_reference("0O" + body[2:])
    with pytest.raises(GovernanceError, match="has 4"):
        parse_reference("ABCD")


def test_a_reference_finds_that_encounter_and_the_export_holds_no_one_else(live: Live) -> None:
    store = live.store
    mine = _met(live, 0, "confirmed_false", "t1")  # the camera took me for person 0; I am not them
    live.clock.advance(minutes=3)
    other = _met(live, 1, "confirmed_true", "t2")  # someone else, really on the watchlist
    not_met = live.alert(subject=0, track_id="t3")
    review_alert(store, "olu (operator)", not_met, "engage", clock=live.clock)
    assert (
        record_engagement(
            store, "eve (engagement_officer)", not_met, "not_engaged", clock=live.clock
        ).reference
        is None
    )
    record_disposal(
        store,
        "eve (engagement_officer)",
        mine,
        "no_action",
        detail=OutcomeDetail(use_of_force=False),
        clock=live.clock,
    )
    ref, other_ref = get_alert(store, mine).reference, get_alert(store, other).reference
    assert ref and other_ref and ref != other_ref

    found = look_up(store, DPO, ref.replace("-", "").lower(), clock=live.clock)
    assert found.alert_id == mine and found.reference == ref
    assert found.facts["camera"] == "cam-1" and found.facts["use_of_force"] is False
    assert [d["step"] for d in found.facts["decisions"]] == ["operator review", "engagement", "disposal"]
    assert found.facts["watchlist_category"] is None  # the watchlist entry is another person
    assert found.withheld["watchlist_subject"] == live.people[0] and found.withheld["notes"]
    assert look_up(store, DPO, other_ref, clock=live.clock).alert_id == other

    zipped = export_response(store, DPO, ref, clock=live.clock)
    z = zipfile.ZipFile(io.BytesIO(zipped))
    assert sorted(z.namelist()) == ["face.jpg", "response.json"]
    my_face = lfw_people()[0][1][1].read_bytes()
    assert z.read("face.jpg") == my_face  # my own face, while retained
    response = json.loads(z.read("response.json"))
    assert response["reference"] == ref and response["deployment"]["id"] == live.deployment.id
    text = z.read("response.json").decode()
    # Nothing of anyone else: not the person I was taken for, not the other encounter, no officer, no note.
    for forbidden in (*live.people, other, other_ref, mine, "olu", "eve", "spoke to person"):
        assert forbidden not in text, forbidden
    watchlist_image = lfw_people()[0][1][0].read_bytes()  # person 0's reference photo
    for name in z.namelist():
        # (past the JPEG header, which all these photos share)
        assert watchlist_image[-512:] not in z.read(name)
        assert lfw_people()[1][1][1].read_bytes()[-512:] not in z.read(name)
    # The other person was confirmed: their export has their own face and the category they were sought for.
    z2 = zipfile.ZipFile(io.BytesIO(export_response(store, DPO, other_ref, clock=live.clock)))
    assert sorted(z2.namelist()) == ["face.jpg", "response.json", "watchlist_image.jpg"]
    assert json.loads(z2.read("response.json"))["watchlist_category"] == "wanted by a court"

    # A well-formed reference nobody was given finds nothing, and says so.
    unused = next(r for r in (new_reference() for _ in range(10)) if r not in (ref, other_ref))
    with pytest.raises(NotFound, match="nothing is held"):
        export_response(store, DPO, unused, clock=live.clock)

    actions = [e.action for e in entries(store) if e.action.startswith("subject_access.")]
    assert actions == [
        "subject_access.lookup",
        "subject_access.lookup",
        "subject_access.export",
        "subject_access.export",
        "subject_access.not_found",
    ]
    assert all(
        e.actor == "dora" and e.role == "data_protection" for e in entries(store, action="subject_access.*")
    )


def test_erasure_where_the_law_allows(live: Live) -> None:
    store = live.store
    mine = _met(live, 0, "confirmed_false", "t1")
    arrested = _met(live, 1, "confirmed_true", "t2")
    ref, arrested_ref = get_alert(store, mine).reference, get_alert(store, arrested).reference
    assert ref and arrested_ref
    # Decisions unfinished: not yet.
    early = erase(store, DPO, ref, "request 2030/17", clock=live.clock)
    assert not early.erased and "not finished" in early.reason
    record_disposal(store, "eve (engagement_officer)", mine, "advice", clock=live.clock)
    record_disposal(
        store,
        "eve (engagement_officer)",
        arrested,
        "arrest",
        detail=OutcomeDetail(
            use_of_force=False, arrest_for_watchlist_reason=True, custody_reference="CU/1/2030"
        ),
        clock=live.clock,
    )
    refused = erase(store, DPO, arrested_ref, "request 2030/18", clock=live.clock)
    assert not refused.erased and "arrest" in refused.reason and "s.47(3)" in refused.reason
    blob_dir = store.blobs.root / live.deployment.id
    before = len(list(blob_dir.iterdir()))
    done = erase(store, DPO, ref, "request 2030/17", clock=live.clock)
    assert done.erased and done.images_deleted == 3
    assert len(list(blob_dir.iterdir())) == before - 3
    after = look_up(store, DPO, ref, clock=live.clock)
    assert after.facts["images_deleted_because"] == "erasure" and after.withheld["watchlist_subject"] is None
    assert not after.withheld["notes"]
    assert zipfile.ZipFile(io.BytesIO(export_response(store, DPO, ref, clock=live.clock))).namelist() == [
        "response.json"
    ]
    again = erase(store, DPO, ref, "request 2030/17", clock=live.clock)
    assert not again.erased and "already erased" in again.reason
    # The arrested person's record is untouched.
    assert get_alert(store, arrested).has_images
    counts = request_counts(store, live.clock() - timedelta(days=1), live.clock() + timedelta(days=1))
    assert counts == {
        "access_answered": 1,
        "access_not_found": 0,
        "erasure_erased": 1,
        "erasure_refused": 3,
        "erasure_not_found": 0,
    }


@pytest.mark.parametrize(
    "store_settings", ["sqlite"], indirect=True
)  # the CLI half: the API half runs on both
def test_the_data_protection_officer_from_the_command_line(
    live: Live, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from openlfr.api.users import create_user
    from openlfr.cli import app
    from openlfr.config import get_settings
    from openlfr.store.auth_models import Role

    mine = _met(live, 0, "confirmed_false", "t1")
    ref = get_alert(live.store, mine).reference
    assert ref
    monkeypatch.setenv("OPENLFR_DATA_DIR", str(live.store.settings.data_dir))
    monkeypatch.delenv("OPENLFR_TOKEN", raising=False)
    monkeypatch.setenv("PW", "correct horse battery staple")
    get_settings.cache_clear()
    for role in (Role.DATA_PROTECTION, Role.AUDITOR):
        create_user(live.store, role.value, "correct horse battery staple", role, actor="test setup")
    runner = CliRunner()

    def cli(*args: str) -> tuple[int, str]:
        r = runner.invoke(app, list(args))
        return r.exit_code, r.output

    try:
        assert cli("login", "auditor", "--password-env", "PW")[0] == 0
        code, out = cli("rights", "lookup", ref)
        assert code == 2 and "may not do this" in out  # the auditor oversees; it does not read the encounter
        assert cli("login", "data_protection", "--password-env", "PW")[0] == 0
        code, out = cli("rights", "lookup", ref, "--json")
        assert code == 0 and json.loads(out)["alert_id"] == mine
        code, out = cli("rights", "lookup", ref[:-1] + ("3" if ref[-1] != "3" else "4"))
        assert code == 2 and "does not check out" in out and "Traceback" not in out
        zipped = tmp_path / "sar.zip"
        assert cli("rights", "export", ref, "--out", str(zipped))[0] == 0
        assert "face.jpg" in zipfile.ZipFile(zipped).namelist()
        code, out = cli("rights", "export", ref, "--out", str(zipped))
        assert code == 2 and "already exists" in out
        code, out = cli(
            "complaint",
            "add",
            "--received",
            (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
            "--category",
            "misidentification",
            "--reference",
            ref,
            "--json",
        )
        assert code == 0 and json.loads(out)["deployment_id"] == live.deployment.id
        code, out = cli("rights", "erase", ref, "--reason", "request 1")
        assert code == 1 and "not finished" in out
    finally:
        get_settings.cache_clear()
