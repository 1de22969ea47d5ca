"""The governance commands through the real CLI, on SQLite and PostgreSQL, acting as logged-in users."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from openlfr.api.users import create_user
from openlfr.cli import app
from openlfr.config import Settings, get_settings
from openlfr.governance.live_gateway import DeploymentGateway
from openlfr.governance.watchlists import analyse_reference
from openlfr.matching.calibration import Calibration, local_calibration_path, save_calibration
from openlfr.store import open_store
from openlfr.store.auth_models import Role
from openlfr.store.models import AuditEntry
from openlfr.vision import load_engine
from tests.governance.faces import blank_png, lfw_people

runner = CliRunner()
PASSWORD = "correct horse battery staple"


@pytest.fixture
def cli_settings(store_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("OPENLFR_DATA_DIR", str(store_settings.data_dir))
    if store_settings.store.database_url:
        monkeypatch.setenv("OPENLFR_STORE__DATABASE_URL", store_settings.store.database_url)
    else:
        monkeypatch.delenv("OPENLFR_STORE__DATABASE_URL", raising=False)
    get_settings.cache_clear()
    save_calibration(
        Calibration(pack="opencv-zoo", validated_min_threshold=0.4),
        local_calibration_path("opencv-zoo", store_settings.data_dir),
    )
    store = open_store(store_settings)
    for role in Role:
        create_user(store, role.value.replace("_", "-"), PASSWORD, role, actor="test setup")
    store.close()
    monkeypatch.setenv("OPENLFR_TEST_PW", PASSWORD)
    monkeypatch.delenv("OPENLFR_TOKEN", raising=False)
    yield store_settings
    get_settings.cache_clear()


def login_as(role: Role) -> None:
    run("login", role.value.replace("_", "-"), "--password-env", "OPENLFR_TEST_PW")


def run(*args: str) -> str:
    result = runner.invoke(app, [*args])
    assert result.exit_code == 0, result.output
    return result.output


def run_json(*args: str) -> object:
    return json.loads(run(*args, "--json"))


def test_a_deployment_from_the_command_line(cli_settings: Settings, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    login_as(Role.AUTHORISING_OFFICER)
    dep = run_json(
        "deployment",
        "create",
        "--purpose",
        "wanted offenders",
        "--location",
        "Queen St",
        "--start",
        (now - timedelta(minutes=1)).isoformat(),
        "--end",
        (now + timedelta(hours=2)).isoformat(),
        "--officer",
        "Supt. Jones",
        "--camera",
        "cam-1",
        "--camera",
        "cam-2",
        "--threshold",
        "0.45",
        "--purpose-category",
        "wanted_offenders",
        "--legal-basis",
        "Common-law policing powers",
        "--officer-role",
        "Superintendent",
        "--phase",
        "trial",
        "--dpia",
        "DPIA-2030-1",
        "--eia",
        "EIA-2030-1",
        "--policy",
        "APD v3",
        "--intelligence-case",
        "wanted offenders seen on Queen St",
        "--data-controller",
        "Chief Constable",
        "--contact",
        "lfr@example.police.uk",
        "--short-notice-reason",
        "test: opened at once",
    )
    assert isinstance(dep, dict)
    dep_id = dep["id"]

    # Import a watchlist (one image refused: nothing imported, with the reason).
    folder = tmp_path / "wl"
    folder.mkdir()
    people = lfw_people()[:2]
    rows = []
    for i, (_person, imgs) in enumerate(people):
        (folder / f"{i}.jpg").write_bytes(imgs[0].read_bytes())
        rows.append(
            [
                f"S{i}",
                "wanted by a court",
                "warrant",
                "custody",
                "PACE",
                "Insp. Smith",
                "2031-01-01",
                f"{i}.jpg",
                "either way",
            ]
        )
    (folder / "blank.png").write_bytes(blank_png())
    header = [
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
    with open(folder / "bad.csv", "w", newline="") as fh:
        csv.writer(fh).writerows(
            [
                header,
                *rows,
                ["S9", "wanted by a court", "r", "custody", "l", "a", "2031-01-01", "blank.png", "summary"],
            ]
        )
    result = runner.invoke(app, ["watchlist", "import", dep_id, str(folder / "bad.csv")])
    assert result.exit_code == 2 and "S9: blank.png: no face found" in result.output
    assert "Traceback" not in result.output
    with open(folder / "good.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([header, *rows])
    assert "enrolled 2 subject(s) with 2 image(s)" in run(
        "watchlist", "import", dep_id, str(folder / "good.csv")
    )
    listed = run_json("watchlist", "list", dep_id)
    assert [s["subject_id"] for s in listed] == ["S0", "S1"]  # type: ignore[union-attr]
    assert [s["approved"] for s in listed] == [False, False]  # type: ignore[index,union-attr]
    # Enrolled by the authorising officer: searched only once a second person (the reviewer) approved.
    pending = run_json("watchlist", "pending", dep_id)
    assert [p["subject_id"] for p in pending] == ["S0", "S1"]  # type: ignore[union-attr]
    assert all(p["quality_scores"] for p in pending)  # type: ignore[union-attr]
    own = runner.invoke(app, ["watchlist", "approve", dep_id, "S0"])
    assert own.exit_code == 2 and "a second person must approve it" in own.output
    login_as(Role.REVIEWER)
    run("watchlist", "approve", dep_id, "S0")
    run("watchlist", "approve", dep_id, "S1")
    assert run_json("watchlist", "pending", dep_id) == []
    assert [s["approved"] for s in run_json("watchlist", "list", dep_id)] == [True, True]  # type: ignore[index,union-attr]

    login_as(Role.AUTHORISING_OFFICER)
    assert "signage recorded" in run("deployment", "signage-in-place", dep_id)
    # Issue 25: opening authorises, so the opener needs a rank an admin recorded (none is guessed).
    unranked = runner.invoke(app, ["deployment", "open", dep_id])
    assert unranked.exit_code == 2 and "has no police rank recorded" in unranked.output
    login_as(Role.ADMIN)
    run("user", "rank", "authorising-officer", "chief superintendent")
    login_as(Role.AUTHORISING_OFFICER)
    assert "is open" in run("deployment", "open", dep_id)

    # The live pipeline raises an alert; people adjudicate it from the command line.
    store = open_store(get_settings())
    gateway = DeploymentGateway(store, dep_id, store.settings)
    index, _ = gateway.watchlist()
    probe = people[0][1][1].read_bytes()
    face = analyse_reference(load_engine("opencv-zoo"), probe, "probe", store)
    best = index.search(face.embedding, k=1)[0][0]
    alert_id = gateway.raise_alert(
        camera_id="cam-1",
        track_id="t1",
        subject_id=best.subject_id,
        template_index=best.template_index,
        score=max(best.score, 0.45),
        threshold=0.45,
        probe_crop=probe,
        frame_crop=probe,
        observed_at=datetime.now(UTC),
    )
    alerts = run_json("alert", "list", "--deployment", dep_id)
    assert [a["id"] for a in alerts] == [alert_id]  # type: ignore[index]
    login_as(Role.OPERATOR)
    run("alert", "review", alert_id, "engage")
    out = tmp_path / "probe.jpg"
    run("alert", "image", alert_id, "--out", str(out))
    assert out.read_bytes() == probe
    login_as(Role.ENGAGEMENT_OFFICER)
    run("alert", "engage", alert_id, "confirmed_true", "--reason-explained", "--leaflet-given")
    assert "disposed:arrest" in run("alert", "dispose", alert_id, "arrest")
    bad = runner.invoke(app, ["alert", "dispose", alert_id, "advice"])
    assert bad.exit_code == 2 and "already has a disposal" in bad.output

    login_as(Role.AUTHORISING_OFFICER)
    assert "closed" in run("deployment", "close", dep_id)
    purge = run_json("purge")
    assert isinstance(purge, dict) and purge["alerts_purged"] == 0

    leaflet = tmp_path / "leaflet.html"
    assert "leaflet written" in run("leaflet", dep_id, "--out", str(leaflet))
    assert "not an offence and not obstruction" in leaflet.read_text()
    year = now.year
    totals = run_json(
        "report", "period", "--from", f"{year}-01-01T00:00Z", "--to", f"{year + 1}-01-01T00:00Z"
    )
    assert isinstance(totals, dict) and (totals["deployments"], totals["arrests"]) == (1, 1)
    assert totals["short_notice_deployments"] == 1 and totals["engagements_leaflet_given"] == 1
    bad = runner.invoke(
        app, ["report", "period", "--from", f"{year}-01-01T00:00", "--to", "2031-01-01T00:00Z"]
    )
    assert bad.exit_code == 2 and "needs a time zone" in bad.output
    files = run("report", "deployment", dep_id, "--out", str(tmp_path / "record"))
    assert files.count("wrote") == 3
    rec = json.loads((tmp_path / "record" / f"deployment-{dep_id}.json").read_text())
    assert (rec["alerts"], rec["true_alerts"], rec["arrests"], rec["watchlist_size"]) == (1, 1, 1, 2)
    # Planning typed "Superintendent"; the record publishes the rank of the user who opened it.
    assert rec["authorised_by_role"] == "Chief Superintendent" and "user who opened" in rec["authorisation"]
    shown_dep = run_json("deployment", "show", dep_id)
    assert shown_dep["authorised_by_user"] == "authorising-officer"  # type: ignore[index]

    # The audit log verifies, then names the row someone edited; the decisions name the logged-in users.
    login_as(Role.AUDITOR)
    assert "audit log intact" in run("audit", "verify")
    shown = run_json("audit", "show", "--deployment", dep_id, "--last", "0")
    review_row = next(r for r in shown if r["action"] == "alert.review")  # type: ignore[union-attr]
    assert (review_row["actor"], review_row["role"]) == ("operator", "operator")
    with store.session() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == review_row["seq"]).values(actor="someone else"))
    broken = runner.invoke(app, ["audit", "verify"])
    assert broken.exit_code == 1
    assert f"row {review_row['seq']}" in broken.output and "edited" in broken.output
    store.close()


def test_cli_errors_are_one_line(cli_settings: Settings) -> None:
    login_as(Role.OPERATOR)
    for args, message in (
        (["deployment", "show", "nope"], "no deployment with id 'nope'"),
        (
            [
                "deployment",
                "create",
                "--purpose",
                "p",
                "--location",
                "l",
                "--start",
                "2030-01-01T09:00",
                "--end",
                "2030-01-01T10:00Z",
                "--officer",
                "o",
                "--camera",
                "c",
                "--purpose-category",
                "missing_persons",
                "--legal-basis",
                "b",
                "--officer-role",
                "Inspector",
            ],
            "needs a time zone",
        ),
        (["alert", "review", "nope", "engage"], "no alert with id 'nope'"),
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert message in result.output and "Traceback" not in result.output


def test_a_manual_purge_needs_a_login_and_is_audited_as_that_user(cli_settings: Settings) -> None:
    """Issue 25: `openlfr purge` and `openlfr retro purge` ran without a login, audited as `system`."""
    for args in (["purge"], ["retro", "purge"]):
        refused = runner.invoke(app, args)
        assert refused.exit_code != 0 and "not logged in" in refused.output, refused.output
    login_as(Role.OPERATOR)
    refused = runner.invoke(app, ["purge"])
    assert refused.exit_code != 0 and "may not do this" in refused.output
    login_as(Role.AUTHORISING_OFFICER)
    run("purge")
    run("retro", "purge")
    store = open_store(cli_settings)
    try:
        with store.session() as s:
            rows = s.query(AuditEntry).filter(AuditEntry.action == "purge.run").all()
        assert [(r.actor, r.role) for r in rows] == [("authorising-officer", "authorising_officer")]
    finally:
        store.close()


def test_audit_verify_reads_the_witness(
    cli_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`openlfr audit verify` reads the configured witness: rows cut with the checkpoint lines that saw them
    (the insider's cut, no key needed) fail the check."""
    witness = tmp_path / "witness-mount" / "checkpoints.jsonl"
    monkeypatch.setenv("OPENLFR_STORE__AUDIT_WITNESS_FILE", str(witness))
    get_settings.cache_clear()
    login_as(Role.AUDITOR)
    said = run("audit", "verify")
    assert "audit log intact" in said and "witness" in said and "NO WITNESS" not in said
    assert witness.is_file()
    store = open_store(get_settings())
    try:
        with store.session() as s:
            last = s.query(AuditEntry.seq).order_by(AuditEntry.seq.desc()).first()
            assert last is not None
            s.query(AuditEntry).filter(AuditEntry.seq > last[0] - 2).delete()
        log = store.settings.audit_checkpoint_dir / "checkpoints.jsonl"
        kept = [ln for ln in log.read_text().splitlines() if json.loads(ln)["rows"] <= last[0] - 2]
        log.write_text("".join(ln + "\n" for ln in kept))
    finally:
        store.close()
    broken = runner.invoke(app, ["audit", "verify"])
    assert broken.exit_code == 1 and "in the witness" in broken.output, broken.output
